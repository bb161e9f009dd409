"""Word times of a known transcript in real speech, in any language eSpeak NG speaks: TTS, then DTW.

Key poses go in at the time each key word is spoken (section 3.3). For real English speech pocketsphinx's
forced alignment gives those times (:func:`s2v.speech.stt.align`); pocketsphinx ships an English model only, so
real Mandarin speech had no word times and no key poses. Here the transcript is spoken by eSpeak NG, whose word
times are exact, and dynamic time warping of the two MFCC sequences (``librosa.sequence.dtw``, cepstral mean and
variance normalised per utterance, cosine distance) carries them onto the recording. Coarser than an acoustic
model (the voices differ), but a key pose ramps in over 0.6 s (section 3.3), so tenths of a second are enough;
the accuracy against pocketsphinx on real English and against exact times on studio Mandarin is measured in
``tests/test_stt.py`` and ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2v.speech.features import SAMPLE_RATE
from s2v.speech.tts import ESpeak, Word, resample


@dataclass(frozen=True)
class AlignConfig:
    hop: float = 0.01          # seconds between MFCC frames
    n_mfcc: int = 20
    top_db: float = 35.0       # leading/trailing silence trimmed (librosa.effects.trim) before warping
    rate: int = 165            # eSpeak words per minute for the reference speech


def _features(y: np.ndarray, cfg: AlignConfig) -> np.ndarray:
    import librosa

    hop = int(round(cfg.hop * SAMPLE_RATE))
    m = librosa.feature.mfcc(y=y, sr=SAMPLE_RATE, n_mfcc=cfg.n_mfcc, hop_length=hop, n_fft=512)[1:]
    return (m - m.mean(1, keepdims=True)) / (m.std(1, keepdims=True) + 1e-6)


class TranscriptError(ValueError):
    """A transcript that does not fit its speech (another text, another language): its words would be put where
    they were never said."""


@dataclass(frozen=True)
class MatchConfig:
    """How a transcript is checked against its speech (issue 30), with the margins measured on the real speech of
    ``../shared/data`` (JFK, four Obama sentences, one AISHELL-1 Mandarin sentence; ``tests/test_stt.py``):

    * English: the share of the transcript's words that free recognition hears, in order (longest common
      subsequence): own transcripts 0.43-1.00, other English texts 0.00-0.10;
    * other languages: the DTW cost of the eSpeak NG reading against the recording divided by its cost against
      the recording played backwards (same sounds, no order): own transcripts 0.82-0.94, other texts and
      languages 0.95-1.06; and the recording's speech no more than ``max_duration_ratio`` times longer or
      shorter than eSpeak's reading (a four-character sentence stretched over 8 s: 6.5)."""
    min_heard: float = 0.25
    max_relative_cost: float = 0.97
    max_duration_ratio: float = 3.0
    window: float = 30.0        # seconds of English speech recognised for the check (its cost: ~1 s a second)


def _warp(audio: np.ndarray, sr: int, text: str, lang: str, cfg: AlignConfig) -> tuple[list[Word], float, float]:
    """:func:`align_by_tts`'s words, with the DTW cost relative to the reversed recording's and the ratio of the
    recording's speech duration to eSpeak's (see :class:`MatchConfig`)."""
    import librosa

    if not text.strip():
        raise ValueError("empty transcript")
    y = np.asarray(audio, np.float32)
    y = y.mean(1) if y.ndim == 2 else y                              # (N, channels) as soundfile reads it
    y = resample(y, sr, SAMPLE_RATE) if sr != SAMPLE_RATE else y
    if len(y) < 0.1 * SAMPLE_RATE or np.sqrt(np.mean(y.astype(np.float64) ** 2)) < 1e-4:     # below -80 dBFS
        raise ValueError("the audio is silent: no speech to align the transcript to")
    ref = ESpeak().synthesize(text, voice="cmn" if lang == "zh" else "en-us", rate=cfg.rate)
    if not ref.words:
        raise ValueError(f"eSpeak NG found no words in {text!r}")
    r = resample(ref.audio, ref.sample_rate, SAMPLE_RATE)
    _, (a0, a1) = librosa.effects.trim(y, top_db=cfg.top_db)
    _, (b0, b1) = librosa.effects.trim(r, top_db=cfg.top_db)
    A, B = _features(y[a0:a1], cfg), _features(r[b0:b1], cfg)
    D, wp = librosa.sequence.dtw(X=B, Y=A, metric="cosine")
    D_rev, wp_rev = librosa.sequence.dtw(X=B, Y=A[:, ::-1], metric="cosine")
    relative = float(D[-1, -1] / len(wp)) / max(float(D_rev[-1, -1] / len(wp_rev)), 1e-9)
    wp = wp[::-1]                                                    # (reference frame, recording frame), ascending
    ref_t = wp[:, 0] * cfg.hop + b0 / SAMPLE_RATE
    rec_t = wp[:, 1] * cfg.hop + a0 / SAMPLE_RATE
    # the warping path is a staircase: the mean recording time per reference frame, then a monotone map
    uniq, inv = np.unique(ref_t, return_inverse=True)
    mapped = np.bincount(inv, rec_t) / np.bincount(inv)
    mapped = np.maximum.accumulate(mapped)

    def warp(t: float) -> float:
        return float(np.interp(t, uniq, mapped))

    out = []
    for w in ref.words:
        s, e = warp(w.start), warp(w.end)
        out.append(Word(w.text, s, max(e, s + cfg.hop)))
    return out, relative, (a1 - a0) / max(b1 - b0, 1)


