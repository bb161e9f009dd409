"""Seconds per frame of the portrait renderer at the source's size, what the landmark flow costs, and the room.

The frame region moves a full-resolution reference frame by a dense flow interpolated from ~170 keypoints
(:func:`s2v.portrait.network.landmark_flow`). Written as a three-operand ``einsum`` it built an (N, H, W)
intermediate (0.6 GB at 720p); as two matrix products it does not. This prints both on the same frames, in
the same process, one after the other (the einsum form is kept here as the "before"); then the room's PSNR
outside the speaker against the recording, kept as recorded (the kit) and moved with the speaker (before)::

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


def room_psnr(r, a, idx, pts, kept: list) -> dict:
    """PSNR of the room (outside the speaker's keypoint hull) against the recording, with the room kept as
    recorded (the kit) and moved by the flow with the speaker (as before), over the frames ``idx`` (the MSE
    pooled over them: a frame that is itself a reference has none)."""
    import cv2
    import numpy as np

    import s2v.portrait.render as render
    from s2v.portrait.framing import person_mask
    from s2v.run import Run
    from s2v.video import iter_frames

    src = Run.open(a.source, a.runs_dir)
    want = set(idx.tolist())
    truth = [f for t, f in zip(range(int(idx.max()) + 1), iter_frames(src.require("recording"))) if t in want]
    keep = render.keep_room
    render.keep_room = lambda out, *args, **kw: out
    try:
        moved = list(r.frames(pts))
    finally:
        render.keep_room = keep
    W, H = r.size
    res = {}
    for name, outs in (("room_psnr_kept", kept), ("room_psnr_moved", moved)):
        mse = []
        for o, t, p in zip(outs, truth, pts):
            room = cv2.resize(person_mask([p], (144, 256), W, 0.08).astype(np.uint8), (W, H),
                              interpolation=cv2.INTER_NEAREST) == 0
            mse.append(((o.astype(float) - t) ** 2).mean(-1)[room].mean())
        res[name] = float(10 * np.log10(255.0 ** 2 / max(np.mean(mse), 1e-10)))
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a run with portrait/ trained")
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("--source", required=True, help="the run whose keypoints drive it")
    ap.add_argument("--frames", type=int, default=8, help="frames spread over the source clip")
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
    every = region_points(Run.open(a.source, a.runs_dir), r.face.cfg.labels)[0]
    idx = np.linspace(0, len(every) - 1, min(a.frames, len(every))).round().astype(int)   # spread over the clip
    pts = every[idx]
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
    fig.update(room_psnr(r, a, idx, pts, outs["matmul"]))
    pairs = zip(outs["matmul"], outs["einsum"])
    fig["max_pixel_difference"] = int(max(np.abs(x.astype(int) - y).max() for x, y in pairs))
    print(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
