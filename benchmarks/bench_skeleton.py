"""Skeleton renderer speed: frames/s at 256^2 and 512^2 on one core (target >= 500 at 256^2).

python benchmarks/bench_skeleton.py
"""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

cv2.setNumThreads(1)
torch.set_num_threads(1)

from s2v.body import BodyModel  # noqa: E402
from s2v.camera import Camera  # noqa: E402
from s2v.keypoints import KeypointTrack, from_smplx  # noqa: E402
from s2v.params import SMPLXParams  # noqa: E402
from s2v.render.skeleton import part_boxes, render_skeleton  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints_halfbody" / "echomimic_pose01.npz"


def body_model_track(n=200):
    m = BodyModel(backend="free", device="cpu")
    rng = np.random.default_rng(0)
    p = SMPLXParams.from_vector(rng.normal(scale=0.3, size=(n, 106)).astype(np.float32))
    with torch.no_grad():
        out = m(p)
    cam = Camera.framing(out.vertices[0].numpy(), 512, 512, margin=0.2)
    return from_smplx(cam.project(out.keypoints.numpy())), (512, 512)


def bench(points, src, size, seconds=3.0):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        render_skeleton(points[n % len(points)], size, size, src_size=src)
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    tracks = {"body model (full body, 137 pts)": body_model_track()}
    if SHARED.exists():
        tr = KeypointTrack.from_dwpose_npz(SHARED)
        tracks["real DWPose half-body"] = (tr.points, (tr.width, tr.height))
    print(f"{'track':34s} {'size':>6s} {'frames/s':>9s} {'vs 500 target':>14s}")
    for name, (pts, src) in tracks.items():
        for size in (256, 512):
            fps = bench(pts, src, size)
            print(f"{name:34s} {size:>5d}² {fps:9.0f} {fps / 500:13.2f}x")
    img = render_skeleton(tracks["body model (full body, 137 pts)"][0][0], 512, 512, src_size=(512, 512))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        part_boxes(img)
        n += 1
    print(f"part_boxes at 512²: {n / (time.perf_counter() - t0):.0f} images/s")


if __name__ == "__main__":
    main()
