"""The speech-to-pose stage over run folders: training sequences, training, prediction, evaluation.

Inputs per frame are the 28-D audio features (:mod:`s2v.speech.features`) or the text features
(:mod:`s2v.speech.text`) aligned to the video frame rate; targets are the fitted SMPL-X parameters
(``fit/params.npz``) or, for a studio run, its ground truth, or — for the paper's 2D baseline
(figure 4) — the 2D keypoints normalised by the image height.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2v.keypoints import KeypointTrack
from s2v.params import SMPLXParams
from s2v.pose.lstm import PoseLSTMConfig, Sequence, Trainer, predict
from s2v.run import Run
from s2v.speech.features import add_pause_noise, align_to_frames, audio_features
from s2v.speech.text import text_features

#: 2D baseline targets: body (without feet), hands and face points, normalised by the image height.
KEYPOINTS_2D = np.r_[np.arange(0, 19), np.arange(25, 137)]


def run_audio(run: Run) -> tuple[np.ndarray, int]:
    """A run's speech as mono float32 and its sample rate."""
    import soundfile as sf

    audio, sr = sf.read(run.require("audio"), dtype="float32")
    return (audio.mean(1) if audio.ndim == 2 else audio), sr


def run_inputs(run: Run, num_frames: int, fps: float, kind: str = "audio", audio: np.ndarray | None = None,
               sr: int | None = None, pause_noise_db: float | None = None) -> np.ndarray:
    """Per-frame inputs of a run: ``audio`` features, ``text`` features (from its transcript), or ``audio+words``
    (the audio features and the word channels of :func:`s2v.pose.flow.word_channels`: timing and spelling; zeros
    without a transcript) for the gesture flow."""
    if kind == "audio+words":
        from s2v.pose.flow import word_channels

        a = run_inputs(run, num_frames, fps, "audio", audio, sr, pause_noise_db)
        words = json.loads(run.require("transcript").read_text())["words"] if run.has("transcript") else []
        return np.concatenate([a, word_channels(words, num_frames, fps)], 1)
    if kind == "text":
        words = json.loads(run.require("transcript").read_text())["words"]
        return text_features(words, num_frames, fps)
    if kind != "audio":
        raise ValueError(f"input must be 'audio', 'text' or 'audio+words', got {kind!r}")
    if audio is None:
        audio, sr = run_audio(run)
    if pause_noise_db is not None:
        audio = add_pause_noise(audio, sr, pause_noise_db)
    return align_to_frames(audio_features(audio, sr), num_frames, fps)


def run_targets(run: Run, target: str = "smplx", source: str = "auto") -> tuple[np.ndarray, float]:
    """(T, D) targets and fps: fitted or true SMPL-X parameters, or normalised 2D keypoints."""
    if target == "keypoints2d":
        kp = KeypointTrack.load(run.require("truth_keypoints" if source != "fit" and run.has("truth_keypoints")
                                            else "keypoints"))
        return (kp.points[:, KEYPOINTS_2D, :2] / kp.height).reshape(len(kp), -1).astype(np.float32), kp.fps
    from s2v.fitting.fit import run_poses

    p, fps, _, _ = run_poses(run, source)
    return p.to_vector(), fps


class SpanError(ValueError):
    """A time range that is not RUN:START-END, or lies outside its run."""


@dataclass(frozen=True)
class RunSpan:
    """A time range of a run (seconds; ``end=None``: to its end), so that one long recording splits into
    training, validation and test parts without cutting files: ``"ada:0-40"``, ``"ada:40-47"``, ``"ada:47-"``."""
    run: Run
    start: float = 0.0
    end: float | None = None

    @classmethod
    def parse(cls, text: str, runs_dir: str | Path = "runs") -> "RunSpan":
        name, _, rng = text.partition(":")
        if not rng:
            return cls(Run.open(name, runs_dir))
        a, sep, b = rng.partition("-")
        try:
            start, end = float(a or 0.0), (float(b) if b else None)
        except ValueError:
            start, end, sep = 0.0, None, ""
        if not sep or start < 0 or (end is not None and end <= start):
            raise SpanError(f"{text!r}: a time range is RUN:START-END in seconds (e.g. ada:0-40, ada:40-)")
        return cls(Run.open(name, runs_dir), start, end)

    @property
    def name(self) -> str:
        if self.start == 0 and self.end is None:
            return self.run.name
        return f"{self.run.name}:{self.start:g}-" + ("" if self.end is None else f"{self.end:g}")

    def frames(self, num_frames: int, fps: float) -> slice:
        a = int(round(self.start * fps))
        b = num_frames if self.end is None else min(num_frames, int(round(self.end * fps)))
        if a >= b:
            raise SpanError(f"{self.name}: the range is outside the run's {num_frames / fps:.1f} s")
        return slice(a, b)


