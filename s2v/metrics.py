"""Objective motion measures on pose sequences (the 106-vector of :mod:`s2v.params`).

The paper's evaluation of key poses is a user study (section 4.2: 80.6% preferred the video with key
poses). It cannot be re-run here, so the kit reports an objective proxy: how much the arms move, and how
far they leave the rest pose, around the key words, with and without insertion.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from s2v.body.joints import JOINT_NAMES
from s2v.params import ParamLayout

#: Joints whose rotations make a gesture (SMPL-X body joints, without the root).
ARM_JOINTS = ("left_collar", "right_collar", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
              "left_wrist", "right_wrist")


def _joint_rotations(seq: np.ndarray, layout: ParamLayout, joints) -> Rotation:
    sl = layout.slices()["body_pose"]
    idx = np.array([JOINT_NAMES.index(j) - 1 for j in joints])  # body_pose has no root
    rv = np.asarray(seq, np.float64)[:, sl].reshape(len(seq), -1, 3)[:, idx]
    return Rotation.from_rotvec(rv.reshape(-1, 3))


def angular_speed(seq: np.ndarray, fps: float, layout: ParamLayout | None = None, joints=ARM_JOINTS) -> np.ndarray:
    """(T,) summed angular speed (rad/s) of ``joints`` between consecutive frames; frame 0 repeats frame 1."""
    layout = layout or ParamLayout()
    seq = np.asarray(seq)
    if len(seq) < 2:
        return np.zeros(len(seq))
    R = _joint_rotations(seq, layout, joints)
    J = len(joints)
    ang = (R[:-J].inv() * R[J:]).magnitude().reshape(len(seq) - 1, J).sum(1) * fps
    return np.r_[ang[:1], ang]


def distance_from(seq: np.ndarray, reference: np.ndarray, layout: ParamLayout | None = None,
                  joints=ARM_JOINTS, hand_weight: float = 0.25) -> np.ndarray:
    """(T,) how far each frame's arms are from ``reference`` (D,): summed geodesic angles (rad) of
    ``joints`` plus ``hand_weight`` x the L2 distance of the hand PCA coefficients."""
    layout = layout or ParamLayout()
    seq = np.atleast_2d(np.asarray(seq))
    ref = np.broadcast_to(np.asarray(reference), seq.shape)
    J = len(joints)
    d = (_joint_rotations(ref, layout, joints).inv() * _joint_rotations(seq, layout, joints)).magnitude()
    d = d.reshape(len(seq), J).sum(1)
    hands = layout.part_index("hands")
    return d + hand_weight * np.linalg.norm(seq[:, hands] - ref[:, hands], axis=1)


def rest_reference(seq: np.ndarray) -> np.ndarray:
    """The speaker's rest pose estimated from a recording: the per-number median over frames (arms hang at
    rest most of the time, so gestures are outliers the median ignores)."""
    return np.median(np.asarray(seq, np.float32), axis=0)


def windows_mask(times, num_frames: int, fps: float, before: float = 0.6, after: float = 0.9) -> np.ndarray:
    """(T,) True for frames within [t - before, t + after] of any of ``times`` (seconds)."""
    mask = np.zeros(num_frames, bool)
    for t in times:
        a, b = int(np.floor((t - before) * fps)), int(np.ceil((t + after) * fps))
        mask[max(0, a):max(0, min(num_frames, b + 1))] = True
    return mask


def key_word_motion(seq: np.ndarray, fps: float, times, layout: ParamLayout | None = None,
                    rest: np.ndarray | None = None, before: float = 0.6, after: float = 0.9) -> dict[str, float]:
    """Motion around key words: mean arm angular speed (rad/s) and mean/peak distance from the rest pose
    (rad) inside the windows around ``times``, and the same speed elsewhere, with their ratio."""
    layout = layout or ParamLayout()
    speed = angular_speed(seq, fps, layout)
    rest = rest_reference(seq) if rest is None else rest
    dist = distance_from(seq, rest, layout)
    m = windows_mask(times, len(seq), fps, before, after)
    near = float(speed[m].mean()) if m.any() else float("nan")
    far = float(speed[~m].mean()) if (~m).any() else float("nan")
    return {"speed_at_key_words": near, "speed_elsewhere": far, "speed_ratio": near / far if far > 0 else float("nan"),
            "distance_at_key_words": float(dist[m].mean()) if m.any() else float("nan"),
            "peak_distance_at_key_words": float(dist[m].max()) if m.any() else float("nan")}
