"""Skeleton-to-video GAN (issue 7): inference speed, and a bounded CPU training with and without the
part-aware discriminators (section 3.5's claim: face and hands get sharper), on studio data.

Speed: frames/s of sequential generation (label drawing excluded) at 256^2 and 512^2 for the pix2pixHD-sized
generator (ngf 64, 4 downsamplings, 9 residual blocks) and the small CPU one used for training below.

Training: one studio speaker (ada, 128^2, ~70 s of scripts + posing session); the first 85 % of frames train,
the last 15 % are held out. Two runs with the same seed, config and number of steps, part discriminators
(and part L1) on and off; held-out frames are generated sequentially from a cold start and compared with the
real ones (PSNR/SSIM on the whole frame and on the face and hand boxes).

python benchmarks/bench_gan.py [--steps 600] [--speed-only] [--hands]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from s2v.gan.data import ClipDataset
from s2v.gan.infer import FrameGenerator, evaluate
from s2v.gan.networks import Generator, GeneratorConfig
from s2v.gan.train import GANConfig, GANTrainer
from s2v.run import Run
from s2v.studio import StudioConfig, record

SMALL = GeneratorConfig(ngf=32, n_downsample=4, n_blocks=4)


def speed(cfg: GeneratorConfig, size: int, frames: int = 6, precision: str = "auto") -> float:
    G = Generator(cfg).eval()
    fg = FrameGenerator(G, precision)
    lab = np.zeros((size, size, 3), np.uint8)
    fg(lab)  # warm-up
    t = time.perf_counter()
    for _ in range(frames):
        fg(lab)
    return frames / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--precision", default="auto", help="of the speed figures: auto, fp32, bf16, fp16 (CUDA)")
    ap.add_argument("--hands", action="store_true", help="instead: the hand-skeleton ablation (section 4.2)")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda: {torch.cuda.is_available()}")
    for name, cfg in (("pix2pixHD-size (ngf 64, 9 blocks)", GeneratorConfig()), ("small (ngf 32, 4 blocks)", SMALL)):
        n = sum(p.numel() for p in Generator(cfg).parameters()) / 1e6
        for size in (256, 512):
            print(f"inference {name:<34} {n:5.1f} M params  {size}^2: {speed(cfg, size, precision=a.precision):6.2f} "
                  f"frames/s ({a.precision})")
    if a.speed_only:
        return

    run = Run.create("bench_gan_ada", a.runs_dir)
    if not run.has("recording"):
        t = time.time()
        record(StudioConfig(speaker="ada", script="economy+sports+science", width=128, height=128, fps=30.0), run)
        print(f"recorded the studio session in {time.time() - t:.0f} s")
    if a.hands:   # GAN with and without the hand skeleton in its labels (figure 9), same steps and seed
        from s2v.evaluation.experiments import hands_ablation

        cfg = GANConfig(size=128, clip=4, generator=SMALL, ndf=32, part_crop=32, part_ndf=32, max_steps=a.steps,
                        checkpoint_every=100, sample_every=a.steps, device="cpu")
        t = time.time()
        rows = hands_ablation(run, cfg, run.root / "hands_bench")
        print(f"hand ablation: {2 * a.steps} steps in {(time.time() - t) / 60:.1f} min")
        print(json.dumps(rows, indent=1))
        return
    train = ClipDataset([run], 128, 4, "train", progress=True)
    test = ClipDataset([run], 128, 4, "test")
    print(f"{len(train)} training clips, {len(test)} held-out clips "
          f"({test.index[-1][1] + 4 - test.index[0][1]} held-out frames)")
    results = {}
    for parts in (True, False):
        cfg = GANConfig(size=128, clip=4, generator=SMALL, ndf=32, part_crop=32, part_ndf=32,
                        parts=("face", "left_hand", "right_hand") if parts else (),
                        lambda_part_l1=10.0 if parts else 0.0,
                        max_steps=a.steps, checkpoint_every=100, sample_every=a.steps, device="cpu")
        out = run.root / f"gan_bench_parts_{'on' if parts else 'off'}"
        tr = GANTrainer(cfg, train, out, test)
        t = time.time()
        tr.train(progress=False)
        secs = time.time() - t
        G = tr.G.eval()
        m = evaluate(G, test)
        h = tr.history
        first = {k: float(np.mean([x[k] for x in h[:20]])) for k in ("loss_g", "l1")}
        last = {k: float(np.mean([x[k] for x in h[-20:]])) for k in ("loss_g", "l1")}
        results["on" if parts else "off"] = m
        print(f"parts {'on ' if parts else 'off'}: {tr.step} steps in {secs / 60:.1f} min "
              f"({secs / max(1, tr.step):.2f} s/step); "
              f"L1 {first['l1']:.3f} -> {last['l1']:.3f}; held-out ({m['frames']} frames): " +
              ", ".join(f"{k} {v:.3f}" for k, v in m.items() if k != "frames"))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
