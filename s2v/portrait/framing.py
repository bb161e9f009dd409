"""Camera positions of a speaker's clips: which clips show the same room, and where.

A speaker's clips are often cut from several takes: the camera pans a few pixels between two of them, or
frames the speaker anew (another zoom, another part of the room). The frame region pastes the speaker onto
the recording's own reference frames, so references from two framings in one output make the room jump.
This module groups the clips by framing and measures, within a group, the pan of each clip against the
group's first; :mod:`s2v.portrait.data` moves every frame of a group onto that first clip's room, and the
renderer draws one output from one group only.

A clip's **plate** is the per-pixel median of grey thumbnails of its frames; the speaker's own pixels are
left out of every comparison (the hull of the keypoints seen in any sampled frame, grown by a margin: a
person who sits elsewhere in the same room is no camera move). Two clips are one framing when the pan
measured by phase correlation (OpenCV's, sub-pixel) is within ``max_pan`` of the width and, once that pan
is undone, their rooms differ by at most ``tol`` grey levels (mean absolute difference after removing an
exposure offset). Measured on the real talking head of ``../shared/data`` (four clips of two takes): clips
of one take differ by 1-3 grey levels once aligned, the two takes by ~50; a 4-px pan at 1280 px wide shows
as 0.8 px on a 256-px plate, which phase correlation finds.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: plate width in pixels (a 1280-px frame: 5 source pixels per plate pixel)
PLATE_WIDTH = 256


@dataclass
class Framing:
    """``group[i]``: the framing of clip ``i`` (0 is the first clip's); ``pan[i]``: (dx, dy) in source pixels
    that moves clip ``i``'s room onto its group's first clip's (zero for that clip); ``difference[i]``: the
    aligned rooms' grey-level difference to that clip (NaN where the speaker hides the room)."""

    group: np.ndarray
    pan: np.ndarray
    difference: np.ndarray

    @classmethod
    def single(cls, clips: int) -> "Framing":
        return cls(np.zeros(clips, int), np.zeros((clips, 2), np.float32), np.zeros(clips, np.float32))


def thumbnail(frame: np.ndarray, width: int = PLATE_WIDTH) -> np.ndarray:
    """A grey float32 thumbnail ``width`` pixels wide of an RGB frame."""
    h, w = frame.shape[:2]
    g = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (width, max(1, int(round(h * width / w)))), interpolation=cv2.INTER_AREA).astype(np.float32)