def run_sequence(run: Run | RunSpan, inputs: str = "audio", target: str = "smplx", source: str = "auto",
                 pause_noise_db: float | None = None, dictionary=None) -> Sequence:
    """A run's (or a time range's) inputs and targets; features are computed on the whole recording and then
    cut, so a range sees the same features as the whole. With a key-pose ``dictionary`` (and a transcript),
    the sequence's mask leaves out the body and hands where its key words are spoken
    (:func:`key_word_mask`)."""
    span = run if isinstance(run, RunSpan) else RunSpan(run)
    y, fps = run_targets(span.run, target, source)
    x = run_inputs(span.run, len(y), fps, inputs, pause_noise_db=pause_noise_db)
    sl = span.frames(len(y), fps)
    mask = key_word_mask(span.run, dictionary, len(y), fps) if target == "smplx" else None
    return Sequence(x[sl], y[sl], fps, span.name, None if mask is None else mask[sl])


def key_word_mask(run: Run, dictionary, num_frames: int, fps: float) -> np.ndarray | None:
    """(T,) 0 on the frames where a key pose of ``dictionary`` goes in at one of the run's key words (ramps
    and hold, :func:`s2v.dictionary.insertion.key_word_frames`), else 1; None without a dictionary or a
    transcript. The LSTM is not taught the body and hands there: synthesis inserts the dictionary's pose at
    those words (section 3.3), and from audio alone a gesture bound to a word is a guess of the word. Measured
    on held-out studio speech (``benchmarks/bench_motion.py``), LSTM + key poses, body/hand error against the
    mean pose's: 1.02/0.86x trained on every frame, 0.62/0.59x with the mask (a dictionary of the speaker's
    key words; 1.31/1.36 -> 0.97/1.15x with one that lacks two of the test's words)."""
    from s2v.dictionary.insertion import key_word_frames

    if dictionary is None or not len(dictionary) or not run.has("transcript"):
        return None
    words = json.loads(run.require("transcript").read_text())["words"]
    return (~key_word_frames(words, dictionary, num_frames, fps)).astype(np.float32)


def train_pose(train_runs: list[Run | RunSpan], val_runs: list[Run | RunSpan], out: Run,
               cfg: PoseLSTMConfig | None = None, inputs: str = "audio", target: str = "smplx",
               progress: bool = True, dictionary="auto") -> Trainer:
    """Train the LSTM on runs (or time ranges of runs, :class:`RunSpan`) and write ``pose/model.pt``
    (checkpoints in ``pose/checkpoint.pt``; an interrupted training resumes from it).

    ``dictionary``: the key poses synthesis will insert; with ``cfg.key_words`` the LSTM leaves the body and
    hands at their key words to them (:func:`key_word_mask`). ``"auto"``: ``out``'s own dictionary if it has
    one (build the dictionary first, notebook 03), ``None``: learn every frame."""
    cfg = cfg or PoseLSTMConfig()
    if isinstance(dictionary, str) and dictionary == "auto":
        from s2v.dictionary.store import KeyPoseDictionary

        dictionary = KeyPoseDictionary.load(out.require("dictionary")) if out.has("dictionary") else None
    if not cfg.key_words or target != "smplx":
        dictionary = None
    with out.lock("pose"):
        return _train_pose(train_runs, val_runs, out, cfg, inputs, target, progress, dictionary)


