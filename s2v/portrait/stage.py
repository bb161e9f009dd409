"""The portrait stage on run folders: train a speaker's face and frame regions into ``portrait/`` of a run,
and judge them on a held-out recording (all its frames)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from s2v.portrait.data import PortraitConfig, held_out_start, region_points
from s2v.portrait.regions import HAND_PARTS, hand_seen
from s2v.portrait.train import train_region


def frame_config(face: PortraitConfig, **kw) -> PortraitConfig:
    """The frame region's settings beside a face config: the reference frames alone (``steps=0``) unless
    asked; 8 of them (a 720p frame is 1.3 MB in the model file)."""
    base = dict(region="frame", size=256, labels=face.labels, anchors=8, steps=0, seed=face.seed)
    base.update(kw)
    return PortraitConfig(**base)


def hand_config(face: PortraitConfig, hand: str, **kw) -> PortraitConfig:
    """A hand region's settings beside a face config: 64-px boxes 1.8 hands wide (the fingertips inside the
    pasted ellipse), 16 reference hands chosen by shape, no network unless asked (``steps=0``: the nearest
    reference hand moved onto the keypoints, at the source's resolution)."""
    base = dict(region=hand, size=64, box_scale=1.8, labels=face.labels, anchors=16, steps=0, seed=face.seed,
                net=face.net)
    base.update(kw)
    return PortraitConfig(**base)


def hands_in_view(runs, labels: str = "auto", hold_out: float = 0.0, min_fraction: float = 0.2) -> list[str]:
    """The hands (``left_hand``, ``right_hand``) seen in at least ``min_fraction`` of the training frames."""
    pts = [region_points(r, labels)[0] for r in runs]
    pts = np.concatenate([p[:held_out_start(len(p), hold_out)] for p in pts])
    return [h for h in HAND_PARTS if hand_seen(pts, h).mean() >= min_fraction]


def train_portrait(runs, out: str | Path, face: PortraitConfig | None = None, frame: PortraitConfig | None = None,
                   progress: bool = True, device: str | None = None, hold_out: float = 0.0,
                   hands: str | list = "auto") -> dict:
    """``out/face.pt``, ``out/frame.pt`` and a region per hand in view from the recordings of ``runs`` (one
    speaker), but the last ``hold_out`` fraction of each; resumes an interrupted training. ``hands``:
    ``auto`` (those seen in a fifth of the frames, :func:`hands_in_view`), ``none``, or a list of
    :func:`hand_config` configs. Returns minutes and the last losses per region."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    face = face or PortraitConfig()
    frame = frame or frame_config(face)
    if hands == "auto":
        hands = [hand_config(face, h) for h in hands_in_view(runs, face.labels, hold_out)]
    elif hands == "none":
        hands = []
    for h in HAND_PARTS:                          # a hand no longer in view: no stale region beside the new ones
        if h not in [c.region for c in hands]:
            (out / f"{h}.pt").unlink(missing_ok=True)
    report = {}
    for cfg in (face, frame, *hands):
        t0 = time.monotonic()
        _, hist = train_region(runs, out / f"{cfg.region}.pt", cfg, progress=progress, device=device,
                               hold_out=hold_out)
        report[cfg.region] = {"minutes": (time.monotonic() - t0) / 60, "steps": len(hist) and hist[-1]["step"],
                              "last": hist[-1] if hist else None}
    return report


def evaluate_heldout(folder: str | Path, run, labels: str | None = None, use_net: bool = True,
                     identity: bool = True, lips: bool = True, max_frames: int | None = None,
                     progress: bool = True, background: str = "frame", start: int = 0, hands: bool = True
                     ) -> tuple[dict, list, list, np.ndarray]:
    """Render every frame of the held-out ``run`` from its own keypoints with the portrait model in
    ``folder`` and compare with its recording. ``background="recording"`` pastes the face into the held-out
    recording itself (the face judged alone: a held-out clip filmed from another camera position shows a room
    no training frame shows); ``"frame"`` renders the frame region too. The renderer works in the speaker's
    look; figures are taken after the held-out clip's own tone curve (:mod:`s2v.portrait.look`, fitted on its
    median face crop), ``*_raw`` without it. ``start``: the first frame judged (a run trained with
    ``hold_out``: its held-out tail); ``hands=False``: without the hand regions (their baseline).
    Returns (figures, output frames, true frames, keypoints)."""
    from tqdm.auto import tqdm

    from s2v.portrait.data import LOOK_SIZE
    from s2v.portrait.evaluate import Identity, compare, hand_psnr
    from s2v.portrait.look import apply_curves, face_curves, invert_curves
    from s2v.portrait.regions import crop, face_boxes
    from s2v.portrait.render import PortraitRenderer
    from s2v.video import iter_frames

    if background not in ("frame", "recording"):
        raise ValueError(f"background {background!r}: frame or recording")
    r = PortraitRenderer.load(folder, hands=hands)
    pts, used, fps, size = region_points(run, labels or r.face.cfg.labels)
    if size != r.size:
        raise ValueError(f"run '{run.name}' is {size[0]}x{size[1]}, the portrait model {r.size[0]}x{r.size[1]}: "
                         "one camera per speaker")
    if not 0 <= start < len(pts):
        raise ValueError(f"start {start}: run '{run.name}' has {len(pts)} frames")
    pts = pts[start:]
    n = len(pts) if max_frames is None else min(len(pts), max_frames)
    frames = iter_frames(run.require("recording"))
    truth = [f for t, f in zip(range(start + n), frames) if t >= start]
    n = len(truth)
    pts = pts[:n]
    boxes = face_boxes(pts, r.face.side)
    to_look = face_curves(np.stack([crop(f, b, LOOK_SIZE) for f, b in zip(truth, boxes)]), r.face.look)
    bg = [apply_curves(f, to_look) for f in truth] if background == "recording" else None
    t0 = time.monotonic()
    output = list(tqdm(r.frames(pts, background=bg, use_net=use_net), total=n, desc="portrait",
                       disable=not progress))
    seconds = time.monotonic() - t0
    back = invert_curves(to_look)
    matched = [apply_curves(o, back) for o in output]
    res = compare(matched, truth, pts, r.face.side, fps, Identity.available() if identity else None, lips)
    for k, region in r.hands.items():
        res[f"psnr_{k}"], res[f"{k}_frames"] = hand_psnr(matched, truth, pts, k, region.side)
    raw = compare(output, truth, pts, r.face.side, fps, None, False)
    res.update({f"{k}_raw": raw[k] for k in ("psnr", "psnr_face", "ssim_face")})
    res.update(labels=used, render_s_per_frame=seconds / max(n, 1), use_net=use_net, background=background)
    return res, matched, truth, pts
