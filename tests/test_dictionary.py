"""The key-pose dictionary (section 3.3): store, matching, insertion on word times, suggestions, widget."""
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from s2v.dictionary.build import (DictionaryBuilder, entries_from_spans, entries_from_studio, studio_vocabulary,
                                suggest, with_translations)
from s2v.dictionary.insertion import InsertionConfig, apply_dictionary, find_key_words
from s2v.dictionary.store import DictionaryError, Entry, KeyPoseDictionary, from_rows, tokens
from s2v.metrics import angular_speed, key_word_motion
from s2v.params import ParamLayout
from s2v.studio.cast import key_pose, rest_pose

LAY = ParamLayout()
BODY_HANDS = np.r_[LAY.part_index("body"), LAY.part_index("hands")]


def W(word, start, end=None):
    return {"word": word, "start": start, "end": start + 0.3 if end is None else end}


def rest_seq(T):
    return np.repeat(rest_pose(LAY)[None], T, axis=0)


# ------------------------------------------------------------------ words
def test_tokens_english_and_mandarin_pinyin():
    assert tokens("Huge!") == ("huge",) and tokens("don't") == ("don't",) and tokens("thank you") == ("thank", "you")
    assert tokens("上涨") == ("shang4", "zhang3")
    assert tokens("尚") == tokens("上") == tokens("shang4")        # homophones (same syllable and tone) match
    assert tokens("伤") != tokens("上") and tokens("伤", tones=False) == tokens("上", tones=False)


def test_key_words_are_found_inside_longer_mandarin_words_with_their_share_of_time():
    words = [W("房价", 0.0, 0.4), W("上涨", 1.0, 1.6), W("thank", 2.0, 2.2), W("you", 2.2, 2.5), W("you", 3.0)]
    hits = find_key_words(words, [("shang4",), ("thank", "you"), ("you",)])
    assert [(h.word_index, h.key) for h in hits] == [(1, ("shang4",)), (2, ("thank", "you")), (4, ("you",))]
    assert hits[0].start == pytest.approx(1.0) and hits[0].end == pytest.approx(1.3)   # first of two characters
    assert hits[1].end == pytest.approx(2.5)


# ------------------------------------------------------------------ store
def _dictionary():
    return from_rows([
        {"word": "huge", "pose": key_pose("wide", LAY), "probability": 0.9, "source": {"run": "r", "frames": [3, 3]}},
        {"word": "上", "pose": key_pose("raise", LAY), "probability": 0.6, "hold": 0.5},
        {"word": "you", "pose": np.stack([key_pose("point", LAY)] * 4), "parts": None},
    ], LAY, fps=25.0)


def test_save_load_round_trip_is_exact(tmp_path):
    d = _dictionary()
    path = d.save(tmp_path / "dictionary.json")
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["entries"][1]["tokens"] == ["shang4"] and doc["entries"][2]["kind"] == "motion"
    e = KeyPoseDictionary.load(path)
    assert e.fps == 25.0 and len(e) == 3 and e.words == ["huge", "you", "上"]
    for a, b in zip(d, e):
        np.testing.assert_array_equal(a.pose, b.pose)
        assert (a.word, a.probability, a.hold, a.parts, a.source) == (b.word, b.probability, b.hold, b.parts, b.source)
    d.entries.pop()
    d.save(path)
    assert len(list(tmp_path.glob("dictionary.*.npz"))) == 1          # the earlier arrays are cleaned up
    assert len(KeyPoseDictionary.load(path)) == 2


def test_an_interrupted_save_leaves_the_previous_dictionary(tmp_path, monkeypatch):
    d = _dictionary()
    path = d.save(tmp_path / "dictionary.json")
    d.add(Entry("tiny", key_pose("pinch", LAY)))
    import s2v.dictionary.store as store

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(store, "save_json", boom)
    with pytest.raises(KeyboardInterrupt):
        d.save(path)
    assert len(KeyPoseDictionary.load(path)) == 3     # old JSON still points at its own (intact) arrays


