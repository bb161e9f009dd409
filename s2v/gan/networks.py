"""Networks of the skeleton-to-video GAN (paper section 3.5), written for this kit in PyTorch.

The paper "adopt[s] the vid2vid" network and adds part attention. Here:

* :class:`Generator` — vid2vid's *sequential* generator: frame t is made from the label images
  (colourised skeletons) of frames t-P..t and the P previously generated frames, each stream through its own
  pix2pixHD-style encoder (7x7 conv, strided convs), features summed, residual blocks, and an upsampling
  decoder to an RGB image in [-1, 1]. Optionally (``flow=True``) a second head predicts a flow field and a
  soft mask, and the output blends the previous frame warped by that flow with the hallucinated image, as
  vid2vid does; here the flow is learnt from the image losses alone (no pretrained FlowNet can be fetched).
  ``n_local`` adds pix2pixHD's coarse-to-fine local enhancers: the network above runs at half resolution and
  a full-resolution branch adds detail. ``shuffle=2`` with ``stem_kernel=3`` is the kit's CPU design (the shipped
  speaker): the frame goes through space-to-depth first and depth-to-space last (ESPCN's pixel shuffle), so every
  layer runs at half resolution, and the 7x7 stems, a third of pix2pixHD's work at full resolution, become 3x3 —
  ~44 frames/s at 256² on the 2-core CPU against 18 for the same widths as pix2pixHD builds them.
* :class:`PatchDiscriminator` / :class:`MultiscaleDiscriminator` — pix2pixHD's PatchGAN at several scales,
  returning every layer's features for the feature-matching loss.
* :func:`crop_boxes` — differentiable crop-and-resize of per-sample boxes (face, hands) with ``grid_sample``
  (torchvision's ``roi_align`` would do, but torchvision cannot be installed beside the CPU torch here).

Instance normalisation throughout (per-sample, so data-parallel training needs no synchronised statistics).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    ngf: int = 64             # pix2pixHD: 64 filters in the first layer
    n_downsample: int = 4     # pix2pixHD's global generator
    n_blocks: int = 9         # pix2pixHD: 9 residual blocks
    max_channels: int = 512
    n_prev: int = 2           # vid2vid (n_frames_G = 3): labels and generated frames of the 2 previous frames
    label_nc: int = 3         # the colourised skeleton (RGB)
    output_nc: int = 3
    flow: bool = False        # vid2vid's flow-warp head
    n_local: int = 0          # pix2pixHD coarse-to-fine local enhancers (each doubles the resolution)
    local_blocks: int = 3
    stem_kernel: int = 7      # pix2pixHD's 7x7 first and last convolutions; 3 is ~5x cheaper at full resolution
    shuffle: int = 1          # >1: space-to-depth by this factor first, depth-to-space at the end (ESPCN's pixel
                              # shuffle): the network runs at 1/shuffle the resolution on shuffle^2 x the channels

    @property
    def stride(self) -> int:
        """Height and width must be multiples of this."""
        return 2 ** (self.n_downsample + self.n_local) * self.shuffle


def _norm(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=False)


def _down(ci: int, co: int) -> list[nn.Module]:
    return [nn.Conv2d(ci, co, 3, 2, 1), _norm(co), nn.ReLU(True)]


def _up(ci: int, co: int) -> list[nn.Module]:
    # upsample + conv rather than a transposed conv: no checkerboard artefacts
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ci, co, 3, 1, 1), _norm(co), nn.ReLU(True)]


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _encoder(ci: int, ngf: int, n_down: int, cap: int, k: int = 7) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2), nn.Conv2d(ci, ngf, k), _norm(ngf), nn.ReLU(True)]
    c = ngf
    for _ in range(n_down):
        layers += _down(c, min(cap, c * 2))
        c = min(cap, c * 2)
    return nn.Sequential(*layers), c


def _decoder(c: int, ngf: int, n_up: int, cap: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for i in range(n_up):
        co = min(cap, ngf * 2 ** (n_up - i - 1))
        layers += _up(c, co)
        c = co
    return nn.Sequential(*layers), c


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``image`` (B, C, H, W) by ``flow`` (B, 2, H, W) in pixels (``mode``: bilinear, or
    bicubic where detail matters more than speed)."""
    B, _, H, W = image.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=image.device, dtype=image.dtype),
                            torch.arange(W, device=image.device, dtype=image.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / max(W - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(H - 1, 1)) - 1.0
    return F.grid_sample(image, torch.stack([gx, gy], -1), mode=mode, padding_mode="border", align_corners=True)


class _Core(nn.Module):
    """Label and previous-frame encoders, residual blocks, image (and flow) decoders at one resolution."""

    def __init__(self, cfg: GeneratorConfig, n_down: int, ngf: int):
        super().__init__()
        self.cfg = cfg
        s2, k = cfg.shuffle ** 2, cfg.stem_kernel
        self.label_enc, c = _encoder(cfg.label_nc * (cfg.n_prev + 1) * s2, ngf, n_down, cfg.max_channels, k)
        self.prev_enc, _ = (_encoder(cfg.output_nc * cfg.n_prev * s2, ngf, n_down, cfg.max_channels, k)
                            if cfg.n_prev else (None, c))
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(cfg.n_blocks)])
        self.decoder, self.out_channels = _decoder(c, ngf, n_down, cfg.max_channels)
        if cfg.flow:
            self.flow_decoder, _ = _decoder(c, ngf, n_down, cfg.max_channels)

    def forward(self, labels: torch.Tensor, prev: torch.Tensor | None):
        f = self.label_enc(labels)
        if self.prev_enc is not None:
            f = f + self.prev_enc(prev)
        f = self.blocks(f)
        return self.decoder(f), (self.flow_decoder(f) if self.cfg.flow else None)


