"""Fitting accuracy per framing of a real speaker's recording, on studio clips with ground truth.

Framings (issue 12): the paper's full standing body, knees up, head and shoulders (a webcam), seated behind a
desk that hides the legs, and an off-centre 16:9 view. Each clip is rendered, MediaPipe Holistic detects the
keypoints on the video, :func:`s2v.fitting.fit.fit_sequence` fits them with the framing found automatically (seated
given), and the fit is compared with the truth: MPJPE / PA-MPJPE of the upper body (spine to wrists, what
every framing sees; pelvis-aligned), of the joints the recording showed ("shown": neck-aligned, the fair
figure for a head-and-shoulders view whose arms are outside the image) and of the hands (PA: each hand aligned
on itself), 2D residual per part and failed frames. Also the real DWPose half-body track of ``../shared/data``
(no 3D truth: residuals).

python benchmarks/bench_framings.py [--seconds 6] [--framings full,upper,head_shoulders,seated,offcentre]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.fitting.fit import FitConfig, fit_sequence, joint_errors_mm
from s2v.keypoints import KeypointTrack
from s2v.params import SMPLXParams

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints_halfbody" / "echomimic_pose01.npz"
#: framing name -> (StudioConfig fields, FitConfig framing)
CASES = {
    "full": (dict(framing="full", width=256, height=256), "auto"),
    "upper": (dict(framing="upper", width=256, height=256), "auto"),
    "head_shoulders": (dict(framing="head_shoulders", width=256, height=256), "auto"),
    "seated": (dict(framing="seated", width=256, height=256), "seated"),
    "offcentre": (dict(framing="upper", width=384, height=216, offset_x=0.22), "auto"),
}


def row(name, res, seconds, err=None):
    q = res.quality()
    parts = " ".join(f"{q[f'median_{p}_px'] or float('nan'):5.2f}" for p in ("body", "left_hand", "right_hand", "face"))
    e = (f"upper {err['upper_mm']:5.1f} / PA {err['upper_pa_mm']:5.1f} mm | shown {err['shown_mm']:5.1f} / PA "
         f"{err['shown_pa_mm']:5.1f} mm | hands PA {err['hands_pa_mm']:4.1f} mm | " if err else "")
    print(f"{name:15s} {q['framing']:>14s} {q['person_px']:6.0f} px | {e}2D px body/lh/rh/face {parts} | "
          f"failed {q['failed']}/{q['frames']} missing {q['missing']} | {seconds:5.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--framings", default=",".join(CASES))
    ap.add_argument("--sigma", type=float, default=None, help="override FitConfig.robust_sigma")
    ap.add_argument("--source", default="mediapipe", choices=("mediapipe", "truth"))
    a = ap.parse_args()
    torch.manual_seed(0)
    model = BodyModel(backend="free", device="cpu")
    extra = {} if a.sigma is None else {"robust_sigma": a.sigma}
    if SHARED.exists():
        tr = KeypointTrack.from_dwpose_npz(SHARED)
        t0 = time.perf_counter()
        res = fit_sequence(tr, Camera.default_for(tr.width, tr.height), model, FitConfig(**extra), progress=False)
        row("real DWPose", res, time.perf_counter() - t0)
    from s2v.studio import StudioConfig, record

    with tempfile.TemporaryDirectory() as tmp:
        for name in a.framings.split(","):
            studio, framing = CASES[name]
            rec = record(StudioConfig(max_seconds=a.seconds, pose_session=False, **studio), Path(tmp) / name,
                         progress=False)
            run = rec.run
            truth = SMPLXParams.load(run.path("truth_params"))
            if a.source == "truth":
                track = KeypointTrack.load(run.path("truth_keypoints"))
            else:
                from s2v.fitting.detect import detect_frames
                from s2v.video import read_video

                frames, _ = read_video(run.path("recording"))
                track = detect_frames(frames, progress=False, fps=StudioConfig().fps)
            t0 = time.perf_counter()
            res = fit_sequence(track, Camera.load(run.path("camera")), model, FitConfig(framing=framing, **extra),
                               progress=False)
            row(name, res, time.perf_counter() - t0, joint_errors_mm(res.params, truth, model, res.seen))


if __name__ == "__main__":
    main()
