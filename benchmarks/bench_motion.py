"""Motion that looks human (issue 13): what each change to the speech-to-pose LSTM does to jitter, diversity and
error, against the mean pose (floor) and another sentence's true motion (ceiling).

Studio speaker "ada": trained on 6 scripts, early stopping on "travel", tested on the held-out "technology"
(as ``s2v.experiments``). Each variant is the CPU preset with the changes of VARIANTS, the same seed, steps and
data. Reported per variant: jerk and L1 diversity of the upper-body joints as ratios
to the truth's (bar: jerk <= 1.5x, L1div >= 0.6x), FD_g (bar: below the other-sentence ceiling) and the mean
absolute error per part as a ratio to the mean pose's (bar: < 1 for body and hands).

python benchmarks/bench_motion.py [--steps 300] [--variants all | paper,std,...] [--runs-dir DIR]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from s2v.body import BodyModel
from s2v.evaluation import baselines, motion_metrics
from s2v.experiments import EvaluationConfig, studio_runs
from s2v.params import ParamLayout, SMPLXParams
from s2v.pose_lstm import PoseLSTMConfig, Trainer, predict
from s2v.pose_stage import (
    load_audio,
    part_errors,
    run_inputs,
    run_sequence,
    run_targets,
)

#: key -> (name, PoseLSTMConfig changes to the CPU preset with section 3.4's loss and output; ``--variants`` picks)
PAPER = {"standardize": False, "part_norm": False, "w_var": 0.0, "smooth": 0.0}
BASE = {"standardize": True, "part_norm": True, "window": 4.0}
VARIANTS = {
    "paper": ("paper (the default before issue 13)", {}),
    "std": ("standardised outputs", {"standardize": True}),
    "spread": ("+ part weights / spread", {"standardize": True, "part_norm": True}),
    "acc": ("+ acceleration loss 4", {"standardize": True, "part_norm": True, "w_acc": 4.0}),
    "dropout": ("+ acceleration loss 4 + dropout 0.2", {"standardize": True, "part_norm": True, "w_acc": 4.0,
                                                         "dropout": 0.2}),
    "win4": ("std + spread + 4 s windows", BASE),
    "smooth10": ("std + spread + 4 s + smoothing 0.10 s", {**BASE, "smooth": 0.10}),
    "smooth05": ("std + spread + 4 s + smoothing 0.05 s", {**BASE, "smooth": 0.05}),
    "smooth03": ("std + spread + 4 s + smoothing 0.03 s", {**BASE, "smooth": 0.03}),
    "acc05": ("std + spread + 4 s + acceleration 0.5 + smoothing 0.03 s", {**BASE, "w_acc": 0.5, "smooth": 0.03}),
    "var1": ("std + spread + 4 s + smoothing 0.05 s + spread matching 1", {**BASE, "smooth": 0.05, "w_var": 1.0}),
    "var4": ("std + spread + 4 s + smoothing 0.05 s + spread matching 4", {**BASE, "smooth": 0.05, "w_var": 4.0}),
    "smooth05p": ("std + spread + 4 s + smoothing 0.05 s of body and hands", {**BASE, "smooth": 0.05}),
    "var1s07": ("std + spread + 4 s + smoothing 0.07 s + spread matching 1", {**BASE, "smooth": 0.07, "w_var": 1.0}),
    "cpu2": ("std + spread + 2 s windows + smoothing 0.07 s + spread matching 1", {"standardize": True, "part_norm": True,
             "window": 2.0, "smooth": 0.07, "w_var": 1.0}),
    "cpu": ("the kit's CPU preset (std + spread + 4 s + smoothing 0.07 s + spread matching 1)", None),
    "long": ("std + spread + 4 s + smoothing 0.05 s, 2x steps", {**BASE, "smooth": 0.05, "steps": 2}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", default="all", help="comma-separated keys of VARIANTS, or all")
    ap.add_argument("--runs-dir", default="/tmp/s2v_bench_motion")
    ap.add_argument("--max-seconds", type=float, default=None)
    a = ap.parse_args()
    torch.manual_seed(0)
    ecfg = EvaluationConfig(max_seconds=a.max_seconds)
    t0 = time.perf_counter()
    runs = studio_runs(ecfg, a.runs_dir)
    print(f"studio scripts ready in {time.perf_counter() - t0:.0f} s")
    train = [run_sequence(runs[s]) for s in ecfg.train_scripts]
    val = [run_sequence(runs[ecfg.val_script])]
    test = runs[ecfg.test_script]
    truth = SMPLXParams.load(test.path("truth_params"))
    y = truth.to_vector()
    T, fps = len(y), ecfg.fps
    audio, sr = load_audio(test)
    x = run_inputs(test, T, fps, "audio")
    body = BodyModel(device="cpu")
    mean = np.concatenate([s.targets for s in train]).mean(0)
    rows = {"truth": y} | baselines(y, run_targets(runs[ecfg.other_script])[0], mean)
    lay = ParamLayout()
    chosen = list(VARIANTS) if a.variants == "all" else a.variants.split(",")
    times = {}
    for key in chosen:
        name, changes = VARIANTS[key]
        changes = {} if changes is None else {**PAPER, **changes}      # None: the kit's defaults as they are
        mult = changes.pop("steps", 1)
        cfg = PoseLSTMConfig.preset("cpu", max_steps=a.steps * mult, seed=0, **changes)
        t = time.perf_counter()
        tr = Trainer(train, val, cfg)
        tr.train(progress=False)
        times[name] = (time.perf_counter() - t, tr.state.step, tr.state.best_step)
        rows[name] = predict(tr.best_model(), x, fps, cfg.delay)
    metrics = {k: motion_metrics(p, y, fps, audio, sr, body, truth.betas) for k, p in rows.items()}
    errs = {k: part_errors(p, y, lay) for k, p in rows.items()}
    tj, td = metrics["truth"]["jerk (m/s³)"], metrics["truth"]["L1div (cm)"]
    ceiling = metrics["other sentence (truth)"]["FD_g"]
    print(f"\ntest script {ecfg.test_script}: {T} frames; truth jerk {tj:.0f} m/s³, L1div {td:.1f} cm; "
          f"FD_g ceiling (other sentence) {ceiling:.3f}; {a.steps} steps per variant\n")
    parts = list(lay.part_fields())
    print("| | jerk / truth | L1div / truth | FD_g | FD_k | BC | " + " | ".join(f"{p} err / mean" for p in parts)
          + " | train s (best step) |")
    print("|---" * (6 + len(parts)) + "|---|")
    for k in rows:
        m, e = metrics[k], errs[k]
        rel = " | ".join(f"{e[p] / max(errs['mean pose'][p], 1e-9):.2f}" for p in parts)
        tt = f"{times[k][0]:.0f} ({times[k][2]}/{times[k][1]})" if k in times else ""
        print(f"| {k} | {m['jerk (m/s³)'] / tj:.2f} | {m['L1div (cm)'] / td:.2f} | {m['FD_g']:.3f} | {m['FD_k']:.2f} | "
              f"{m['BC']:.3f} | {rel} | {tt} |")
    print("\nabsolute per-part error of the mean pose:", {p: round(errs["mean pose"][p], 4) for p in parts})


if __name__ == "__main__":
    main()