@pytest.mark.parametrize("edit, message", [
    (lambda doc: doc["entries"][0].update(probability=1.5),
     "entries[0] ('huge'): probability 1.5 is not a number in [0, 1]"),
    (lambda doc: doc["entries"][1].update(hold=-1), "entries[1] ('上'): hold -1 is not a number of seconds in [0, 10]"),
    (lambda doc: doc["entries"][2].update(parts=["tail"]), "entries[2] ('you'): parts ['tail'] must be"),
    (lambda doc: doc["entries"][0].update(frames=2), "entries[0] ('huge'): says 2 frames but its array has 1"),
    (lambda doc: doc["entries"][0].update(array="e999"), "entries[0] ('huge'): array 'e999' is not in"),
    (lambda doc: doc["entries"][0].pop("word"), "entries[0] has no \"word\""),
    (lambda doc: doc.update(version=7), "newer s2v (format version 7); this s2v reads version 1"),
    (lambda doc: doc.update(format="other"), "not a key-pose dictionary"),
    (lambda doc: doc.update(frame_dim=119), "\"frame_dim\" is 119 but the layout gives 106"),
    (lambda doc: doc.update(poses_sha256="0" * 64), "does not match the checksum"),
    (lambda doc: doc.update(poses="gone.npz"), "its pose arrays gone.npz are missing"),
    (lambda doc: doc.pop("fps"), "missing \"fps\""),
])
def test_loading_says_exactly_what_is_wrong(tmp_path, edit, message):
    path = _dictionary().save(tmp_path / "dictionary.json")
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DictionaryError) as err:
        KeyPoseDictionary.load(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_bad_entries_are_refused_when_added():
    d = KeyPoseDictionary()
    bad = key_pose("wide", LAY)
    bad[5] = np.nan
    with pytest.raises(DictionaryError, match=r"NaN/inf in frame\(s\) \[0\]"):
        d.add(Entry("huge", bad))
    with pytest.raises(DictionaryError, match=r"shape \(1, 50\)"):
        d.add(Entry("huge", np.zeros(50)))
    with pytest.raises(DictionaryError, match="letters or CJK"):
        d.add(Entry("123", key_pose("wide", LAY)))
    assert len(d) == 0
    with open_text("{") as path, pytest.raises(DictionaryError, match="not valid JSON"):
        KeyPoseDictionary.load(path)


class open_text:
    def __init__(self, text):
        import tempfile
        from pathlib import Path

        self.path = Path(tempfile.mkdtemp()) / "dictionary.json"
        self.path.write_text(text)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ insertion on word times
def test_still_pose_is_held_and_ramped_per_fps():
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY), "parts": None}])
    for fps in (25.0, 30.0):
        out, recs = apply_dictionary(rest_seq(int(4 * fps)), [W("so", 0.5), W("huge", 2.0)], d, fps)
        (r,) = recs
        hold, ramp = round(0.3 * fps), round(0.6 * fps)
        k = round(2.0 * fps)
        assert r.inserted and r.frame == k and r.span == (k - ramp, k + hold - 1 + ramp + 1)
        at_key = np.all(np.isclose(out, key_pose("wide", LAY), atol=1e-6), axis=1)
        assert np.flatnonzero(at_key).tolist() == list(range(k, k + hold))


def test_motion_is_copied_and_resampled_to_the_sequence_fps():
    motion = np.stack([rest_pose(LAY) + 0.05 * i for i in range(10)])
    d = from_rows([{"word": "you", "pose": motion, "parts": None}], fps=10.0)
    out, (r,) = apply_dictionary(rest_seq(120), [W("you", 1.0)], d, fps=10.0)
    np.testing.assert_allclose(out[10:20], motion, atol=1e-6)
    out, (r,) = apply_dictionary(rest_seq(120), [W("you", 1.0)], d, fps=30.0)   # same second, 3x the frames
    assert r.span == (30 - 18, 60 + 18)                        # 30 frames, ramps of 18
    np.testing.assert_allclose(out[30], motion[0], atol=1e-5)
    np.testing.assert_allclose(out[59], motion[-1], atol=1e-5)


def test_probability_is_seeded():
    d = from_rows([{"word": "you", "pose": key_pose("point", LAY), "probability": 0.4}])
    words = [W("you", 3.0 * i + 1.0) for i in range(200)]
    seq = rest_seq(int(3.0 * 200 * 10) + 20)
    _, a = apply_dictionary(seq, words, d, 10.0, seed=1)
    _, b = apply_dictionary(seq, words, d, 10.0, seed=1)
    _, c = apply_dictionary(seq, words, d, 10.0, seed=2)
    flags = lambda recs: [r.inserted for r in recs]  # noqa: E731
    assert flags(a) == flags(b) and flags(a) != flags(c)
    assert 0.3 < np.mean(flags(a)) < 0.5
    assert {r.status for r in a} == {"inserted", "probability"}


