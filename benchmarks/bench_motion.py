"""Motion that looks human (issue 13): what each change to the speech-to-pose LSTM does to jitter, diversity and
error, against the mean pose (floor) and another sentence's true motion (ceiling).

Studio speaker "ada": trained on 6 scripts, early stopping on "travel", tested on the held-out "technology"
(as ``s2v.evaluation.experiments``). Each variant is the CPU preset with the changes of VARIANTS, the same seed,
steps and
data. Reported per variant: jerk and L1 diversity of the upper-body joints as ratios
to the truth's (bar: jerk <= 1.5x, L1div >= 0.6x), FD_g (bar: below the other-sentence ceiling) and the mean
absolute error per part as a ratio to the mean pose's (bar: < 1 for body and hands).

Each variant is reported twice: the LSTM's output, and the motion synthesis makes of it — the LSTM plus the key
poses of the speaker's dictionary at the test script's key words (section 3.3; the dictionary is built the kit's
way, ``dictionary_from_studio``, from the training scripts' own key poses). Beside the floor (mean pose) and the
other-sentence ceiling, "another take" is a second performance of the same held-out speech by the same studio
speaker (another seed): the per-frame error a perfect generative model of this speaker would have.

python benchmarks/bench_motion.py [--steps 300] [--variants all | paper,std,...] [--runs-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from s2v.body import BodyModel
from s2v.dictionary.build import dictionary_from_studio, studio_vocabulary
from s2v.dictionary.insertion import apply_dictionary
from s2v.evaluation.motion import baselines, frechet_distance, motion_metrics, other_sentences_metrics
from s2v.evaluation.experiments import EvaluationConfig, studio_runs
from s2v.params import ParamLayout, SMPLXParams
from s2v.pose.lstm import PoseLSTMConfig, Trainer, predict
from s2v.pose.stage import (
    run_audio,
    part_errors,
    run_inputs,
    run_sequence,
    run_targets,
)

#: key -> (name, PoseLSTMConfig changes to the CPU preset with section 3.4's loss and output; ``--variants`` picks)
PAPER = {"standardize": False, "part_norm": False, "w_var": 0.0, "smooth": 0.0, "key_words": False}
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
    "cpu2": ("std + spread + 2 s windows + smoothing 0.07 s + spread matching 1",
             {"standardize": True, "part_norm": True, "window": 2.0, "smooth": 0.07, "w_var": 1.0}),
    "cpu": ("the kit's CPU preset (std + spread + 4 s + smoothing 0.07 s + spread matching 1)", None),
    "long": ("std + spread + 4 s + smoothing 0.05 s, 2x steps", {**BASE, "smooth": 0.05, "steps": 2}),
    "cpu_all": ("the CPU preset, learning every frame (key_words off)", {"key_words": False, "defaults": True}),
    "mask_var2": ("the CPU preset with key words left to the dictionary, spread matching 2",
                  {"w_var": 2.0, "defaults": True}),
    "mask_var4": ("the CPU preset with key words left to the dictionary, spread matching 4",
                  {"w_var": 4.0, "defaults": True}),
    "mask_var0": ("the CPU preset with key words left to the dictionary, no spread matching",
                  {"w_var": 0.0, "defaults": True}),
}


def other_takes(run, ecfg, seed: int, n: int = 1) -> np.ndarray:
    """(n, T, D): the held-out script performed again by the same studio speaker with other seeds (same words,
    phonemes and speech; other beats, sways, drifts and key-pose draws): :func:`s2v.studio.record.retakes`."""
    from s2v.studio.record import StudioConfig, retakes

    cfg = StudioConfig(speaker=ecfg.speaker, script=ecfg.test_script, pose_session=False, seed=seed, render=False,
                       fps=ecfg.fps, max_seconds=ecfg.max_seconds)
    return retakes(cfg, range(seed + 1, seed + n + 1), frames=len(run_targets(run)[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", default="all", help="comma-separated keys of VARIANTS, or all")
    ap.add_argument("--runs-dir", default="/tmp/s2v_bench_motion")
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--takes", type=int, default=1, help="other performances of the test script (>1: their mean "
                    "and median as rows: the best a per-frame predictor could do)")
    ap.add_argument("--dictionaries", default="training scripts",
                    help="comma-separated: 'training scripts' (the key poses the training scripts struck) and/or "
                         "'vocabulary' (every key word of the studio speaker's gestures: a curated dictionary)")
    a = ap.parse_args()
    torch.manual_seed(0)
    ecfg = EvaluationConfig(max_seconds=a.max_seconds)
    t0 = time.perf_counter()
    runs = studio_runs(ecfg, a.runs_dir)
    print(f"studio scripts ready in {time.perf_counter() - t0:.0f} s")
    every = {"training scripts": lambda: dictionary_from_studio([runs[s] for s in ecfg.train_scripts]),
             "vocabulary": lambda: studio_vocabulary(ecfg.speaker)}
    dicts = {k: every[k]() for k in a.dictionaries.split(",")}
    for k, d in dicts.items():
        print(f"dictionary ({k}):", ", ".join(d.words))
    train = [run_sequence(runs[s]) for s in ecfg.train_scripts]
    test = runs[ecfg.test_script]
    truth = SMPLXParams.load(test.path("truth_params"))
    y = truth.to_vector()
    T, fps = len(y), ecfg.fps
    audio, sr = run_audio(test)
    x = run_inputs(test, T, fps, "audio")
    body = BodyModel(device="cpu")
    mean = np.concatenate([s.targets for s in train]).mean(0)
    words = json.loads(test.require("transcript").read_text())["words"]
    names = list(dict.fromkeys(list(ecfg.train_scripts) + [ecfg.val_script, ecfg.test_script, ecfg.other_script]))
    rows = {"truth": y} | baselines(y, run_targets(runs[ecfg.other_script])[0], mean)
    takes = other_takes(test, ecfg, names.index(ecfg.test_script), max(1, a.takes))
    rows["another take (same speech, another seed)"] = takes[0]
    if a.takes > 1:     # what the best per-frame predictor could score: the takes' mean (L2) and median (L1)
        rows[f"mean of {a.takes} takes"] = takes.mean(0)
        rows[f"median of {a.takes} takes"] = np.median(takes, 0)
    for dn, d in dicts.items():
        rows["mean pose + key poses" + (f" [{dn}]" if len(dicts) > 1 else "")] = \
            apply_dictionary(rows["mean pose"], words, d, fps)[0]
    lay = ParamLayout()
    chosen = list(VARIANTS) if a.variants == "all" else [v for v in a.variants.split(",") if v]
    times = {}
    for key in chosen:
        name, changes = VARIANTS[key]
        if changes is None:                  # the kit's defaults as they are
            changes = {}
        else:
            changes = dict(changes)
            if not changes.pop("defaults", False):
                changes = {**PAPER, **changes}
        mult = changes.pop("steps", 1)
        cfg = PoseLSTMConfig.preset("cpu", max_steps=a.steps * mult, seed=0, **changes)
        # an LSTM that leaves key words to a dictionary is trained once per dictionary; one that learns every
        # frame once, and shown with each dictionary's key poses
        for dname in (dicts if cfg.key_words else [None]):
            kd = dicts[dname] if dname else None
            label = name + (f" [{dname}]" if dname and len(dicts) > 1 else "")
            t = time.perf_counter()
            tr = Trainer([run_sequence(runs[s], dictionary=kd) for s in ecfg.train_scripts],
                         [run_sequence(runs[ecfg.val_script], dictionary=kd)], cfg)
            tr.train(progress=False)
            times[label] = (time.perf_counter() - t, tr.state.step, tr.state.best_step)
            rows[label] = predict(tr.best_model(), x, fps, cfg.delay)
            for dn, d in dicts.items():
                if dname in (None, dn):
                    rows[f"{label} + key poses" + (f" [{dn}]" if len(dicts) > 1 else "")] = \
                        apply_dictionary(rows[label], words, d, fps)[0]
    metrics = {k: motion_metrics(p, y, fps, audio, sr, body, truth.betas) for k, p in rows.items()}
    # the ceiling over every other recorded sentence (one sentence is a lottery ticket: see RESULTS.md)
    others = {s: run_targets(runs[s])[0] for s in names if s != ecfg.test_script}
    metrics["other sentences (mean)"], per_other = other_sentences_metrics(y, others, fps, audio, sr, body,
                                                                           truth.betas)
    print("FD_g of each other sentence:", {k: round(m["FD_g"], 3) for k, m in per_other.items()})
    errs = {k: part_errors(p, y, lay) for k, p in rows.items()}
    tj, td = metrics["truth"]["jerk (m/s³)"], metrics["truth"]["L1div (cm)"]
    ceiling = metrics["other sentence (truth)"]["FD_g"]
    print(f"\ntest script {ecfg.test_script}: {T} frames; truth jerk {tj:.0f} m/s³, L1div {td:.1f} cm; "
          f"FD_g ceiling (other sentence) {ceiling:.3f}, over all {len(others)} other sentences "
          f"{metrics['other sentences (mean)']['FD_g']:.3f} (range {min(m['FD_g'] for m in per_other.values()):.3f}-"
          f"{max(m['FD_g'] for m in per_other.values()):.3f}); {a.steps} steps per variant\n")
    parts = list(lay.part_fields())
    bh = np.r_[lay.part_index("body"), lay.part_index("hands")]
    print("| | jerk / truth | L1div / truth | FD_g | FD_g body+hands | FD_k | BC | "
          + " | ".join(f"{p} err / mean" for p in parts) + " | train s (best step) |")
    print("|---" * (7 + len(parts)) + "|---|")
    for k in rows:
        m, e = metrics[k], errs[k]
        rel = " | ".join(f"{e[p] / max(errs['mean pose'][p], 1e-9):.2f}" for p in parts)
        tt = f"{times[k][0]:.0f} ({times[k][2]}/{times[k][1]})" if k in times else ""
        fdb = frechet_distance(rows[k][:, bh], y[:, bh])
        print(f"| {k} | {m['jerk (m/s³)'] / tj:.2f} | {m['L1div (cm)'] / td:.2f} | {m['FD_g']:.3f} | {fdb:.3f} | "
              f"{m['FD_k']:.2f} | {m['BC']:.3f} | {rel} | {tt} |")
    print("\nabsolute per-part error of the mean pose:", {p: round(errs["mean pose"][p], 4) for p in parts})


if __name__ == "__main__":
    main()
