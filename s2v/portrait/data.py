"""Training material for the portrait renderer, cut from run folders at the recording's own resolution.

Regions, each with its reference frames and, where trained, its own :class:`~s2v.portrait.network.RefWarpNet`:

* ``face`` — a square box around the face (:func:`s2v.portrait.regions.face_boxes`), at ``size`` pixels for
  the network (128 by default: lips and eyes exist) and at its source size for the output;
* ``frame`` — the whole frame, at ``size`` pixels wide for the network and the recording's size for the
  output: the body moves, the static background comes from the reference frames (real pixels of the room,
  never generated), of one framing per output (:mod:`s2v.portrait.framing`);
* ``left_hand`` / ``right_hand`` — a square box around a hand in view (:func:`s2v.portrait.regions.hand_boxes`),
  learnt only from the frames that show it.

**Reference frames** (``anchors``) are a few frames of the training recording chosen to cover its poses
(farthest-point sampling on the rigid face points, the hand's points, or the body points for ``frame``, per
framing); the synthesis picks
the nearest one for each frame (:func:`nearest_anchor`), keeping the current one unless another is clearly
nearer, so the reference does not flicker between two. A training target never gets a reference from within
``exclude_seconds`` of itself: it must learn to change a reference, not to copy its neighbour.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from s2v.keypoints import SLICES
from s2v.portrait.framing import Framing, group_framings, pan_image, plate, thumbnail
from s2v.portrait.look import apply_curves, face_curves, median_image
from s2v.portrait.network import RefWarpConfig
from s2v.portrait.regions import (HAND_PARTS, RIGID_FACE, Box, crop, cut_box, face_boxes, face_extent, hand_boxes,
                                  hand_extent, hand_seen)
from s2v.render.skeleton import SkeletonStyle, draw_skeleton

PORTRAIT_REGIONS = ("face", "frame", "left_hand", "right_hand")
#: side of the face crops the tone curves are fitted on
LOOK_SIZE = 96
#: body points (OpenPose BODY_25) that place the upper body: nose, neck, shoulders, elbows, wrists
_BODY_FEATURE = np.array([0, 1, 2, 3, 4, 5, 6, 7])


@dataclass
class PortraitConfig:
    region: str = "face"               # face | frame | left_hand | right_hand
    size: int = 128                    # network side (face) or width (frame); multiples of 2**levels
    box_scale: float = 1.5             # face box side in face widths (forehead to chin, ear to ear)
    anchors: int = 16                  # reference frames kept from the recording
    exclude_seconds: float = 0.5       # no reference this close in time to a training target
    switch_margin: float = 0.15        # a new reference must be this much nearer than the current one
    framing_tol: float = 8.0           # grey levels between the rooms of clips of one framing (s2v.portrait.framing)
    labels: str = "auto"               # fit (projected body model) | keypoints (detected 2D) | auto
    net: RefWarpConfig = field(default_factory=RefWarpConfig)
    steps: int = 5000
    max_minutes: float | None = 25.0   # the documented CPU recipe: both regions within 60 minutes
    batch_size: int = 4
    lr: float = 4e-4
    lambda_ssim: float = 1.0           # structure (1 - SSIM) beside L1: sharper than L1 alone
    lambda_grad: float = 1.0           # L1 on image gradients: edges of lips, eyes and teeth
    mouth_weight: float = 4.0          # extra L1 weight inside the mouth's box (the face is the product)
    checkpoint_every: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.net, dict):
            self.net = RefWarpConfig(**self.net)
        if self.region not in PORTRAIT_REGIONS:
            raise ValueError(f"region {self.region!r}: choose from {PORTRAIT_REGIONS}")
        if self.labels not in ("auto", "fit", "keypoints"):
            raise ValueError(f"labels {self.labels!r}: choose auto, fit or keypoints")
        m = 2 ** self.net.levels
        if self.size % m or self.size < 4 * m:
            raise ValueError(f"size {self.size} must be a multiple of {m} and at least {4 * m}")
        for k in ("lr", "batch_size", "anchors"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a positive number, not {v}")


def is_box(cfg: PortraitConfig) -> bool:
    """A region cut in square boxes (the face, a hand), not the whole frame."""
    return cfg.region != "frame"


def region_boxes(points: np.ndarray, cfg: PortraitConfig, side: float) -> list[Box] | list[None]:
    """The region's box per frame of (T, 137, 3) source-pixel keypoints (``None`` for the frame)."""
    if cfg.region == "face":
        return face_boxes(points, side)
    if cfg.region == "frame":
        return [None] * len(points)
    return hand_boxes(points, side, cfg.region)


