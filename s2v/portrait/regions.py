"""Where the portrait renderer looks: square face boxes that hold still, crops and feathered pastes.

A real speaker's face fills a few hundred pixels of a 720p frame. The kit's part-aware GAN (section 3.5)
sees it at the GAN's training width (40 px in a 128-wide frame); here the face is cut from the recording at
its **own resolution** and handled by a network of its own (:mod:`s2v.portrait.network`), then put back.

Boxes come from the projected body model's face keypoints (OpenPose face-70 order), the same points the
synthesis has for a predicted pose, so training and synthesis crop alike. The box centre follows the rigid
face points (brows, nose, eyes: the jaw moves with speech and must not move the box), and its side is one
number per speaker (the camera is fixed and the speaker's distance barely changes), so the crop does not
breathe with the mouth.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from s2v.keypoints import SLICES

#: Rigid face points of the OpenPose face-70 layout: brows 17-26, nose 27-35, eyes 36-47.
RIGID_FACE = np.arange(17, 48)
#: Inner-lip points (upper 61-63, lower 65-67) of the face-70 layout.
INNER_UPPER, INNER_LOWER = np.array([61, 62, 63]), np.array([65, 66, 67])


@dataclass(frozen=True)
class Box:
    """A square crop: centre (cx, cy) and side, in source pixels (floats)."""

    cx: float
    cy: float
    side: float

    def affine(self, out: int) -> np.ndarray:
        """2x3 matrix mapping source pixels to an ``out`` x ``out`` crop (pixel centres kept)."""
        s = out / self.side   # crop pixel u <- source x: u = s (x - cx) + (out - 1) / 2
        return np.array([[s, 0.0, (out - 1) / 2 - s * self.cx],
                         [0.0, s, (out - 1) / 2 - s * self.cy]], np.float64)

    def to_crop(self, xy: np.ndarray, out: int) -> np.ndarray:
        """Source pixel coordinates (..., 2) -> crop pixel coordinates."""
        A = self.affine(out)
        xy = np.asarray(xy, np.float64)
        return (xy @ A[:, :2].T + A[:, 2]).astype(np.float32)


def face_extent(points: np.ndarray) -> float:
    """Median face width (contour 0-16, px) over the frames where the contour was drawn."""
    face = np.asarray(points)[:, SLICES["face"]]
    ok = (face[:, :17, 2] > 0).all(1)
    if not ok.any():
        raise ValueError("no frame shows the face contour: the portrait renderer needs a visible face")
    return float(np.median(np.ptp(face[ok, :17, 0], axis=1)))


def face_boxes(points: np.ndarray, side: float, smooth: int = 5) -> list[Box]:
    """A :class:`Box` per frame of (T, 137, 3) keypoints: centre at the rigid face points, smoothed by a
    centred moving average of ``smooth`` frames (fitted poses are smooth already; this removes the last
    pixel of jitter) and rounded to whole pixels, side fixed (rounded to an odd number of pixels). Frames
    without a face take their nearest neighbour's centre."""
    face = np.asarray(points, np.float64)[:, SLICES["face"]]
    ok = (face[:, RIGID_FACE, 2] > 0).all(1)
    if not ok.any():
        raise ValueError("no frame shows the face: the portrait renderer needs a visible face")
    c = _fill_unseen(face[:, RIGID_FACE, :2].mean(1), ok)
    # the rigid points sit above the face's middle: move the centre down by a tenth of the side
    c[:, 1] += 0.1 * side
    if smooth > 1 and len(c) > 1:
        k = np.ones(smooth) / smooth
        pad = np.pad(c, ((smooth // 2, smooth - 1 - smooth // 2), (0, 0)), mode="edge")
        c = np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(2)], 1)
    return _whole_pixel_boxes(c, side)


def _fill_unseen(c: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(T, 2) centres with the frames not ``ok`` given their nearest ``ok`` neighbour's (in place)."""
    if ok.any() and not ok.all():
        idx = np.arange(len(c))
        good = idx[ok]
        c[~ok] = c[good[np.abs(good[None] - idx[~ok, None]).argmin(1)]]
    return c


def _whole_pixel_boxes(c: np.ndarray, side: float) -> list[Box]:
    """Boxes at whole-pixel centres with an odd side: cutting a box out of a frame and putting it back are plain
    copies at the source's resolution (every sub-pixel resampling softens the detail a face or hand is made of)."""
    n = max(3, int(round(side)) | 1)
    return [Box(float(round(x)), float(round(y)), float(n)) for x, y in c]


#: a hand is drawn where at least this many of its 21 points were seen
HAND_SEEN = 15
HAND_PARTS = ("left_hand", "right_hand")


def hand_seen(points: np.ndarray, hand: str) -> np.ndarray:
    """(T,) bool: the ``hand`` (``left_hand`` | ``right_hand``) shows in enough points to be cut and drawn."""
    return (np.asarray(points)[:, SLICES[hand], 2] > 0).sum(1) >= HAND_SEEN


def hand_extent(points: np.ndarray, hand: str) -> float:
    """Median hand size (px): the larger side of the seen points' bounding box, over frames showing it."""
    h = np.asarray(points, np.float64)[:, SLICES[hand]]
    ok = hand_seen(points, hand)
    if not ok.any():
        raise ValueError(f"no frame shows the {hand.replace('_', ' ')}")
    size = [max(np.ptp(x[x[:, 2] > 0, 0]), np.ptp(x[x[:, 2] > 0, 1])) for x in h[ok]]
    return float(np.median(size))


def hand_boxes(points: np.ndarray, side: float, hand: str) -> list[Box]:
    """A :class:`Box` per frame around the ``hand``'s seen points (their bounding box's centre, whole
    pixels, not smoothed: hands move fast), side fixed; frames without the hand take their nearest
    neighbour's centre (nothing is drawn there)."""
    h = np.asarray(points, np.float64)[:, SLICES[hand]]
    ok = hand_seen(points, hand)
    c = np.zeros((len(h), 2))
    for t in np.flatnonzero(ok):
        q = h[t, h[t, :, 2] > 0, :2]
        c[t] = (q.min(0) + q.max(0)) / 2
    return _whole_pixel_boxes(_fill_unseen(c, ok), side)


def crop(image: np.ndarray, box: Box, out: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """The ``out`` x ``out`` crop of ``image`` in ``box`` (edges replicated where the box leaves the image).
    Downscaling by more than 1.5x goes through an area resize of the integer crop, so no detail aliases."""
    if box.side > 1.5 * out and interpolation == cv2.INTER_AREA:
        n = int(round(box.side))
        big = cv2.warpAffine(image, Box(box.cx, box.cy, n).affine(n), (n, n), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        return cv2.resize(big, (out, out), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(image, box.affine(out), (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def cut_box(image: np.ndarray, box: Box) -> np.ndarray:
    """The box at the source's resolution (side rounded to whole pixels): a plain copy for the whole-pixel
    boxes of :func:`face_boxes`."""
    n = int(round(box.side))
    return cv2.warpAffine(image, Box(box.cx, box.cy, n).affine(n), (n, n), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def face_mask(size: int, feather: float = 0.12) -> np.ndarray:
    """(size, size) float32 blend weights for pasting a face crop back: 1 in an ellipse that covers the face
    (forehead to chin, ear to ear, as :func:`face_boxes` frames it), falling to 0 over ``feather`` of the side
    before the crop's edge, so no seam shows where the crop meets the frame."""
    m = np.zeros((size, size), np.float32)
    c = (size - 1) / 2
    axes = (int(round(size * (0.5 - feather) * 0.92)), int(round(size * (0.5 - feather))))
    cv2.ellipse(m, (int(round(c)), int(round(c))), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    k = max(3, int(round(size * feather)) | 1)
    return cv2.GaussianBlur(m, (k, k), k / 3.0)


def hand_mask(points: np.ndarray, box: Box, hand: str, grow: float = 0.12, feather: float = 0.12) -> np.ndarray:
    """(S, S) float32 blend weights for pasting a hand crop of ``box`` back: the convex hull of the hand's seen
    points grown by ``grow`` of the side (the fingers' width), feathered over ``feather`` of the side, so the
    arm and body around the hand stay the frame region's."""
    n = int(round(box.side))
    h = np.asarray(points)[SLICES[hand]]
    q = box.to_crop(h[h[:, 2] > 0, :2], n)
    m = np.zeros((n, n), np.uint8)
    if len(q) >= 3:
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(q).astype(np.int32)), 1)
    g = max(1, int(round(grow * n)))
    m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1))).astype(np.float32)
    k = max(3, int(round(feather * n)) | 1)
    return cv2.GaussianBlur(m, (k, k), k / 3.0)


def paste(frame: np.ndarray, patch: np.ndarray, box: Box, mask: np.ndarray) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with ``patch`` (S, S, 3) put back into ``box``, weighted by ``mask`` (S, S):
    an inverse affine warp of patch and mask, then a per-pixel blend (a copy; the input is untouched)."""
    H, W = frame.shape[:2]
    S = patch.shape[0]
    A = cv2.invertAffineTransform(box.affine(S))
    p = cv2.warpAffine(patch, A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    m = cv2.warpAffine(mask.astype(np.float32), A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    m = m[..., None]
    out = frame.astype(np.float32) * (1 - m) + p.astype(np.float32) * m
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def lip_opening(points: np.ndarray) -> np.ndarray:
    """(T,) inner-lip opening (px) of face-70 keypoints: mean lower minus mean upper inner-lip point."""
    f = np.asarray(points)[:, SLICES["face"]] if np.asarray(points).shape[1] == 137 else np.asarray(points)
    return np.linalg.norm(f[:, INNER_LOWER, :2].mean(1) - f[:, INNER_UPPER, :2].mean(1), axis=1)
