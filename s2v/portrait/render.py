"""Frames at the recording's own resolution: the frame from the recording's reference frames, the face from
its own network, put together without a seam.

:class:`PortraitRenderer` takes a pose sequence as (T, 137, 3) source-pixel keypoints (a predicted pose
projected by the speaker's camera, or a held-out recording's own) and yields full-size RGB frames:

1. **frame** — the reference frame of the recording whose upper body is nearest (hysteresis: it changes only
   when another is clearly nearer), moved onto the pose by the keypoints (the landmark flow of
   :func:`s2v.portrait.network.landmark_flow`, with the image border pinned so the room stays put) and
   retouched by the ``frame`` network when one was trained (``steps > 0``). Either way the room behind the
   speaker is the recording's pixels: nothing of the background is invented, at any resolution.
2. **face** — the face box cut at the source's resolution: the keypoints' flow and the ``face`` network's
   correction warp the reference face at full resolution; what the reference cannot show is added by the
   network's residual (:func:`s2v.portrait.network.compose`).
3. the face is pasted with a feathered ellipse (:func:`s2v.portrait.regions.face_mask`) whose edge lies on
   the cheeks and forehead, where frame and face show the same skin.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from s2v.portrait.data import (PortraitConfig, draw_label, features, nearest_anchor, net_shape, region_boxes,
                               to_net_fn)
from s2v.gan.data import to_tensor, to_uint8
from s2v.gan.networks import warp
from s2v.portrait.framing import keep_room
from s2v.portrait.network import RefWarpNet, compose
from s2v.portrait.regions import HAND_PARTS, face_boxes, face_mask, hand_mask, hand_seen, paste
from s2v.portrait.train import PORTRAIT_FORMAT, decode_png, encode_png, pair_flow  # noqa: F401  (re-exported)


@dataclass
class Region:
    cfg: PortraitConfig
    net: RefWarpNet | None
    anchor_labels: np.ndarray
    anchor_images: np.ndarray
    anchor_feats: np.ndarray
    anchor_points: np.ndarray
    anchor_full: list
    look: np.ndarray
    side: float
    source_size: tuple[int, int]
    anchor_group: np.ndarray | None = None   # the framing of each reference frame (s2v.portrait.framing)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "Region":
        st = torch.load(path, map_location="cpu", weights_only=True)
        if st.get("format") != PORTRAIT_FORMAT:
            raise ValueError(f"{path}: portrait model format {st.get('format')}, this kit reads {PORTRAIT_FORMAT}; "
                             "train it again with 'python -m s2v portrait train'")
        cfg = PortraitConfig(**st["config"])
        net = None
        if st["net"] is not None:
            net = RefWarpNet(cfg.net)
            net.load_state_dict(st["net"])
            net.to(device).eval()
        return cls(cfg, net, st["anchor_labels"].numpy(), st["anchor_images"].numpy(), st["anchor_feats"].numpy(),
                   st["anchor_points"].numpy(), [decode_png(a) for a in st["anchor_full"]], decode_png(st["look"]),
                   float(st["side"]), tuple(st["source_size"]),
                   st["anchor_group"].numpy() if "anchor_group" in st else None)

    def choose(self, points: np.ndarray, framing: int | None = None) -> np.ndarray:
        """(T,) reference per frame (nearest anchor with hysteresis). References of several framings (clips
        filmed from different camera positions): all from one, ``framing`` or else the one whose references
        are nearest on average (:meth:`framing_for`), so the room never jumps within an output."""
        feat = features(points, self.cfg, region_boxes(points, self.cfg, self.side), self.source_size[0])
        allowed = None
        if self.anchor_group is not None and len(np.unique(self.anchor_group)) > 1:
            g = self.framing_for(feat) if framing is None else framing
            if g not in set(self.anchor_group.tolist()):
                raise ValueError(f"framing {g}: this model has framings {sorted(set(self.anchor_group.tolist()))}")
            allowed = np.broadcast_to(self.anchor_group == g, (len(feat), len(self.anchor_group)))
        return nearest_anchor(feat, self.anchor_feats, self.cfg.switch_margin, allowed)

    def framing_for(self, feat: np.ndarray) -> int:
        """The framing whose references lie nearest the (T, F) features on average (the first on a tie)."""
        d = np.linalg.norm(feat[:, None] - self.anchor_feats[None], axis=-1)
        groups = np.unique(self.anchor_group)
        cost = [d[:, self.anchor_group == g].min(1).mean() for g in groups]
        return int(groups[int(np.argmin(cost))])

    @torch.no_grad()
    def apply(self, kp: np.ndarray, box, ref: int, use_net: bool = True) -> np.ndarray:
        """The region at the source's resolution for one frame's keypoints (uint8 RGB)."""
        full = self.anchor_full[ref]
        if not use_net or (self.net is None and self.cfg.region == "face"):
            return full
        W, H = self.source_size
        w, h = net_shape(self.cfg, W, H)
        to_net = to_net_fn(self.cfg, box, W, H)
        label = draw_label(kp, (w, h), to_net)
        pts = np.array(kp, np.float32)[None]
        pts[..., :2] = to_net(pts[..., :2])
        rp = self.anchor_points[ref][None]
        dev = next(self.net.parameters()).device if self.net is not None else torch.device("cpu")
        base_full = pair_flow(pts, rp, full.shape[:2], self.cfg, scale=full.shape[1] / w).to(dev)
        if self.net is None:   # reference frames (or hands) only: moved onto the pose by the keypoints
            out = to_uint8(warp(to_tensor(full[None]).to(dev), base_full)[0])
            if self.cfg.region == "frame":   # and the room beyond the speaker as recorded (no bent shelves)
                ref_src = rp[0].copy()
                ref_src[:, :2] = (ref_src[:, :2] + 0.5) * np.array([W / w, H / h], np.float32) - 0.5
                out = keep_room(out, full, np.asarray(kp), ref_src)
            return out
        base = pair_flow(pts, rp, (h, w), self.cfg).to(dev)
        corr, mask, gen = self.net.heads(to_tensor(label[None]).to(dev),
                                         to_tensor(self.anchor_labels[ref][None]).to(dev),
                                         to_tensor(self.anchor_images[ref][None]).to(dev), base)
        out = compose(corr, mask, gen, to_tensor(full[None]).to(dev), base_full)
        return to_uint8(out[0])


class PortraitRenderer:
    """Full-resolution frames from keypoints with a speaker's ``face`` region and, optionally, ``frame``."""

    def __init__(self, face: Region, frame: Region, feather: float = 0.12, hands: dict[str, Region] | None = None):
        hands = dict(hands or {})
        for r in (frame, *hands.values()):
            if r.source_size != face.source_size:
                raise ValueError(f"{r.cfg.region} and face regions of different recordings: {r.source_size} and "
                                 f"{face.source_size}")
        self.face, self.frame, self.hands = face, frame, hands
        self.size = face.source_size
        self.mask = face_mask(int(round(face.side)), feather)

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None, hands: bool = True) -> "PortraitRenderer":
        """The regions in ``folder``: ``face.pt``, ``frame.pt`` and, where trained, ``left_hand.pt`` and
        ``right_hand.pt`` (``hands=False``: the frame region's hands only)."""
        folder = Path(folder)
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        face = Region.load(folder / "face.pt", dev)
        found = {k: Region.load(folder / f"{k}.pt", dev) for k in HAND_PARTS if hands and (folder / f"{k}.pt").exists()}
        return cls(face, Region.load(folder / "frame.pt", dev), hands=found)

    def frames(self, points: np.ndarray, background=None, use_net: bool = True) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 frames for (T, 137, 3) source-pixel keypoints. ``background``: a per-frame
        iterable of full frames to paste the face on instead of the ``frame`` region (e.g. the recording
        itself, to judge the face alone); ``use_net=False`` pastes the retrieved reference face unchanged
        (the baseline the network must beat)."""
        points = np.asarray(points, np.float32)
        boxes = face_boxes(points, self.face.side)
        face_refs = self.face.choose(points)
        frame_refs = self.frame.choose(points)
        W, H = self.size
        hands = {}
        for k, r in self.hands.items():   # a hand is drawn where it is seen and its box centre is in the frame
            hb = region_boxes(points, r.cfg, r.side)
            inside = np.array([0 <= b.cx < W and 0 <= b.cy < H for b in hb])
            hands[k] = (hb, r.choose(points), hand_seen(points, k) & inside)
        bg = iter(background) if background is not None else None
        for t in range(len(points)):
            if bg is not None:
                base = np.asarray(next(bg))
            else:
                base = self.frame.apply(points[t], None, int(frame_refs[t]), use_net)
            patch = self.face.apply(points[t], boxes[t], int(face_refs[t]), use_net)
            out = paste(base, patch, boxes[t], self.mask)
            for k, (hb, refs, show) in hands.items():   # hands last: in front of the body and, rarely, the face
                if show[t]:
                    out = paste(out, self.hands[k].apply(points[t], hb[t], int(refs[t]), use_net), hb[t],
                                hand_mask(points[t], hb[t], k))
            yield out
