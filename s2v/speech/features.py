"""Audio features for the speech-to-pose LSTM, exactly as the paper specifies (section 3.4).

===============================================  ==============================================
paper (section 3.4)                              here
===============================================  ==============================================
"normalize its volume by RMS-based               :func:`rms_normalize` to ``target_rms`` (-20 dBFS)
normalization"
"for every 25ms-length audio clip ... sampled    ``n_fft = win = 25 ms``, ``hop = 10 ms`` (400/160
at 10ms interval"                                samples at 16 kHz), Hann window, no centring
"discrete Fourier Transform"                     ``librosa.stft`` (power spectrum)
"40 triangular Mel-scale filters"                ``n_mels = 40`` (librosa's Slaney mel filterbank)
"followed by a logarithm operator"               natural log of the mel energies (+ a floor)
"reduce the output dimension to 13 by applying   ``scipy.fft.dct`` type II, orthonormal, first 13
a Discrete Cosine Transform"                     (what ``librosa.feature.mfcc`` does)
"plus the log mean value of volume" (14-D)       log of the frame's mean squared amplitude
"temporal first-order derivatives ... the        ``x[t] - x[t-1]`` (zero for the first frame),
difference to the previous feature vector"       not librosa's smoothed ``delta``
===============================================  ==============================================

Any sample rate is resampled to 16 kHz first. :func:`align_to_frames` averages the 100 Hz features over
each video frame's time span, so features and poses share one time axis. :func:`add_pause_noise` is the
paper's fix for TTS audio that is perfectly silent in pauses (section 4.2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
FEATURE_DIM = 28


@dataclass(frozen=True)
class AudioFeatureConfig:
    sample_rate: int = SAMPLE_RATE
    window: float = 0.025     # seconds (section 3.4)
    hop: float = 0.010        # seconds (section 3.4)
    n_mels: int = 40          # section 3.4
    n_mfcc: int = 13          # section 3.4
    target_rms: float = 0.1   # RMS normalisation target (-20 dBFS)
    floor: float = 1e-10      # added before the logarithms


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def level_db(audio: np.ndarray) -> float:
    """RMS level in dBFS (-240 for digital silence)."""
    return 20 * float(np.log10(max(rms(audio), 1e-12)))


def speech_activity(audio: np.ndarray, sr: int = 16000, max_seconds: float = 120.0) -> tuple[float, float]:
    """(voiced share, envelope modulation in dB) of the first ``max_seconds``: a cheap voice-activity check.

    Voiced speech is harmonic (low spectral flatness) and its loudness rises and falls with the syllables
    (several dB from one 16 ms frame to the next); noise is flat in spectrum (white noise: flatness ~0.56, speech
    ~0.001) and steady tones and hums do not rise and fall. *Voiced share*: the frames within 30 dB of the
    loudest 5 % whose flatness is below 0.2; *modulation*: the standard deviation of those frames' level.
    Measured (share / dB): real English (JFK) 0.81 / 10.6, real Mandarin 0.99 / 7.1, eSpeak NG 0.65 / 7.8; white
    noise 0 / 0.4, a steady 220 Hz tone 1.0 / 0.2. :func:`no_speech_reason` draws the line."""
    import librosa

    y = np.asarray(audio[: int(max_seconds * sr)], np.float32)
    if len(y) < 512:
        return 0.0, 0.0
    S = np.abs(librosa.stft(y, n_fft=512, hop_length=256)) + 1e-10
    e = 10 * np.log10((S ** 2).mean(0))
    flat = librosa.feature.spectral_flatness(S=S)[0]
    loud = e > np.percentile(e, 95) - 30
    return float((loud & (flat < 0.2)).mean()), float(e[loud].std())


def no_speech_reason(audio: np.ndarray, sr: int = 16000, min_voiced: float = 0.05, min_modulation_db: float = 2.0
                     ) -> str | None:
    """Why ``audio`` is not speech (noise, a steady tone), or None when it may be (:func:`speech_activity`)."""
    voiced, mod = speech_activity(audio, sr)
    if voiced < min_voiced:
        return f"no voiced sound found ({voiced:.0%} of the loud frames are harmonic): noise, not speech?"
    if mod < min_modulation_db:
        return f"its loudness does not rise and fall with syllables ({mod:.1f} dB): a steady tone or hum, not speech?"
    return None


def rms_normalize(audio: np.ndarray, target_rms: float = 0.1) -> np.ndarray:
    rms_ = rms(audio)
    if rms_ < 1e-8:
        raise ValueError("the audio is silent (RMS ~ 0): no speech to take features from")
    return (np.asarray(audio, np.float64) * (target_rms / rms_)).astype(np.float32)


def audio_features(audio: np.ndarray, sr: int, cfg: AudioFeatureConfig | None = None) -> np.ndarray:
    """(N, 28) features at 100 Hz: 13 MFCC + log mean volume, and their first differences."""
    import librosa
    from scipy.fft import dct

    cfg = cfg or AudioFeatureConfig()
    y = np.asarray(audio, np.float32)
    if y.ndim == 2:  # (samples, channels) as soundfile returns
        y = y.mean(1)
    if sr != cfg.sample_rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=cfg.sample_rate)
    y = rms_normalize(y, cfg.target_rms)
    n = int(round(cfg.window * cfg.sample_rate))
    hop = int(round(cfg.hop * cfg.sample_rate))
    if len(y) < n:
        raise ValueError(f"the audio is too short ({len(y) / cfg.sample_rate * 1000:.0f} ms): at least one "
                         f"{cfg.window * 1000:.0f} ms window is needed")
    power = np.abs(librosa.stft(y, n_fft=n, hop_length=hop, win_length=n, window="hann", center=False)) ** 2
    mel = librosa.filters.mel(sr=cfg.sample_rate, n_fft=n, n_mels=cfg.n_mels) @ power
    mfcc = dct(np.log(mel + cfg.floor), type=2, axis=0, norm="ortho")[:cfg.n_mfcc]
    N = mfcc.shape[1]
    sq = np.concatenate([[0.0], np.cumsum(y.astype(np.float64) ** 2)])  # mean power per window, O(samples)
    starts = np.arange(N) * hop
    volume = np.log((sq[starts + n] - sq[starts]) / n + cfg.floor)
    static = np.vstack([mfcc, volume[None]]).T                           # (N, 14)
    diff = np.diff(static, axis=0, prepend=static[:1])
    return np.hstack([static, diff]).astype(np.float32)


def feature_times(num: int, cfg: AudioFeatureConfig | None = None) -> np.ndarray:
    """Centre time (s) of each feature frame."""
    cfg = cfg or AudioFeatureConfig()
    return np.arange(num) * cfg.hop + cfg.window / 2


def align_to_frames(features: np.ndarray, num_frames: int, fps: float, cfg: AudioFeatureConfig | None = None
                    ) -> np.ndarray:
    """Average the features falling in each video frame's span [t/fps, (t+1)/fps) -> (num_frames, D).

    Frames past the end of the audio repeat the last feature; a frame containing no feature centre takes
    the nearest one.
    """
    cfg = cfg or AudioFeatureConfig()
    t = feature_times(len(features), cfg)
    edges = np.arange(num_frames + 1) / fps
    c = np.concatenate([np.zeros((1, features.shape[1])), np.cumsum(features, 0, dtype=np.float64)])
    lo = np.searchsorted(t, edges[:-1], side="left")
    hi = np.searchsorted(t, edges[1:], side="left")
    count = (hi - lo)[:, None]
    mean = (c[hi] - c[lo]) / np.maximum(count, 1)
    nearest = np.clip(np.searchsorted(t, (edges[:-1] + edges[1:]) / 2), 0, len(features) - 1)
    return np.where(count > 0, mean, features[nearest]).astype(np.float32)


def add_pause_noise(audio: np.ndarray, sr: int, level_db: float = -50.0, seed: int = 0) -> np.ndarray:
    """White noise at ``level_db`` dBFS RMS added everywhere (section 4.2: TTS audio is perfectly silent in
    pauses, which recorded training audio never is, and the network has never seen such silence)."""
    rng = np.random.default_rng(seed)
    return (np.asarray(audio, np.float32) + rng.normal(scale=10 ** (level_db / 20), size=len(audio))).astype(np.float32)