class Generator(nn.Module):
    """``G(labels, prev) -> frame``: labels (B, (P+1)*3, H, W) of frames t-P..t (oldest first), prev
    (B, P*3, H, W) the generated frames t-P..t-1; output (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or GeneratorConfig()
        ngf_global = cfg.ngf * 2 ** cfg.n_local
        self.core = _Core(cfg, cfg.n_downsample, ngf_global)
        c = self.core.out_channels
        self.locals = nn.ModuleList()
        for i in range(cfg.n_local):  # pix2pixHD local enhancer: full-res stem + global features, blocks, up
            ngf = cfg.ngf * 2 ** (cfg.n_local - i - 1)
            s2, k = cfg.shuffle ** 2, cfg.stem_kernel
            stem_l, cl = _encoder(cfg.label_nc * (cfg.n_prev + 1) * s2, ngf, 1, cfg.max_channels, k)
            stem_p = (_encoder(cfg.output_nc * cfg.n_prev * s2, ngf, 1, cfg.max_channels, k)[0] if cfg.n_prev
                      else None)
            assert cl == c, (cl, c)
            up, c = _decoder(cl, ngf, 1, cfg.max_channels)
            self.locals.append(nn.ModuleDict({"stem_l": stem_l, "blocks": nn.Sequential(
                *[ResBlock(cl) for _ in range(cfg.local_blocks)]), "up": up, **({"stem_p": stem_p} if stem_p else {})}))
        k = cfg.stem_kernel
        self.to_rgb = nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(c, cfg.output_nc * cfg.shuffle ** 2, k),
                                    nn.PixelShuffle(cfg.shuffle) if cfg.shuffle > 1 else nn.Identity(), nn.Tanh())
        if cfg.flow:  # flow (2) and mask (1) at the core's resolution, upsampled with the local enhancers
            if cfg.shuffle > 1:
                raise ValueError("flow=True and shuffle > 1 are not combined")
            self.to_flow = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(self.core.out_channels, 3, 7))

    def check_size(self, h: int, w: int) -> None:
        s = self.cfg.stride
        if h % s or w % s:
            raise ValueError(f"image size {w}x{h}: height and width must be multiples of {s} "
                             f"(2^(n_downsample + n_local)); e.g. {w // s * s or s}x{h // s * s or s}")

    def forward(self, labels: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.cfg
        self.check_size(*labels.shape[-2:])
        if cfg.n_prev and prev is None:
            prev = labels.new_zeros(labels.shape[0], cfg.output_nc * cfg.n_prev, *labels.shape[-2:])
        if cfg.shuffle > 1:
            labels = F.pixel_unshuffle(labels, cfg.shuffle)
            prev = None if prev is None else F.pixel_unshuffle(prev, cfg.shuffle)
        pyramid = [(labels, prev)]
        for _ in range(cfg.n_local):
            lab, pr = pyramid[-1]
            pyramid.append((F.avg_pool2d(lab, 2), None if pr is None else F.avg_pool2d(pr, 2)))
        feat, flow_feat = self.core(*pyramid[-1])
        for i, local in enumerate(self.locals):
            lab, pr = pyramid[cfg.n_local - 1 - i]
            g = local["stem_l"](lab) + feat
            if "stem_p" in local:
                g = g + local["stem_p"](pr)
            feat = local["up"](local["blocks"](g))
        image = self.to_rgb(feat)
        if not cfg.flow:
            return image
        fm = self.to_flow(flow_feat)
        flow, mask = fm[:, :2] * 4.0, torch.sigmoid(fm[:, 2:3])
        if cfg.n_local:
            k = 2 ** cfg.n_local
            flow = F.interpolate(flow, scale_factor=k, mode="bilinear", align_corners=False) * k
            mask = F.interpolate(mask, scale_factor=k, mode="bilinear", align_corners=False)
        last = prev[:, -cfg.output_nc:]
        return mask * warp(last, flow) + (1 - mask) * image


# ---------------------------------------------------------------------------------------------- discriminators
class PatchDiscriminator(nn.Module):
    """pix2pixHD's n-layer PatchGAN; ``forward`` returns the list of every layer's output (last: logits)."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, max_channels: int = 512):
        super().__init__()
        seq = [[nn.Conv2d(input_nc, ndf, 4, 2, 2), nn.LeakyReLU(0.2, True)]]
        c = ndf
        for n in range(1, n_layers):
            co = min(c * 2, max_channels)
            seq.append([nn.Conv2d(c, co, 4, 2, 2), _norm(co), nn.LeakyReLU(0.2, True)])
            c = co
        co = min(c * 2, max_channels)
        seq.append([nn.Conv2d(c, co, 4, 1, 2), _norm(co), nn.LeakyReLU(0.2, True)])
        seq.append([nn.Conv2d(co, 1, 4, 1, 2)])
        self.layers = nn.ModuleList(nn.Sequential(*s) for s in seq)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class MultiscaleDiscriminator(nn.Module):
    """PatchGANs on the input at ``num_d`` scales (each half the previous); returns one feature list per scale."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, num_d: int = 2):
        super().__init__()
        self.ds = nn.ModuleList(PatchDiscriminator(input_nc, ndf, n_layers) for _ in range(num_d))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.ds):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(d(x))
        return out


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop (B, C, H, W) at ``boxes`` (B, 4) pixel (x0, y0, x1, y1) and resize each to ``size`` x ``size``
    (bilinear, differentiable). Degenerate boxes give a crop of the whole image (their loss is masked out)."""
    B, _, H, W = images.shape
    b = boxes.to(images.dtype)
    bad = (b[:, 2] - b[:, 0] < 1) | (b[:, 3] - b[:, 1] < 1)
    full = torch.tensor([0, 0, W, H], dtype=images.dtype, device=images.device)
    b = torch.where(bad[:, None], full, b)
    cx, cy = (b[:, 0] + b[:, 2]) / W - 1, (b[:, 1] + b[:, 3]) / H - 1   # centres in [-1, 1]
    sx, sy = (b[:, 2] - b[:, 0]) / W, (b[:, 3] - b[:, 1]) / H
    theta = torch.zeros(B, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, sy, cy
    grid = F.affine_grid(theta, (B, images.shape[1], size, size), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