def region_side(clips_points: list[np.ndarray], cfg: PortraitConfig) -> float:
    """The box side (source pixels) of a face or hand region: ``box_scale`` times the median face width or
    hand size over the clips."""
    if cfg.region in HAND_PARTS:
        shown = [p for p in clips_points if hand_seen(p, cfg.region).any()]
        return cfg.box_scale * float(np.median([hand_extent(p, cfg.region) for p in shown or clips_points[:1]]))
    return cfg.box_scale * float(np.median([face_extent(p) for p in clips_points]))


def net_shape(cfg: PortraitConfig, width: int, height: int) -> tuple[int, int]:
    """(w, h) of the network's input for a ``width`` x ``height`` recording."""
    if is_box(cfg):
        return cfg.size, cfg.size
    m = 2 ** cfg.net.levels
    return cfg.size, max(m, int(round(cfg.size * height / width / m)) * m)


def draw_label(points: np.ndarray, shape: tuple[int, int], to_net) -> np.ndarray:
    """The colourised sketch (:mod:`s2v.render.skeleton`) of one frame's (137, 3) source-pixel keypoints in
    network coordinates (``to_net`` maps (N, 2) source pixels)."""
    w, h = shape
    p = np.array(points, np.float32)
    p[:, :2] = to_net(p[:, :2])
    img = np.zeros((h, w, 3), np.uint8)
    return draw_skeleton(img, p, SkeletonStyle(thickness=max(1, min(w, h) // 160)))


def features(points: np.ndarray, cfg: PortraitConfig, boxes: list[Box] | None, width: int) -> np.ndarray:
    """(T, F) retrieval features: rigid face points in face-box fractions (``face``), the hand's 21 points
    in hand-box fractions (its shape: fist or open, which way it points), or upper-body points in frame
    widths (``frame``); unseen points as the sequence's mean."""
    pts = np.asarray(points, np.float64)
    if is_box(cfg):
        f = pts[:, SLICES["face"]][:, RIGID_FACE] if cfg.region == "face" else pts[:, SLICES[cfg.region]]
        xy = np.stack([b.to_crop(f[t, :, :2], 1) for t, b in enumerate(boxes)])
    else:
        f = pts[:, SLICES["body"]][:, _BODY_FEATURE]
        xy = f[..., :2] / width
    seen = f[..., 2] > 0
    mean = np.where(seen[..., None], xy, 0).sum(0) / np.maximum(seen.sum(0), 1)[:, None]
    xy = np.where(seen[..., None], xy, mean)
    return xy.reshape(len(xy), -1).astype(np.float32)


def choose_anchors(feat: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of ``k`` frames covering the poses: farthest-point sampling from the frame nearest the mean
    (deterministic; ``seed`` kept for a future random start)."""
    k = min(k, len(feat))
    chosen = [int(np.linalg.norm(feat - feat.mean(0), axis=1).argmin())]
    d = np.linalg.norm(feat - feat[chosen[0]], axis=1)
    while len(chosen) < k:
        i = int(d.argmax())
        chosen.append(i)
        d = np.minimum(d, np.linalg.norm(feat - feat[i], axis=1))
    return np.array(sorted(chosen))


def nearest_anchor(feat: np.ndarray, anchor_feat: np.ndarray, margin: float = 0.15,
                   allowed: np.ndarray | None = None) -> np.ndarray:
    """(T,) anchor index per frame: the nearest, but the previous frame's anchor is kept unless another is
    nearer by more than ``margin`` of its distance (hysteresis: no flicker between two). ``allowed`` (T, A)
    bool excludes anchors per frame."""
    d = np.linalg.norm(feat[:, None] - anchor_feat[None], axis=-1)
    if allowed is not None:
        d = np.where(allowed, d, np.inf)
    out = np.empty(len(feat), int)
    cur = -1
    for t in range(len(feat)):
        best = int(d[t].argmin())
        if cur < 0 or not np.isfinite(d[t, cur]) or d[t, best] < (1 - margin) * d[t, cur]:
            cur = best
        out[t] = cur
    return out


def to_net_fn(cfg: PortraitConfig, box: Box | None, width: int, height: int):
    """Source pixels -> network pixels for one frame."""
    w, h = net_shape(cfg, width, height)
    if is_box(cfg):
        return lambda xy: box.to_crop(xy, w)
    return lambda xy: (np.asarray(xy, np.float32) + 0.5) * np.array([w / width, h / height], np.float32) - 0.5


def net_image(frame: np.ndarray, cfg: PortraitConfig, box: Box | None) -> np.ndarray:
    w, h = net_shape(cfg, frame.shape[1], frame.shape[0])
    if is_box(cfg):
        return crop(frame, box, w)
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def full_image(frame: np.ndarray, cfg: PortraitConfig, box: Box | None) -> np.ndarray:
    """The region at the source's resolution (the face or hand box at its own side in pixels, or the frame)."""
    return cut_box(frame, box) if is_box(cfg) else frame


def mouth_box(label_points: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the mouth points (48-67 of face-70) in network pixels, grown by half its size."""
    m = label_points[48:68]
    if (m[:, 2] <= 0).any():
        return None
    x0, y0 = m[:, :2].min(0)
    x1, y1 = m[:, :2].max(0)
    gx, gy = (x1 - x0) / 2, (y1 - y0) / 2 + 2
    return int(x0 - gx), int(y0 - gy), int(np.ceil(x1 + gx)), int(np.ceil(y1 + gy))


@dataclass
class RegionData:
    """Everything training needs for one region, in memory: network-size images and sketches, retrieval
    features, run/frame ids, mouth boxes, and the anchors (indices into these arrays)."""

    images: np.ndarray        # (N, h, w, 3) uint8
    labels: np.ndarray        # (N, h, w, 3) uint8
    points: np.ndarray        # (N, 137, 3) keypoints in network pixels (confidence 0: unseen)
    feats: np.ndarray         # (N, F)
    run_id: np.ndarray        # (N,)
    frame: np.ndarray         # (N,)
    mouths: np.ndarray        # (N, 4) int, -1 where unseen
    anchors: np.ndarray       # (A,) indices
    anchor_full: list         # A images at the source resolution (face box side, or the frame)
    look: np.ndarray          # the canonical look: median face crop of the first run (:mod:`s2v.portrait.look`)
    side: float               # face box side in source pixels (frame: 0)
    source_size: tuple[int, int]
    fps: float
    framing: Framing          # per clip (the frame region's groups; one group for the others: s2v.portrait.framing)


def region_points(run, labels: str = "auto") -> tuple[np.ndarray, str, float, tuple[int, int]]:
    """(T, 137, 3) source-pixel keypoints of a run for the renderer's sketches, which source gave them
    (``fit``: the fitted body model projected, what synthesis has; ``keypoints``: the detections) and fps."""
    from s2v.camera import Camera
    from s2v.gan.data import run_keypoints

    cam = Camera.load(run.require("camera"))
    if labels == "auto":
        labels = "fit" if run.has("params") or run.has("truth_params") else "keypoints"
    src = "keypoints" if labels == "keypoints" else "auto"
    pts = run_keypoints(run, cam.width, cam.height, source=src)
    fps = _run_fps(run)
    return pts, labels, fps, (cam.width, cam.height)


def _run_fps(run) -> float:
    from s2v.video import probe_fps

    return float(probe_fps(run.require("recording")))


def held_out_start(frames: int, hold_out: float) -> int:
    """The first frame of a run's held-out tail (the last ``hold_out`` fraction; at least one frame trains)."""
    return max(1, int(frames * (1 - hold_out)))


def gather(runs, cfg: PortraitConfig, side: float | None = None, progress: bool = True,
           hold_out: float = 0.0) -> RegionData:
    """Cut the region out of every frame of ``runs`` (one speaker; :func:`gather_clips` on their recordings
    and keypoints), but the last ``hold_out`` fraction of each (kept for evaluation)."""
    from s2v.video import iter_frames

    if not 0.0 <= hold_out < 1.0:
        raise ValueError(f"hold_out {hold_out}: a fraction in [0, 1)")
    per_run = [region_points(r, cfg.labels) for r in runs]
    per_run = [(p[0][:held_out_start(len(p[0]), hold_out)], *p[1:]) for p in per_run]
    sizes = {p[3] for p in per_run}
    if len(sizes) > 1:
        raise ValueError(f"the runs have different frame sizes {sorted(sizes)}: one speaker, one frame size")
    clips = [(r.name, iter_frames(r.require("recording")), p[0]) for r, p in zip(runs, per_run)]
    return gather_clips(clips, per_run[0][3], per_run[0][2], cfg, side, progress,
                        frame_at=lambda i, t: _frame_at(runs[i], t))


def gather_clips(clips, size: tuple[int, int], fps: float, cfg: PortraitConfig, side: float | None = None,
                 progress: bool = True, frame_at=None) -> RegionData:
    """The region of every frame of ``clips``: (name, iterable of (H, W, 3) uint8 RGB frames, (T, 137, 3)
    source-pixel keypoints) of one speaker at ``size`` (W, H). ``frame_at(i, t)`` gives frame ``t`` of clip
    ``i`` again (the frame region's reference frames; default: frames kept from the first pass)."""
    from tqdm.auto import tqdm

    width, height = size
    if side is None:
        side = region_side([c[2] for c in clips], cfg)
    # every region fits its tone curves on face crops (s2v.portrait.look)
    look_side = side if cfg.region == "face" else PortraitConfig().box_scale * float(
        np.median([face_extent(c[2]) for c in clips]))
    images, labels, netpts, feats, rid, fid, mouths, keep_full, looks = [], [], [], [], [], [], [], [], []
    plates, look_id = [], []
    for i, (name, frames, pts) in enumerate(clips):
        fboxes = face_boxes(pts, look_side)
        boxes = region_boxes(pts, cfg, side)
        feats.append(features(pts, cfg, boxes, width))
        shown = hand_seen(pts, cfg.region) if cfg.region in HAND_PARTS else np.ones(len(pts), bool)
        every = max(1, len(pts) // 40)
        thumbs, kept = [], []
        for t, frame in enumerate(tqdm(frames, total=len(pts), desc=f"{cfg.region} crops {name}",
                                       disable=not progress)):
            if t >= len(pts):
                break
            frame = np.asarray(frame)
            if frame.shape[:2] != (height, width):
                raise ValueError(f"clip {name}: frame {t} is {frame.shape[1]}x{frame.shape[0]}, not {width}x{height}")
            looks.append(crop(frame, fboxes[t], LOOK_SIZE))
            look_id.append(i)
            if not shown[t]:   # a hand out of view teaches nothing
                continue
            kept.append(t)
            to_net = to_net_fn(cfg, boxes[t], width, height)
            images.append(net_image(frame, cfg, boxes[t]))
            labels.append(draw_label(pts[t], net_shape(cfg, width, height), to_net))
            lp = np.array(pts[t], np.float32)
            lp[:, :2] = to_net(lp[:, :2])
            netpts.append(lp)
            mb = mouth_box(lp[SLICES["face"]]) if cfg.region in ("face", "frame") else None
            mouths.append(mb if mb is not None else (-1, -1, -1, -1))
            if is_box(cfg):
                keep_full.append(full_image(frame, cfg, boxes[t]))
            elif frame_at is None:
                keep_full.append(frame)
            else:
                keep_full.append(None)
            if cfg.region == "frame" and t % every == 0:
                thumbs.append(thumbnail(frame))
            rid.append(i)
            fid.append(t)
        feats[-1] = feats[-1][kept]
        if thumbs:
            plates.append(plate(thumbs, [pts[t] for t in kept if t % every == 0], width))
    if not rid:
        raise ValueError("no frames to learn from")
    rid, fid, images, labels = np.array(rid), np.array(fid), np.stack(images), np.stack(labels)
    netpts, mouths = np.stack(netpts), np.array(mouths, int)
    framing = Framing.single(len(clips))
    if cfg.region == "frame" and len(plates) == len(clips) > 1:
        framing = group_framings(plates, width, cfg.framing_tol)
        _pan_clips(framing, clips, rid, images, labels, netpts, mouths, keep_full, feats, cfg, size)
    feats = np.concatenate(feats)
    # one look: every clip's tone curves onto the first clip's, from median face crops (s2v.portrait.look)
    faces, look_id = np.stack(looks), np.array(look_id)
    look = median_image(faces[look_id == 0])
    curves = [face_curves(faces[look_id == i], look) for i in range(len(clips))]
    for i in range(len(clips)):
        images[rid == i] = apply_curves(images[rid == i], curves[i])
    group = framing.group[rid]
    anchors = grouped_anchors(feats, group, cfg.anchors, cfg.seed)
    full = [keep_full[a] if keep_full[a] is not None
            else pan_image(frame_at(int(rid[a]), int(fid[a])), framing.pan[rid[a]]) for a in anchors]
    anchor_full = [apply_curves(f, curves[rid[a]]) for f, a in zip(full, anchors)]
    return RegionData(images, labels, netpts, feats, rid, fid, mouths, anchors, anchor_full, look, float(side),
                      (width, height), float(fps), framing)


def grouped_anchors(feat: np.ndarray, group: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``k`` reference frames shared among framings (``group`` per frame) in proportion to their frames, at
    least three each (or all of a group's frames): :func:`choose_anchors` within each."""
    ids = np.unique(group)
    if len(ids) == 1:
        return choose_anchors(feat, k, seed)
    out = []
    for g in ids:
        idx = np.flatnonzero(group == g)
        kg = min(len(idx), max(3, int(round(k * len(idx) / len(group)))))
        out.append(idx[choose_anchors(feat[idx], kg, seed)])
    return np.sort(np.concatenate(out))


def _pan_clips(framing: Framing, clips, rid, images, labels, netpts, mouths, keep_full, feats, cfg, size) -> None:
    """Move the frames of every panned clip onto its framing's first clip's room, in place: images, sketches,
    points, mouth boxes, kept full frames and retrieval features."""
    width, height = size
    w, h = net_shape(cfg, width, height)
    to_net = np.array([w / width, h / height], np.float32)
    for i, pan in enumerate(framing.pan):
        if not np.any(pan):
            continue
        sel = np.flatnonzero(rid == i)
        for j in sel:
            images[j] = pan_image(images[j], pan * to_net)
            seen = netpts[j, :, 2] > 0
            netpts[j, seen, :2] += pan * to_net
            labels[j] = draw_label(netpts[j], (w, h), lambda xy: np.asarray(xy, np.float32))
            mb = mouth_box(netpts[j][SLICES["face"]])
            mouths[j] = mb if mb is not None else (-1, -1, -1, -1)
            if keep_full[j] is not None:
                keep_full[j] = pan_image(keep_full[j], pan)
        moved = np.array(clips[i][2], np.float32)[:len(sel)]
        moved[..., :2] += pan
        feats[i] = features(moved, cfg, None, width)


def _frame_at(run, t: int) -> np.ndarray:
    from s2v.video import VideoFrames

    with VideoFrames(run.require("recording")) as v:
        return np.array(v[t])


def training_references(data: RegionData, cfg: PortraitConfig) -> np.ndarray:
    """(N,) anchor position per training frame, as synthesis would pick it, but never an anchor from the same
    run within ``exclude_seconds`` (and never the frame itself)."""
    gap = max(1, int(round(cfg.exclude_seconds * data.fps)))
    a = data.anchors
    near = np.abs(data.frame[:, None] - data.frame[a][None]) < gap
    allowed = ~((data.run_id[:, None] == data.run_id[a][None]) & near)
    group = data.framing.group        # the frame: a reference from the target's own room
    same = group[data.run_id][:, None] == group[data.run_id[a]][None]
    allowed &= same
    # a framing of one short take: its nearest-in-time reference if none is far enough (never itself)
    itself = (data.run_id[:, None] == data.run_id[a][None]) & (data.frame[:, None] == data.frame[a][None])
    lack = ~allowed.any(1)
    allowed[lack] = (same & ~itself)[lack]
    if not allowed.any(1).all():
        raise ValueError("too few reference frames far enough from every training frame: record longer, or "
                         "lower exclude_seconds")
    d = np.linalg.norm(data.feats[:, None] - data.feats[a][None], axis=-1)
    return np.where(allowed, d, np.inf).argmin(1)