def plate(thumbs: list[np.ndarray], points: list[np.ndarray], source_width: int,
          margin: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """(plate, room): the median of a clip's thumbnails and a bool mask of where the speaker never was
    (the convex hull of each sampled frame's seen keypoints, grown by ``margin`` of the width: hair, suit)."""
    med = np.median(np.stack(thumbs), 0).astype(np.float32)
    return med, ~person_mask(points, med.shape, source_width, margin)


def person_mask(points: list[np.ndarray], shape: tuple[int, int], source_width: int,
                margin: float = 0.06) -> np.ndarray:
    """(h, w) bool: where the speaker is in any of the (137, 3) source-pixel keypoint sets, on a thumbnail of
    ``shape``: the convex hull of the seen points grown by ``margin`` of the width."""
    h, w = shape
    s = w / source_width
    person = np.zeros((h, w), np.uint8)
    for p in points:
        q = np.asarray(p)[np.asarray(p)[:, 2] > 0, :2] * s
        if len(q) >= 3:
            cv2.fillConvexPoly(person, cv2.convexHull(np.round(q).astype(np.int32)), 1)
    k = max(1, int(round(margin * w)))
    return cv2.dilate(person, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0


def room_jumps(frames, points: np.ndarray, source_width: int) -> np.ndarray:
    """(T-1,) median absolute grey change of the room between consecutive frames (thumbnails, the speaker of
    both frames left out): near the recording's noise for a steady room, a spike where the room jumps."""
    out, prev = [], None
    for t, f in enumerate(frames):
        th = thumbnail(np.asarray(f))
        if prev is not None:
            room = ~person_mask([points[t - 1], points[t]], th.shape, source_width)
            out.append(float(np.median(np.abs(th - prev)[room])) if room.any() else 0.0)
        prev = th
    return np.array(out, np.float32)


def _shift(image: np.ndarray, dx: float, dy: float, mode: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (image.shape[1], image.shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=mode)


def room_difference(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                    max_pan: float = 0.05) -> tuple[float, np.ndarray]:
    """(difference, pan) of plate ``b`` against plate ``a`` (each (plate, room) from :func:`plate`): the pan
    (dx, dy) in plate pixels that moves ``b``'s room onto ``a``'s, and their mean absolute grey difference
    after it, an exposure offset removed (inf: a pan beyond ``max_pan`` of the width; NaN: no room seen in
    both)."""
    pa, ra = a
    pb, rb = b
    if min(ra.mean(), rb.mean()) < 0.05:
        return float("nan"), np.zeros(2, np.float32)
    win = cv2.createHanningWindow(pa.shape[::-1], cv2.CV_32F)
    fill = lambda p, r: np.where(r, p, np.median(p[r]) if r.any() else p.mean()).astype(np.float32)  # noqa: E731
    (dx, dy), _ = cv2.phaseCorrelate(fill(pa, ra), fill(pb, rb), win)
    pan = np.array([-dx, -dy], np.float32)          # phaseCorrelate gives b's shift from a; undo it
    if np.hypot(*pan) > max_pan * pa.shape[1]:
        return float("inf"), pan
    moved = _shift(pb, *pan)
    room = ra & (_shift(rb.astype(np.uint8), *pan, mode=cv2.BORDER_CONSTANT) > 0)
    h, w = pa.shape
    e = int(np.ceil(np.abs(pan).max())) + 1          # the replicated border says nothing
    room[:e], room[h - e:], room[:, :e], room[:, w - e:] = False, False, False, False
    if room.sum() < 0.05 * room.size:
        return float("nan"), pan
    d = moved[room] - pa[room]
    return float(np.abs(d - np.median(d)).mean()), pan


def group_framings(plates: list[tuple[np.ndarray, np.ndarray]], source_width: int, tol: float = 8.0,
                   max_pan: float = 0.05) -> Framing:
    """Group clips by framing (see the module's docstring): each clip joins the first earlier group whose
    first clip's room it matches within ``tol`` grey levels after a pan of at most ``max_pan`` of the width;
    a clip whose room the speaker hides (a close-up) joins the first group without a pan."""
    n = len(plates)
    fr = Framing.single(n)
    fr.difference[:] = np.nan
    heads: list[int] = []
    scale = source_width / plates[0][0].shape[1] if n else 1.0
    for i in range(n):
        for g, j in enumerate(heads):
            diff, pan = room_difference(plates[j], plates[i], max_pan)
            if np.isnan(diff):
                fr.group[i], fr.pan[i] = g, 0.0
                break
            if diff <= tol:
                fr.group[i], fr.pan[i], fr.difference[i] = g, pan * scale, diff
                break
        else:
            fr.group[i], fr.difference[i] = len(heads), 0.0
            heads.append(i)
    return fr


def pan_image(image: np.ndarray, pan) -> np.ndarray:
    """``image`` moved by ``pan`` (dx, dy) pixels, its border repeated (a room moved onto another clip's)."""
    if not np.any(pan):
        return image
    return _shift(image, float(pan[0]), float(pan[1]))


def keep_room(moved: np.ndarray, reference: np.ndarray, target_points: np.ndarray, ref_points: np.ndarray,
              margin: float = 0.08, feather: float = 0.03) -> np.ndarray:
    """The frame region's output with the room put back as recorded: the keypoint flow that moves the speaker
    also drags the room between the speaker and the pinned border (straight shelves bend), so outside the
    speaker of both the target and the reference (:func:`person_mask` of the two, grown by ``margin`` of
    the width: hair, suit) the reference is taken unmoved — the camera is static, so that is the room exactly
    — blended over ``feather`` of the width. Masks are made on a thumbnail and scaled up (smooth already)."""
    H, W = moved.shape[:2]
    w = PLATE_WIDTH
    h = max(1, int(round(H * w / W)))
    m = person_mask([target_points, ref_points], (h, w), W, margin).astype(np.float32)
    k = max(3, int(round(feather * w)) | 1)
    m = cv2.resize(cv2.GaussianBlur(m, (k, k), k / 3.0), (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    out = moved.astype(np.float32) * m + reference.astype(np.float32) * (1 - m)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
