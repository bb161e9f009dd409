"""Training the portrait renderer: one :class:`~s2v.portrait.network.RefWarpNet` per region, on one CPU in
minutes (the documented recipe: face and frame within 60 minutes on 2 cores), resumable.

Losses are computed at the network's resolution: L1 (``mouth_weight`` times more inside the mouth's box),
``1 - SSIM`` (structure: sharper than L1 alone, no pretrained VGG needed), and L1 on horizontal and vertical
image gradients (edges of lips, eyes and teeth). No discriminator: the reference supplies the texture and the
losses align it; measured sharpness is reported against the truth's (:mod:`s2v.portrait.evaluate`).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from s2v.gan.data import to_tensor
from s2v.portrait.data import PortraitConfig, RegionData, gather, training_references
from s2v.portrait.network import RefWarpNet, landmark_flow

PORTRAIT_FORMAT = 1


def encode_png(image: np.ndarray) -> torch.Tensor:
    """Lossless PNG bytes of an RGB image as a uint8 tensor (a 720p reference frame: ~1.3 MB, not 2.8)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("could not encode a reference frame")
    return torch.from_numpy(buf.reshape(-1).copy())


def decode_png(t: torch.Tensor) -> np.ndarray:
    import cv2

    img = cv2.imdecode(t.numpy(), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("a reference frame of the portrait model is damaged")
    return np.ascontiguousarray(img[..., ::-1])


def ssim_map(a: torch.Tensor, b: torch.Tensor, k: int = 7) -> torch.Tensor:
    """Per-pixel SSIM of two image batches in [-1, 1] (box window ``k``)."""
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    pool = lambda x: F.avg_pool2d(x, k, 1, k // 2, count_include_pad=False)  # noqa: E731
    ma, mb = pool(a), pool(b)
    va, vb, cov = pool(a * a) - ma ** 2, pool(b * b) - mb ** 2, pool(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))


def losses(out: torch.Tensor, real: torch.Tensor, weight: torch.Tensor, cfg: PortraitConfig) -> dict:
    l1 = ((out - real).abs() * weight).mean() / weight.mean()
    ssim = 1 - ssim_map(out, real).mean()
    gx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    gy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    grad = (gx(out) - gx(real)).abs().mean() + (gy(out) - gy(real)).abs().mean()
    total = l1 + cfg.lambda_ssim * ssim + cfg.lambda_grad * grad
    return {"total": total, "l1": l1, "ssim": ssim, "grad": grad}


def weight_maps(data: RegionData, idx: np.ndarray, cfg: PortraitConfig) -> torch.Tensor:
    h, w = data.images.shape[1:3]
    m = torch.ones(len(idx), 1, h, w)
    for j, i in enumerate(idx):
        x0, y0, x1, y1 = data.mouths[i]
        if x1 > x0 >= -w:
            m[j, :, max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = cfg.mouth_weight
    return m


class PortraitTrainer:
    def __init__(self, cfg: PortraitConfig, data: RegionData, out: str | Path, device: str | None = None):
        self.cfg, self.data, self.out = cfg, data, Path(out)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch.manual_seed(cfg.seed)
        self.net = RefWarpNet(cfg.net).to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
        self.refs = training_references(data, cfg)
        self.step, self.history = 0, []
        self.ckpt = self.out.with_suffix(".ckpt")
        if self.ckpt.exists():
            st = torch.load(self.ckpt, map_location=self.device, weights_only=True)
            if _identity(st.get("config") or {}) == _identity(_cfg_dict(cfg)):
                self.net.load_state_dict(st["net"])
                self.opt.load_state_dict(st["opt"])
                self.step = int(st["step"])
                self.history = list(st.get("history", []))

    def batch(self, rng: np.random.Generator):
        d = self.data
        idx = rng.integers(0, len(d.images), self.cfg.batch_size)
        ref = d.anchors[self.refs[idx]]
        dev = self.device
        base = pair_flow(d.points[idx], d.points[ref], d.images.shape[1:3], self.cfg).to(dev)
        return (to_tensor(d.labels[idx]).to(dev), to_tensor(d.labels[ref]).to(dev),
                to_tensor(d.images[ref]).to(dev),
                to_tensor(d.images[idx]).to(dev), weight_maps(d, idx, self.cfg).to(dev), base)

    def train(self, progress: bool = True) -> list[dict]:
        from tqdm.auto import tqdm

        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed + self.step)   # resumes draw on from where they stopped
        t0 = time.monotonic()
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"portrait {cfg.region}", disable=not progress)
        self.net.train()
        while self.step < cfg.steps:
            if cfg.max_minutes is not None and time.monotonic() - t0 > 60 * cfg.max_minutes:
                break
            tl, rl, ri, real, w, base = self.batch(rng)
            out = self.net(tl, rl, ri, base)[0]
            ls = losses(out, real, w, cfg)
            self.opt.zero_grad(set_to_none=True)
            ls["total"].backward()
            self.opt.step()
            self.step += 1
            rec = {k: float(v.detach()) for k, v in ls.items()}
            rec["step"] = self.step
            self.history.append(rec)
            bar.update(1)
            bar.set_postfix(l1=f"{rec['l1']:.3f}", ssim=f"{1 - rec['ssim']:.3f}")
            if self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
        bar.close()
        self.save_checkpoint()
        return self.history

    def save_checkpoint(self) -> None:
        from s2v.io import save_torch

        save_torch(self.ckpt, {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                               "config": _cfg_dict(self.cfg), "history": self.history})

    def export(self) -> Path:
        """``<out>``: the network, its config and its reference frames (everything synthesis needs)."""
        from s2v.io import save_torch

        d = self.data
        state = {"format": PORTRAIT_FORMAT, "config": _cfg_dict(self.cfg),
                 "net": self.net.state_dict() if self.step else None,
                 "anchor_labels": torch.from_numpy(d.labels[d.anchors]),
                 "anchor_images": torch.from_numpy(d.images[d.anchors]),
                 "anchor_feats": torch.from_numpy(d.feats[d.anchors]),
                 "anchor_points": torch.from_numpy(d.points[d.anchors]),
                 "anchor_full": [encode_png(a) for a in d.anchor_full], "look": encode_png(d.look),
                 "anchor_ids": torch.from_numpy(np.stack([d.run_id[d.anchors], d.frame[d.anchors]], 1)),
                 "anchor_group": torch.from_numpy(d.framing.group[d.run_id[d.anchors]]),
                 "framing": _framing_dict(d),
                 "side": d.side, "source_size": list(d.source_size), "fps": d.fps, "steps": self.step}
        return save_torch(self.out, state)


