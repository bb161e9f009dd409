"""Audio features of section 3.4, checked against an independent numpy computation."""
import numpy as np
import pytest

from s2v.speech.features import (add_pause_noise, align_to_frames, audio_features,
                                 feature_times, rms_normalize)


def _mel_filterbank(sr, n_fft, n_mels):
    """Slaney-style triangular mel filters written out (the textbook formula, not librosa's code)."""
    def hz_to_mel(f):
        f = np.asarray(f, float)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, float)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr / 2), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        fb[i] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
        fb[i] *= 2.0 / (hi - lo)  # equal-area normalisation
    return fb


def _numpy_features(y, sr=16000):
    y = y / np.sqrt(np.mean(y.astype(np.float64) ** 2)) * 0.1
    n, hop = 400, 160
    N = 1 + (len(y) - n) // hop
    frames = np.stack([y[i * hop:i * hop + n] for i in range(N)])
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)          # periodic Hann
    power = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2
    logmel = np.log(power @ _mel_filterbank(sr, n, 40).T + 1e-10)
    k = np.arange(40)
    dct = np.sqrt(2 / 40) * np.cos(np.pi / 40 * (k[None, :] + 0.5) * np.arange(13)[:, None])
    dct[0] /= np.sqrt(2)
    mfcc = logmel @ dct.T
    vol = np.log(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    static = np.hstack([mfcc, vol[:, None]])
    return np.hstack([static, np.diff(static, axis=0, prepend=static[:1])])


def test_matches_an_independent_numpy_computation_on_a_tone():
    sr = 16000
    t = np.arange(int(0.8 * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    ours = audio_features(y, sr)
    ref = _numpy_features(y)
    assert ours.shape == ref.shape == (1 + (len(y) - 400) // 160, 28)
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=2e-3)
    assert np.abs(ours[:, 14:]).sum() > 0 and (ours[0, 14:] == 0).all()   # differences, first is zero


def test_resampling_and_volume_normalisation():
    t = np.arange(44100) / 44100
    y44 = (0.05 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    f44 = audio_features(y44, 44100)
    t16 = np.arange(16000) / 16000
    f16 = audio_features((0.5 * np.sin(2 * np.pi * 300 * t16)).astype(np.float32), 16000)
    assert abs(len(f44) - len(f16)) <= 1
    m = min(len(f44), len(f16))
    np.testing.assert_allclose(f44[5:m - 5, :13], f16[5:m - 5, :13], atol=0.15)   # volume-independent
    stereo = np.stack([y44, y44], 1)
    np.testing.assert_allclose(audio_features(stereo, 44100), f44, atol=1e-5)


def test_alignment_to_video_frames():
    feats = np.arange(300, dtype=np.float32)[:, None] * np.ones((1, 28), np.float32)   # 3 s at 100 Hz
    t = feature_times(300)
    out = align_to_frames(feats, 90, 30.0)
    assert out.shape == (90, 28)
    for k in (0, 10, 89):   # each frame averages the features whose centres fall in its span
        inside = (t >= k / 30) & (t < (k + 1) / 30)
        np.testing.assert_allclose(out[k, 0], feats[inside, 0].mean())
    longer = align_to_frames(feats, 120, 30.0)
    assert (longer[95:, 0] == 299).all()


def test_bad_audio_is_refused_and_pause_noise_level():
    with pytest.raises(ValueError, match="silent"):
        audio_features(np.zeros(16000, np.float32), 16000)
    with pytest.raises(ValueError, match="too short"):
        audio_features(np.ones(100, np.float32), 16000)
    noisy = add_pause_noise(np.zeros(160000, np.float32), 16000, level_db=-50)
    assert abs(20 * np.log10(np.sqrt(np.mean(noisy ** 2))) + 50) < 0.2
    assert abs(np.sqrt(np.mean(rms_normalize(noisy, 0.1) ** 2)) - 0.1) < 1e-4
