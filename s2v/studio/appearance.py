"""How the studio speaker looks: per-vertex colours for skin, shirt, trousers, shoes, hair, lips, eyes.

Regions come from the body model itself (skinning weights and rest-pose landmarks), so they work
on the free model and on the official SMPL-X mesh alike: a short-sleeved shirt on the torso and upper
arms, trousers on the legs, shoes on the feet, a hair cap above the brows, coloured lips around the
mouth landmarks, white eyes with dark irises.
"""
from __future__ import annotations

import numpy as np
import torch

from s2v.body.joints import JOINT_NAMES
from s2v.params import SMPLXParams
from s2v.studio.cast import StudioSpeaker

REGIONS = ("skin", "shirt", "trousers", "shoes", "hair", "lips", "eye_white", "iris")


def vertex_regions(model) -> np.ndarray:
    """(V,) region index into :data:`REGIONS` for each vertex of ``model``'s mesh."""
    sm = model.smplx
    w = sm.lbs_weights.detach().cpu().numpy()
    dom = w.argmax(1)
    with torch.no_grad():
        out = model(SMPLXParams.zeros(1, model.layout))
    v = out.vertices[0].cpu().numpy()
    J = out.joints[0].cpu().numpy()
    names = model.keypoint_names
    kp = dict(zip(names, out.keypoints[0].cpu().numpy()))
    jid = {n: i for i, n in enumerate(JOINT_NAMES)}
    reg = np.zeros(len(v), np.int64)

    def joints(*ns):
        return np.isin(dom, [jid[n] for n in ns])

    torso = joints("spine1", "spine2", "spine3", "left_collar", "right_collar", "left_shoulder", "right_shoulder")
    hip_y = J[jid["left_hip"], 1]
    pelvis = joints("pelvis")
    reg[torso | (pelvis & (v[:, 1] > hip_y + 0.02))] = 1
    # short sleeves: stop the shirt half-way down the upper arm
    for side, s in (("left", 1), ("right", -1)):
        sh, el = J[jid[f"{side}_shoulder"]], J[jid[f"{side}_elbow"]]
        arm = joints(f"{side}_shoulder")
        cut = sh[0] + 0.55 * (el[0] - sh[0])
        reg[arm & (s * (v[:, 0] - cut) > 0)] = 0
    ankle_y = J[jid["left_ankle"], 1]
    legs = joints("left_hip", "right_hip", "left_knee", "right_knee") | (pelvis & (v[:, 1] <= hip_y + 0.02))
    feet = joints("left_ankle", "right_ankle", "left_foot", "right_foot")
    reg[legs | (feet & (v[:, 1] > ankle_y + 0.03))] = 2
    reg[feet & (v[:, 1] <= ankle_y + 0.03)] = 3
    # hair: the skull above the brows, and the back of the head
    head = joints("head", "neck")
    brow_y = max(kp["face19"][1], kp["face24"][1]) + 0.012
    head_j = J[jid["head"]]
    ear_y = min(kp["left_ear"][1], kp["right_ear"][1])
    nose_z = kp["nose"][2]
    hair = head & ((v[:, 1] > brow_y) | ((v[:, 2] < head_j[2] - 0.02) & (v[:, 1] > ear_y - 0.02)))
    hair &= ~((v[:, 2] > nose_z - 0.045) & (v[:, 1] < brow_y + 0.02))  # keep the forehead skin
    reg[hair] = 4
    # lips: near the outer lip contour
    lip = np.stack([kp[f"face{i}"] for i in range(48, 60)])
    d = np.linalg.norm(v[:, None, :] - lip[None], axis=-1).min(1)
    inside = (v[:, 1] < lip[:, 1].max() + 0.002) & (v[:, 1] > lip[:, 1].min() - 0.002) & \
             (np.abs(v[:, 0] - lip[:, 0].mean()) < (lip[:, 0].max() - lip[:, 0].min()) / 2)
    reg[(d < 0.004) | (inside & (v[:, 2] > kp["face51"][2] - 0.012) & head)] = 5
    # eyes: eyeball vertices white, the front cap dark
    for side in ("left", "right"):
        eye = dom == jid[f"{side}_eye_smplhf"]
        if eye.any():
            front = kp[f"{side}_eye"]
            reg[eye] = 6
            reg[eye & (np.linalg.norm(v - front, axis=1) < 0.0065)] = 7
    return reg


def vertex_colors(regions: np.ndarray, speaker: StudioSpeaker) -> np.ndarray:
    """(V, 3) float colours in [0, 1] for ``regions``."""
    lips = tuple(np.clip(np.array(speaker.skin) * [0.85, 0.55, 0.55], 0, 1))
    palette = np.array([speaker.skin, speaker.shirt, speaker.trousers, speaker.shoes, speaker.hair, lips,
                        (0.95, 0.95, 0.93), (0.20, 0.13, 0.08)], np.float64)
    return palette[regions]
