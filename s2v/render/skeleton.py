"""Colourised skeleton images, the GAN's input label maps (paper section 3.5, figure 7).

Limbs are drawn in one colour each (OpenPose-like), fingers in a colour per finger, the face in
**white**, and a **filled circle of a colour reserved for each hand** on the palm. Those reserved
colours appear nowhere else, so :func:`part_boxes` can find the face and both hands in a label image
by colour alone — the paper's part attention: "we locate regions of face and both hands by their
special colors in the input image".

Drawing is done by OpenCV, one ``cv2.polylines`` call per colour over all its segments (no
anti-aliasing, so colours stay exact). Input is the OpenPose layout of :mod:`s2v.keypoints`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from s2v.body.joints import FACE68_GROUPS
from s2v.keypoints import BODY25_LIMBS, SLICES

# All palette values below use components from {0, 85, 170, 255}; the reserved part colours use 128,
# so they can never be confused with a limb or finger (tests check the sets are disjoint).
LIMB_COLORS = np.array([
    [255, 0, 85], [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0],
    [0, 255, 0], [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255],
    [170, 0, 255], [255, 0, 255], [85, 0, 255], [255, 0, 170], [170, 0, 170], [0, 85, 170],
    [0, 170, 170], [170, 85, 0], [170, 170, 0], [85, 170, 0]], np.uint8)
FINGER_COLORS = np.array([[255, 85, 85], [255, 255, 85], [85, 255, 85], [85, 255, 255], [85, 85, 255]], np.uint8)
FACE_COLOR = np.array([255, 255, 255], np.uint8)
LEFT_HAND_COLOR = np.array([128, 255, 0], np.uint8)
RIGHT_HAND_COLOR = np.array([255, 128, 0], np.uint8)
PART_COLORS = {"face": FACE_COLOR, "left_hand": LEFT_HAND_COLOR, "right_hand": RIGHT_HAND_COLOR}
HAND_BOX_SCALE = 2.6   # hand box half-size in circle radii: covers the fingers
FACE_BOX_MARGIN = 0.3  # face box grows by this fraction of its size


@dataclass
class SkeletonStyle:
    """Drawing options; thickness and circle size scale with the image by default."""

    threshold: float = 0.3        # keypoints below this confidence are not drawn
    thickness: int | None = None  # limbs; default max(1, min(H, W) // 128)
    hand_circle: float = 0.55     # circle radius in palm lengths (wrist to middle knuckle, or the
                                  # hand's reach / 1.4 when larger), so the box of part_boxes covers it
    draw_feet: bool = True


def _chains(pts: np.ndarray, chains, thr: float) -> list[np.ndarray]:
    """Polylines through consecutive confident points of each index chain (fixed-point, shift 2)."""
    out = []
    for idx in chains:
        ok = pts[idx, 2] >= thr
        if ok.all():
            out.append(pts[idx, :2])
        elif ok.sum() >= 2:  # split the chain at undetected points
            run: list[int] = []
            for i, k in zip(idx, ok):
                if k:
                    run.append(i)
                else:
                    if len(run) >= 2:
                        out.append(pts[run, :2])
                    run = []
            if len(run) >= 2:
                out.append(pts[run, :2])
    return [np.round(c * 4).astype(np.int32) for c in out]


_FINGER_CHAINS = [np.array([0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f]) for f in range(5)]
_FACE_CHAINS = [np.array(list(range(a, b)) + ([a] if closed else [])) for a, b, closed in FACE68_GROUPS.values()]
_LIMB_A = np.array([a for a, _ in BODY25_LIMBS])
_LIMB_B = np.array([b for _, b in BODY25_LIMBS])


def draw_skeleton(image: np.ndarray, kp: np.ndarray, style: SkeletonStyle | None = None,
                  scale=(1.0, 1.0)) -> np.ndarray:
    """Draw one frame's (137, 3) OpenPose keypoints onto ``image`` (H, W, 3) uint8, in place.

    Order: limbs, fingers, hand circles (on top, so a curled fist never hides its colour), face.
    """
    st = style or SkeletonStyle()
    H, W = image.shape[:2]
    t = st.thickness or max(1, min(H, W) // 128)
    pts = np.asarray(kp, np.float32) * np.array([scale[0], scale[1], 1.0], np.float32)
    body = pts[SLICES["body"]]
    nl = len(BODY25_LIMBS) if st.draw_feet else 18
    ok = (body[_LIMB_A[:nl], 2] >= st.threshold) & (body[_LIMB_B[:nl], 2] >= st.threshold)
    fa = np.round(body[_LIMB_A[:nl], :2] * 4).astype(np.int32)
    fb = np.round(body[_LIMB_B[:nl], :2] * 4).astype(np.int32)
    for li in np.nonzero(ok)[0]:
        cv2.line(image, (int(fa[li, 0]), int(fa[li, 1])), (int(fb[li, 0]), int(fb[li, 1])),
                 _LIMB_TUPLES[li], t, cv2.LINE_8, 2)
    ft = max(1, (t + 1) // 2)
    for side, color in (("left_hand", LEFT_HAND_COLOR), ("right_hand", RIGHT_HAND_COLOR)):
        hand = pts[SLICES[side]]
        for f, idx in enumerate(_FINGER_CHAINS):
            segs = _chains(hand, [idx], st.threshold)
            if segs:
                cv2.polylines(image, segs, False, _FINGER_TUPLES[f], ft, cv2.LINE_8, 2)
        palm = hand[[0, 5, 9, 13, 17]]
        if (palm[:, 2] >= st.threshold).all():
            c = palm[:, :2].mean(0)
            seen = hand[hand[:, 2] >= st.threshold, :2]
            reach = float(np.linalg.norm(seen - c, axis=1).max()) / 1.4  # a foreshortened palm stays covered
            r = max(2.0, st.hand_circle * max(float(np.linalg.norm(hand[9, :2] - hand[0, :2])), reach))
            cv2.circle(image, (int(round(c[0] * 4)), int(round(c[1] * 4))), int(round(r * 4)), color.tolist(),
                       -1, cv2.LINE_8, 2)
    face = pts[SLICES["face"]]
    segs = _chains(face, _FACE_CHAINS, st.threshold)
    if segs:
        cv2.polylines(image, segs, False, _FACE_TUPLE, max(1, t // 2), cv2.LINE_8, 2)
    for k in (68, 69):
        if face[k, 2] >= st.threshold:
            cv2.circle(image, (int(round(face[k, 0] * 4)), int(round(face[k, 1] * 4))), 4 * max(1, t // 2),
                       _FACE_TUPLE, -1, cv2.LINE_8, 2)
    return image


_LIMB_TUPLES = [tuple(int(v) for v in c) for c in LIMB_COLORS]
_FINGER_TUPLES = [tuple(int(v) for v in c) for c in FINGER_COLORS]
_FACE_TUPLE = tuple(int(v) for v in FACE_COLOR)


def render_skeleton(kp: np.ndarray, width: int, height: int, src_size: tuple[int, int] | None = None,
                    style: SkeletonStyle | None = None, background=(0, 0, 0)) -> np.ndarray:
    """A new (height, width, 3) label image of one frame; ``src_size`` = (w, h) of the keypoints' canvas."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = background
    sx, sy = (1.0, 1.0) if src_size is None else (width / src_size[0], height / src_size[1])
    return draw_skeleton(img, kp, style, (sx, sy))


