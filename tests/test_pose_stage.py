"""The speech-to-pose stage over run folders: sequences, training into a run, the Table 3 measure."""
import numpy as np
import pytest

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.params import SMPLXParams
from s2v.pose.lstm import PoseLSTMConfig, load_model
from s2v.pose.stage import (KEYPOINTS_2D, mouth_error_px, part_errors, predict_run, run_sequence, run_targets,
                            train_pose)
from s2v.run import Run
from s2v.speech.text import TEXT_DIM


def test_sequences_from_a_studio_run(tiny_recording):
    rec, cfg = tiny_recording
    a = run_sequence(rec.run, "audio", "smplx")
    t = run_sequence(rec.run, "text", "smplx")
    k = run_sequence(rec.run, "audio", "keypoints2d")
    T = rec.num_frames
    assert a.inputs.shape == (T, 28) and a.targets.shape == (T, 106) and a.fps == cfg.fps
    assert t.inputs.shape == (T, TEXT_DIM)
    assert k.targets.shape == (T, 2 * len(KEYPOINTS_2D)) and 0 < k.targets.mean() < 1
    silent = (np.abs(t.inputs).sum(1) == 0).mean()
    assert 0.2 < silent < 0.9, "text features are zero in pauses"


def test_train_into_a_run_and_predict(tiny_recording, tmp_path):
    rec, cfg = tiny_recording
    out = Run.create("pose", tmp_path)
    small = PoseLSTMConfig(hidden=16, batch_size=4, window=1.0, max_steps=6, eval_every=3, checkpoint_every=3,
                           device="cpu")
    train_pose([rec.run], [rec.run], out, small, progress=False)
    assert out.has("pose_model") and (out.path("pose_model").parent / "checkpoint.pt").exists()
    rec_m = out.manifest["artifacts"]["pose_model"]
    assert rec_m["inputs"] == "audio" and rec_m["steps"] == 6
    model, meta = load_model(out.path("pose_model"))
    pred = predict_run(model, rec.run, cfg.fps)
    assert pred.shape == (rec.num_frames, 106) and np.isfinite(pred).all()


def test_mouth_error_is_zero_for_the_truth_and_grows_with_the_jaw(tiny_recording):
    rec, _ = tiny_recording
    truth = SMPLXParams.load(rec.run.path("truth_params"))
    cam = Camera.load(rec.run.path("camera"))
    body = BodyModel(backend="free", device="cpu")
    vec = truth.to_vector()
    e0 = mouth_error_px(vec, truth, cam, body)
    assert e0["mouth_px"] < 1e-3 and e0["mouth_shape_px"] < 1e-3
    shut = vec.copy()
    shut[:, truth.layout.slices()["jaw_pose"]] = 0
    e1 = mouth_error_px(shut, truth, cam, body)
    assert e1["mouth_shape_px"] > 0.05
    pe = part_errors(shut, vec)
    assert pe["mouth"] > 0 and pe["body"] == 0 and pe["hands"] == 0
    from s2v.run import MissingArtifactError

    with pytest.raises(MissingArtifactError, match="run the 'fit' stage first"):
        run_targets(Run.create("empty", rec.run.root.parent), "smplx", "fit")


def test_the_lstm_leaves_the_dictionary_key_words_to_it(tiny_recording, tmp_path):
    """With a dictionary in the run, training masks the body and hands at its key words (ramps and hold) and the
    manifest says how much; the paper's preset, or no dictionary, learns every frame."""
    import json

    from s2v.dictionary.build import DictionaryBuilder
    from s2v.dictionary.insertion import key_word_frames

    rec, cfg = tiny_recording
    b = DictionaryBuilder.from_run(rec.run, load_existing=False)
    b.add_studio(json.loads(rec.run.path("truth_keyposes").read_text()))
    assert len(b.dictionary) >= 3
    from s2v.dictionary.build import dictionary_from_studio
    twice = dictionary_from_studio([rec.run, rec.run])            # a word's first run wins: no duplicates
    assert twice.words == b.dictionary.words and len(twice) == len(b.dictionary)
    words = json.loads(rec.run.path("transcript").read_text())["words"]
    expected = key_word_frames(words, b.dictionary, rec.num_frames, cfg.fps)
    seq = run_sequence(rec.run, dictionary=b.dictionary)
    np.testing.assert_array_equal(seq.mask, (~expected).astype(np.float32))
    assert 0.2 < expected.mean() < 0.95          # the posing session is mostly key words
    small = PoseLSTMConfig(hidden=16, batch_size=4, window=1.0, max_steps=2, eval_every=2, checkpoint_every=2,
                           device="cpu")
    with_dict = Run.create("with_dictionary", tmp_path)
    b.save(with_dict)
    train_pose([rec.run], [], with_dict, small, progress=False)
    m = with_dict.manifest["artifacts"]["pose_model"]
    assert m["key_word_frames"] == pytest.approx(expected.mean(), abs=1e-3)
    assert set(m["key_words"]) == {" ".join(k) for k in b.dictionary.keys()}
    for name, c in (("paper_preset", PoseLSTMConfig.preset("paper", hidden=16, batch_size=4, window=1.0,
                                                             max_steps=2, device="cpu")), ("no_dictionary", small)):
        out = Run.create(name, tmp_path)
        if name == "paper_preset":
            b.save(out)
        train_pose([rec.run], [], out, c, progress=False)
        assert out.manifest["artifacts"]["pose_model"]["key_word_frames"] == 0, name


