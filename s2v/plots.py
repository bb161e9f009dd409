"""Figures the notebooks show: waveforms with word boundaries, keypoint overlays, inline videos."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def waveform_with_words(audio: np.ndarray, sr: int, words: list[dict], ax=None, keyposes: list[dict] | None = None,
                        max_labels: int = 60):
    """The waveform with each word's span shaded and labelled; key-posed words highlighted."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(14, 3))[1]
    t = np.arange(len(audio)) / sr
    step = max(1, len(audio) // 20000)
    ax.plot(t[::step], audio[::step], lw=0.5, color="0.3")
    posed = {round(k["start"], 3) for k in (keyposes or [])}
    peak = float(np.abs(audio).max() or 1.0)
    for i, w in enumerate(words):
        hit = round(w["start"], 3) in posed
        ax.axvspan(w["start"], w["end"], color="tab:red" if hit else "tab:blue", alpha=0.25 if hit else 0.08)
        if i < max_labels:
            ax.text((w["start"] + w["end"]) / 2, peak * (0.9 if i % 2 else 0.75), w["word"], ha="center",
                    fontsize=7, color="tab:red" if hit else "black")
    ax.set_xlabel("seconds")
    ax.set_xlim(0, len(audio) / sr)
    ax.set_yticks([])
    return ax


def keypoints_grid(frames: np.ndarray, points: np.ndarray, index, cols: int = 4, src_size=None) -> np.ndarray:
    """Frames with their (137, 3) keypoints drawn on top, tiled into one image."""
    from s2v.render.skeleton import draw_skeleton

    tiles = []
    for t in index:
        f = frames[t].copy()
        scale = (1.0, 1.0) if src_size is None else (f.shape[1] / src_size[0], f.shape[0] / src_size[1])
        tiles.append(draw_skeleton(f, points[t], scale=scale))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r:r + cols], 1) for r in range(0, len(tiles), cols)]
    return np.concatenate(rows, 0)


def inline_video(path: str | Path, width: int = 320):
    """An IPython video element with the file embedded (survives in the executed notebook)."""
    from IPython.display import Video

    return Video(str(path), embed=True, width=width, html_attributes="controls loop")