def _framing_dict(d: RegionData) -> dict:
    """The framing of the training clips, for the record (group, pan in source pixels, room difference)."""
    f = d.framing
    return {"group": f.group.tolist(), "pan": np.round(f.pan, 2).tolist(),
            "difference": [None if not np.isfinite(x) else round(float(x), 2) for x in f.difference]}


def pair_flow(target: np.ndarray, ref: np.ndarray, size: tuple[int, int], cfg: PortraitConfig,
              scale: float = 1.0) -> torch.Tensor:
    """The landmark flow (:func:`~s2v.portrait.network.landmark_flow`) between (B, 137, 3) target and
    reference keypoints in network pixels, for an image of ``size`` (H, W) that is ``scale`` times the
    network's (the full-resolution crop)."""
    t = torch.from_numpy(np.asarray(target, np.float32))
    r = torch.from_numpy(np.asarray(ref, np.float32))
    valid = (t[..., 2] > 0) & (r[..., 2] > 0)
    c = lambda p: (p[..., :2] + 0.5) * scale - 0.5  # noqa: E731  (pixel centres kept)
    t, r = c(t), c(r)
    if cfg.region == "frame":   # the room stays where it is: points along the border that do not move
        H, W = size
        k = np.linspace(0, 1, 9)
        border = torch.tensor(np.r_[np.c_[k * (W - 1), 0 * k], np.c_[k * (W - 1), 0 * k + H - 1],
                                    np.c_[0 * k, k * (H - 1)], np.c_[0 * k + W - 1, k * (H - 1)]], dtype=t.dtype)
        border = border[None].expand(len(t), -1, -1)
        t, r = torch.cat([t, border], 1), torch.cat([r, border], 1)
        valid = torch.cat([valid, torch.ones(len(valid), border.shape[1], dtype=torch.bool)], 1)
    return landmark_flow(t, r, valid, size, cfg.net.sigma * size[1])


#: settings that bound a training, not what it learns: a resume with another budget continues the checkpoint
_BUDGET = ("steps", "max_minutes", "checkpoint_every")


def _identity(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in _BUDGET}


def _cfg_dict(cfg: PortraitConfig) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict) -> PortraitConfig:
    return PortraitConfig(**d)


def train_region(runs, out: str | Path, cfg: PortraitConfig, side: float | None = None, progress: bool = True,
                 device: str | None = None, hold_out: float = 0.0) -> tuple[Path, list[dict]]:
    """Gather the region from ``runs`` (but their last ``hold_out`` fraction), train (resuming a checkpoint
    beside ``out``), export to ``out``."""
    data = gather(runs, cfg, side=side, progress=progress, hold_out=hold_out)
    tr = PortraitTrainer(cfg, data, out, device)
    hist = tr.train(progress)
    return tr.export(), hist