def test_overlapping_key_words_chain_or_skip():
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY)}, {"word": "tiny", "pose": key_pose("pinch", LAY)},
                   {"word": "me", "pose": key_pose("self", LAY)}])
    fps = 30.0
    words = [W("huge", 1.0), W("tiny", 1.1), W("me", 1.6)]   # tiny inside huge's hold; me inside its ramp out
    out, recs = apply_dictionary(rest_seq(120), words, d, fps)
    assert [r.status for r in recs] == ["inserted", "overlap", "inserted"]
    wide, selfp = key_pose("wide", LAY)[BODY_HANDS], key_pose("self", LAY)[BODY_HANDS]
    np.testing.assert_allclose(out[30:39][:, BODY_HANDS], np.repeat(wide[None], 9, 0), atol=1e-6)  # hold intact
    np.testing.assert_allclose(out[48:57][:, BODY_HANDS], np.repeat(selfp[None], 9, 0), atol=1e-6)
    speed = angular_speed(out, fps, LAY)
    assert speed[39:48].min() > 0.1        # ramps straight from one key pose to the next, no dip to rest
    _, recs = apply_dictionary(rest_seq(120), words, d, fps, InsertionConfig(overlap="skip"))
    assert [r.status for r in recs] == ["inserted", "overlap", "overlap"]


def test_key_words_at_the_edges_and_sequences_shorter_than_a_ramp():
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY)}])
    wide = key_pose("wide", LAY)[BODY_HANDS]
    out, (a, b) = apply_dictionary(rest_seq(60), [W("huge", 0.0), W("huge", 1.95)], d, 30.0)
    assert a.inserted and b.inserted and np.isfinite(out).all()
    np.testing.assert_allclose(out[0, BODY_HANDS], wide, atol=1e-6)
    np.testing.assert_allclose(out[59, BODY_HANDS], wide, atol=1e-6)
    short, (c,) = apply_dictionary(rest_seq(5), [W("huge", 0.1)], d, 30.0)   # 5 frames, ramp is 18
    assert c.inserted and np.isfinite(short).all()
    np.testing.assert_allclose(short[3, BODY_HANDS], wide, atol=1e-6)
    _, (e,) = apply_dictionary(rest_seq(5), [W("huge", 3.0)], d, 30.0)
    assert e.status == "outside"


def test_speech_keeps_the_mouth_unless_all_parts_are_inserted():
    jaw = LAY.slices()["jaw_pose"]
    seq = rest_seq(90)
    seq[:, jaw.start] = np.linspace(0, 0.3, 90)
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY)}])
    out, _ = apply_dictionary(seq, [W("huge", 1.0)], d, 30.0)
    np.testing.assert_array_equal(out[:, jaw], seq[:, jaw])
    d.entries[0].parts = None                                          # the paper: all 106 numbers
    out, _ = apply_dictionary(seq, [W("huge", 1.0)], d, 30.0)
    assert out[30, jaw.start] == 0.0


def test_linear_interpolation_leaves_the_rotation_path_and_slerp_does_not():
    """Ramps into key poses. Slerp turns a joint along the geodesic at constant angular speed. The paper's
    linear blend of axis-angle numbers is longer than the geodesic for a large rotation (149.5 deg -> 151.5) and
    takes the long way round when the key pose's axis-angle is not normalised (angle beyond 180 deg, as
    optimisers return): a 29 deg turn to a shoulder rotation stored as -260 deg sweeps through > 300 deg."""
    j = LAY.slices()["body_pose"].start + 3 * 16   # right shoulder (rest: 72 deg about z)
    a = rest_pose(LAY)
    big = a.copy()
    big[j:j + 3] = [-2.6, 0.0, 0.0]
    wrapped = a.copy()
    wrapped[j:j + 3] = [0.0, 0.0, np.radians(100.0 - 360.0)]
    for key in (big, wrapped):
        geodesic = np.degrees((Rotation.from_rotvec(a[j:j + 3]).inv() * Rotation.from_rotvec(key[j:j + 3])).magnitude())
        d = from_rows([{"word": "high", "pose": key, "parts": None}])
        sweep = {}
        for interp in ("slerp", "linear"):
            out, _ = apply_dictionary(rest_seq(90), [W("high", 1.5)], d, 30.0, InsertionConfig(interp=interp))
            R = Rotation.from_rotvec(out[27:46, j:j + 3].astype(np.float64))   # the 18-frame ramp in and the key
            steps = np.degrees([(R[i].inv() * R[i + 1]).magnitude() for i in range(len(R) - 1)])
            sweep[interp] = steps.sum()
            if interp == "slerp":
                assert steps.std() < 1e-3 * steps.mean() and sweep[interp] == pytest.approx(geodesic, abs=0.1)
        assert sweep["linear"] > sweep["slerp"] + 1.0
    assert sweep["linear"] > 300


