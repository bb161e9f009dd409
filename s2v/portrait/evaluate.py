"""Held-out figures of a real speaker's face, at the source's resolution (issue 27's bar).

For a held-out recording the renderer is driven by that recording's own keypoints and compared frame by
frame with the truth:

* ``psnr_face`` / ``ssim_face`` — inside the pasted face ellipse, at the source's resolution (a 357 px box
  on the 720p talking head);
* ``sharpness_ratio`` — variance of the Laplacian of the face box, output over truth (blur lowers it);
* ``change_ratio`` — mean absolute change of the face box between consecutive frames, output over truth
  (flicker and swimming raise it; a frozen face lowers it);
* ``lip_corr`` — correlation over the sentence of the inner-lip opening found by the kit's detector
  (MediaPipe) in the output and in the truth: the mouth follows the speech;
* ``identity`` — median distance of dlib's face descriptors (the ResNet of ``face_recognition_models``)
  between output and truth frames; dlib's same-person threshold is 0.6, the issue's bar 0.30. Skipped
  (NaN) where dlib is not installed (``pip install dlib-bin face_recognition_models``);
* ``psnr`` — the whole frame;
* ``psnr_left_hand`` / ``psnr_right_hand`` — inside a hand's pasted mask, over the frames that show it
  (:func:`hand_psnr`; where the speaker's model has the hand).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from s2v.portrait.regions import face_boxes, lip_opening, cut_box


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (the usual focus measure)."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


class Identity:
    """dlib's face descriptor (128-D, ResNet) of the largest face in an image; None where dlib is missing."""

    def __init__(self):
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")   # its __init__ needs pkg_resources
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("face_recognition_models is not installed")
        models = Path(list(spec.submodule_search_locations)[0]) / "models"
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    @classmethod
    def available(cls) -> "Identity | None":
        try:
            return cls()
        except (ImportError, RuntimeError):
            return None

    def descriptor(self, image: np.ndarray) -> np.ndarray | None:
        img = np.ascontiguousarray(image)
        faces = self.detector(img, 0)
        if not faces:
            return None
        f = max(faces, key=lambda r: r.width() * r.height())
        return np.array(self.net.compute_face_descriptor(img, self.shape(img, f)))


def lip_track(frames: list[np.ndarray], fps: float) -> np.ndarray:
    """(T,) inner-lip opening (px) detected by the kit's detector (MediaPipe Holistic) in ``frames``."""
    from s2v.fitting.detect import detect_frames

    return lip_opening(detect_frames(frames, progress=False, fps=fps).points)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def masked_psnr(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
    err = ((a.astype(np.float64) - b) ** 2).mean(-1)
    return float(10 * np.log10(255.0 ** 2 / max((err * m).sum() / m.sum(), 1e-10)))


def masked_ssim(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
    from skimage.metrics import structural_similarity as ssim

    _, full = ssim(a, b, channel_axis=-1, data_range=255, full=True)
    return float((full.mean(-1) * m).sum() / m.sum())


def compare(output: list[np.ndarray], truth: list[np.ndarray], points: np.ndarray, side: float, fps: float,
            identity: Identity | None = None, lips: bool = True) -> dict:
    """The figures above for equally long lists of output and truth frames (RGB uint8, source size). Face
    figures are taken inside the ellipse the renderer pastes (:func:`~s2v.portrait.regions.face_mask` at
    0.5 and above: forehead to chin, cheek to cheek), never on the box's corners, where a face pasted into
    the recording would be compared with itself."""
    from skimage.metrics import peak_signal_noise_ratio as psnr

    from s2v.portrait.regions import face_mask

    if len(output) != len(truth) or not len(output):
        raise ValueError(f"{len(output)} output frames against {len(truth)} true ones")
    boxes = face_boxes(points[:len(truth)], side)
    fo = [cut_box(o, b) for o, b in zip(output, boxes)]
    ft = [cut_box(t, b) for t, b in zip(truth, boxes)]
    m = (face_mask(fo[0].shape[0]) >= 0.5).astype(np.float64)
    ys, xs = np.nonzero(m)
    inner = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))   # the ellipse's box, for sharpness
    out = {
        "frames": len(output),
        "psnr": float(np.mean([psnr(t, o, data_range=255) for o, t in zip(output, truth)])),
        "psnr_face": float(np.mean([masked_psnr(t, o, m) for o, t in zip(fo, ft)])),
        "ssim_face": float(np.mean([masked_ssim(t, o, m) for o, t in zip(fo, ft)])),
        "face_px": int(round(side)),
        "sharpness_ratio": float(np.mean([sharpness(o[inner]) for o in fo])
                                 / np.mean([sharpness(t[inner]) for t in ft])),
    }
    if len(fo) > 1:
        ch = lambda xs: np.mean([(np.abs(a.astype(np.float32) - b).mean(-1) * m).sum() / m.sum()  # noqa: E731
                                 for a, b in zip(xs[1:], xs[:-1])])
        out["change_ratio"] = float(ch(fo) / max(ch(ft), 1e-6))
    if lips:
        out["lip_corr"] = _corr(lip_track(output, fps), lip_track(truth, fps))
    if identity is not None:
        d = []
        for o, t in zip(output[::3], truth[::3]):
            a, b = identity.descriptor(o), identity.descriptor(t)
            if a is not None and b is not None:
                d.append(float(np.linalg.norm(a - b)))
        out["identity"] = float(np.median(d)) if d else float("nan")
        out["identity_frames"] = len(d)
    return out


def hand_psnr(output: list[np.ndarray], truth: list[np.ndarray], points: np.ndarray, hand: str,
              side: float) -> tuple[float, int]:
    """(PSNR, frames) inside the ``hand``'s pasted mask (:func:`~s2v.portrait.regions.hand_mask` at 0.5 and
    above, in its box of ``side`` source pixels) over the frames where the true keypoints show it: NaN, 0
    where none does."""
    from s2v.portrait.regions import hand_boxes, hand_mask, hand_seen

    pts = np.asarray(points)[:len(truth)]
    seen = hand_seen(pts, hand)
    if not seen.any():
        return float("nan"), 0
    boxes = hand_boxes(pts, side, hand)
    vals = []
    for t in np.flatnonzero(seen):
        a, b = cut_box(truth[t], boxes[t]), cut_box(output[t], boxes[t])
        vals.append(masked_psnr(a, b, (hand_mask(pts[t], boxes[t], hand) >= 0.5).astype(np.float64)))
    return float(np.mean(vals)), int(seen.sum())


def strip(output: list[np.ndarray], truth: list[np.ndarray], points: np.ndarray, side: float,
          picks: int = 4, height: int = 200) -> np.ndarray:
    """An RGB figure: rows of truth | output | difference x4 (face box), for ``picks`` frames spread over
    the sequence, each ``height`` px tall."""
    boxes = face_boxes(points[:len(truth)], side)
    rows = []
    for t in np.linspace(0, len(output) - 1, picks).round().astype(int):
        a, b = cut_box(truth[t], boxes[t]), cut_box(output[t], boxes[t])
        d = np.clip(np.abs(a.astype(np.int16) - b).astype(np.float32) * 4, 0, 255).astype(np.uint8)
        rows.append(np.concatenate([cv2.resize(x, (height, height), interpolation=cv2.INTER_AREA)
                                    for x in (a, b, d)], 1))
    return np.concatenate(rows, 0)
