"""One look per speaker: the tone curves that bring clips of one sitting to the same exposure and grade.

Clips cut from one sitting are often graded or exposed differently: in the real talking head of
``../shared/data`` two sentences are ~35 grey levels darker on the face than the other two (the background
~18: the curve is not one gain). A reference frame from a bright clip pasted into a dark one is wrong by
that much whatever the network does, and training on such pairs teaches it to guess exposure from a sketch.

Clips of one sitting need not share a framing (those four do not: the camera was re-aimed between
sentences), but the *face crops* of :mod:`s2v.portrait.regions` are aligned by the face's own points, so
two clips' median face crops show the same face, hair and collar at the same pixels inside the face's
ellipse (:func:`face_curves`; the box's corners show whatever room the clip was filmed in).
:func:`face_curves` fits, per colour channel, a gain and offset taking the clip's median face onto the
canonical clip's (:func:`fit_gains`; :func:`fit_curves` fits a free monotone curve where two images agree
pixel for pixel), and :func:`apply_curves` maps a clip onto the canonical look.
The renderer works in that look; for a comparison with a held-out recording, that recording's own curve
(from its median face crop: one global tone curve, never a frame's content) maps the output back to it, and
the figures are reported both ways.
"""
from __future__ import annotations

import numpy as np


def median_image(images: np.ndarray) -> np.ndarray:
    """Per-pixel median of aligned images (N, H, W, 3) uint8."""
    return np.median(np.asarray(images), 0).astype(np.uint8)


def fit_curves(src: np.ndarray, dst: np.ndarray, mask: np.ndarray | None = None, min_count: int = 5) -> np.ndarray:
    """(3, 256) uint8 tone curves taking ``src``'s values to ``dst``'s (same scene, same size, uint8 RGB),
    over the pixels where ``mask`` is true (default: all): per value, the median of ``dst`` where ``src`` has
    it; values seen fewer than ``min_count`` times are interpolated, and each curve is made monotone."""
    if src.shape != dst.shape:
        raise ValueError(f"images of different sizes: {src.shape} and {dst.shape}")
    if mask is not None:
        src, dst = src[mask], dst[mask]
    curves = np.zeros((3, 256), np.float64)
    for c in range(3):
        s, d = src[..., c].ravel(), dst[..., c].ravel().astype(np.float64)
        order = np.argsort(s, kind="stable")
        s, d = s[order], d[order]
        bounds = np.searchsorted(s, np.arange(257))
        vals, keys = [], []
        for v in range(256):
            a, b = bounds[v], bounds[v + 1]
            if b - a >= min_count:
                keys.append(v)
                vals.append(np.median(d[a:b]))
        if len(keys) < 2:
            curves[c] = np.arange(256)
            continue
        curve = np.interp(np.arange(256), keys, vals)
        # beyond the seen range keep the slope of identity from the last seen value
        curve[:keys[0]] = vals[0] - (keys[0] - np.arange(keys[0]))
        curve[keys[-1] + 1:] = vals[-1] + (np.arange(keys[-1] + 1, 256) - keys[-1])
        curves[c] = np.maximum.accumulate(curve)
    return np.clip(np.round(curves), 0, 255).astype(np.uint8)


def identity_curves() -> np.ndarray:
    return np.tile(np.arange(256, dtype=np.uint8), (3, 1))


def apply_curves(image: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """``image`` (..., 3) uint8 through per-channel curves (3, 256)."""
    img = np.asarray(image)
    out = np.empty_like(img)
    for c in range(3):
        out[..., c] = curves[c][img[..., c]]
    return out


def invert_curves(curves: np.ndarray) -> np.ndarray:
    """The curves going back (nearest value of the monotone curve; flat stretches take their middle)."""
    out = np.zeros_like(curves)
    x = np.arange(256, dtype=np.float64)
    for c in range(3):
        f = curves[c].astype(np.float64) + x * 1e-6   # strictly increasing for interpolation
        out[c] = np.clip(np.round(np.interp(x, f, x)), 0, 255).astype(np.uint8)
    return out


def fit_gains(src: np.ndarray, dst: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(3, 256) uint8 curves of a per-channel gain and offset (least squares) taking ``src`` to ``dst``:
    the robust choice when the two images agree only roughly (a median face of two clips): a free curve
    fitted there is jagged (slopes 0 to 10 between neighbouring values on the real clips), which changes local
    contrast, hence measured sharpness, by 30 %; a gain changes it uniformly."""
    if mask is not None:
        src, dst = src[mask], dst[mask]
    x = np.arange(256, dtype=np.float64)
    out = np.zeros((3, 256), np.uint8)
    for c in range(3):
        s, d = src[..., c].ravel().astype(np.float64), dst[..., c].ravel().astype(np.float64)
        A = np.c_[s, np.ones_like(s)]
        gain, offset = np.linalg.lstsq(A, d, rcond=None)[0] if s.std() > 1e-6 else (1.0, d.mean() - s.mean())
        out[c] = np.clip(np.round(max(gain, 1e-3) * x + offset), 0, 255)
    return out


def face_curves(src_faces: np.ndarray, look: np.ndarray) -> np.ndarray:
    """Curves taking a clip's aligned face crops (N, S, S, 3) onto the speaker's ``look`` (S, S, 3, the first
    clip's median face crop): a gain and offset per channel (:func:`fit_gains`) fitted inside the face ellipse
    of the median crops."""
    from s2v.portrait.regions import face_mask

    return fit_gains(median_image(src_faces), look, face_mask(look.shape[0]) >= 0.5)
