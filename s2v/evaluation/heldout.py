"""A trained speech-to-pose model judged on a held-out time range of any run (issue 28).

``s2v evaluate`` reproduces section 4 on the studio's scripts; a user's own recording or mocap take needs the
same table on *their* data: ``s2v pose evaluate --run take --test 40-47.6`` predicts the range from its speech
and scores it against what the speaker did, beside the baselines that say what the numbers mean:

* **truth** — the range's own motion (its BC against its speech is the ceiling a model can reach);
* **mean pose** — the training mean held still (the floor: a frozen model scores here);
* **other segments** — the same speaker's true motion from other parts of the run, each cut to the range's
  length (natural motion with no relation to *this* speech; the mean over up to ``segments`` of them).

Columns: per-part errors (:func:`s2v.pose.stage.part_errors`), the motion metrics of
:func:`s2v.evaluation.motion.motion_metrics` (FD_g/FD_k, L1 diversity, jerk, LVD), BC beside the same motion's BC
against its speech shifted in time (``BC shifted``: the score of motion unrelated to the speech) and the
correlation of predicted and true wrist speed. A run with a gesture flow (``pose/flow.pt``, :mod:`s2v.pose.flow`)
gets two of its samples as rows beside the LSTM's prediction, and how far apart the two seeds are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2v.pose.stage import RunSpan


@dataclass
class HeldOut:
    span: str
    fps: float
    frames: int
    rows: dict            # row name -> {metric: value}
    pred: np.ndarray      # (T, 106) the prediction drawn in the strip: the flow's first sample if any, else the LSTM's
    truth: np.ndarray     # (T, 106)


def other_segments(targets: np.ndarray, test: slice, n: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` segments of ``n`` frames of ``targets`` that do not overlap the ``test`` frames, spread
    evenly over what is left (before and after the range)."""
    starts = [a for a in range(0, len(targets) - n + 1, max(1, n // 2))
              if a + n <= test.start or a >= test.stop]
    if not starts:
        return []
    pick = np.unique(np.linspace(0, len(starts) - 1, min(count, len(starts))).round().astype(int))
    return [targets[starts[i]:starts[i] + n] for i in pick]


def predictions(run, num_frames: int, fps: float, sl: slice, model_path=None, flow_path=None,
                seed: int = 0) -> dict[str, np.ndarray]:
    """The frames ``sl`` of ``run`` (``num_frames`` at ``fps``) predicted from its speech: ``prediction`` (the LSTM
    at ``model_path``, ``pose/model.pt``) and, with ``flow_path`` (``pose/flow.pt``), two samples of the gesture
    flow, seeds ``seed`` and ``seed + 1``."""
    from s2v.pose.lstm import load_model, predict
    from s2v.pose.stage import run_inputs

    out = {}
    if model_path is not None:
        model, ck = load_model(model_path)
        if ck.get("target", "smplx") != "smplx":
            raise ValueError(f"{model_path} predicts {ck.get('target')!r}: the motion table needs SMPL-X poses")
        x = run_inputs(run, num_frames, fps, ck.get("meta", {}).get("inputs", "audio"))
        out["prediction"] = predict(model, x, fps, delay=float(ck["config"].get("delay", 0.2)))[sl]
    if flow_path is not None:
        from s2v.pose.flow import load_flow, sample

        flow, ck = load_flow(flow_path)
        x = run_inputs(run, num_frames, fps, "audio+words")
        steps, g = int(ck["config"]["sample_steps"]), float(ck["config"]["guidance"])
        for k in (seed, seed + 1):
            out[f"flow (seed {k})"] = sample(flow, x, seed=k, steps=steps, guidance=g)[sl]
    return out


def evaluate_span(model_path, span: RunSpan, segments: int = 6, seed: int = 0, flow_path=None) -> HeldOut:
    """Predict ``span`` from its speech with the LSTM at ``model_path`` (``pose/model.pt``; None: none) and/or
    two samples of the gesture flow at ``flow_path`` (``pose/flow.pt``), and score them. Flow rows also carry
    ``seeds apart (cm)``: the L1 distance of the two samples' joints (:func:`~s2v.evaluation.motion.sample_distance`),
    to be read against the truth's ``L1div (cm)`` (issue 28: at least 0.3x)."""
    from s2v.body import BodyModel
    from s2v.evaluation.motion import joints_3d, motion_metrics, sample_distance, tile_to
    from s2v.pose.stage import part_errors, run_audio, run_targets

    if model_path is None and flow_path is None:
        raise ValueError("no model to evaluate: give pose/model.pt, pose/flow.pt or both")
    run = span.run
    targets, fps = run_targets(run)
    sl = span.frames(len(targets), fps)
    n = sl.stop - sl.start
    if n < 2 * fps:
        raise ValueError(f"{span.name}: {n / fps:.1f} s is too short to judge motion (at least 2 s)")
    preds = predictions(run, len(targets), fps, sl, model_path, flow_path, seed)
    truth = targets[sl]
    audio, sr = run_audio(run)
    audio = audio[int(sl.start / fps * sr):int(sl.stop / fps * sr)]
    body = BodyModel(device="cpu")
    rest = np.concatenate([targets[:sl.start], targets[sl.stop:]])
    mean = (rest if len(rest) else targets).mean(0)
    rows = {**preds, "truth": truth, "mean pose": np.repeat(mean[None], n, 0).astype(np.float32)}
    scored = {k: {**part_errors(v, truth), **motion_metrics(v, truth, fps, audio, sr, body)} for k, v in rows.items()}
    flows = [k for k in preds if k.startswith("flow")]
    for k in scored:
        scored[k]["seeds apart (cm)"] = float("nan")
    if len(flows) == 2:
        apart = sample_distance(joints_3d(preds[flows[0]], body), joints_3d(preds[flows[1]], body))
        for k in flows:
            scored[k]["seeds apart (cm)"] = apart
    others = other_segments(targets, sl, n, segments)
    if others:
        per = [{**part_errors(tile_to(o, n), truth), **motion_metrics(tile_to(o, n), truth, fps, audio, sr, body)}
               for o in others]
        row = {k: float(np.nanmean([p[k] for p in per])) for k in per[0]}
        scored[f"other segments (mean of {len(others)})"] = {**row, "seeds apart (cm)": float("nan")}
    main = flows[0] if flows else "prediction"
    return HeldOut(span.name, fps, n, scored, preds[main], truth)


#: the columns printed by default (all are in :attr:`HeldOut.rows`)
COLUMNS = ("body", "hands", "mouth", "FD_g", "FD_k", "L1div (cm)", "jerk (m/s³)", "BC",
           "BC shifted", "wrist speed r", "seeds apart (cm)")


def heldout_table(res: HeldOut, columns=COLUMNS) -> str:
    """The rows as a fixed-width text table."""
    cols = [c for c in columns if c in next(iter(res.rows.values()))]
    w = max(len(k) for k in res.rows) + 2
    head = "".ljust(w) + "".join(c[:12].rjust(13) for c in cols)
    lines = [head] + [k.ljust(w) + "".join(("" if np.isnan(r[c]) else f"{r[c]:.3f}").rjust(13) for c in cols)
                      for k, r in res.rows.items()]
    return "\n".join(lines)


def skeleton_strip(res: HeldOut, run, frames: int = 6, size: int = 192) -> np.ndarray:
    """(2·size, frames·w, 3) uint8 (w: ``size`` at the camera's aspect ratio): the true skeleton (top) above the
    predicted one (bottom) at ``frames``
    evenly spaced frames of the range, seen by the run's camera (a mocap run has none: a frontal camera framing
    the true motion), with the run's fixed shape and placement."""
    from s2v.body import BodyModel
    from s2v.camera import Camera
    from s2v.fitting.fit import run_poses
    from s2v.keypoints import project_model
    from s2v.params import SMPLXParams
    from s2v.render.skeleton import render_skeleton

    p, _, _, seen = run_poses(run)
    model = BodyModel(device="cpu")
    idx = np.linspace(0, res.frames - 1, min(frames, res.frames)).round().astype(int)

    def params(vec):
        return SMPLXParams.from_vector(vec[idx], betas=p.betas, global_orient=p.global_orient[0], transl=p.transl[0])

    truth, pred = params(res.truth), params(res.pred)
    if run.has("camera"):
        cam = Camera.load(run.require("camera"))
    else:
        import torch

        with torch.no_grad():
            pts = model.keypoints(truth).cpu().numpy()[:, :22]
        cam = Camera.framing(pts, size, size, margin=0.15)
    rows, w = [], int(round(size * cam.width / cam.height))
    for q in (truth, pred):
        kp = project_model(model, q, cam)
        kp[:, ~seen, 2] = 0.0
        rows.append(np.concatenate([render_skeleton(k, w, size, (cam.width, cam.height)) for k in kp], 1))
    return np.concatenate(rows, 0)