def test_pose_evaluate_on_a_held_out_range(tiny_recording, tmp_path, capsys):
    """`s2v pose evaluate --run R --test A-B`: prediction, truth, mean pose and other segments of the run, with
    per-part errors, FD, L1div, jerk, BC beside BC against shifted speech, and wrist-speed correlation."""
    import shutil

    from s2v.cli import main
    from s2v.evaluation.heldout import evaluate_span, other_segments
    from s2v.pose.stage import RunSpan

    rec, cfg = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "r")
    run = Run(tmp_path / "r")
    small = PoseLSTMConfig(hidden=16, batch_size=4, window=1.0, max_steps=3, device="cpu")
    secs = rec.num_frames / cfg.fps
    train_pose([RunSpan(run, 0.0, secs - 2.5)], [], run, small, progress=False)
    res = evaluate_span(run.path("pose_model"), RunSpan(run, secs - 2.5, None))
    n = res.frames
    assert n == rec.num_frames - int(round((secs - 2.5) * cfg.fps)) and res.pred.shape == (n, 106)
    t, m = res.rows["truth"], res.rows["mean pose"]
    assert t["body"] == 0 and t["FD_g"] < 1e-3 and t["wrist speed r"] == pytest.approx(1.0)
    assert m["L1div (cm)"] < 1e-6 and np.isnan(m["wrist speed r"]) and m["body"] > 0
    assert 0 <= t["BC shifted"] <= 1 and any(k.startswith("other segments") for k in res.rows)
    # other segments never overlap the held-out frames
    segs = other_segments(np.arange(100)[:, None], slice(60, 80), 20, 6)
    assert segs and all(s.max() < 60 or s.min() >= 80 for s in segs)
    assert main(["pose", "evaluate", "--run", "r", "--test", f"{secs - 2.5:g}-", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "BC shifted" in out and "mean pose" in out and "prediction" in out
    import cv2

    png = next((tmp_path / "r" / "pose").glob("heldout_*.png"))
    img = cv2.imread(str(png))
    assert img.shape == (2 * 192, 6 * 192, 3) and img[:192].max() > 0 and img[192:].max() > 0   # truth, prediction
    assert main(["pose", "evaluate", "--run", "r", "--test", f"{secs - 1.0:g}-", "--runs-dir", str(tmp_path)]) == 2
    assert main(["pose", "evaluate", "--run", "r", "--runs-dir", str(tmp_path)]) == 2


def test_validation_never_keeps_a_frozen_model_silently(tiny_recording, tmp_path):
    """Issue 28: early stopping on a validation range handed back the step-25 model (a near-mean pose) without a
    word. A check whose prediction barely moves is never the best; if none moved, the last weights are kept and
    a warning says so (also in the manifest)."""
    rec, cfg = tiny_recording
    out = Run.create("frozen", tmp_path)
    small = PoseLSTMConfig(hidden=16, batch_size=4, window=1.0, max_steps=4, eval_every=1, patience=1,
                           device="cpu")
    with pytest.warns(UserWarning, match="moved like the speaker"):
        tr = train_pose([rec.run], [rec.run], out, small, progress=False)
    assert tr.state.step == 4 and not tr.state.stopped_early              # patience 1 would have stopped it
    assert all(s < small.min_val_spread for _, s in tr.state.val_spread) and tr.state.best_step == 0
    assert "last weights are kept" in out.manifest["artifacts"]["pose_model"]["frozen_warning"]
