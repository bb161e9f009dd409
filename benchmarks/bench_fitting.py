"""Fitting accuracy and speed on a studio recording (ground truth known).

* accuracy from ground-truth 2D keypoints + noise, and from MediaPipe on the rendered video:
  MPJPE / PA-MPJPE (mm, body and hands) and 2D reprojection error (px);
* speed: frames/s of the batched sequence fitter, and the per-frame loop (one optimisation per frame,
  SMPLify-X style, same objective and steps) measured side by side; target ratio >= 20x.

python benchmarks/bench_fitting.py [--seconds 12] [--loop-frames 30]
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
from s2v.fitting.fit import FitConfig, fit_per_frame, fit_sequence, joint_errors_mm
from s2v.keypoints import SLICES, KeypointTrack
from s2v.params import SMPLXParams
from s2v.studio import StudioConfig, record


def report(name, res, truth, model, seconds):
    e = joint_errors_mm(res.params, truth, model)
    print(f"{name:28s} {len(res.params):5d} fr {seconds:7.1f} s {len(res.params) / seconds:7.2f} fr/s | "
          f"2D {np.median(res.residual_px):5.2f} px | body {e['body_mm']:5.1f} / PA {e['body_pa_mm']:5.1f} mm | "
          f"hands {e['hands_mm']:5.1f} / PA {e['hands_pa_mm']:5.1f} mm | failed {int(res.failed.sum())}")
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--loop-frames", type=int, default=30)
    ap.add_argument("--noise", type=float, default=1.0)
    a = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        rec = record(StudioConfig(width=a.size, height=a.size, max_seconds=a.seconds, pose_session=False),
                     Path(tmp) / "bench", progress=False)
        run = rec.run
        cam = Camera.load(run.path("camera"))
        gt = KeypointTrack.load(run.path("truth_keypoints"))
        truth = SMPLXParams.load(run.path("truth_params"))
        model = BodyModel(backend="free", device="cpu")
        print(f"studio clip: {rec.duration:.1f} s, {len(gt)} frames at {a.size}², "
              f"torch threads {torch.get_num_threads()}")
        rng = np.random.default_rng(0)
        pts = gt.points.copy()
        pts[..., :2] += rng.normal(scale=a.noise, size=pts[..., :2].shape)
        noisy = KeypointTrack(pts, gt.width, gt.height, gt.fps)

        t0 = time.perf_counter()
        res = fit_sequence(noisy, cam, model, FitConfig(), progress=False)
        t_batch = time.perf_counter() - t0
        report(f"batched, truth+{a.noise:g}px noise", res, truth, model, t_batch)

        n = a.loop_frames
        sub = KeypointTrack(pts[:n], gt.width, gt.height, gt.fps)
        t0 = time.perf_counter()
        loop = fit_per_frame(sub, cam, model, res.params.frames(slice(0, 1)), FitConfig())
        t_loop = time.perf_counter() - t0
        report(f"per-frame loop, first {n}", loop, truth.frames(slice(0, n)), model, t_loop)
        print(f"speed ratio (seconds per frame, per-frame loop / batched): {t_loop / n / (t_batch / len(gt)):.1f}x")

        try:
            from s2v.fitting.detect import detect_frames
            from s2v.video import read_video
        except ImportError:
            return
        frames, _ = read_video(run.path("recording"))
        try:
            t0 = time.perf_counter()
            det = detect_frames(frames, progress=False, fps=gt.fps)
            t_det = time.perf_counter() - t0
        except ImportError as err:
            print(f"(no detector: {err})")
            return
        for part, sl in SLICES.items():
            d, g = det.points[:, sl], gt.points[:, sl]
            ok = (d[..., 2] > 0.5) & (g[..., 2] > 0)
            err = np.linalg.norm(d[..., :2] - g[..., :2], axis=-1)
            print(f"  MediaPipe {part:10s}: found {ok.mean():6.1%} of points, "
                  f"median error {np.median(err[ok]):5.2f} px")
        print(f"  MediaPipe: {len(frames) / t_det:.1f} frames/s")
        t0 = time.perf_counter()
        res_d = fit_sequence(det, cam, model, FitConfig(), progress=False)
        report("batched, MediaPipe keypoints", res_d, truth, model, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