def test_key_poses_raise_motion_at_key_words():
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY)}, {"word": "you", "pose": key_pose("point", LAY)}])
    base = rest_seq(300)           # a smooth idle sway, as an LSTM predicts
    base[:, LAY.slices()["body_pose"].start + 3 * 15 + 2] += 0.1 * np.sin(np.arange(300) / 30.0 * 2 * np.pi * 0.3)
    words = [W("huge", 2.0), W("you", 6.0)]
    out, _ = apply_dictionary(base, words, d, 30.0)
    with_kp = key_word_motion(out, 30.0, [2.0, 6.0], LAY, rest=rest_pose(LAY))
    without = key_word_motion(base, 30.0, [2.0, 6.0], LAY, rest=rest_pose(LAY))
    assert with_kp["speed_ratio"] > 3 * without["speed_ratio"]
    assert with_kp["peak_distance_at_key_words"] > 1.0 > 0.2 > without["peak_distance_at_key_words"]


# ------------------------------------------------------------------ building
def _posed_recording():
    """A synthetic recording: rest pose with small noise; key words posed at known times."""
    d = from_rows([{"word": "huge", "pose": key_pose("wide", LAY)}, {"word": "me", "pose": key_pose("self", LAY)},
                   {"word": "table", "pose": key_pose("raise", LAY)}])
    words = [W("the", 0.5), W("huge", 1.5), W("me", 4.0), W("you", 6.0), W("table", 8.0)]
    rng = np.random.default_rng(3)
    base = rest_seq(300) + rng.normal(scale=0.01, size=(300, 106)).astype(np.float32)
    seq, _ = apply_dictionary(base, words, d, 30.0)
    return seq, words


def test_suggestions_find_the_posed_key_words():
    seq, words = _posed_recording()
    found = {c.word: c for c in suggest(seq, 30.0, words)}
    assert set(found) == {"huge", "me"}          # "you" was not posed; "table" is not a key word
    assert 45 <= found["huge"].frame <= 53 and 120 <= found["me"].frame <= 128   # inside the 0.3 s hold
    assert found["huge"].first <= 45 and found["huge"].last >= 53
    assert "table" in {c.word for c in suggest(seq, 30.0, words, keywords=None)}   # every word a candidate


def test_no_suggestion_says_why():
    """A real run where nothing is suggested said nothing (issue 27): the builder tells which case it is."""
    from s2v.dictionary.build import DictionaryBuilder

    still = rest_seq(300)
    words = [W("the", 0.5), W("huge", 1.5), W("table", 8.0)]
    b = DictionaryBuilder(still, 30.0, words)
    why = b.why_no_suggestion()
    assert b.suggest() == [] and "never leave the rest pose" in why and "huge" in why
    assert "none of the 2 words" in DictionaryBuilder(still, 30.0, [W("the", 0.5), W("table", 8.0)]).why_no_suggestion()
    assert "no word times" in DictionaryBuilder(still, 30.0, []).why_no_suggestion()