def align_by_tts(audio: np.ndarray, sr: int, text: str, lang: str = "en",
                 cfg: AlignConfig | None = None) -> list[Word]:
    """Each word of ``text`` (as eSpeak NG splits it: English words, Mandarin characters or words) with its
    start and end seconds in ``audio``. Raises ValueError for an empty transcript or silent audio."""
    return _warp(audio, sr, text, lang, cfg or AlignConfig())[0]


def heard_share(transcript: list[str], heard: list[str]) -> float:
    """The share of ``transcript``'s words found in ``heard`` in the same order (longest common subsequence)."""
    L = np.zeros((len(transcript) + 1, len(heard) + 1), int)
    for i, a in enumerate(transcript):
        for j, b in enumerate(heard):
            L[i + 1, j + 1] = L[i, j] + 1 if a == b else max(L[i, j + 1], L[i + 1, j])
    return float(L[-1, -1]) / max(len(transcript), 1)


def align_transcript(audio: np.ndarray, sr: int, text: str, lang: str | None = None,
                     match: MatchConfig | None = None) -> tuple[list[Word], str, str]:
    """The words of a known transcript with their times in ``audio``: pocketsphinx's forced alignment for
    English, eSpeak NG + DTW (:func:`align_by_tts`) for Mandarin. Returns (words, language, how: the method and
    how well the transcript matched). A transcript that does not match the speech (:class:`MatchConfig`) is a
    :class:`TranscriptError`: its words would be put where they were never said."""
    from s2v.speech import stt
    from s2v.speech.text import language_of

    m = match or MatchConfig()
    lang = lang or language_of(text)
    if lang == "en":
        try:
            words = stt.align(audio, sr, text)
        except RuntimeError as e:       # the search found no path through the transcript's words
            raise TranscriptError(f"the transcript does not fit the speech ({e}): is it this recording's?") from None
        y = np.asarray(audio, np.float32)
        y = resample(y.mean(1) if y.ndim == 2 else y, sr, SAMPLE_RATE)[: int(m.window * SAMPLE_RATE)]
        said = [w.text for w in words if w.start < m.window]
        heard = heard_share(said, [w.text for w in stt.recognize(y, SAMPLE_RATE)])
        if heard < m.min_heard:
            raise TranscriptError(
                f"the transcript does not match the speech: recognition heard {heard:.0%} of its words "
                f"(its own transcript gives 43-100 %, another text 0-10 %; refused below {m.min_heard:.0%}). Is it "
                "this recording's? Without a transcript the words are recognised.")
        return words, "en", f"forced alignment (pocketsphinx); {heard:.0%} of its words heard by recognition"
    words, relative, ratio = _warp(audio, sr, text, lang, AlignConfig())
    if relative > m.max_relative_cost or not 1 / m.max_duration_ratio <= ratio <= m.max_duration_ratio:
        raise TranscriptError(
            f"the {lang} transcript does not match the speech: the recording's speech is {ratio:.1f}x as long as "
            f"the transcript read aloud (allowed {1 / m.max_duration_ratio:.2f}-{m.max_duration_ratio:g}), and its "
            f"alignment cost is {relative:.2f} of the cost against the recording played backwards (its own "
            f"transcript: 0.82-0.94; refused above {m.max_relative_cost:g}). Is it this recording's, in this language?")
    return words, lang, (f"eSpeak NG speech of the transcript, DTW to the recording; alignment cost {relative:.2f} "
                         "of the reversed recording's")


#: labels of a TextGrid's word tier that mark silence, not words (MFA, Praat and BEAT2 conventions)
SILENCE_LABELS = frozenset({"", "sil", "sp", "spn", "<eps>", "<sil>", "#"})


def is_textgrid(text: str) -> bool:
    """Whether ``text`` is a Praat TextGrid (long or short format), not a plain transcript."""
    return text.lstrip("\ufeff").lstrip().startswith('File type = "ooTextFile"')


def read_textgrid(path, tier: str | None = None) -> list[Word]:
    """Word times of a Praat TextGrid (BEAT2, Montreal Forced Aligner), kept as given: the tier ``tier``, else the
    one named ``words`` (any case), else the only interval tier; silence labels dropped. Parsed by ``praatio``."""
    from praatio import textgrid

    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as e:   # praatio raises several kinds for a damaged file
        raise ValueError(f"{path}: not a readable TextGrid ({type(e).__name__}: {e})") from None
    names = [n for n in tg.tierNames if isinstance(tg.getTier(n), textgrid.IntervalTier)]
    if tier is None:
        words_tiers = [n for n in names if n.lower() == "words"]
        if words_tiers:
            tier = words_tiers[0]
        elif len(names) == 1:
            tier = names[0]
        else:
            raise ValueError(f"{path}: no tier named 'words' among the interval tiers {names}; which holds the words?")
    if tier not in names:
        raise ValueError(f"{path}: no interval tier {tier!r} (interval tiers: {names})")
    return [Word(e.label.strip(), float(e.start), float(e.end)) for e in tg.getTier(tier).entries
            if e.label.strip().lower() not in SILENCE_LABELS]
