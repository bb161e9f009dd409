"""The portrait renderer's network: a reference frame of the speaker, warped and retouched.

For a few minutes of one person, the strongest prior for what the person looks like is the person: the
recording itself. Wav2Lip and MuseTalk generate the lower face conditioned on a *reference frame* of the same
video; Everybody Dance Now adds a face residual network on top of the body GAN; vid2vid warps the previous
frame by a predicted flow and hallucinates only what the warp cannot explain. :class:`RefWarpNet` combines
these for a pose-driven kit: given the target's sketch (the projected body model's face keypoints, what the
synthesis has), a reference frame retrieved from the training recording and that frame's own sketch, a U-Net
predicts

* a **flow** that moves the reference onto the target's pose (eyes, brows, jaw line),
* a **mask** of where the warped reference is right, and
* a **residual** for what the reference cannot show (the mouth of another phoneme, teeth, closing eyes).

The output is ``warp(reference, flow) + (1 - mask) * residual``. Flow, mask and residual are smooth, so they
are predicted at the network's resolution and *applied at the source's* (:func:`compose`): the warped
reference keeps the recording's sharpness everywhere, skin pores and all, and identity comes from real pixels
rather than from a few minutes of learning. (A first version blended a generated *image* instead of adding a
residual: at 128 px upsampled to a 357 px face it halved the face's measured sharpness; benchmarks/RESULTS.md.)

Written for this kit in PyTorch (no pretrained weights can be fetched here); instance normalisation is
avoided in the decoder so the colours of the reference pass through unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2v.gan.networks import warp


@dataclass(frozen=True)
class RefWarpConfig:
    ngf: int = 16            # filters of the first level; doubled per level up to max_channels
    levels: int = 4          # down-sampling steps: sizes must be multiples of 2**levels
    max_channels: int = 128  # ngf 16 / 128: 0.28 s a step of 4 at 128 px on 2 AVX2 cores (24 / 192: 0.56)
    label_nc: int = 3        # the colourised sketch (RGB)
    max_flow: float = 0.1    # largest correction of the landmark flow, in fractions of the side (tanh-bounded)

    sigma: float = 0.06      # landmark flow: Gaussian radius in fractions of the width (:func:`landmark_flow`)

    @property
    def in_channels(self) -> int:
        return 2 * self.label_nc + 3   # target sketch, reference sketch, reference image (landmark-warped)


def _block(ci: int, co: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ci, co, 3, stride, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(co, co, 3, 1, 1), nn.LeakyReLU(0.2, True))


class RefWarpNet(nn.Module):
    """``net(target_label, ref_label, ref_image) -> (image, flow, mask, residual)``, all (B, C, H, W) in the
    network's resolution; images in [-1, 1], flow in pixels of that resolution, mask in [0, 1], residual in
    [-2, 2]."""

    def __init__(self, cfg: RefWarpConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RefWarpConfig()
        chans = [min(cfg.max_channels, cfg.ngf * 2 ** i) for i in range(cfg.levels + 1)]
        self.stem = _block(cfg.in_channels, chans[0])
        self.down = nn.ModuleList(_block(chans[i], chans[i + 1], 2) for i in range(cfg.levels))
        self.up = nn.ModuleList(_block(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(cfg.levels)))
        self.head = nn.Conv2d(chans[0], 6, 3, 1, 1)   # flow (2), mask logit (1), image (3)
        nn.init.zeros_(self.head.weight)   # start as "the reference, unmoved": flow 0, residual 0 (mask 0.5)
        nn.init.zeros_(self.head.bias)

    def check_size(self, h: int, w: int) -> None:
        s = 2 ** self.cfg.levels
        if h % s or w % s:
            raise ValueError(f"portrait network input {w}x{h}: sides must be multiples of {s}")

    def heads(self, target_label, ref_label, ref_image, base_flow=None):
        """Flow correction (pixels), mask and residual at the network's resolution. ``base_flow``
        (B, 2, H, W): the landmark flow (:func:`landmark_flow`); the network sees the reference warped by it,
        and its correction applies after it (:func:`chain`)."""
        self.check_size(*target_label.shape[-2:])
        if base_flow is not None:
            ref_image = warp(ref_image, base_flow)
        x = torch.cat([target_label, ref_label, ref_image], 1)
        skips = [self.stem(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        y = skips.pop()
        for u in self.up:
            s = skips.pop()
            y = u(torch.cat([F.interpolate(y, size=s.shape[-2:], mode="nearest"), s], 1))
        h = self.head(y)
        H, W = h.shape[-2:]
        scale = h.new_tensor([W, H]).view(1, 2, 1, 1) * self.cfg.max_flow
        correction = torch.tanh(h[:, :2]) * scale
        mask = torch.sigmoid(h[:, 2:3])
        residual = 2 * torch.tanh(h[:, 3:6])
        return correction, mask, residual

    def forward(self, target_label, ref_label, ref_image, base_flow=None):
        correction, mask, residual = self.heads(target_label, ref_label, ref_image, base_flow)
        flow = chain(base_flow, correction)
        image = warp(ref_image, flow) + (1 - mask) * residual
        return image, flow, mask, residual


def chain(base: torch.Tensor | None, correction: torch.Tensor) -> torch.Tensor:
    """One backward flow for ``warp(warp(x, base), correction)``: ``correction + base`` sampled where the
    correction points."""
    return correction if base is None else correction + warp(base, correction)


def landmark_flow(target: torch.Tensor, ref: torch.Tensor, valid: torch.Tensor, size: tuple[int, int],
                  sigma: float) -> torch.Tensor:
    """(B, 2, H, W) backward flow that carries each reference keypoint onto its target position: at pixel x,
    ``sum_i w_i(x) (ref_i - target_i) / sum_i w_i(x)`` with Gaussian weights ``w_i = exp(-|x - target_i|^2 /
    2 sigma^2)`` over the ``valid`` points (Shepard interpolation; far from every point the nearest points
    rule, so the background moves with the contour next to it). ``target``/``ref`` (B, N, 2) pixels,
    ``valid`` (B, N) bool, ``size`` (H, W), ``sigma`` pixels. The classic landmark-driven warp of face
    reenactment: the head's pose and the lips' shape are carried exactly, so the network learns only what a
    warp cannot do."""
    H, W = size
    B = target.shape[0]
    ys = torch.arange(H, dtype=target.dtype, device=target.device)
    xs = torch.arange(W, dtype=target.dtype, device=target.device)
    out = target.new_zeros(B, 2, H, W)
    for b in range(B):
        v = valid[b]
        if v.sum() == 0:
            continue
        t, d = target[b, v], (ref[b, v] - target[b, v])
        gx = torch.exp(-(xs[None] - t[:, :1]) ** 2 / (2 * sigma ** 2))          # (N, W)
        gy = torch.exp(-(ys[None] - t[:, 1:2]) ** 2 / (2 * sigma ** 2))         # (N, H)
        # a floor keeps pixels far from every point on the mean displacement instead of 0/0; the sums over
        # points are (H, N) @ (N, W) matrix products (a three-operand einsum built an (N, H, W) intermediate:
        # 7x slower at 720p)
        floor = 1e-6
        wsum = gy.T @ gx + floor
        for c in range(2):
            out[b, c] = ((gy * d[:, c:c + 1]).T @ gx + floor * d[:, c].mean()) / wsum
    return out


def compose(correction: torch.Tensor, mask: torch.Tensor, residual: torch.Tensor, ref_full: torch.Tensor,
            base_full: torch.Tensor | None = None) -> torch.Tensor:
    """The output at the reference's own resolution: ``correction``/``mask``/``residual`` (B, C, h, w) from
    :meth:`RefWarpNet.heads` upsampled to ``ref_full``'s (B, 3, H, W) size (the flow rescaled to its pixels),
    chained after the landmark flow computed at that resolution (``base_full``: exact, not upsampled), the
    full-resolution reference warped (bicubic: the detail is the point) and the masked residual added, clamped
    to [-1, 1]. At equal sizes this is the network's own output (up to the interpolation)."""
    H, W = ref_full.shape[-2:]
    h, w = correction.shape[-2:]
    change = (1 - mask) * residual
    if (h, w) != (H, W):
        correction = F.interpolate(correction, size=(H, W), mode="bilinear", align_corners=False)
        correction = correction * correction.new_tensor([W / w, H / h]).view(1, 2, 1, 1)
        change = F.interpolate(change, size=(H, W), mode="bilinear", align_corners=False)
    out = warp(ref_full, chain(base_full, correction), mode="bicubic") + change
    return out.clamp(-1, 1)