def _train_pose(train_runs, val_runs, out: Run, cfg, inputs: str, target: str, progress: bool,
                dictionary) -> Trainer:
    train = [run_sequence(r, inputs, target, dictionary=dictionary) for r in train_runs]
    tr = Trainer(train, [run_sequence(r, inputs, target, dictionary=dictionary) for r in val_runs], cfg, target,
                 checkpoint=out.path("pose_model").with_name("checkpoint.pt"))
    tr.train(progress=progress)
    frozen = None
    if tr.state.val_spread and tr.state.best_val == float("inf"):   # no check moved: the last weights are kept
        import warnings

        last = tr.state.val_spread[-1][1]
        frozen = (f"no validation check of the pose LSTM moved like the speaker (the prediction's spread was "
                  f"{last:.2f}x the truth's at step {tr.state.step}, under min_val_spread {cfg.min_val_spread:g}): "
                  "the last weights are kept, not a frozen early one; train longer or on more data")
        warnings.warn(frozen, stacklevel=2)
    frames = sum(len(s.targets) for s in train)
    left = tr.masked / max(frames, 1)
    tr.export(out.path("pose_model"), meta={"inputs": inputs, "target": target, "train_runs": [s.name for s in train],
                                            "key_word_frames": left})
    out.record("pose_model", config=cfg, inputs=inputs, target=target, steps=tr.state.step,
               best_val=tr.state.best_val, stopped_early=tr.state.stopped_early, best_step=tr.state.best_step,
               val_spread=tr.state.best_spread, frozen_warning=frozen,
               key_word_frames=round(left, 4), key_words=sorted(" ".join(k) for k in dictionary.keys())
               if dictionary is not None else [])
    return tr


def train_flow(train_runs: list[Run | RunSpan], out: Run, cfg=None, progress: bool = True):
    """Train the generative gesture model (:mod:`s2v.pose.flow`) on runs or time ranges and write
    ``pose/flow.pt`` (checkpoint ``pose/flow_checkpoint.pt``: an interrupted training resumes from it). Inputs
    are the audio features and the runs' word timing (``audio+words``); there is no validation split — a
    generative model is judged by its samples (``s2v pose evaluate``), not by a held-out loss."""
    from s2v.pose.flow import FlowTrainer, GestureFlowConfig

    cfg = cfg or GestureFlowConfig()
    with out.lock("pose"):
        train = [run_sequence(r, "audio+words") for r in train_runs]
        tr = FlowTrainer(train, cfg, checkpoint=out.path("pose_flow").with_name("flow_checkpoint.pt"))
        tr.train(progress=progress)
        tr.export(out.path("pose_flow"), meta={"inputs": "audio+words", "train_runs": [s.name for s in train]})
        out.record("pose_flow", config=cfg, inputs="audio+words", steps=tr.state.step,
                   minutes=round(tr.state.seconds / 60, 2), stopped_by_budget=tr.state.stopped_by_budget,
                   train_seconds=round(sum(len(s.targets) for s in train) / train[0].fps, 1))
    return tr


def mouth_error_px(pred: np.ndarray, truth: SMPLXParams, camera, model) -> dict[str, float]:
    """Table 3's measure: mean pixel distance of the 20 mouth landmarks (68-layout 48-67), predicted vs
    true, projected with the recording's camera. ``pred`` is (T, 106); shape and global pose are the truth's.

    ``mouth_px``: as the paper (absolute positions, so head motion counts); ``mouth_shape_px``: after
    removing each frame's mouth centroid (the mouth's shape alone).
    """
    lay = truth.layout
    p = SMPLXParams.from_vector(pred[:len(truth)], lay, betas=truth.betas, global_orient=truth.global_orient,
                                transl=truth.transl)
    idx = [model.keypoint_names.index(f"face{i}") for i in range(48, 68)]
    with torch.no_grad():
        a = camera.project(model.keypoints(p)[:, idx].cpu().numpy())
        b = camera.project(model.keypoints(truth)[:, idx].cpu().numpy())
    d = np.linalg.norm(a - b, axis=-1)
    ds = np.linalg.norm((a - a.mean(1, keepdims=True)) - (b - b.mean(1, keepdims=True)), axis=-1)
    return {"mouth_px": float(d.mean()), "mouth_shape_px": float(ds.mean())}


def part_errors(pred: np.ndarray, truth: np.ndarray, layout=None) -> dict[str, float]:
    """Mean absolute error per part of the 106-vector (radians for rotations, units for coefficients)."""
    from s2v.params import ParamLayout

    lay = layout or ParamLayout()
    n = min(len(pred), len(truth))
    return {part: float(np.abs(pred[:n, lay.part_index(part)] - truth[:n, lay.part_index(part)]).mean())
            for part in lay.part_fields()}


def predict_run(model, run: Run, fps: float, inputs: str = "audio", audio=None, sr=None, num_frames=None,
                delay: float = 0.2) -> np.ndarray:
    n = num_frames or len(run_targets(run)[0])
    x = run_inputs(run, n, fps, inputs, audio, sr)
    return predict(model, x, fps, delay)

