"""Key-pose insertion from the dictionary (paper section 3.3, figure 6): where its key words are spoken, which
entry goes in (each word's probability, drawn from a seeded generator), and the frames a key pose takes. The
blending itself — 0.6 s ramps, 0.3 s hold, rotations slerped on SO(3) (``interp="linear"``: the paper's blend)
— is :mod:`s2v.body.blend`, re-exported here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2v.body.blend import InsertionConfig, insert_key_pose, interpolate, rotation_dims  # noqa: F401
from s2v.params import ParamLayout


# ---------------------------------------------------------------------------------------------- dictionary
@dataclass(frozen=True)
class KeyWordHit:
    """A key word found in word timestamps: its text, the matched tokens and their time span."""

    word_index: int
    text: str
    key: tuple[str, ...]
    start: float
    end: float


@dataclass(frozen=True)
class Insertion:
    """What happened at one key word: inserted, or why not (``"probability"``, ``"overlap"``, ``"outside"``)."""

    word: str
    key: str
    start: float
    frame: int
    kind: str
    span: tuple[int, int]
    status: str
    entry: int = -1  # index of the dictionary entry used

    @property
    def inserted(self) -> bool:
        return self.status == "inserted"


def _word_fields(w) -> tuple[str, float, float]:
    if isinstance(w, dict):
        return str(w["word"]), float(w["start"]), float(w["end"])
    return str(w.text), float(w.start), float(w.end)


def find_key_words(words, keys, tones: bool = True) -> list[KeyWordHit]:
    """Where the ``keys`` (token tuples, see :func:`s2v.dictionary.store.tokens`) are spoken in ``words``
    (``[{"word", "start", "end"}]`` or :class:`s2v.speech.tts.Word`). A word of several tokens (a Mandarin
    word of several characters) shares its time span evenly among them, so ``上`` in ``上涨`` gets the
    first half. Longer keys win; matches do not overlap."""
    from s2v.dictionary.store import tokens

    stream = []  # (token, word index, start, end)
    for i, w in enumerate(words):
        text, t0, t1 = _word_fields(w)
        toks = tokens(text, tones)
        for j, t in enumerate(toks):
            d = (t1 - t0) / len(toks)
            stream.append((t, i, t0 + j * d, t0 + (j + 1) * d))
    keys = sorted({tuple(k) for k in keys if k}, key=len, reverse=True)
    hits, i = [], 0
    while i < len(stream):
        for k in keys:
            if tuple(s[0] for s in stream[i:i + len(k)]) == k:
                first, last = stream[i], stream[i + len(k) - 1]
                hits.append(KeyWordHit(first[1], _word_fields(words[first[1]])[0], k, first[2], last[3]))
                i += len(k)
                break
        else:
            i += 1
    return hits


def resample_motion(motion: np.ndarray, fps_from: float, fps_to: float, layout: ParamLayout,
                    interp: str = "slerp") -> np.ndarray:
    """A motion recorded at ``fps_from`` played at ``fps_to`` (same duration), interpolating between frames."""
    motion = np.asarray(motion, np.float32)
    if len(motion) < 2 or abs(fps_from - fps_to) < 1e-6:
        return motion
    n = max(1, int(round(len(motion) * fps_to / fps_from)))
    t = np.linspace(0, len(motion) - 1, n)
    i0 = np.minimum(np.floor(t).astype(int), len(motion) - 2)
    out = np.empty((n, motion.shape[1]), np.float32)
    for k in range(n):  # short sequences (a gesture): a loop is clearer than a batched gather here
        out[k] = interpolate(motion[i0[k]], motion[i0[k] + 1], np.array([t[k] - i0[k]]), layout, interp)[0]
    return out


def held_motion(entry, fps_from: float, fps_to: float, layout: ParamLayout, interp: str = "slerp") -> np.ndarray:
    """A motion entry's frames played at ``fps_to``, then its last frame held for the entry's ``hold`` seconds."""
    motion = resample_motion(entry.pose, fps_from, fps_to, layout, interp)
    n = int(round(float(entry.hold) * fps_to))
    return np.concatenate([motion, np.repeat(motion[-1:], n, axis=0)]) if n > 0 else motion


def held_motion_length(entry, fps_from: float, fps_to: float) -> int:
    """Frames :func:`held_motion` gives (motion and hold), without building it."""
    n = len(entry.pose)
    played = n if n < 2 or abs(fps_from - fps_to) < 1e-6 else max(1, int(round(n * fps_to / fps_from)))
    return played + max(0, int(round(float(entry.hold) * fps_to)))


def apply_dictionary(seq: np.ndarray, words, dictionary, fps: float, cfg: InsertionConfig | None = None,
                     seed: int = 0) -> tuple[np.ndarray, list[Insertion]]:
    """Insert the dictionary's key poses at its key words (section 3.3, figure 6).

    Each spoken key word draws once from a generator seeded by ``seed`` (the same seed gives the same
    video); with the entry's probability its pose goes in at the frame of the word's start: a still pose
    held for the entry's hold, a motion copied frame by frame (resampled if the dictionary's fps differs) and its
    last frame then held for the entry's hold (0 for motions unless one was given),
    ramps of ``cfg.ramp`` seconds on either side. Several entries for one word: one is picked at random.
    Returns the new sequence and one :class:`Insertion` record per key word found.
    """
    cfg = cfg or InsertionConfig()
    if cfg.overlap not in ("chain", "skip"):
        raise ValueError(f"overlap must be 'chain' or 'skip', got {cfg.overlap!r}")
    layout = dictionary.layout
    seq = np.asarray(seq, np.float32)
    if seq.ndim != 2 or seq.shape[1] != layout.frame_dim:
        raise ValueError(f"pose sequence has shape {seq.shape}; the dictionary needs (T, {layout.frame_dim})")
    rng = np.random.default_rng(seed)
    by_key = dictionary.keys()
    index = {id(e): i for i, e in enumerate(dictionary.entries)}
    out, records = seq.copy(), []
    T = len(out)
    N = max(1, int(round(cfg.ramp * fps)))
    key_end, span_end = -1, -1  # last frame of the previous key pose, end of its ramp out
    for hit in find_key_words(words, by_key, dictionary.match_tones):
        variants = by_key[hit.key]
        entry = variants[int(rng.integers(len(variants)))]
        draw = rng.uniform()
        frame = int(round(hit.start * fps))
        motion = entry.pose if entry.kind == "still" else held_motion(entry, dictionary.fps, fps, layout, cfg.interp)
        length = max(1, int(round(entry.hold * fps))) if entry.kind == "still" else len(motion)
        rec = dict(word=hit.text, key=" ".join(hit.key), start=hit.start, frame=frame, kind=entry.kind,
                   entry=index[id(entry)])
        if draw >= entry.probability:
            records.append(Insertion(**rec, span=(0, 0), status="probability"))
            continue
        if frame >= T or frame + length <= 0:
            records.append(Insertion(**rec, span=(0, 0), status="outside"))
            continue
        if frame <= key_end or (cfg.overlap == "skip" and frame - N <= span_end):
            records.append(Insertion(**rec, span=(0, 0), status="overlap"))
            continue
        one = InsertionConfig(cfg.ramp, entry.hold, cfg.interp, cfg.overlap)
        out, span = insert_key_pose(out, entry.pose[0] if entry.kind == "still" else motion, frame, fps, layout, one,
                                    entry.parts, ramp_from=max(key_end, 0))
        key_end = min(T, frame + length) - 1
        span_end = span[1] - 1
        records.append(Insertion(**rec, span=span, status="inserted"))
    return out, records


def key_word_frames(words, dictionary, num_frames: int, fps: float, cfg: InsertionConfig | None = None) -> np.ndarray:
    """(T,) True on the frames a key pose of ``dictionary`` takes when :func:`apply_dictionary` inserts it at
    each of its key words in ``words``: the ramp in, the longest entry for the word (hold or motion), the ramp
    out. The speech-to-pose LSTM does not learn body and hands there (the dictionary supplies those gestures,
    section 3.3; from audio alone they are a guess of which word was said)."""
    cfg = cfg or InsertionConfig()
    out = np.zeros(num_frames, bool)
    by_key = dictionary.keys()
    N = max(1, int(round(cfg.ramp * fps)))
    for hit in find_key_words(words, by_key, dictionary.match_tones):
        frame = int(round(hit.start * fps))
        length = max(max(1, int(round(e.hold * fps))) if e.kind == "still"
                     else held_motion_length(e, dictionary.fps, fps) for e in by_key[hit.key])
        out[max(0, frame - N):max(0, min(num_frames, frame + length + N))] = True
    return out
