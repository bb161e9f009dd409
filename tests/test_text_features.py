"""Text features (section 3.4): words over their spans, zeros in pauses, Mandarin through pinyin."""
import numpy as np

from s2v.speech.text import TEXT_DIM, spelling, text_features


def test_words_fill_their_spans_and_pauses_are_zero():
    words = [{"word": "Huge", "start": 0.5, "end": 1.0}, {"word": "tiny!", "start": 1.5, "end": 1.9}]
    f = text_features(words, 75, 25.0)                    # 3 s at 25 fps
    assert f.shape == (75, TEXT_DIM)
    centres = (np.arange(75) + 0.5) / 25
    in_word = ((centres >= 0.5) & (centres < 1.0)) | ((centres >= 1.5) & (centres < 1.9))
    assert (np.abs(f[~in_word]).sum(1) == 0).all()
    assert (np.abs(f[in_word]).sum(1) > 0).all()
    k = np.nonzero(in_word)[0][0]                         # first frame of "huge": the letter h, progress 0
    assert f[k, ord("h") - 97] == 1 and f[k, 54] < 0.1
    np.testing.assert_allclose(f[k, 27:54].sum(), 1.0)   # bag of letters of the whole word
    letters = [int(np.argmax(f[t, :27])) for t in np.nonzero(in_word)[0][:12]]
    assert [chr(97 + i) for i in dict.fromkeys(letters)] == ["h", "u", "g", "e"]


def test_mandarin_homophones_share_features():
    assert spelling("他") == spelling("她") == "ta"
    a = text_features([{"word": "他们", "start": 0.0, "end": 0.4}], 10, 25.0)
    b = text_features([{"word": "她们", "start": 0.0, "end": 0.4}], 10, 25.0)
    np.testing.assert_array_equal(a, b)
    assert spelling("交易") == "jiaoyi"


def test_real_mandarin_transcript(shared_data):
    text = (shared_data / "speech_zh" / "BAC009S0764W0121.txt").read_text().split()
    assert all(spelling(w) for w in text)
    words = [{"word": w, "start": i * 0.3, "end": i * 0.3 + 0.25} for i, w in enumerate(text)]
    f = text_features(words, 60, 25.0)
    assert (np.abs(f).sum(1) > 0).sum() > 30