def features_with_words(features: np.ndarray, fps: float, words: list[dict], ax=None):
    """The 28-D feature matrix over time (MFCCs, volume and their differences) with word boundaries."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(14, 3))[1]
    T = len(features)
    ax.imshow(features.T, aspect="auto", origin="lower", cmap="magma", extent=[0, T / fps, 0, features.shape[1]])
    for w in words:
        ax.axvline(w["start"], color="cyan", lw=0.5, alpha=0.6)
        ax.text(w["start"], features.shape[1] + 0.5, w["word"], fontsize=6, rotation=60)
    ax.set_xlabel("seconds")
    ax.set_ylabel("13 MFCC + volume | differences")
    return ax


def loss_curves(state, ax=None):
    """Training loss per step and validation loss per check of a :class:`s2v.pose.lstm.TrainState`."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(8, 3))[1]
    if state.history:
        s, loss = np.array(state.history).T
        ax.plot(s, loss, lw=0.8, label="train")
    if state.val_history:
        s, v = np.array(state.val_history).T
        ax.plot(s, v, "o-", label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend()
    return ax


def skeleton_video(params_list, model, camera, path, fps: float, audio=None, labels=None) -> Path:
    """Side-by-side skeleton videos of several parameter sequences (e.g. prediction and truth)."""
    import cv2

    from s2v.keypoints import project_model
    from s2v.render.skeleton import render_skeleton
    from s2v.video import write_video

    tracks = [project_model(model, p, camera) for p in params_list]
    T = min(len(t) for t in tracks)

    def frames():
        for t in range(T):
            tiles = []
            for i, tr in enumerate(tracks):
                img = render_skeleton(tr[t], camera.width, camera.height)
                if labels:
                    cv2.putText(img, labels[i], (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 200, 200), 1)
                tiles.append(img)
            yield np.concatenate(tiles, 1)

    return write_video(frames(), path, fps, audio=audio)


def distance_with_words(distance: np.ndarray, fps: float, words: list[dict], candidates=(), keyposes=(), ax=None):
    """How far the arms are from the rest pose over time, key words marked, suggestions as dots and (for
    the studio) the true key-pose holds shaded."""
    import matplotlib.pyplot as plt

    from s2v.dictionary.build import DEFAULT_KEYWORDS
    from s2v.dictionary.store import tokens

    ax = ax or plt.subplots(figsize=(14, 3))[1]
    t = np.arange(len(distance)) / fps
    ax.plot(t, distance, lw=0.8, color="0.2")
    for k in keyposes:
        ax.axvspan(k["frame"] / fps, (k["frame"] + k["hold_frames"]) / fps, color="tab:green", alpha=0.15)
    keys = {tokens(k) for k in DEFAULT_KEYWORDS}
    top = float(distance.max() or 1.0)
    for w in words:
        if tokens(w["word"]) in keys:
            ax.axvline(w["start"], color="tab:orange", lw=0.8)
            ax.text(w["start"], top * 1.02, w["word"], fontsize=8, color="tab:orange", rotation=45)
    for c in candidates:
        ax.plot(c.frame / fps, c.distance, "o", color="tab:red")
    ax.set_xlabel("seconds")
    ax.set_ylabel("distance from rest (rad)")
    ax.set_xlim(0, t[-1] if len(t) else 1)
    return ax


def insertion_plot(base: np.ndarray, inserted: np.ndarray, records, fps: float, layout=None, ax=None):
    """Figure 6 on a real sequence: the arms' distance from the base pose before and after insertion,
    each key word's ramp-in, key pose and ramp-out shaded."""
    import matplotlib.pyplot as plt

    from s2v.metrics import distance_from

    ax = ax or plt.subplots(figsize=(14, 3))[1]
    ref = np.median(base, axis=0)
    t = np.arange(len(base)) / fps
    ax.plot(t, distance_from(base, ref, layout), lw=0.8, label="without key poses")
    ax.plot(t, distance_from(inserted, ref, layout), lw=1.2, label="with key poses")
    for r in records:
        if r.inserted:
            ax.axvspan(r.span[0] / fps, r.span[1] / fps, color="tab:orange", alpha=0.12)
            ax.axvline(r.start, color="tab:orange", lw=0.8)
            ax.text(r.start, ax.get_ylim()[1] * 0.9, r.word, fontsize=8)
        else:
            ax.text(r.start, 0.05, f"{r.word} ({r.status})", fontsize=7, color="0.5", rotation=45)
    ax.set_xlabel("seconds")
    ax.set_ylabel("arms: distance from rest (rad)")
    ax.legend(loc="upper right")
    return ax


def gan_losses(history: list[dict], ax=None,
               keys=("loss_g", "loss_d", "l1", "l1_face", "l1_left_hand", "l1_right_hand")):
    """GAN training curves (smoothed over 10 steps)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(10, 3))[1]
    steps = np.array([h["step"] for h in history])
    k = max(1, min(10, len(history) // 5))
    for key in keys:
        if key in history[0]:
            v = np.convolve([h[key] for h in history], np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], v, label=key, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend(fontsize=7, ncol=3)
    return ax


def part_crops(label: np.ndarray, real: np.ndarray, fake: np.ndarray, size: int = 96) -> np.ndarray:
    """Face, left hand and right hand boxes (found by colour in ``label``) of the label, real and generated
    frames, resized and tiled: one row per part, columns label | real | generated."""
    import cv2

    from s2v.gan.data import PARTS, boxes_of

    boxes, valid = boxes_of(label)
    rows = []
    for b, v in zip(boxes, valid):
        if not v:
            rows.append(np.zeros((size, 3 * size, 3), np.uint8))
            continue
        x0, y0, x1, y1 = (int(round(x)) for x in b)
        rows.append(np.concatenate([cv2.resize(im[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_NEAREST)
                                    for im in (label, real, fake)], 1))
    assert len(rows) == len(PARTS)
    return np.concatenate(rows, 0)


def table_bars(rows: dict[str, dict[str, float]], columns=None, paper: dict[str, dict[str, float]] | None = None,
               title: str = "", ax=None):
    """Grouped bars, one group per column and one bar per row (``paper``: the paper's rows, hatched)."""
    import matplotlib.pyplot as plt

    columns = list(columns or next(iter(rows.values())).keys())
    allrows = dict(rows) | {f"paper {k}": v for k, v in (paper or {}).items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(columns) * max(1, len(allrows)) / 3), 3.2))
    w = 0.8 / max(1, len(allrows))
    for i, (name, r) in enumerate(allrows.items()):
        x = np.arange(len(columns)) + (i - (len(allrows) - 1) / 2) * w
        ax.bar(x, [float(r.get(c, np.nan)) for c in columns], w, label=name,
               hatch="//" if name.startswith("paper ") else None, alpha=0.85)
    ax.set_xticks(np.arange(len(columns)))
    ax.set_xticklabels(columns, fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    return ax


def fit_losses(terms: dict[str, np.ndarray], ax=None):
    """The fitting's loss terms per step (``FitResult.loss_terms``: data, prior, shape, orientation, smooth),
    log scale; the stage-1 terms (shape, orientation) stop where the per-frame stage starts."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(10, 3))[1]
    for name, v in terms.items():
        ok = np.isfinite(v) & (v > 0)
        if ok.any():
            ax.plot(np.nonzero(ok)[0], v[ok], label=name, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend(fontsize=8, ncol=5)
    return ax
