"""The studio speaker's performance: SMPL-X parameters per frame from speech, deterministic from a seed.

The motion is built in parameter space, so it is a valid body by construction:

* **mouth**: the jaw opens per phoneme (a small viseme table over eSpeak's phoneme symbols: open
  vowels wide, bilabials shut), smoothed for coarticulation and scaled by the loudness envelope;
* **idle**: breathing (spine and collar bones), slow body sway, head drift;
* **beats**: on stressed syllables a quick flick of the forearm and a head nod, as speakers do;
* **key poses**: on key words (``huge``, ``tiny``, ``high``, ``low``, ``me``, ``you``...), with a per-word
  probability, the gestures of :mod:`s2v.studio.cast` are inserted exactly as section 3.3 describes
  (0.6 s ramps, 0.3 s hold) with :func:`s2v.body.blend.insert_key_pose`, body and hands only
  so that speech keeps driving the mouth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from s2v.body.joints import JOINT_NAMES
from s2v.body.blend import InsertionConfig, insert_key_pose
from s2v.params import ParamLayout
from s2v.speech.tts import Phoneme, Word
from s2v.studio.cast import KEYWORD_PROBABILITY, KEYWORDS, KeyPoseEvent, StudioSpeaker, key_pose, rest_pose

JAW_MAX = 0.28  # radians of jaw opening for the widest vowel


@dataclass
class MotionConfig:
    beat_probability: float = 0.55     # chance a stressed syllable gets a beat gesture
    beat_min_gap: float = 0.6          # seconds between beats
    keypose_scale: float = 1.0         # multiplies every key word's insertion probability
    ramp: float = 0.6                  # section 3.3
    hold: float = 0.3                  # section 3.3
    session_hold: float = 1.0          # key poses of the posing session are held longer
    mouth_smoothing: float = 0.03      # seconds (coarticulation)


def viseme_openness(symbol: str) -> float:
    """How far a phoneme opens the jaw, 0 (closed) .. 1 (open vowel), from its eSpeak mnemonic."""
    s = symbol.lstrip("',").rstrip(":")
    if not s or s.startswith("_"):
        return 0.0
    c = s[0]
    if c in "pbm":
        return 0.0
    if c in "fv":
        return 0.12
    if c in "aAV0Q&O":
        return 1.0
    if c in "eE3":
        return 0.75
    if c == "@":
        return 0.55
    if c in "oy":
        return 0.7
    if c in "uU":
        return 0.45
    if c in "iI":
        return 0.4
    if c == "h":
        return 0.35
    return 0.22  # other consonants


def loudness_envelope(audio: np.ndarray, sr: int, times: np.ndarray, win: float = 0.02) -> np.ndarray:
    """RMS loudness at ``times`` (seconds), normalised so that loud speech is ~1."""
    hop = max(1, int(sr * 0.005))
    n = max(1, int(sr * win))
    padded = np.pad(audio.astype(np.float64) ** 2, (n // 2, n // 2))
    c = np.cumsum(np.concatenate([[0.0], padded]))
    centers = np.arange(0, len(audio), hop)
    rms = np.sqrt(np.maximum(c[centers + n] - c[centers], 0) / n)
    ref = np.percentile(rms[rms > 0], 95) if (rms > 0).any() else 1.0
    return np.interp(times, centers / sr, rms / max(ref, 1e-9))


def _smooth_noise(rng: np.random.Generator, T: int, fps: float, sigma_s: float) -> np.ndarray:
    x = gaussian_filter1d(rng.normal(size=T + int(8 * sigma_s * fps)), sigma_s * fps)[:T]
    return x / (x.std() + 1e-9)


def perform(words: list[Word], phonemes: list[Phoneme], audio: np.ndarray, sr: int, num_frames: int, fps: float,
            speaker: StudioSpeaker, seed: int = 0, layout: ParamLayout | None = None, cfg: MotionConfig | None = None,
            session_words: set[int] | None = None) -> tuple[np.ndarray, list[KeyPoseEvent]]:
    """(T, 106) per-frame parameters and the key poses that were struck."""
    lay = layout or ParamLayout()
    cfg = cfg or MotionConfig()
    rng = np.random.default_rng(seed)
    T = num_frames
    t = np.arange(T) / fps
    sl = lay.slices()
    seq = np.repeat(rest_pose(lay)[None], T, axis=0)
    body = seq[:, sl["body_pose"]]  # view

    def add(joint: str, axis: int, signal: np.ndarray) -> None:
        j = JOINT_NAMES.index(joint) - 1
        body[:, 3 * j + axis] += signal

    # --- idle: breathing, sway, head drift
    breath = np.sin(2 * np.pi * 0.22 * t + rng.uniform(0, 2 * np.pi))
    add("spine3", 0, 0.015 * breath)
    add("left_collar", 2, 0.012 * breath)
    add("right_collar", 2, -0.012 * breath)
    add("spine1", 2, 0.02 * _smooth_noise(rng, T, fps, 1.5))
    add("spine2", 1, 0.03 * _smooth_noise(rng, T, fps, 1.2))
    add("head", 0, 0.04 * _smooth_noise(rng, T, fps, 0.8))
    add("head", 1, 0.07 * _smooth_noise(rng, T, fps, 1.0))
    add("neck", 2, 0.02 * _smooth_noise(rng, T, fps, 1.3))

    # --- mouth: visemes x loudness
    fine = np.arange(0, T / fps, 0.005)
    open_ = np.zeros_like(fine)
    for p in phonemes:
        open_[(fine >= p.start) & (fine < p.end)] = viseme_openness(p.symbol)
    open_ = gaussian_filter1d(open_, cfg.mouth_smoothing / 0.005)
    loud = np.clip(loudness_envelope(audio, sr, fine), 0, 1.3)
    jaw = JAW_MAX * np.interp(t, fine, open_ * np.sqrt(loud))
    seq[:, sl["jaw_pose"].start] = jaw
    # the face follows the speech (loudness and mouth opening drive the first expression components),
    # with a small slow drift on top (smiles, brows) that speech does not explain
    loud_t, open_t = np.interp(t, fine, loud), np.interp(t, fine, open_)
    e0 = sl["expression"].start
    seq[:, e0] = 0.8 * loud_t
    if lay.num_expression > 1:
        seq[:, e0 + 1] = 0.6 * open_t - 0.3 * loud_t
    for k in range(min(4, lay.num_expression)):
        seq[:, e0 + k] += 0.15 * _smooth_noise(rng, T, fps, 1.5)

    # --- beats and nods on stressed syllables
    last_beat = -10.0
    dominant = "right" if speaker.right_handed else "left"
    for p in phonemes:
        if not p.stressed or p.word < 0 or p.start - last_beat < cfg.beat_min_gap:
            continue
        bump = np.exp(-0.5 * ((t - p.start - 0.05) / 0.12) ** 2)
        add("head", 0, 0.06 * bump)                                      # nod
        if rng.uniform() < cfg.beat_probability:
            side = dominant if rng.uniform() < 0.7 else ("left" if dominant == "right" else "right")
            sg = 1.0 if side == "right" else -1.0
            amp = speaker.gesture * rng.uniform(0.5, 1.0)
            beat = np.exp(-0.5 * ((t - p.start) / 0.2) ** 2)
            add(f"{side}_elbow", 1, sg * 0.7 * amp * beat)               # forearm comes up
            add(f"{side}_shoulder", 0, -0.25 * amp * beat)               # and forward
            seq[:, sl[f"{side}_hand_pose"].start] -= 0.8 * amp * beat    # hand opens
            last_beat = p.start

    # --- key poses on key words (section 3.3)
    events: list[KeyPoseEvent] = []
    busy_until = -1
    ins = InsertionConfig(ramp=cfg.ramp, hold=cfg.hold)
    for i, w in enumerate(words):
        name = _keyword_pose(w.text)
        if name is None:
            continue
        session = bool(session_words and i in session_words)
        prob = 1.0 if session else min(1.0, KEYWORD_PROBABILITY.get(w.text.lower(), 0.9) * cfg.keypose_scale)
        if rng.uniform() >= prob:
            continue
        frame = int(round(w.start * fps))
        ramp = int(round(cfg.ramp * fps))
        if frame - ramp <= busy_until or frame >= T:
            continue
        hold = cfg.session_hold if session else cfg.hold
        pose = key_pose(name, lay, speaker.right_handed)
        seq, span = insert_key_pose(seq, pose, frame, fps, lay, InsertionConfig(ins.ramp, hold, ins.interp),
                                    parts=("body", "hands"))
        busy_until = span[1]
        events.append(KeyPoseEvent(w.text, name, w.start, w.end, frame, int(round(hold * fps)), ramp, session))
    return seq.astype(np.float32), events


def _keyword_pose(word: str) -> str | None:
    w = word.lower()
    if w in KEYWORDS:
        return KEYWORDS[w]
    if any(ord(c) > 0x2E80 for c in w):  # CJK: a word poses if one of its characters is a key word
        for c in w:
            if c in KEYWORDS:
                return KEYWORDS[c]
    return None
