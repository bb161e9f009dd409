"""The shipped speaker's generator on held-out studio frames (issue 16): PSNR/SSIM of the whole frame and of the
face and hand crops, a sample picture, and (``--write``) both stored in the shipped speaker's folder, where
notebook 00 shows them.

The held-out frames are the last 15 % of the recording the speaker was trained on (``ClipDataset(part="test")``,
never trained on). That recording is not shipped (it is tens of MB); when the run is missing it is recorded
again from the shipped preset's studio settings, which are deterministic (same seed, same frames).

The figures are taken in float32 (the same on every machine) and, where this CPU has bfloat16 in hardware, also in
the bfloat16 synthesis uses there (``precision="auto"``, :func:`~s2v.gan.infer.inference_dtype`), and with the
speaker's int8 OpenVINO generator (issue 29, :mod:`s2v.gan.cpu`) where OpenVINO is installed.

``--generator PATH`` evaluates another generator of the same speaker (e.g. one retrained with
``s2v speaker --preset shipped --run ada_retrain``) on the same frames: the reproducibility check.

python benchmarks/bench_shipped.py [--run ada_shipped] [--write] [--generator runs/ada_retrain/gan/generator.pt]
python benchmarks/bench_shipped.py --own-run quickstart_ada      # the quickstart speaker (make demo before)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def sample_picture(G, data, count: int = 4) -> np.ndarray:
    """Rows label / real / generated for ``count`` held-out frames spread over the test part, each generated
    sequentially from a cold start 8 frames before (as synthesis does)."""
    from s2v.gan.infer import FrameGenerator

    cols = []
    s = 0
    ts = sorted(t for src, t in data.index if src == s)
    for t in np.linspace(ts[0] + 8, ts[-1], count).astype(int):
        fg = FrameGenerator(G)
        for u in range(t - 8, t):
            fg(data.label(s, u))
        lab = data.label(s, t)
        cols.append(np.concatenate([lab, np.asarray(data.sources[s].frames[t]), fg(lab)], 0))
    return np.concatenate(cols, 1)


def main() -> None:
    import cv2
    import torch

    from s2v.config import make
    from s2v.gan.data import ClipDataset
    from s2v.gan.infer import evaluate, load_generator
    from s2v.run import Run, runs_root
    from s2v.studio import record
    from s2v.synthesis.speaker import shipped_speaker

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="ada_shipped", help="the shipped speaker's training run (recorded if missing)")
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--generator", default=None, help="evaluate this generator instead of the shipped one")
    ap.add_argument("--own-run", default=None, metavar="RUN",
                    help="instead: a prepared speaker run (e.g. quickstart_ada) on its own held-out frames")
    ap.add_argument("--write", action="store_true", help="store quality.json and samples.png with the speaker")
    ap.add_argument("--max-frames", type=int, default=None)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    shipped = shipped_speaker("ada")
    path = Path(a.generator) if a.generator else shipped / "gan" / "generator.pt"
    cfg = make("speaker", "shipped")
    run = Run.create(a.run, runs_root(a.runs_dir))
    if a.own_run:
        run = Run.open(a.own_run, runs_root(a.runs_dir))
        path = run.require("gan")
        a.write = False
    G, gcfg = load_generator(path, "cpu")
    if not run.has("recording"):
        t = time.perf_counter()
        record(cfg.studio, run)        # what prepare_speaker's first stage does with the shipped preset
        print(f"recorded {run.root} in {time.perf_counter() - t:.0f} s")
    data = ClipDataset([run], gcfg["size"], gcfg["clip"], "test")
    W, H = data.size
    from s2v.gan.cpu import available, run_cpu_model
    from s2v.gan.infer import inference_dtype

    cpu_model = None if a.generator else run_cpu_model(Run(shipped) if not a.own_run else run, data.size)
    precisions = ["fp32"] + (["auto"] if inference_dtype("cpu") != torch.float32 else [])
    precisions += ["int8"] if cpu_model is not None and available() else []   # issue 29: CPUs without bfloat16
    results = {}
    for precision in precisions:
        t = time.perf_counter()
        results[precision] = m = evaluate(G, data, a.max_frames, progress=True, precision=precision,
                                          cpu_model=cpu_model)
        print(f"{path} ({precision}): {m['frames']} held-out frames at {W}x{H} in {time.perf_counter() - t:.0f} s")
    from s2v.gan.data import boxes_of

    bv = [boxes_of(data.label(s, t)) for s, t in data.index[::10]]
    heights = {}
    for i, part in enumerate(("face", "left hand", "right hand")):
        hs = [b[i, 3] - b[i, 1] for b, v in bv if v[i]]
        heights[part] = float(np.mean(hs)) if hs else float("nan")
        print(f"    {part} box (drawn skeleton): {heights[part]:.1f} px tall on average, "
              f"in {len(hs)} of {len(bv)} sampled frames")
    keys = ["psnr", "ssim", "psnr_face", "ssim_face", "psnr_left_hand", "ssim_left_hand", "psnr_right_hand",
            "ssim_right_hand"]
    print("| generator | precision | frames | " + " | ".join(keys) + " |")
    for precision, m in results.items():
        print(f"| {path} | {precision if precision != 'auto' else 'bf16 (auto)'} | {m['frames']} | "
              + " | ".join(f"{m[k]:.3f}" if "ssim" in k else f"{m[k]:.2f}" for k in keys) + " |")
    if a.write:
        m = results["fp32"]
        q = {f"held-out frames ({W}x{H}, {m['frames']} frames)": {k: round(m[k], 4) for k in keys}}
        if "auto" in results:   # what synthesis makes on this CPU
            q[f"held-out frames ({W}x{H}, {m['frames']} frames), bfloat16"] = {k: round(results["auto"][k], 4)
                                                                               for k in keys}
        if "int8" in results:   # what synthesis makes on a CPU without bfloat16
            q[f"held-out frames ({W}x{H}, {m['frames']} frames), int8"] = {k: round(results["int8"][k], 4)
                                                                           for k in keys}
        q["crop heights in px (drawn skeleton, every 10th held-out frame)"] = {k: round(v, 1)
                                                                             for k, v in heights.items()}
        (shipped / "quality.json").write_text(json.dumps(q, indent=1) + "\n")
        pic = sample_picture(G, data)
        cv2.imwrite(str(shipped / "samples.png"), cv2.cvtColor(pic, cv2.COLOR_RGB2BGR))
        print(f"wrote {shipped / 'quality.json'} and {shipped / 'samples.png'}")


if __name__ == "__main__":
    main()
