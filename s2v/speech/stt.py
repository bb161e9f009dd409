"""Speech to text with word timestamps, offline: pocketsphinx and its bundled US-English model.

The key-pose stage needs to know *when* each word of real speech is spoken (section 3.3: "we need to
first pass it to a speech-to-text (STT) engine, which generates text script of the speech as well as the
timestamp of each individual word"). Two modes:

* :func:`recognize`: free recognition (no transcript), for arbitrary speech;
* :func:`align`: forced alignment of a known transcript, much more accurate (e.g. for the studio's
  scripts or a user's recording of a script they read). Words missing from the dictionary are added
  with letter-to-sound guesses from similar words or refused with a clear error.
"""
from __future__ import annotations

import re

import numpy as np

from s2v.speech.features import SAMPLE_RATE
from s2v.speech.tts import Word, resample

_FRAME = 0.01  # pocketsphinx frames are 10 ms


def _decoder(**kw):
    try:
        from pocketsphinx import Decoder
    except ImportError as e:  # pragma: no cover
        raise ImportError("speech recognition needs pocketsphinx: pip install pocketsphinx") from e
    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **kw)


def _pcm(audio: np.ndarray, sr: int) -> bytes:
    y = np.asarray(audio, np.float32)
    if y.ndim == 2:
        y = y.mean(1)
    y = resample(y, sr, SAMPLE_RATE)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak < 1e-4:
        raise ValueError("the audio is silent: nothing to recognise")
    y = y / peak * 0.9
    return (y * 32767).astype(np.int16).tobytes()


def _words(decoder) -> list[Word]:
    out = []
    try:   # None, or a TypeError from pocketsphinx's own iterator, when the search found no path (e.g. a
        segs = list(decoder.seg() or ())   # transcript never spoken)
    except TypeError:
        segs = []
    for seg in segs:
        w = re.sub(r"\(\d+\)$", "", seg.word)
        if w.startswith("<") or w.startswith("[") or w in ("sil", "<sil>"):
            continue
        out.append(Word(w, seg.start_frame * _FRAME, (seg.end_frame + 1) * _FRAME))
    return out


def recognize(audio: np.ndarray, sr: int, decoder=None) -> list[Word]:
    """Free recognition: the words heard, with start/end seconds. ``decoder``: one from an earlier call's
    :func:`_decoder` to reuse (making one takes 0.4 s: its models are read from disk)."""
    d = decoder or _decoder()
    d.start_utt()
    d.process_raw(_pcm(audio, sr), full_utt=True)
    d.end_utt()
    return _words(d)


def tokenize(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z']+", text.lower().replace("’", "'")) if t.strip("'")]


def align(audio: np.ndarray, sr: int, text: str) -> list[Word]:
    """Forced alignment of ``text`` to the audio: each transcript word with its start/end seconds."""
    d = _decoder()
    words = tokenize(text)
    if not words:
        raise ValueError("empty transcript")
    unknown = [w for w in words if d.lookup_word(w) is None]
    for w in dict.fromkeys(unknown):
        stem = next((w[:k] for k in range(len(w), 2, -1) if d.lookup_word(w[:k])), None)
        if stem is None:
            raise ValueError(f"'{w}' is not in the pronunciation dictionary; add it or rephrase")
        d.add_word(w, d.lookup_word(stem), True)  # closest known prefix: good enough for timing
    d.set_align_text(" ".join(words))
    d.start_utt()
    d.process_raw(_pcm(audio, sr), full_utt=True)
    d.end_utt()
    out = _words(d)
    if len(out) != len(words):
        raise RuntimeError(f"alignment found {len(out)} of {len(words)} words; is this the right transcript?")
    for w, tok in zip(out, words):
        w.text = tok
    return out


def word_error_rate(reference: str, hypothesis: list[str] | str) -> float:
    """Word-level Levenshtein distance / reference length."""
    ref = tokenize(reference)
    hyp = tokenize(hypothesis) if isinstance(hypothesis, str) else [h.lower() for h in hypothesis]
    D = np.arange(len(hyp) + 1)[None].repeat(len(ref) + 1, 0)
    D[:, 0] = np.arange(len(ref) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    return float(D[-1, -1]) / max(len(ref), 1)


class BackgroundRecognizer:
    """:func:`recognize` on pieces of one speech in a child process, while this one goes on (issue 29): the
    generator no longer waits for the whole speech to be recognised, and pocketsphinx, which holds Python's GIL
    while it decodes, cannot stall this process's threads. ``cuts``: (start, end) samples of each piece at
    ``sr`` (a quiet piece gives no words). :meth:`get` gives piece ``i``'s words (seconds from the speech's
    start) when they are ready; :meth:`close` ends the child (also on exit from a ``with`` block)."""

    def __init__(self, audio: np.ndarray, cuts: list[tuple[int, int]], sr: int = SAMPLE_RATE):
        import json
        import queue
        import subprocess
        import sys
        import threading

        y = np.ascontiguousarray(np.asarray(audio, np.float32).reshape(-1))
        self.cuts = [(int(a), int(b)) for a, b in cuts]
        self.results: queue.Queue = queue.Queue()
        self.ready: dict[int, list[Word]] = {}
        self.proc = subprocess.Popen([sys.executable, "-c", "from s2v.speech.stt import _serve; _serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        header = (json.dumps({"sr": sr, "samples": len(y), "cuts": self.cuts}) + "\n").encode()

        def feed():
            try:
                self.proc.stdin.write(header + y.tobytes())
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError, OSError):   # the child ended (or was closed) early
                pass

        def read():
            for line in self.proc.stdout:
                self.results.put(json.loads(line))
            self.results.put(None)   # the child has ended

        for fn in (feed, read):
            threading.Thread(target=fn, daemon=True).start()

    def get(self, i: int, block: bool = True, timeout: float | None = None) -> list[Word] | None:
        """The words of piece ``i``; None when they are not ready (``block`` False) or not within ``timeout`` s."""
        import queue

        while i not in self.ready:
            try:
                msg = self.results.get(block=block and (timeout is None or timeout > 0), timeout=timeout)
            except queue.Empty:
                return None
            if msg is None:
                err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError("speech recognition ended early" + (f": {err[-1]}" if err else ""))
            self.ready[msg["i"]] = [Word(t, s, e) for t, s, e in msg["words"]]
        return self.ready[i]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _serve() -> None:
    """The child of :class:`BackgroundRecognizer`: a JSON header line and float32 samples on stdin, one JSON
    line per piece on stdout ({"i": piece, "words": [[text, start, end], ...]})."""
    import json
    import sys

    inp = sys.stdin.buffer
    head = json.loads(inp.readline())
    y = np.frombuffer(inp.read(4 * head["samples"]), np.float32)
    sr, decoder = head["sr"], _decoder()
    for i, (a, b) in enumerate(head["cuts"]):
        piece = y[a:b]
        quiet = b - a < sr // 10 or not len(piece) or float(np.abs(piece).max()) < 1e-4   # a pause: nothing said
        words = [] if quiet else recognize(piece, sr, decoder)
        out = [[w.text, round(w.start + a / sr, 4), round(w.end + a / sr, 4)] for w in words]
        sys.stdout.write(json.dumps({"i": i, "words": out}) + "\n")
        sys.stdout.flush()
