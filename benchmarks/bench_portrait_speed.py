"""Seconds per frame of the portrait renderer at the source's size, and what the landmark flow costs.

The frame region moves a full-resolution reference frame by a dense flow interpolated from ~170 keypoints
(:func:`s2v.portrait.network.landmark_flow`). Written as a three-operand ``einsum`` it built an (N, H, W)
intermediate (0.6 GB at 720p); as two matrix products it does not. This prints both on the same frames, in
the same process, one after the other (the einsum form is kept here as the "before")::

    python benchmarks/bench_portrait_speed.py --run obama --runs-dir /tmp/obama/runs --source obama.clip04
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def einsum_flow(target, ref, valid, size, sigma):
    """The landmark flow as it was before 2026-12-07 (same numbers, an (N, H, W) intermediate)."""
    import torch

    H, W = size
    ys = torch.arange(H, dtype=target.dtype)
    xs = torch.arange(W, dtype=target.dtype)
    out = target.new_zeros(target.shape[0], 2, H, W)
    for b in range(target.shape[0]):
        v = valid[b]
        t, d = target[b, v], ref[b, v] - target[b, v]
        gx = torch.exp(-(xs[None] - t[:, :1]) ** 2 / (2 * sigma ** 2))
        gy = torch.exp(-(ys[None] - t[:, 1:2]) ** 2 / (2 * sigma ** 2))
        wsum = torch.einsum("nh,nw->hw", gy, gx) + 1e-6
        for c in range(2):
            out[b, c] = (torch.einsum("nh,nw,n->hw", gy, gx, d[:, c]) + 1e-6 * d[:, c].mean()) / wsum
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a run with portrait/ trained")
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("--source", required=True, help="the run whose keypoints drive it")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args()

    import numpy as np
    import torch

    import s2v.portrait.train as train
    from bench_portrait import cpu_name
    from s2v.portrait.data import region_points
    from s2v.portrait.render import PortraitRenderer
    from s2v.run import Run

    if a.threads:
        torch.set_num_threads(a.threads)
    r = PortraitRenderer.load(Run.open(a.run, a.runs_dir).require("portrait").parent, "cpu")
    pts = region_points(Run.open(a.source, a.runs_dir), r.face.cfg.labels)[0][:a.frames]
    kit = train.landmark_flow
    fig = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "size": list(r.size), "frames": len(pts)}
    outs = {}
    for name, flow in (("matmul", kit), ("einsum", einsum_flow)):
        train.landmark_flow = flow
        list(r.frames(pts[:1]))                                  # warm-up
        t0 = time.perf_counter()
        outs[name] = list(r.frames(pts))
        fig[f"{name}_s_per_frame"] = (time.perf_counter() - t0) / len(pts)
    train.landmark_flow = kit
    fig["speed_up"] = fig["einsum_s_per_frame"] / fig["matmul_s_per_frame"]
    pairs = zip(outs["matmul"], outs["einsum"])
    fig["max_pixel_difference"] = int(max(np.abs(x.astype(int) - y).max() for x, y in pairs))
    print(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
