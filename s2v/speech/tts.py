"""Offline text-to-speech with word and phoneme timestamps: eSpeak NG through ctypes.

The paper inserts key poses at the time each key word is spoken, which for TTS audio "the TTS output
will include" (section 3.3). eSpeak NG reports exactly that through its synthesis callback (WORD and
PHONEME events with millisecond positions); its command-line tool and the Python wrappers on PyPI do
not expose them, hence this small ctypes binding. The library and its voices come from the
``espeakng-loader`` wheel (no system package needed); English uses ``en-us``, Mandarin ``cmn``.

libespeak-ng keeps process-global state, so :class:`ESpeak` serialises all calls with a lock.
"""
from __future__ import annotations

import ctypes
import threading
import unicodedata
from dataclasses import dataclass, field

import numpy as np

# espeak_EVENT_TYPE
_EV_END_LIST, _EV_WORD, _EV_SENTENCE, _EV_PHONEME = 0, 1, 2, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Word:
    text: str
    start: float  # seconds
    end: float

    def to_dict(self) -> dict:
        return {"word": self.text, "start": round(self.start, 4), "end": round(self.end, 4)}


@dataclass
class Phoneme:
    symbol: str   # eSpeak mnemonic; "'" primary and "," secondary stress prefixes kept; "_" = pause
    start: float
    end: float
    word: int     # index into the words list, -1 for pauses

    @property
    def stressed(self) -> bool:
        return self.symbol.startswith("'")

    @property
    def is_pause(self) -> bool:
        return self.symbol.startswith("_")


@dataclass
class Speech:
    audio: np.ndarray         # float32 mono in [-1, 1]
    sample_rate: int
    words: list[Word] = field(default_factory=list)
    phonemes: list[Phoneme] = field(default_factory=list)
    text: str = ""
    voice: str = ""

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


class ESpeak:
    """A handle on libespeak-ng (one per process is enough; calls are serialised).

    eSpeak NG draws random numbers while it speaks (``rand()``: measured, the studio's 2,126-character script came
    out different in every process, up to 0.08 in amplitude, and so did the jaw motion and the GAN trained on it).
    Every call seeds its generator (``espeak_ng_SetRandSeed``, libespeak-ng >= 1.51), so the same calls in a fresh
    process give the same samples. eSpeak also keeps some state from one call to the next (a second call of the
    same text in one process may differ by a few samples); a recording is reproducible as a whole."""

    _lock = threading.Lock()
    _lib = None
    _rate = 0

    def __init__(self) -> None:
        with ESpeak._lock:
            if ESpeak._lib is None:
                try:
                    import espeakng_loader as el
                except ImportError as e:  # pragma: no cover - dependency missing
                    raise ImportError("eSpeak NG is needed for TTS: pip install espeakng-loader") from e
                lib = ctypes.CDLL(el.get_library_path())
                rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, el.get_data_path().encode(),
                                             _INITIALIZE_PHONEME_EVENTS)
                if rate <= 0:
                    raise RuntimeError("espeak_Initialize failed")
                lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
                lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
                if hasattr(lib, "espeak_ng_SetRandSeed"):
                    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
                lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                             ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
                ESpeak._lib, ESpeak._rate = lib, rate

    @property
    def sample_rate(self) -> int:
        return ESpeak._rate

    def synthesize(self, text: str, voice: str = "en-us", rate: int = 165, pitch: int = 50,
                   pitch_range: int = 50, volume: int = 100, seed: int = 0) -> Speech:
        """Speak ``text``; ``rate`` in words/minute, ``pitch`` and ``pitch_range`` 0-100; ``seed`` seeds eSpeak's
        random numbers (see the class)."""
        if not text.strip():
            raise ValueError("nothing to say: empty text")
        chunks: list[np.ndarray] = []
        events: list[tuple[int, int, int, int, str]] = []

        def on_audio(wav, n, ev):
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
            i = 0
            while ev[i].type != _EV_END_LIST:
                e = ev[i]
                sym = bytes(e.id).split(b"\0")[0].decode("latin-1") if e.type == _EV_PHONEME else ""
                events.append((e.type, e.text_position, e.length, e.audio_position, sym))
                i += 1
            return 0

        cb = _Callback(on_audio)
        data = text.encode("utf-8")
        with ESpeak._lock:
            lib = ESpeak._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r} (try 'en-us' or 'cmn')")
            for name, value in (("rate", rate), ("pitch", pitch), ("range", pitch_range), ("volume", volume)):
                lib.espeak_SetParameter(_PARAM[name], int(value), 0)
            lib.espeak_SetSynthCallback(cb)
            if hasattr(lib, "espeak_ng_SetRandSeed"):
                lib.espeak_ng_SetRandSeed(int(seed))
            lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        audio = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        words, phonemes = _timeline(text, events, len(audio) / ESpeak._rate)
        return Speech(audio, ESpeak._rate, words, phonemes, text, voice)


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or ch in "'-"


def _timeline(text: str, events, duration: float):
    """Words (text span, start, end) and phonemes from eSpeak's event list.

    eSpeak's text positions count characters from 1. A word's text runs to the next word's position
    (eSpeak may merge characters, e.g. Mandarin 你好 into one word), stripped of punctuation. A word
    ends where its last phoneme ends: at the next pause or the next word's first phoneme.
    """
    word_ev = [e for e in events if e[0] == _EV_WORD]
    ph_ev = [e for e in events if e[0] == _EV_PHONEME]
    starts = sorted({e[1] for e in word_ev})
    words: list[Word] = []
    word_pos: list[int] = []
    for e in word_ev:
        pos = e[1]
        nxt = [s for s in starts if s > pos]
        stop = (nxt[0] - 1) if nxt else len(text)
        span = text[pos - 1:stop]
        token = "".join(ch for ch in span if _is_word_char(ch)).strip("'-")
        if not token:
            continue
        words.append(Word(token, e[3] / 1000.0, e[3] / 1000.0))
        word_pos.append(pos)
    # assign phonemes to words: each phoneme belongs to the last word that started at or before it
    phonemes: list[Phoneme] = []
    wi = -1
    word_starts = [w.start for w in words]
    for k, e in enumerate(ph_ev):
        t0 = e[3] / 1000.0
        t1 = ph_ev[k + 1][3] / 1000.0 if k + 1 < len(ph_ev) else duration
        while wi + 1 < len(words) and word_starts[wi + 1] <= t0 + 1e-9 and (
                wi + 1 == 0 or e[1] >= word_pos[wi + 1]):
            wi += 1
        sym = e[4]
        owner = -1 if sym.startswith("_") or wi < 0 else wi
        phonemes.append(Phoneme(sym, t0, max(t0, t1), owner))
    for i, w in enumerate(words):
        mine = [p for p in phonemes if p.word == i]
        w.end = max(p.end for p in mine) if mine else (words[i + 1].start if i + 1 < len(words) else duration)
        if i + 1 < len(words):
            w.end = min(w.end, words[i + 1].start) if words[i + 1].start > w.start else w.end
    return words, phonemes


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling (librosa's soxr-backed default)."""
    if sr_in == sr_out:
        return np.asarray(audio, np.float32)
    import librosa

    return librosa.resample(np.asarray(audio, np.float32), orig_sr=sr_in, target_sr=sr_out).astype(np.float32)
