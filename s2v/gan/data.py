"""Training data for the GAN: clips of (skeleton label image, real frame) pairs from run folders.

Label images are drawn on the fly from the run's SMPL-X parameters (fitted, or the studio's ground truth)
projected with its camera — no image cache of skeletons, any resolution. Real frames are decoded once per
run and resolution into a memory-mapped uint8 file (``gan/cache/frames_<W>x<H>.npy``), since seeking in an
H.264 stream for every random sample would dominate training time. Each sample is a clip of consecutive
frames (the sequential generator needs the previous ones); a run's last frames are held out for evaluation
(split by time, with a gap of one clip so no held-out frame was seen as a neighbour).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2v.camera import Camera
from s2v.gan.config import PARTS
from s2v.render.skeleton import part_boxes, render_skeleton
from s2v.run import Run



def frame_size(width: int, height: int, size: int, multiple: int = 32) -> tuple[int, int]:
    """Training (W, H) for a video: width ``size``, height the source's aspect ratio rounded *up* to a multiple
    of 32 (the generator's stride). Where that is not the exact aspect (16:9 at 256 wide: 256 x 160 for 144),
    :func:`source_crop` trims the sides of the source instead of squashing it."""
    if size % multiple:
        raise ValueError(f"size {size} must be a multiple of {multiple}")
    h = max(multiple, int(np.ceil(size * height / width / multiple - 1e-6)) * multiple)
    return size, h


def source_crop(w0: int, h0: int, W: int, H: int) -> tuple[float, float, float, float]:
    """(x0, y0, w, h) of the centred part of a ``w0 x h0`` source with the aspect ratio of ``W x H``: the part
    that becomes the training frame (the whole source when the aspects agree, as in the studio)."""
    if abs(w0 * H - h0 * W) <= max(W, H) * 1e-6 * w0:
        return 0.0, 0.0, float(w0), float(h0)
    if w0 / h0 > W / H:                       # source wider: trim left and right
        cw = h0 * W / H
        return (w0 - cw) / 2, 0.0, cw, float(h0)
    ch = w0 * H / W                           # source taller: trim top and bottom
    return 0.0, (h0 - ch) / 2, float(w0), ch


def run_keypoints(run: Run, W: int, H: int, backend: str = "auto", source: str = "auto") -> np.ndarray:
    """(T, 137, 3) keypoints of a run in training pixels: its SMPL-X parameters (``params`` if fitted, else the
    studio truth) projected by its camera, or (``source="keypoints"``) its detected 2D keypoints."""
    from s2v.keypoints import KeypointTrack, project_model

    if source == "keypoints":
        tr = KeypointTrack.load(run.require("keypoints"))
        pts, w0, h0 = tr.points.copy(), tr.width, tr.height
    else:
        from s2v.body import BodyModel
        from s2v.fitting.fit import run_poses

        from s2v.body.hands import load_hand_basis

        camera = Camera.load(run.require("camera"))
        params, _, name, seen = run_poses(run, source)
        basis = load_hand_basis(run.path(name))   # the speaker's own hand PCA, if the fit made one
        pts = project_model(BodyModel(backend=backend, device="cpu", hand_basis=basis), params, camera)
        pts[:, ~seen, 2] = 0.0  # draw only what the recording showed (no legs invented under a desk)
        w0, h0 = camera.width, camera.height
    return scale_points(pts, w0, h0, W, H)


def scale_points(pts: np.ndarray, w0: int, h0: int, W: int, H: int) -> np.ndarray:
    """Keypoints (..., 3) from a ``w0 x h0`` image to a ``W x H`` frame made of its :func:`source_crop` (pixel
    centres kept; one scale for x and y, so the aspect ratio is kept; confidence as is)."""
    x0, y0, cw, ch = source_crop(w0, h0, W, H)
    pts = np.array(pts, np.float32)
    pts[..., 0] = (pts[..., 0] - x0 + 0.5) * (W / cw) - 0.5
    pts[..., 1] = (pts[..., 1] - y0 + 0.5) * (H / ch) - 0.5
    return pts


def crop_frame(frame: np.ndarray, W: int, H: int) -> np.ndarray:
    """A source frame as the ``W x H`` training frame (the :func:`source_crop`, resized)."""
    import cv2

    h0, w0 = frame.shape[:2]
    if (w0, h0) == (W, H):
        return frame
    x0, y0, cw, ch = source_crop(w0, h0, W, H)
    a, b = int(round(x0)), int(round(y0))
    f = frame[b:b + int(round(ch)), a:a + int(round(cw))]
    return cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA)


def run_frames(run: Run, W: int, H: int, progress: bool = False) -> np.ndarray:
    """The run's video frames at (W, H), decoded once into ``gan/cache/frames_<W>x<H>.npy`` (memory-mapped).
    The cache is derived data: one that is damaged, of another shape or of another video is decoded again."""
    from tqdm.auto import tqdm

    from s2v.io import atomic_path
    from s2v.video import count_frames, iter_frames

    video = run.require("recording")
    cache = run.root / "gan" / "cache" / f"frames_{W}x{H}.npy"
    meta = cache.with_suffix(".json")
    stamp = {"video": str(video.name), "bytes": video.stat().st_size, "mtime": video.stat().st_mtime}
    try:
        if cache.exists() and meta.exists() and json.loads(meta.read_text()) == stamp:
            arr = np.load(cache, mmap_mode="r")
            if arr.ndim == 4 and arr.shape[1:] == (H, W, 3) and len(arr) and arr.dtype == np.uint8:
                return arr
    except (ValueError, OSError, UnicodeDecodeError):   # json.JSONDecodeError is a ValueError
        pass
    n = count_frames(video)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache, ".npy") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, H, W, 3))
        k = 0
        for k, f in enumerate(tqdm(iter_frames(video), total=n, desc=f"decode {run.name}", disable=not progress)):
            if k >= n:
                break
            arr[k] = crop_frame(f, W, H)
        arr.flush()
        del arr
    meta.write_text(json.dumps(stamp))
    return np.load(cache, mmap_mode="r")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.array(images, dtype=np.float32)).div_(127.5).sub_(1.0)
    return t.movedim(-1, -3)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """float (..., 3, H, W) in [-1, 1] -> uint8 (..., H, W, 3)."""
    return ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().movedim(-3, -1).cpu().numpy()


def boxes_of(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(3, 4) float boxes (x0, y0, x1, y1) of face, left hand, right hand found by colour, and (3,) validity."""
    found = part_boxes(label)
    boxes = np.zeros((len(PARTS), 4), np.float32)
    valid = np.zeros(len(PARTS), bool)
    for i, p in enumerate(PARTS):
        if found[p] is not None:
            boxes[i], valid[i] = found[p], True
    return boxes, valid


@dataclass
class _Source:
    name: str
    keypoints: np.ndarray   # (T, 137, 3) training pixels
    frames: np.ndarray      # (T, H, W, 3) uint8, memory-mapped


class ClipDataset(torch.utils.data.Dataset):
    """Clips of ``clip`` consecutive frames from runs: ``labels`` and ``frames`` (clip, 3, H, W) in [-1, 1],
    ``boxes`` (clip, 3, 4) and ``valid`` (clip, 3) of the face and hands found in each label image."""

    def __init__(self, runs, size: int = 256, clip: int = 5, part: str = "train", split: float = 0.85,
                 backend: str = "auto", source: str = "auto", hands: bool = True, progress: bool = False):
        if part not in ("train", "test", "all"):
            raise ValueError(f"part must be train, test or all, got {part!r}")
        self.clip, self.hands = clip, hands
        self.sources: list[_Source] = []
        self.index: list[tuple[int, int]] = []   # (source, first frame)
        self.size = None
        for run in runs:
            run = run if isinstance(run, Run) else Run(Path(run))
            cam = Camera.load(run.require("camera"))
            W, H = frame_size(cam.width, cam.height, size)
            if self.size not in (None, (W, H)):
                raise ValueError(f"run {run.name} has another aspect ratio ({W}x{H} vs {self.size})")
            self.size = (W, H)
            kp = run_keypoints(run, W, H, backend, source)
            fr = run_frames(run, W, H, progress)
            T = min(len(kp), len(fr))
            cut = int(T * split)
            lo, hi = {"train": (0, cut), "test": (min(T, cut + clip), T), "all": (0, T)}[part]
            s = len(self.sources)
            self.sources.append(_Source(run.name, kp[:T], fr))
            self.index += [(s, t) for t in range(lo, hi - clip + 1)]
        if not self.index:
            raise ValueError(f"no {part} clips of {clip} frames in {[getattr(r, 'name', r) for r in runs]}")

    def __len__(self) -> int:
        return len(self.index)

    def label(self, source: int, t: int) -> np.ndarray:
        from s2v.render.skeleton import SkeletonStyle

        W, H = self.size
        kp = self.sources[source].keypoints[t]
        if not self.hands:  # the GAN ablation without the hand skeleton (section 4.2)
            from s2v.keypoints import SLICES

            kp = kp.copy()
            kp[SLICES["left_hand"], 2] = 0
            kp[SLICES["right_hand"], 2] = 0
        return render_skeleton(kp, W, H, style=SkeletonStyle())

    def __getitem__(self, i: int) -> dict:
        s, t0 = self.index[i]
        labels = np.stack([self.label(s, t) for t in range(t0, t0 + self.clip)])
        frames = np.asarray(self.sources[s].frames[t0:t0 + self.clip])
        bv = [boxes_of(lab) for lab in labels]
        return {"labels": to_tensor(labels), "frames": to_tensor(frames),
                "boxes": torch.from_numpy(np.stack([b for b, _ in bv])),
                "valid": torch.from_numpy(np.stack([v for _, v in bv]))}
