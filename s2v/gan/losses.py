"""GAN losses that need no downloaded weights: adversarial (LSGAN or hinge), feature matching, L1.

All take an optional per-sample ``weight`` (B,) so that part losses can skip samples where the part is not
visible while every parameter still takes part in the graph (data-parallel training needs that).
"""
from __future__ import annotations

import torch


def _reduce(per_sample: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_sample.mean()
    w = weight.to(per_sample.dtype)
    return (per_sample * w).sum() / w.sum().clamp(min=1.0)


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(1)


def adversarial(outputs: list[list[torch.Tensor]], real: bool, mode: str = "lsgan", discriminator: bool = True,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Adversarial loss over the scales of a (multi-scale) discriminator's outputs (last feature = logits).
    LSGAN (pix2pixHD, vid2vid): (D - 1)^2 / D^2. Hinge: relu(1 -+ D) for D, -D for G."""
    total = 0.0
    for feats in outputs:
        x = feats[-1].float()
        if mode == "lsgan":
            ps = _per_sample((x - (1.0 if real else 0.0)) ** 2)
        elif mode == "hinge":
            if discriminator:
                ps = _per_sample(torch.relu(1.0 - x) if real else torch.relu(1.0 + x))
            else:
                ps = _per_sample(-x)
        else:
            raise ValueError(f"gan mode must be 'lsgan' or 'hinge', got {mode!r}")
        total = total + _reduce(ps, weight)
    return total / len(outputs)


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]],
                     weight: torch.Tensor | None = None) -> torch.Tensor:
    """pix2pixHD's discriminator feature matching: L1 between the intermediate features of fake and real
    (real detached), averaged over layers and scales."""
    total, n = 0.0, 0
    for ff, rf in zip(fake, real):
        for a, b in zip(ff[:-1], rf[:-1]):
            total = total + _reduce(_per_sample((a.float() - b.detach().float()).abs()), weight)
            n += 1
    return total / max(n, 1)


def l1(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    return _reduce(_per_sample((a.float() - b.float()).abs()), weight)
