"""Word timestamps for real speech: forced alignment and free recognition with pocketsphinx."""
import json

import numpy as np
import pytest
import soundfile as sf

from s2v.speech.stt import align, recognize, tokenize, word_error_rate


def test_word_error_rate():
    assert word_error_rate("ask not what your country", "ask not what your country") == 0.0
    assert word_error_rate("ask not what your country", ["ask", "what", "your", "county"]) == pytest.approx(2 / 5)
    assert tokenize("Don't stop, JFK’s speech.") == ["don't", "stop", "jfk's", "speech"]


def test_forced_alignment_recovers_the_studio_word_times(tiny_recording):
    rec, _ = tiny_recording
    audio, sr = sf.read(rec.run.path("audio"), dtype="float32")
    truth = json.loads(rec.run.path("transcript").read_text())["words"]
    got = align(audio, sr, " ".join(w["word"] for w in truth))
    assert [w.text for w in got] == [w["word"].lower() for w in truth]
    start_err = np.array([abs(g.start - t["start"]) for g, t in zip(got, truth)])
    assert start_err.mean() < 0.06 and np.median(start_err) < 0.04, start_err   # seconds


def test_real_speech_recognition_and_alignment(shared_data):
    audio, sr = sf.read(shared_data / "speech_en" / "jfk.flac", dtype="float32")
    ref = (shared_data / "speech_en" / "jfk.txt").read_text()
    hyp = recognize(audio, sr)
    wer = word_error_rate(ref, [w.text for w in hyp])
    assert wer < 0.35, wer                                      # measured 0.23
    words = align(audio, sr, ref)
    assert len(words) == len(tokenize(ref))
    assert all(0 <= w.start < w.end <= len(audio) / sr + 0.05 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_bad_input():
    with pytest.raises(ValueError, match="silent"):
        recognize(np.zeros(16000, np.float32), 16000)
    with pytest.raises(ValueError, match="empty transcript"):
        align(np.random.default_rng(0).normal(size=16000).astype(np.float32), 16000, " ... ")
