"""FD_g against its ceiling on several held-out scripts (issue 13): how noisy a one-sentence ceiling is, and where
the kit's speech-to-pose motion (the LSTM with the key words left to the dictionary, plus the key poses) stands.

For each held-out studio script (English "technology" and "travel", Mandarin "city"), the kit's default LSTM
(CPU preset, 300 steps, seed 0) is trained on the six English training scripts, with early stopping on another
held-out script, and its prediction plus the key poses of the speaker's whole vocabulary
(:func:`s2v.dictionary.build.studio_vocabulary`, both languages) is scored against the recorded truth. Beside it:

* every *other* recorded sentence's true motion (the ceiling of the evaluation table is one of them): mean, min
  and max of their FD_g;
* *other takes*: the same speech performed again by the same studio speaker with other seeds — what a perfect
  generative model of this speaker would score against the one recorded truth (how often it beats each ceiling);
* the body and hand errors as ratios to the mean pose's (issue 13: < 1).

python benchmarks/bench_fd_ceiling.py [--steps 300] [--takes 8] [--runs-dir /tmp/s2v_bench_motion]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from s2v.dictionary.build import studio_vocabulary
from s2v.dictionary.insertion import apply_dictionary
from s2v.evaluation.experiments import EvaluationConfig, studio_runs
from s2v.evaluation.motion import frechet_distance, tile_to
from s2v.params import ParamLayout
from s2v.pose.lstm import PoseLSTMConfig, Trainer, predict
from s2v.pose.stage import part_errors, run_inputs, run_sequence, run_targets

#: (held-out test script, early-stopping script)
SPLITS = (("technology", "travel"), ("travel", "city"), ("city", "travel"))


def takes_of(script: str, seed: int, frames: int, n: int, speaker: str = "ada", fps: float = 30.0) -> np.ndarray:
    """(n, T, D): ``script`` performed again by the studio speaker with seeds ``seed + 1 .. seed + n`` (same speech)."""
    from s2v.studio.record import StudioConfig, retakes

    cfg = StudioConfig(speaker=speaker, script=script, pose_session=False, seed=seed, render=False, fps=fps)
    return retakes(cfg, range(seed + 1, seed + n + 1), frames=frames)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--runs-dir", default="/tmp/s2v_bench_motion")
    a = ap.parse_args()
    ecfg = EvaluationConfig()
    runs = {k: r for k, r in studio_runs(ecfg, a.runs_dir).items() if k != "clean"}
    names = list(runs)
    truths = {s: run_targets(r)[0] for s, r in runs.items()}
    vocab = studio_vocabulary(ecfg.speaker)
    lay = ParamLayout()
    mean = np.concatenate([truths[s] for s in ecfg.train_scripts]).mean(0)
    print("| held-out script | prediction + key poses | other sentences: mean (min-max) | evaluation table's "
          "ceiling | other takes: mean (min-max) | takes below the mean / the table's ceiling | body / hands "
          "err ÷ mean pose's | the same for the takes (mean) | train s |")
    print("|---" * 9 + "|")
    for test, val in SPLITS:
        torch.manual_seed(0)
        y = truths[test]
        cfg = PoseLSTMConfig.preset("cpu", max_steps=a.steps, seed=0)
        t = time.perf_counter()
        tr = Trainer([run_sequence(runs[s], dictionary=vocab) for s in ecfg.train_scripts],
                     [run_sequence(runs[val], dictionary=vocab)], cfg)
        tr.train(progress=False)
        secs = time.perf_counter() - t
        pred = predict(tr.best_model(), run_inputs(runs[test], len(y), ecfg.fps, "audio"), ecfg.fps, cfg.delay)
        words = json.loads(runs[test].require("transcript").read_text())["words"]
        posed = apply_dictionary(pred, words, vocab, ecfg.fps)[0]
        fd = frechet_distance(posed, y)
        others = {o: frechet_distance(tile_to(truths[o], len(y)), y) for o in names if o != test}
        table_other = ecfg.other_script if ecfg.other_script != test else ecfg.test_script
        ceiling, om = others[table_other], float(np.mean(list(others.values())))
        takes = takes_of(test, names.index(test), len(y), a.takes, ecfg.speaker)
        tk = [frechet_distance(k, y) for k in takes]
        e, e0 = part_errors(posed, y, lay), part_errors(np.repeat(mean[None], len(y), 0), y, lay)
        et = [part_errors(k, y, lay) for k in takes]
        et = {p: np.mean([x[p] for x in et]) / e0[p] for p in ("body", "hands")}
        print(f"| {test} | **{fd:.3f}** | {om:.3f} ({min(others.values()):.3f}-{max(others.values()):.3f}) | "
              f"{ceiling:.3f} ({table_other}) | {np.mean(tk):.3f} ({min(tk):.3f}-{max(tk):.3f}) | "
              f"{np.mean(np.array(tk) < om):.0%} / {np.mean(np.array(tk) < ceiling):.0%} | "
              f"{e['body'] / e0['body']:.2f} / {e['hands'] / e0['hands']:.2f} | {et['body']:.2f} / {et['hands']:.2f} | "
              f"{secs:.0f} |", flush=True)
        print("  each other sentence:", {k: round(v, 3) for k, v in others.items()}, flush=True)


if __name__ == "__main__":
    main()