def test_entries_from_spans_make_still_poses_and_motions():
    seq, _ = _posed_recording()
    es = entries_from_spans(seq, 30.0, [("huge", 1.6), {"word": "me", "start": 4.0, "end": 4.5, "probability": 0.5}],
                            run="r")
    assert [e.kind for e in es] == ["still", "motion"] and len(es[1].pose) == 16 and es[1].probability == 0.5
    np.testing.assert_array_equal(es[0].pose[0], seq[48])
    assert es[0].source == {"run": "r", "frames": [48, 48], "fps": 30.0, "method": "spans"}
    with pytest.raises(DictionaryError, match="ends before it starts"):
        entries_from_spans(seq, 30.0, [("me", 4.0, 3.0)])
    with pytest.raises(IndexError, match="outside the recording"):
        entries_from_spans(seq, 30.0, [("me", 40.0)])


def test_studio_keyposes_give_the_true_key_poses(tiny_recording):
    from s2v.params import SMPLXParams

    rec, _ = tiny_recording
    seq = SMPLXParams.load(rec.run.path("truth_params")).to_vector()
    keyposes = json.loads(rec.run.path("truth_keyposes").read_text())
    names = {e["word"]: e["pose"] for e in keyposes["events"]}
    es = entries_from_studio(seq, keyposes, run="tiny")
    assert {e.word for e in es} == {"huge", "tiny", "high", "low", "me", "you"}     # the whole posing session
    for e in es:
        np.testing.assert_allclose(e.pose[0, BODY_HANDS], key_pose(names[e.word], LAY)[BODY_HANDS], atol=1e-5)


def test_suggestions_on_a_studio_recording_match_its_posing_session(tiny_recording):
    from s2v.run import Run

    rec, _ = tiny_recording
    b = DictionaryBuilder.from_run(Run(rec.run.root))
    events = json.loads(rec.run.path("truth_keyposes").read_text())["events"]
    session = {e["word"]: e for e in events if e["session"]}
    found = {c.word: c for c in b.suggest()}
    assert set(session) <= set(found)
    for w, c in found.items():   # the best occurrence of each word: inside one of its true holds
        assert any(e["frame"] - 3 <= c.frame <= e["frame"] + e["hold_frames"] + 3 for e in events if e["word"] == w)


# ------------------------------------------------------------------ the widget, driven from Python
def test_widget_builds_saves_and_previews(tiny_recording, body_model, tmp_path):
    import shutil

    from s2v.camera import Camera
    from s2v.dictionary.widgets import DictionaryWidget
    from s2v.run import Run
    from s2v.video import VideoFrames

    rec, _ = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "tiny")
    run = Run(tmp_path / "tiny")
    b = DictionaryBuilder.from_run(run)
    ui = DictionaryWidget(b, VideoFrames(run.path("recording")), model=body_model,
                          camera=Camera.load(run.path("camera")), run=run, size=128)
    assert len(ui.video.value) > 1000 and len(ui.skeleton.value) > 500 and len(ui.strip.value) > 200

    # a suggestion -> still pose at its frame
    ui.suggestions.value = next(i for i, c in enumerate(ui.candidates) if c.word == "tiny")
    ui.take_button.click()
    ui.probability.value, ui.hold.value = 0.7, 0.5
    ui.add_button.click()
    c = next(c for c in ui.candidates if c.word == "tiny")
    e = b.dictionary.entries[-1]
    assert (e.word, e.kind, e.probability, e.hold, e.source["frames"]) == ("tiny", "still", 0.7, 0.5, [c.frame] * 2)
    np.testing.assert_array_equal(e.pose[0], b.seq[c.frame])

    # a transcript word -> jump; a range -> motion
    i = next(i for i, w in enumerate(b.words) if w["word"] == "huge")
    ui.word_buttons[i].click()
    assert ui.frame.value == round(b.words[i]["start"] * b.fps) and ui.word.value == "huge"
    ui.kind.value = "motion"
    ui.mark_start.click()
    ui.frame.value += 10
    ui.mark_end.click()
    ui.add_button.click()
    assert b.dictionary.entries[-1].kind == "motion" and len(b.dictionary.entries[-1].pose) == 11

    ui.word.value = ""                                             # a clear message, nothing added
    ui.add_button.click()
    assert "key word" in ui.status.value and len(b.dictionary) == 2
    ui.entries.value = 1
    ui.remove_button.click()
    assert [e.word for e in b.dictionary] == ["tiny"]

    seq, recs = ui.preview([W("so", 0.2), W("tiny", 1.0)])
    assert [r.inserted for r in recs] == [True] and len(ui.preview_image.value) > 500
    np.testing.assert_allclose(seq[25, BODY_HANDS], b.seq[c.frame, BODY_HANDS], atol=1e-6)

    ui.save_button.click()
    assert "saved 1 entries" in ui.status.value
    again = KeyPoseDictionary.load(run.path("dictionary"))
    np.testing.assert_array_equal(again.entries[0].pose, e.pose)
    assert run.manifest["artifacts"]["dictionary"]["entries"] == 1


