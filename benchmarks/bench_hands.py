"""Hands of real people (issue 13): does the free model's hand space fit real fingers, and what would?

The real DWPose track of ``../shared/data`` (a real person talking, both hands visible, 336 frames) is fitted
three ways, all else equal (``FitConfig()``):

1. the free model's 12 hand PCA components (the paper's 106-number layout; the basis is the PCA of generated
   grasp/spread/opposition poses, ``s2v.body.free_build.hand_pose_samples``);
2. full 45-D finger rotations (what the official SMPL-X files allow with ``use_pca=False``);
3. 12 components of a PCA of *real* hands: the 45-D fit's hands of the first half of the track (per side,
   about the model's hand mean, as ``smplx`` adds it), tested on the second half (held-out frames);
4. the kit's ``fit --hands speaker`` (:func:`s2v.fitting.fit.fit_with_speaker_hands`): the same kind of basis,
   built from the whole recording, as a user's run does.

Reported: 2D hand residuals (median px, and as a share of the person's height) on the held-out half, and how
much of the 45-D fit's real finger motion each 12-component basis can express (share of the squared
offset from the hand mean, and mean error per finger joint in radians). Skips where ``../shared`` is absent.

python benchmarks/bench_hands.py [--steps 250]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.fitting.fit import FitConfig, fit_sequence
from s2v.keypoints import KeypointTrack
from s2v.params import ParamLayout

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints_halfbody" / "echomimic_pose01.npz"
SIDES = ("left", "right")


def expressed(h: np.ndarray, C: np.ndarray) -> tuple[float, float]:
    """(share of sum |h|^2 inside the row space of C, mean per-joint error in rad) for hands ``h`` (N, 45)
    given relative to the model's hand mean and an orthonormal basis ``C`` (k, 45)."""
    back = h @ C.T @ C
    share = 1.0 - float(((h - back) ** 2).sum() / max((h ** 2).sum(), 1e-12))
    return share, float(np.linalg.norm((h - back).reshape(len(h), 15, 3), axis=-1).mean())


def real_basis(h: np.ndarray, k: int = 12) -> np.ndarray:
    """The top ``k`` right singular vectors of real hands ``h`` (N, 45) about the model's hand mean."""
    return np.linalg.svd(h, full_matrices=False)[2][:k].astype(np.float32)


def hand_px(res, frames) -> tuple[float, float]:
    parts = res.parts_px[frames]
    return float(np.nanmedian(parts[:, 1])), float(np.nanmedian(parts[:, 2]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=None, help="default: FitConfig's")
    a = ap.parse_args()
    if not SHARED.exists():
        print(f"skipped: {SHARED} absent")
        return
    torch.manual_seed(0)
    track = KeypointTrack.from_dwpose_npz(SHARED)
    cam = Camera.default_for(track.width, track.height)
    cfg = FitConfig(**({"steps": a.steps} if a.steps else {}))
    T = len(track)
    half = T // 2
    test = np.arange(half, T)

    fits, secs = {}, {}
    m12 = BodyModel(backend="free", device="cpu")
    m45 = BodyModel(backend="free", device="cpu", layout=ParamLayout(num_hand_comps=45))
    for name, m in (("free PCA 12", m12), ("full 45-D", m45)):
        t = time.perf_counter()
        fits[name] = fit_sequence(track, cam, m, cfg, progress=False)
        secs[name] = time.perf_counter() - t
    p45 = fits["full 45-D"].params
    hands = {s: np.asarray(getattr(p45, f"{s}_hand_pose"), np.float32) for s in SIDES}
    C_free = {s: m12.hand_components(s).cpu().numpy() for s in SIDES}
    C_real = {s: real_basis(hands[s][:half]) for s in SIDES}

    print(f"real DWPose track: {T} frames, {track.width}x{track.height}; bases built on frames 0-{half - 1}, "
          f"tested on {half}-{T - 1}\n")
    print("| 12-component basis | share of real finger pose expressed (held-out) | error per finger joint |")
    print("|---|---|---|")
    for name, C in (("free model (generated poses)", C_free), ("PCA of real hands (first half)", C_real)):
        sh = [expressed(hands[s][half:], C[s]) for s in SIDES]
        print(f"| {name} | {np.mean([x[0] for x in sh]):.1%} (left {sh[0][0]:.1%}, right {sh[1][0]:.1%}) | "
              f"{np.mean([x[1] for x in sh]):.3f} rad |")
    k90 = []
    for s in SIDES:
        sv = np.linalg.svd(hands[s][:half], compute_uv=False) ** 2
        k90.append(int(np.searchsorted(np.cumsum(sv) / sv.sum(), 0.9) + 1))
    print(f"\ncomponents a real-hand PCA needs for 90 % of its own (training) half: left {k90[0]}, right {k90[1]}")

    # the held-out half refitted with the real basis
    m_real = BodyModel(backend="free", device="cpu", hand_basis=C_real)
    sub = KeypointTrack(track.points[half:], track.width, track.height, track.fps)
    t = time.perf_counter()
    fits["real PCA 12"] = fit_sequence(sub, cam, m_real, cfg, progress=False)
    secs["real PCA 12"] = time.perf_counter() - t
    # the kit's path: `s2v fit --hands speaker` (the speaker's basis from a first 45-D fit of the whole recording)
    from s2v.fitting.fit import fit_with_speaker_hands

    t = time.perf_counter()
    fits["speaker basis (fit --hands speaker)"], info = fit_with_speaker_hands(track, cam, "free", cfg, progress=False)
    secs["speaker basis (fit --hands speaker)"] = time.perf_counter() - t
    print(f"\nfit --hands speaker: the speaker's 12 components hold {info['hand_basis_share']} of the 45-D fingers")
    person = fits["free PCA 12"].person_px
    print(f"\nheld-out half ({T - half} frames), person {person:.0f} px: 2D hand residuals (median px)\n")
    print("| hands | left | right | left / right % of person | failed | fit s |")
    print("|---|---|---|---|---|---|")
    for name, res in fits.items():
        lh, rh = hand_px(res, np.arange(T - half) if name == "real PCA 12" else test)
        print(f"| {name} | {lh:.2f} | {rh:.2f} | {100 * lh / person:.2f} / {100 * rh / person:.2f} | "
              f"{int(res.failed.sum())} | {secs[name]:.0f} |")


if __name__ == "__main__":
    main()
