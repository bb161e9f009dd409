"""A few named SMPL-X poses written by hand, for previews, tests and the notebooks.

They use plain SMPL-X conventions (axis-angle in the parent frame; at zero pose all joint frames
are aligned with the world: x = subject's left, y = up, z = forward), so they mean the same on the
official and the free model.
"""
from __future__ import annotations

import numpy as np

from s2v.body.joints import JOINT_NAMES
from s2v.params import ParamLayout, SMPLXParams


def set_joint(body_pose: np.ndarray, joint: str, axis_angle) -> None:
    """Write one joint's axis-angle into a (63,) or (T, 63) body pose."""
    j = JOINT_NAMES.index(joint) - 1  # body_pose starts at joint 1
    if not 0 <= j < 21:
        raise ValueError(f"{joint} is not one of the 21 body-pose joints")
    body_pose[..., 3 * j:3 * j + 3] = axis_angle


def arms_down(angle_deg: float = 70.0) -> np.ndarray:
    """(63,) body pose with both arms lowered by ``angle_deg`` about z at the shoulders."""
    bp = np.zeros(63, np.float32)
    a = np.radians(angle_deg)
    set_joint(bp, "left_shoulder", [0, 0, -a])
    set_joint(bp, "right_shoulder", [0, 0, a])
    return bp


NAMED_POSES = ("t_pose", "arms_down", "talking", "wave")


def named_pose(name: str, layout: ParamLayout | None = None) -> SMPLXParams:
    """One frame of a named pose: ``t_pose``, ``arms_down``, ``talking`` (arms down, elbows bent,
    mouth open, a smile) or ``wave`` (right hand raised)."""
    p = SMPLXParams.zeros(1, layout)
    bp = np.zeros(63, np.float32)
    if name == "t_pose":
        pass
    elif name == "arms_down":
        bp = arms_down(70.0)
    elif name == "talking":
        bp = arms_down(65.0)
        set_joint(bp, "left_elbow", [0, -1.1, 0])
        set_joint(bp, "right_elbow", [0, 1.1, 0])
        p.jaw_pose[0] = [0.3, 0, 0]
        p.expression[0, :3] = [1.5, -1.0, 0.5]
    elif name == "wave":
        bp = arms_down(70.0)
        set_joint(bp, "right_shoulder", [0, 0, -0.4])
        set_joint(bp, "right_elbow", [0, 0, -1.7])
    else:
        raise ValueError(f"unknown pose {name!r}; choose from {NAMED_POSES}")
    p.body_pose[0] = bp
    return p