def test_video_frames_seek_exactly(tiny_recording):
    from s2v.video import VideoFrames, iter_frames

    rec, _ = tiny_recording
    frames = [f for _, f in zip(range(60), iter_frames(rec.run.path("recording")))]
    with VideoFrames(rec.run.path("recording")) as vf:
        for i in (40, 3, 59, 10, 11):
            np.testing.assert_array_equal(vf[i], frames[i])
        with pytest.raises(IndexError):
            vf[len(vf)]


def test_cli_builds_and_shows_a_dictionary(tiny_recording, tmp_path, capsys):
    import shutil

    from s2v.cli import main

    rec, _ = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "tiny")
    args = ["--run", "tiny", "--runs-dir", str(tmp_path)]
    assert main(["dictionary", "build", *args, "--from-studio", "--span", "you:3.0-3.4@0.5"]) == 0
    assert main(["dictionary", "show", *args]) == 0
    out = capsys.readouterr().out
    assert "7 entries" in out and "kind=motion  frames=11  probability=0.5" in out
    assert main(["dictionary", "build", *args, "--translate"]) == 0          # the posed gestures in Mandarin too
    out = capsys.readouterr().out
    assert "15 entries" in out and "上, 下, 低, 你, 大, 小, 我, 高)" in out          # 6 posed gestures, 8 words
    (tmp_path / "tiny" / "dictionary" / "dictionary.json").write_text("{")
    assert main(["dictionary", "show", *args]) == 2
    assert "not the file the 'dictionary' stage wrote" in capsys.readouterr().err   # the manifest's checksum
    assert main(["run", "accept", "tiny", "--artifact", "dictionary", "--runs-dir", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err                # accept checks the file (issue 30)


# ------------------------------------------------------------------ real speech
def test_insertion_on_real_speech_word_times(shared_data):
    """Key words found in pocketsphinx's forced alignment of real speech (JFK, 11 s) and inserted there."""
    import soundfile as sf

    from s2v.speech.stt import align

    audio, sr = sf.read(shared_data / "speech_en" / "jfk.flac", dtype="float32")
    words = align(audio, sr, (shared_data / "speech_en" / "jfk.txt").read_text())
    d = from_rows([{"word": "you", "pose": key_pose("point", LAY)}, {"word": "my", "pose": key_pose("self", LAY)}])
    fps = 25.0
    out, recs = apply_dictionary(rest_seq(int(len(audio) / sr * fps)), words, d, fps)
    spoken = [w for w in words if w.text in ("you", "my")]
    assert [r.word for r in recs] == [w.text for w in spoken] == ["my", "you", "you"]
    assert [r.frame for r in recs] == [round(w.start * fps) for w in spoken]
    assert recs[0].inserted and np.isfinite(out).all()
    np.testing.assert_allclose(out[recs[0].frame, BODY_HANDS], key_pose("self", LAY)[BODY_HANDS], atol=1e-6)


def test_mandarin_homophones_match_in_a_real_transcript(shared_data):
    """AISHELL-1 transcript (word-segmented): 制 (zhi4) matches its homophones 至 of 甚至 and 滞 of 停滞;
    挺 (ting3) does not match 停 (ting2) unless tones are ignored."""
    text = next((shared_data / "speech_zh").glob("*.txt")).read_text().split()
    words = [W(w, 0.6 * i, 0.6 * i + 0.5) for i, w in enumerate(text)]
    d = from_rows([{"word": "制", "pose": key_pose("raise", LAY)}, {"word": "挺", "pose": key_pose("press", LAY)}])
    hits = find_key_words(words, d.keys(), d.match_tones)
    assert [(h.text, h.key) for h in hits] == [("甚至", ("zhi4",)), ("停滞", ("zhi4",))]
    assert hits[0].start == pytest.approx(0.25)                 # second of two characters
    loose = find_key_words(words, [tokens("挺", tones=False)], tones=False)
    assert [h.text for h in loose] == ["停滞"]


def test_widget_sequences_that_failed_in_the_browser(tiny_recording, tmp_path):
    """Issue 15's clicks: entries added in code show in the widget's list; adding the studio poses twice (a
    notebook cell run again) adds nothing; after "remove selected" nothing is selected, so a second click removes
    nothing and says so, instead of removing row 1 while naming the first; a red error is cleared by the next
    success; the image widgets stay hidden (no broken-image icon) until they have a picture."""
    import json
    import shutil

    from s2v.dictionary.build import DictionaryBuilder
    from s2v.dictionary.widgets import DictionaryWidget
    from s2v.run import Run

    rec, _ = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "tiny")
    run = Run(tmp_path / "tiny")
    b = DictionaryBuilder.from_run(run, load_existing=False)
    ui = DictionaryWidget(b, None, run=run, size=96)               # no frames, no model: nothing to draw
    assert ui.video.layout.display == "none" and ui.skeleton.layout.display == "none"
    assert ui.preview_image.layout.display == "none" and ui.entries.options == ()
    keyposes = json.loads(run.path("truth_keyposes").read_text())
    b.add_studio(keyposes)                                          # notebook cell 5, in code
    n = len(b.dictionary)
    assert n >= 3 and len(ui.entries.options) == n and ui.entries.value is None
    b.add_studio(keyposes)                                          # ... run again
    assert len(b.dictionary) == n and len(ui.entries.options) == n
    words = [e.word for e in b.dictionary]
    ui.entries.value = 1
    ui.remove_button.click()
    assert [e.word for e in b.dictionary] == words[:1] + words[2:]
    assert f"removed {words[1]}" in ui.status.value and ui.entries.value is None
    ui.remove_button.click()                                        # a second click: nothing selected
    assert len(b.dictionary) == n - 1 and "select an entry" in ui.status.value
    assert "#c92a2a" in ui.status.value                             # red ...
    ui.word.value, ui.kind.value = "tiny", "still"
    ui.add_button.click()                                           # ... until the next success
    assert "#c92a2a" not in ui.status.value and "added still pose" in ui.status.value
    assert len(ui.entries.options) == n and ui.entries.value is None


def test_posed_gestures_carry_over_to_the_other_language():
    """A speaker who posed "huge" and "me" in English gestures at 大 and 我 in Mandarin speech with the poses
    they struck (the studio cast names the same gestures); no Mandarin word without a posed gesture, no English
    synonym added (the recordings decide those), and Mandarin speech gets the key poses inserted."""
    lay = ParamLayout()
    huge, me = np.full((1, lay.frame_dim), 0.1, np.float32), np.full((1, lay.frame_dim), -0.2, np.float32)
    d = KeyPoseDictionary(layout=lay)
    d.add(Entry("huge", huge, 0.9))
    d.add(Entry("me", me, 0.8))
    t = with_translations(d)
    assert t.words == ["huge", "me", "大", "我"]
    e = {x.word: x for x in t.entries}
    np.testing.assert_array_equal(e["大"].pose, huge)
    np.testing.assert_array_equal(e["我"].pose, me)
    assert e["大"].source["translated_from"] == "huge" and e["我"].probability == 0.4   # the cast's probability
    assert with_translations(t).words == t.words                                        # idempotent
    words = [{"word": "这", "start": 0.2, "end": 0.4}, {"word": "大", "start": 0.5, "end": 0.8}]
    seq = np.zeros((60, lay.frame_dim), np.float32)
    assert apply_dictionary(seq, words, d, 30.0)[0].any() == False                      # noqa: E712
    out, recs = apply_dictionary(seq, words, t, 30.0, seed=0)
    peak = out[np.abs(out).sum(1).argmax()]
    body = lay.part_index("body")
    assert [r.status for r in recs] == ["inserted"] and np.allclose(peak[body], huge[0, body], atol=1e-4)


def test_studio_vocabulary_has_every_key_word_of_both_languages():
    from s2v.studio.cast import KEYWORDS

    v = studio_vocabulary("ada")
    assert sorted(v.words) == sorted(KEYWORDS) and len(v) == len(KEYWORDS)
    assert studio_vocabulary("ada", languages=("zh",)).words == sorted(w for w in KEYWORDS if not w.isascii())
