"""SMPL-X joint names, kinematic tree and the extra keypoints the ``smplx`` package appends.

These mirror the official SMPL-X model (and ``smplx.joint_names.JOINT_NAMES``): 55 skeleton
joints, then 21 keypoints taken from vertices (nose, eyes, ears, feet, fingertips), then 51 face
landmarks (points 17..67 of the 68-point iBUG layout), then optionally 17 face-contour points.
Both body-model backends produce exactly this order; a test checks it against ``smplx``.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    *(f"left_{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3)),
    *(f"right_{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3)),
)
NUM_JOINTS = len(JOINT_NAMES)  # 55

#: Parent of each joint (the official SMPL-X ``kintree_table[0]``), -1 for the root.
PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
     20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
     21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53], dtype=np.int64)

#: Keypoints ``smplx`` takes from fixed vertex ids, in its order (``VertexJointSelector``).
VERTEX_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    "left_thumb", "left_index", "left_middle", "left_ring", "left_pinky",
    "right_thumb", "right_index", "right_middle", "right_ring", "right_pinky",
)
#: The vertex ids ``smplx`` hard-codes for those keypoints (``smplx.vertex_ids['smplx']``).
SMPLX_VERTEX_IDS: dict[str, int] = {
    "nose": 9120, "right_eye": 9929, "left_eye": 9448, "right_ear": 616, "left_ear": 6,
    "left_big_toe": 5770, "left_small_toe": 5780, "left_heel": 8846,
    "right_big_toe": 8463, "right_small_toe": 8474, "right_heel": 8635,
    "left_thumb": 5361, "left_index": 4933, "left_middle": 5058, "left_ring": 5169, "left_pinky": 5286,
    "right_thumb": 8079, "right_index": 7669, "right_middle": 7794, "right_ring": 7905, "right_pinky": 8022,
}

#: The 68-point face layout (iBUG 300-W / OpenPose face) by index. SMPL-X regresses 17..67 ("the 51").
FACE68_GROUPS: dict[str, tuple[int, int, bool]] = {  # name: (start, stop, closed)
    "contour": (0, 17, False), "right_brow": (17, 22, False), "left_brow": (22, 27, False),
    "nose_bridge": (27, 31, False), "nose_lower": (31, 36, False), "right_eye": (36, 42, True),
    "left_eye": (42, 48, True), "outer_lip": (48, 60, True), "inner_lip": (60, 68, True),
}
MOUTH68 = np.arange(48, 68)            # the 20 mouth points
LOWER_LIP68 = np.array([54, 55, 56, 57, 58, 59, 48, 64, 65, 66, 67, 60])[[1, 2, 3, 4, 5, 8, 9, 10]]  # 55-59, 65-67
UPPER_LIP68 = np.array([49, 50, 51, 52, 53, 61, 62, 63])

NUM_LANDMARKS = 51
NUM_CONTOUR = 17


def keypoint_names(use_face_contour: bool = False) -> tuple[str, ...]:
    """Names of all keypoints a forward pass returns, in order (127, or 144 with the contour)."""
    lmk = tuple(f"face{i}" for i in range(17, 68))
    contour = tuple(f"face{i}" for i in range(17)) if use_face_contour else ()
    return JOINT_NAMES + VERTEX_KEYPOINT_NAMES + lmk + contour


def joint_index(name: str) -> int:
    return JOINT_NAMES.index(name)


def descendants(joint: int) -> np.ndarray:
    """All joints below ``joint`` in the tree (itself included)."""
    out = [joint]
    for j in range(joint + 1, NUM_JOINTS):
        if PARENTS[j] in out:
            out.append(j)
    return np.array(out)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Length of the bone from each joint's parent to it: (..., 55, 3) -> (..., 54)."""
    j = np.asarray(joints)
    return np.linalg.norm(j[..., 1:, :] - j[..., PARENTS[1:], :], axis=-1)
