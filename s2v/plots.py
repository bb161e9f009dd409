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


def overlay_grid(frames: np.ndarray, points: np.ndarray, index, cols: int = 4, src_size=None) -> np.ndarray:
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
