"""Blending poses: a key pose put into a pose sequence with ramps (paper section 3.3, figure 6).

A key pose goes into a pose sequence at the frame its key word is spoken. The frames from the ramp
start (``ramp`` seconds before) up to the key pose are replaced by an interpolation between the ramp
start frame and the key pose, weighted by their distance to those two frames; likewise after it. A
still pose is held for ``hold`` seconds (duplicated in place); a motion (several frames) is copied
frame by frame. The paper used 0.6 s ramps and a 0.3 s hold and interpolated linearly in the
106-parameter space; here rotations are interpolated on SO(3) by default (slerp of each joint's
axis-angle), which keeps constant angular speed and the shortest path even for large rotations,
and ``interp="linear"`` gives the paper's variant. PCA hand coefficients and expressions are not
rotations and are always interpolated linearly.

The primitives live with the body model (stage 00): the synthetic studio performs key poses with them and the
key-pose dictionary (stage 03, :mod:`s2v.dictionary.insertion`) inserts its entries with them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from s2v.params import ParamLayout


@dataclass(frozen=True)
class InsertionConfig:
    ramp: float = 0.6      # seconds of ramp before and after (section 3.3)
    hold: float = 0.3      # seconds a still key pose is held (section 3.3)
    interp: str = "slerp"  # "slerp" (rotations on SO(3)) or "linear" (the paper's parameter-space blend)
    # A key word spoken while the previous key pose's ramp-out is still running: "chain" ramps straight
    # from the previous key pose to the new one (the previous hold is never cut); "skip" drops it.
    # A key word inside the previous key pose itself is always dropped (it would cut that pose short).
    overlap: str = "chain"


def rotation_dims(layout: ParamLayout) -> np.ndarray:
    """Start indices of the 3-vectors of the 106-vector that are axis-angle rotations."""
    sl = layout.slices()
    fields = ["body_pose", "jaw_pose", "leye_pose", "reye_pose"]
    if not layout.use_pca:
        fields += ["left_hand_pose", "right_hand_pose"]
    return np.concatenate([np.arange(sl[f].start, sl[f].stop, 3) for f in fields])


def interpolate(a: np.ndarray, b: np.ndarray, w: np.ndarray, layout: ParamLayout, interp: str = "slerp") -> np.ndarray:
    """Blend pose vectors ``a`` -> ``b`` (each (D,) or (N, D)) with weights ``w`` (N,) in [0, 1]."""
    w = np.asarray(w, np.float64).reshape(-1)
    a = np.broadcast_to(np.asarray(a, np.float64), (len(w), layout.frame_dim))
    b = np.broadcast_to(np.asarray(b, np.float64), (len(w), layout.frame_dim))
    out = (1 - w[:, None]) * a + w[:, None] * b
    if interp == "linear":
        return out.astype(np.float32)
    if interp != "slerp":
        raise ValueError(f"interp must be 'slerp' or 'linear', got {interp!r}")
    starts = rotation_dims(layout)
    idx = starts[:, None] + np.arange(3)
    ra = Rotation.from_rotvec(a[:, idx].reshape(-1, 3))
    rb = Rotation.from_rotvec(b[:, idx].reshape(-1, 3))
    delta = (ra.inv() * rb).as_rotvec()  # shortest relative rotation
    ww = np.repeat(w, len(starts))[:, None]
    r = ra * Rotation.from_rotvec(delta * ww)
    out[:, idx] = r.as_rotvec().reshape(len(w), len(starts), 3)
    return out.astype(np.float32)


def insert_key_pose(seq: np.ndarray, pose: np.ndarray, frame: int, fps: float, layout: ParamLayout | None = None,
                    cfg: InsertionConfig | None = None, parts: tuple[str, ...] | None = None,
                    ramp_from: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Insert a still pose (D,) or a motion (M, D) at ``frame`` of ``seq`` (T, D).

    Returns the new sequence and the span (first, last+1) of the ramps including their two anchor
    frames. Insertions near the start or end are clipped: ramps shorten to what exists, and a key pose
    overrunning the end is cut. ``parts`` (e.g. ``("body", "hands")``) limits the insertion to those
    parts of the vector (:meth:`ParamLayout.part_fields`); the rest keeps the original sequence, so
    speech can go on driving the mouth during a gesture. ``None`` inserts all 106 numbers, as the paper.
    ``ramp_from`` is the earliest frame the ramp in may start from (the last frame of a previous key pose
    when two key words come close together: the ramp then shortens and starts from that pose).
    """
    layout = layout or ParamLayout()
    cfg = cfg or InsertionConfig()
    out = np.array(seq, dtype=np.float32, copy=True)
    T = len(out)
    pose = np.asarray(pose, np.float32)
    motion = pose[None] if pose.ndim == 1 else pose
    if pose.ndim == 1:
        motion = np.repeat(motion, max(1, int(round(cfg.hold * fps))), axis=0)
    N = max(1, int(round(cfg.ramp * fps)))
    k0 = int(frame)
    k1 = min(T, k0 + len(motion))  # key frames [k0, k1)
    if k0 >= T or k1 <= 0:
        return out, (0, 0)
    if k0 >= 0:
        out[k0:k1] = motion[:k1 - k0]
    else:
        out[:k1] = motion[-k0:k1 - k0]
    # ramp in (figure 6): the ramp start frame s is kept; frames s+1..k0-1 move towards the key pose
    # with weights i/N. Near the sequence start the ramp shortens to what exists.
    s = max(0, k0 - N, min(int(ramp_from), max(k0 - 1, 0)))
    if k0 - s > 1:
        w = np.arange(1, k0 - s) / (k0 - s)
        out[s + 1:k0] = interpolate(out[s], out[k0], w, layout, cfg.interp)
    # ramp out: from the last key frame back to the ramp end frame e (kept)
    last = k1 - 1
    e = min(T - 1, last + N)
    if e - last > 1:
        w = np.arange(1, e - last) / (e - last)
        out[last + 1:e] = interpolate(out[last], out[e], w, layout, cfg.interp)
    if parts is not None:
        keep = np.ones(layout.frame_dim, bool)
        for part in parts:
            keep[layout.part_index(part)] = False
        out[:, keep] = np.asarray(seq, np.float32)[:, keep]
    return out, (s, max(e, last) + 1)
