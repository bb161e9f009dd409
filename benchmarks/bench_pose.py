"""Speech-to-pose on studio data (issue 5): Table 3's mouth error, per-part errors, the 2D baseline,
training time and inference speed.

Train on 6 scripts of speaker "ada", validate on "travel", test on the held-out "technology" script
(same speaker, new sentences, as the paper). Voices Man1-3: the test audio pitch-shifted down by 3, 6 and
9 semitones (librosa). Text: the text-feature LSTM on the transcript's word times.

python benchmarks/bench_pose.py [--steps 400]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.evaluation.motion import bone_variation
from s2v.params import SMPLXParams
from s2v.pose.lstm import PoseLSTMConfig, predict
from s2v.pose.stage import KEYPOINTS_2D, run_audio, mouth_error_px, part_errors, run_inputs, run_targets, train_pose
from s2v.run import Run
from s2v.studio import StudioConfig, record

TRAIN = ["economy", "sports", "science", "weather", "history", "health"]
VAL, TEST = "travel", "technology"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    a = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = {}
        t0 = time.perf_counter()
        for i, s in enumerate(TRAIN + [VAL, TEST]):
            record(StudioConfig(speaker="ada", script=s, width=256, height=256, pose_session=False, seed=i,
                                render=False), root / s, progress=False)
            runs[s] = Run(root / s)
        total = sum(len(run_targets(runs[s])[0]) for s in TRAIN) / 30.0
        print(f"studio data: {len(TRAIN)} training scripts = {total:.0f} s, "
              f"generated in {time.perf_counter() - t0:.0f} s")
        cfg = PoseLSTMConfig(max_steps=a.steps, window=2.0, eval_every=50, patience=4, checkpoint_every=100)
        models = {}
        for name, inputs, target in (("audio", "audio", "smplx"), ("text", "text", "smplx"),
                                     ("2d-baseline", "audio", "keypoints2d")):
            out = Run.create(f"model_{name}", root)
            t0 = time.perf_counter()
            tr = train_pose([runs[s] for s in TRAIN], [runs[VAL]], out, cfg, inputs, target, progress=False)
            dt = time.perf_counter() - t0
            models[name] = tr.best_model()
            print(f"trained {name:12s}: {tr.state.step} steps, {dt:.0f} s ({dt / tr.state.step * 1000:.0f} ms/step, "
                  f"{dt / tr.state.step * (total / (cfg.batch_size * cfg.window)):.1f} s per epoch of data), "
                  f"best val {tr.state.best_val:.3f} at step {tr.state.best_step}")

        test = runs[TEST]
        truth = SMPLXParams.load(test.path("truth_params"))
        cam = Camera.load(test.path("camera"))
        body = BodyModel(backend="free", device="cpu")
        audio, sr = run_audio(test)
        T = len(truth)
        rows = {}
        import librosa

        for label, steps in (("Orig.", 0), ("Man1", -3), ("Man2", -6), ("Man3", -9)):
            y = audio if steps == 0 else librosa.effects.pitch_shift(audio, sr=sr, n_steps=steps)
            pred = predict(models["audio"], run_inputs(test, T, 30.0, "audio", y, sr), 30.0)
            rows[label] = mouth_error_px(pred, truth, cam, body)
            if steps == 0:
                parts = part_errors(pred, truth.to_vector())
        pred_text = predict(models["text"], run_inputs(test, T, 30.0, "text"), 30.0)
        rows["Text"] = mouth_error_px(pred_text, truth, cam, body)
        mean_pose = np.repeat(run_targets(runs[TRAIN[0]])[0].mean(0, keepdims=True), T, 0)
        rows["mean pose (floor)"] = mouth_error_px(mean_pose, truth, cam, body)
        print("\nTable 3 (held-out script, 256² camera; paper: 1.7-2.0 px at 1280x720):")
        print(f"{'':18s} {'mouth px':>9s} {'mouth shape px':>15s}")
        for k, v in rows.items():
            print(f"{k:18s} {v['mouth_px']:9.2f} {v['mouth_shape_px']:15.2f}")
        print("per-part mean abs error (audio):", {k: round(v, 4) for k, v in parts.items()})

        # figure 4: 3D skeleton vs 2D keypoints - do limbs keep their length?
        pred3d = predict(models["audio"], run_inputs(test, T, 30.0, "audio", audio, sr), 30.0)
        p = SMPLXParams.from_vector(pred3d, truth.layout, betas=truth.betas)
        from s2v.keypoints import project_model

        kp3 = project_model(body, p, cam)[:, KEYPOINTS_2D, :2]
        pred2d = predict(models["2d-baseline"], run_inputs(test, T, 30.0, "audio", audio, sr), 30.0)
        kp2 = pred2d.reshape(T, -1, 2) * cam.height
        # arms and fingers in KEYPOINTS_2D indexing (body 0..18, left hand 19..39, right hand 40..60)
        arms = [(2, 3), (3, 4), (5, 6), (6, 7)]
        fingers = [(19 + 4 * f + k, 19 + 4 * f + k + 1) for f in range(5) for k in range(1, 4)]
        print("\nbone-length variation over time (coefficient of variation), figure 4:")
        print(f"  arms:    3D skeleton LSTM {bone_variation(kp3, arms):.4f}   "
              f"2D keypoint LSTM {bone_variation(kp2, arms):.4f}")
        print(f"  fingers: 3D skeleton LSTM {bone_variation(kp3, fingers):.4f}   "
              f"2D keypoint LSTM {bone_variation(kp2, fingers):.4f}")

        feats = np.random.default_rng(0).normal(size=(30 * 600, 28)).astype(np.float32)   # 10 minutes at 30 fps
        t0 = time.perf_counter()
        predict(models["audio"], feats, 30.0)
        dt = time.perf_counter() - t0
        t1 = time.perf_counter()
        run_inputs(test, T, 30.0, "audio", audio, sr)
        feat_dt = (time.perf_counter() - t1) / (T / 30.0) * 600
        print(f"\ninference, 10 minutes of speech: LSTM {dt:.2f} s ({600 / dt:.0f}x real time); "
              f"with feature extraction {600 / (dt + feat_dt):.0f}x real time")


if __name__ == "__main__":
    main()
