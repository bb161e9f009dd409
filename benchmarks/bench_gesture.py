"""A generative gesture model beside the paper's LSTM (issue 28, item 4): the gesture flow
(:mod:`s2v.pose.flow`) trained on the studio speaker's six training scripts and sampled on held-out scripts.

Per held-out script, rows: the flow's samples (seeds 0 and 1), the LSTM (CPU preset, the kit's default, no key
poses), the mean pose (floor), and every other recorded script's true motion (the mean: "other segments").
Bars (issue 28): FD_g below the other segments' mean; jerk 0.7-1.5x the truth's; L1div >= 0.6x the truth's; BC at
least halfway from the shifted-speech baseline to the truth's; wrist-speed r >= 0.2; two seeds >= 0.3x the truth's
L1div apart; body error not above the other segments'.

python benchmarks/bench_gesture.py [--runs-dir /tmp/g/runs] [--steps 3000] [--minutes 20] [--tests technology,travel]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from bench_portrait import cpu_name

from s2v.body import BodyModel
from s2v.evaluation.experiments import EvaluationConfig, studio_runs
from s2v.evaluation.motion import joints_3d, motion_metrics, sample_distance, tile_to
from s2v.pose.flow import FlowTrainer, GestureFlowConfig, sample
from s2v.pose.lstm import PoseLSTMConfig, Trainer, predict
from s2v.pose.stage import part_errors, run_audio, run_sequence

COLS = ("body", "hands", "mouth", "FD_g", "FD_k", "L1div (cm)", "jerk (m/s³)", "BC", "BC shifted", "wrist speed r")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default="/tmp/g/runs")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--w-vel", type=float, default=None)
    ap.add_argument("--word-dropout", type=float, default=None)
    ap.add_argument("--smooth", type=float, default=None, help="seconds of smoothing of body and hands after sampling")
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--sample-steps", type=int, default=None)
    ap.add_argument("--tests", default="technology,travel")
    ap.add_argument("--no-lstm", action="store_true")
    ap.add_argument("--save", default=None, help="write the trained flow here (pose/flow.pt layout)")
    ap.add_argument("--load", default=None, help="a trained flow to evaluate instead of training")
    a = ap.parse_args()
    ecfg = EvaluationConfig()
    runs = {k: r for k, r in studio_runs(ecfg, a.runs_dir).items() if k != "clean"}
    tests = a.tests.split(",")
    train = [runs[s] for s in ecfg.train_scripts]
    seqs = [run_sequence(r, "audio+words") for r in train]
    print(f"CPU: {cpu_name()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"training data: {sum(len(s.targets) for s in seqs) / seqs[0].fps:.0f} s of {len(seqs)} scripts")
    cfg = GestureFlowConfig(**{k: v for k, v in {"max_steps": a.steps, "max_minutes": a.minutes, "w_vel": a.w_vel,
                                                 "channels": a.channels, "batch_size": a.batch,
                                                 "word_dropout": a.word_dropout, "smooth": a.smooth}.items()
                               if v is not None})
    if a.load:
        from s2v.pose.flow import load_flow

        flow, ck = load_flow(a.load)
        cfg = GestureFlowConfig(**ck["config"])
        print("loaded", a.load, ck["config"])
    else:
        t0 = time.perf_counter()
        tr = FlowTrainer(seqs, cfg)
        st = tr.train(progress=False)
        loss = np.mean([h[1] for h in st.history[-100:]])
        print(f"flow: {st.step} steps in {time.perf_counter() - t0:.0f} s (loss {loss:.3f}), "
              f"{sum(p.numel() for p in tr.model.parameters()) / 1e6:.2f} M parameters")
        if a.save:
            tr.export(a.save)
        flow = tr.ema
    lstm = None
    if not a.no_lstm:
        t0 = time.perf_counter()
        lt = Trainer([run_sequence(r) for r in train], [run_sequence(runs[ecfg.val_script])],
                     PoseLSTMConfig.preset("cpu"))
        lt.train(progress=False)
        lstm = lt.best_model()
        print(f"LSTM (cpu preset): {lt.state.step} steps in {time.perf_counter() - t0:.0f} s")
    body = BodyModel(device="cpu")
    if a.smooth is not None:
        flow.smooth = a.smooth
    gs = cfg.guidance if a.guidance is None else a.guidance
    ns = cfg.sample_steps if a.sample_steps is None else a.sample_steps
    summary = {}
    for name in tests:
        run = runs[name]
        s = run_sequence(run, "audio+words")
        truth, fps = s.targets, s.fps
        audio, sr = run_audio(run)
        t0 = time.perf_counter()
        samples = [sample(flow, s.inputs, seed=k, steps=ns, guidance=gs) for k in (0, 1)]
        ts = (time.perf_counter() - t0) / 2
        rows = {"flow seed 0": samples[0], "flow seed 1": samples[1]}
        if lstm is not None:
            rows["LSTM (cpu preset)"] = predict(lstm, run_sequence(run).inputs, fps)
        mean = np.concatenate([q.targets for q in seqs]).mean(0)
        rows["mean pose"] = np.repeat(mean[None], len(truth), 0)
        rows["truth"] = truth
        scored = {k: {**part_errors(v, truth), **motion_metrics(v, truth, fps, audio, sr, body)}
                  for k, v in rows.items()}
        others = [runs[o] for o in runs if o != name]
        per = []
        for o in others:
            ot = tile_to(run_sequence(o).targets, len(truth))
            per.append({**part_errors(ot, truth), **motion_metrics(ot, truth, fps, audio, sr, body)})
        scored[f"other segments (mean of {len(per)})"] = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
        ja, jb = joints_3d(samples[0], body), joints_3d(samples[1], body)
        apart = sample_distance(ja, jb)
        print(f"\n== held out: {name} ({len(truth)} frames at {fps:g} fps; sampling {ts:.2f} s per sample, "
              f"{ns} steps, guidance {gs:g})")
        w = max(len(k) for k in scored) + 2
        print("".ljust(w) + "".join(c[:12].rjust(13) for c in COLS))
        for k, r in scored.items():
            print(k.ljust(w) + "".join(f"{r[c]:13.3f}" for c in COLS))
        t, o = scored["truth"], scored[f"other segments (mean of {len(per)})"]
        for k in ("flow seed 0", "flow seed 1"):
            r = scored[k]
            half = r["BC shifted"] + 0.5 * (t["BC"] - r["BC shifted"])
            jr, lr, ar = (r["jerk (m/s³)"] / t["jerk (m/s³)"], r["L1div (cm)"] / t["L1div (cm)"],
                          apart / t["L1div (cm)"])
            margin, truth_margin = r["BC"] - r["BC shifted"], t["BC"] - t["BC shifted"]
            bars = {"FD_g < others": (r["FD_g"], o["FD_g"], r["FD_g"] < o["FD_g"]),
                    "jerk 0.7-1.5x": (jr, None, 0.7 <= jr <= 1.5),
                    "L1div >= 0.6x": (lr, None, lr >= 0.6),
                    "BC >= halfway": (r["BC"], half, r["BC"] >= half),
                    "BC margin >= half the truth's (strict)": (margin, truth_margin, margin >= 0.5 * truth_margin),
                    "wrist r >= 0.2": (r["wrist speed r"], None, r["wrist speed r"] >= 0.2),
                    "seeds apart >= 0.3x": (ar, None, ar >= 0.3),
                    "body <= others": (r["body"], o["body"], r["body"] <= o["body"])}
            print(f"{k}: " + "; ".join(f"{b} {'✔' if ok else '✘'} {v:.3f}"
                                        + (f" vs {ref:.3f}" if ref is not None else "")
                                        for b, (v, ref, ok) in bars.items()))
        summary[name] = {k: {c: round(r[c], 4) for c in COLS} for k, r in scored.items()}
        summary[name]["seeds apart (cm)"] = apart
    print(json.dumps({"seeds_apart": {k: v["seeds apart (cm)"] for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