def render_sequence(points: np.ndarray, width: int, height: int, src_size=None, style=None,
                    progress: bool = False) -> np.ndarray:
    """(T, 137, 3) keypoints -> (T, H, W, 3) uint8 label images."""
    from tqdm.auto import tqdm

    out = np.zeros((len(points), height, width, 3), np.uint8)
    for t in tqdm(range(len(points)), desc="skeleton", disable=not progress):
        sx, sy = (1.0, 1.0) if src_size is None else (width / src_size[0], height / src_size[1])
        draw_skeleton(out[t], points[t], style, (sx, sy))
    return out


def part_boxes(label: np.ndarray, min_pixels: int = 4) -> dict[str, tuple[int, int, int, int] | None]:
    """Square (x0, y0, x1, y1) boxes of the face and both hands located by their colours.

    ``label``: (H, W, 3) uint8 skeleton image. A part that is not drawn gives ``None``.
    """
    label = np.ascontiguousarray(label)
    H, W = label.shape[:2]
    out: dict[str, tuple[int, int, int, int] | None] = {}
    for name, color in PART_COLORS.items():
        mask = cv2.inRange(label, color, color)  # exact colour match, 255 where equal
        if cv2.countNonZero(mask) < min_pixels:
            out[name] = None
            continue
        x, y, w, h = cv2.boundingRect(mask)
        x0, x1, y0, y1 = x, x + w, y, y + h
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if name == "face":
            half = max(x1 - x0, y1 - y0) / 2 * (1 + FACE_BOX_MARGIN)
        else:
            half = max(x1 - x0, y1 - y0) / 2 * HAND_BOX_SCALE
        box = (int(np.floor(cx - half)), int(np.floor(cy - half)), int(np.ceil(cx + half)), int(np.ceil(cy + half)))
        out[name] = (max(0, box[0]), max(0, box[1]), min(W, box[2]), min(H, box[3]))
    return out
