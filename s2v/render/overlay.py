"""Overlays that let a user *see* a fit: the fitted body's skeleton drawn over the recording, with the
detected keypoints as dots (white: used by the fit; red: ignored — low confidence or outside the image).

The fit's numbers (residuals per part, failed frames) say how well it went; the overlay shows where it went
wrong (an arm in rest pose while the real one rests on a desk, hands below the frame). ``s2v fit --overlay``
and notebook 02 write it (:func:`s2v.fitting.fit.fit_overlay_video`: the fitting stage draws with these).
"""
from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from s2v.render.skeleton import draw_skeleton


def overlay_frame(frame: np.ndarray, fitted: np.ndarray, detected: np.ndarray | None = None,
                  used: np.ndarray | None = None, alpha: float = 0.75, failed: bool = False) -> np.ndarray:
    """One RGB frame with the fitted skeleton (137, 3) blended on it and the detections (137, 3) as dots
    (``used``: (137,) bool, the points the fit used). A failed frame gets a red border."""
    skel = np.zeros_like(frame)
    draw_skeleton(skel, fitted)
    m = skel.any(-1)
    out = frame.copy()
    out[m] = ((1 - alpha) * frame[m] + alpha * skel[m]).astype(np.uint8)
    r = max(1, round(min(frame.shape[:2]) / 256))
    if detected is not None:
        used = np.ones(len(detected), bool) if used is None else used
        for (x, y, c), u in zip(detected, used):
            if c > 0 and -1e4 < x < 1e4 and -1e4 < y < 1e4:
                cv2.circle(out, (int(round(x)), int(round(y))), r, (255, 255, 255) if u else (255, 40, 40), -1)
    if failed:
        cv2.rectangle(out, (0, 0), (out.shape[1] - 1, out.shape[0] - 1), (255, 0, 0), max(2, r * 2))
    return out


def overlay_frames(frames: Iterable[np.ndarray], fitted: np.ndarray, detected: np.ndarray | None = None,
                   used: np.ndarray | None = None, failed: np.ndarray | None = None) -> Iterator[np.ndarray]:
    for t, f in enumerate(frames):
        if t >= len(fitted):
            break
        yield overlay_frame(f, fitted[t], None if detected is None else detected[t],
                            None if used is None else used[t], failed=bool(failed[t]) if failed is not None else False)


def overlay_grid(fitted: np.ndarray, detected: np.ndarray, used: np.ndarray, index, size: tuple[int, int],
                 frames=None, failed: np.ndarray | None = None, cols: int = 4, width: int = 320) -> np.ndarray:
    """A grid of :func:`overlay_frame` images for the frames ``index``: over ``frames[i]`` when given, else
    over a grey canvas of ``size`` (W, H) (keypoint tracks without their video, such as a DWPose file).
    Each tile is ``width`` pixels wide."""
    tiles = []
    for i in index:
        base = np.asarray(frames[i]) if frames is not None else np.full((size[1], size[0], 3), 60, np.uint8)
        img = overlay_frame(base, fitted[i], detected[i], used[i],
                            failed=bool(failed[i]) if failed is not None else False)
        s = width / img.shape[1]
        tiles.append(cv2.resize(img, (width, int(round(img.shape[0] * s))), interpolation=cv2.INTER_AREA))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    return np.concatenate([np.concatenate(tiles[r:r + cols], 1) for r in range(0, len(tiles), cols)], 0)
