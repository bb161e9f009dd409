"""The speech-to-pose stage over run folders: sequences, training into a run, the Table 3 measure."""
import numpy as np
import pytest

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.params import SMPLXParams
from s2v.pose_lstm import PoseLSTMConfig, load_model
from s2v.pose_stage import (KEYPOINTS_2D, mouth_error_px, part_errors, predict_run, run_sequence, run_targets,
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
    tr = train_pose([rec.run], [rec.run], out, small, progress=False)
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
