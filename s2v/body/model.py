"""One body-model interface for both backends: ``params -> joints, keypoints, vertices``.

* ``backend="smplx"``: the official SMPL-X files (licence needed, https://smpl-x.is.tue.mpg.de),
  placed by the user under ``data/body_models/smplx/SMPLX_NEUTRAL.npz`` (or ``_MALE``/``_FEMALE``).
* ``backend="free"`` (default when no official file is present): the kit's free SMPL-X-compatible
  model, ``data/body_models/free/s2v_free_smplx.npz``, derived from CC0 MakeHuman data by
  :mod:`s2v.body.free_build`.

Both are evaluated by the ``smplx`` package (same LBS, hand PCA and landmark code), so joint order,
parameters and conventions are identical. Output keypoints follow :func:`s2v.body.joints.keypoint_names`.
This is the paper's "3D skeleton regularization" (section 3.2): a pose is joint rotations on a fixed
skeleton, so bone lengths cannot drift.
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2v.body.joints import NUM_JOINTS, keypoint_names
from s2v.params import FULL_HAND_DIM, ParamLayout, SMPLXParams

FREE_MODEL_FILE = "s2v_free_smplx.npz"


class BodyModelNotFound(FileNotFoundError):
    """A requested body-model file is not in place."""


def data_dir() -> Path:
    """The kit's ``data/`` folder (``S2V_DATA`` overrides)."""
    env = os.environ.get("S2V_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def body_models_dir() -> Path:
    return Path(os.environ.get("S2V_BODY_MODELS", data_dir() / "body_models"))


def official_model_path(gender: str = "neutral", root: Path | None = None) -> Path | None:
    """Path of the official SMPL-X file for ``gender`` if the user has put it in place."""
    root = Path(root) if root else body_models_dir() / "smplx"
    for ext in ("npz", "pkl"):
        p = root / f"SMPLX_{gender.upper()}.{ext}"
        if p.exists():
            return p
    return None


def free_model_path(root: Path | None = None) -> Path:
    return (Path(root) if root else body_models_dir() / "free") / FREE_MODEL_FILE


def resolve_backend(backend: str = "auto", gender: str = "neutral") -> tuple[str, Path]:
    """(backend, file) for ``auto`` / ``smplx`` / ``free``, with a clear error for missing files."""
    if backend not in ("auto", "smplx", "free"):
        raise ValueError(f"unknown body-model backend {backend!r}; use 'auto', 'smplx' or 'free'")
    if backend in ("auto", "smplx"):
        p = official_model_path(gender)
        if p is not None:
            return "smplx", p
        if backend == "smplx":
            raise BodyModelNotFound(
                f"official SMPL-X model not found: put SMPLX_{gender.upper()}.npz into "
                f"{body_models_dir() / 'smplx'} (register and download it from https://smpl-x.is.tue.mpg.de; "
                "it needs a licence and must never be committed), or use backend='free'")
    p = free_model_path()
    if not p.exists():
        raise BodyModelNotFound(f"free body model missing at {p}; rebuild it with `python -m s2v body build-free`")
    return "free", p


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class BodyOutput:
    joints: torch.Tensor               # (B, 55, 3) skeleton joints
    keypoints: torch.Tensor            # (B, K, 3) joints + vertex keypoints + face landmarks
    vertices: torch.Tensor | None      # (B, V, 3)

    @property
    def face68(self) -> torch.Tensor:
        """(B, 68, 3) face landmarks in iBUG order (needs ``use_face_contour``)."""
        lmk = self.keypoints[:, NUM_JOINTS + 21:]
        if lmk.shape[1] < 68:
            raise ValueError("face contour not computed: create the model with use_face_contour=True")
        return torch.cat([lmk[:, 51:68], lmk[:, :51]], 1)


class BodyModel(torch.nn.Module):
    """A batched, differentiable SMPL-X forward on CPU or CUDA for either backend."""

    def __init__(self, backend: str = "auto", layout: ParamLayout | None = None, gender: str = "neutral",
                 use_face_contour: bool = True, flat_hand_mean: bool = False, device=None,
                 hand_basis: dict | None = None):
        super().__init__()
        import smplx

        self.backend, self.path = resolve_backend(backend, gender)
        self.layout = layout or ParamLayout()
        self.use_face_contour = use_face_contour
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints notes about coefficient counts
            self.smplx = smplx.SMPLX(
                model_path=str(self.path), ext=self.path.suffix[1:], gender=gender,
                use_pca=self.layout.use_pca, num_pca_comps=min(self.layout.num_hand_comps, FULL_HAND_DIM),
                num_betas=self.layout.num_betas, num_expression_coeffs=self.layout.num_expression,
                use_face_contour=use_face_contour, flat_hand_mean=flat_hand_mean,
                create_global_orient=False, create_body_pose=False, create_betas=False,
                create_left_hand_pose=False, create_right_hand_pose=False, create_expression=False,
                create_jaw_pose=False, create_leye_pose=False, create_reye_pose=False, create_transl=False)
        if hand_basis is not None:  # a speaker's own hand PCA (s2v.body.hands) in place of the model's
            k = self.layout.num_hand_comps
            for side in ("left", "right"):
                C = np.asarray(hand_basis[side], np.float32)
                if not self.layout.use_pca or C.shape != (k, FULL_HAND_DIM):
                    raise ValueError(f"hand basis of shape {C.shape} does not fit the layout's {k} hand numbers")
                setattr(self.smplx, f"{side}_hand_components", torch.as_tensor(C))
        for p in self.smplx.parameters():
            p.requires_grad_(False)
        self.faces = np.asarray(self.smplx.faces, dtype=np.int64)
        self.keypoint_names = keypoint_names(use_face_contour)
        self._sub = None
        self.to(device if device is not None else default_device())

    @property
    def device(self) -> torch.device:
        return self.smplx.v_template.device

    @property
    def num_vertices(self) -> int:
        return int(self.smplx.v_template.shape[0])

    def forward(self, params: SMPLXParams | dict, return_verts: bool = True) -> BodyOutput:
        """Evaluate the model. ``params``: an :class:`SMPLXParams` or a dict of (B, ...) tensors."""
        if isinstance(params, SMPLXParams):
            if params.layout != self.layout:
                raise ValueError(f"params layout {params.layout} differs from the model's {self.layout}")
            params = params.to_torch(self.device)
        B = next(iter(params.values())).shape[0]
        out = self.smplx(return_verts=return_verts, **self._full_kwargs(params, B))
        return BodyOutput(joints=out.joints[:, :NUM_JOINTS], keypoints=out.joints,
                          vertices=out.vertices if return_verts else None)

    def from_vector(self, vec: torch.Tensor, betas=None, global_orient=None, transl=None,
                    return_verts: bool = True) -> BodyOutput:
        """Evaluate (B, 106) per-frame vectors with the fixed parts given separately."""
        vec = torch.as_tensor(vec, dtype=torch.float32, device=self.device)
        B = vec.shape[0]
        d = {n: vec[:, s] for n, s in self.layout.slices().items()}
        for name, v in (("betas", betas), ("global_orient", global_orient), ("transl", transl)):
            if v is not None:
                v = torch.as_tensor(v, dtype=torch.float32, device=self.device)
                d[name] = v.expand(B, -1) if v.ndim == 1 else v
        return self.forward(d, return_verts=return_verts)

    # ------------------------------------------------------------------ keypoints only (fitting)
    def _sparse_setup(self) -> None:
        """Precompute what the keypoint-only forward needs: the few vertices keypoints are made of."""
        sm = self.smplx
        faces = sm.faces_tensor
        need = [sm.vertex_joint_selector.extra_joints_idxs, faces[sm.lmk_faces_idx].reshape(-1)]
        if self.use_face_contour:
            need.append(faces[sm.dynamic_lmk_faces_idx].reshape(-1))
        sub = torch.unique(torch.cat([n.to(torch.long) for n in need]))
        lookup = torch.full((self.num_vertices,), -1, dtype=torch.long, device=sub.device)
        lookup[sub] = torch.arange(len(sub), device=sub.device)
        V = self.num_vertices
        shapedirs = torch.cat([sm.shapedirs, sm.expr_dirs], -1)  # (V, 3, betas + expr)
        self._sub = sub
        self._sub_lookup = lookup
        self._sub_template = sm.v_template[sub]
        self._sub_shapedirs = shapedirs[sub]
        self._sub_posedirs = sm.posedirs.view(-1, V, 3)[:, sub].reshape(sm.posedirs.shape[0], -1)
        self._has_posedirs = bool(self._sub_posedirs.abs().max() > 0)  # the free model has none
        self._sub_weights = sm.lbs_weights[sub]
        self._J_template = sm.J_regressor @ sm.v_template
        self._J_shapedirs = torch.einsum("jv,vck->jck", sm.J_regressor, shapedirs)

    def keypoints(self, params: SMPLXParams | dict) -> torch.Tensor:
        """(B, K, 3) keypoints only, identical to ``forward(...).keypoints`` but skinning just the few
        hundred vertices that landmarks and vertex keypoints use, not the whole mesh: what makes
        fitting whole sequences at once cheap (see ``benchmarks/bench_fitting.py``)."""
        from smplx.lbs import batch_rigid_transform, batch_rodrigues, find_dynamic_lmk_idx_and_bcoords

        if getattr(self, "_sub", None) is None or self._sub.device != self.device:
            self._sparse_setup()
        sm = self.smplx
        if isinstance(params, SMPLXParams):
            params = params.to_torch(self.device)
        B = next(iter(params.values())).shape[0]
        kw = self._full_kwargs(params, B)
        lh, rh = kw["left_hand_pose"], kw["right_hand_pose"]
        if sm.use_pca:
            lh = lh @ sm.left_hand_components
            rh = rh @ sm.right_hand_components
        full = torch.cat([kw["global_orient"], kw["body_pose"], kw["jaw_pose"], kw["leye_pose"], kw["reye_pose"],
                          lh, rh], 1) + sm.pose_mean
        coeffs = torch.cat([kw["betas"], kw["expression"]], 1)
        J = self._J_template + torch.einsum("jck,bk->bjc", self._J_shapedirs, coeffs)
        rot = batch_rodrigues(full.reshape(-1, 3)).reshape(B, -1, 3, 3)
        eye = torch.eye(3, device=self.device, dtype=rot.dtype)
        pose_feat = (rot[:, 1:] - eye).reshape(B, -1)
        S = len(self._sub)
        v = self._sub_template + torch.einsum("sck,bk->bsc", self._sub_shapedirs, coeffs)
        if self._has_posedirs:
            v = v + (pose_feat @ self._sub_posedirs).reshape(B, S, 3)
        J_posed, A = batch_rigid_transform(rot, J, sm.parents, dtype=rot.dtype)
        T = torch.matmul(self._sub_weights, A.reshape(B, -1, 16)).reshape(B, S, 4, 4)
        v = torch.einsum("bsxy,bsy->bsx", T[..., :3, :3], v) + T[..., :3, 3]
        t = kw["transl"][:, None]
        v = v + t

        extra = v[:, self._sub_lookup[sm.vertex_joint_selector.extra_joints_idxs.to(torch.long)]]
        lmk_f = sm.lmk_faces_idx.unsqueeze(0).expand(B, -1)
        lmk_b = sm.lmk_bary_coords.unsqueeze(0).expand(B, -1, -1)
        if self.use_face_contour:
            dyn_f, dyn_b = find_dynamic_lmk_idx_and_bcoords(v, full, sm.dynamic_lmk_faces_idx,
                                                            sm.dynamic_lmk_bary_coords, sm.neck_kin_chain)
            lmk_f = torch.cat([lmk_f, dyn_f], 1)
            lmk_b = torch.cat([lmk_b, dyn_b], 1)
        tri = sm.faces_tensor[lmk_f]                       # (B, L, 3) full-mesh vertex ids
        pts = v[torch.arange(B)[:, None, None], self._sub_lookup[tri]]  # (B, L, 3, 3)
        lmk = (pts * lmk_b[..., None]).sum(2)
        return torch.cat([J_posed + t, extra, lmk], 1)

    def _full_kwargs(self, params: dict, B: int) -> dict:
        kw = {}
        for name, size in {**self.layout.frame_fields, "betas": self.layout.num_betas,
                           "global_orient": 3, "transl": 3}.items():
            v = params.get(name)
            if v is None:
                v = torch.zeros(B, size, device=self.device)
            v = torch.as_tensor(v, dtype=torch.float32, device=self.device)
            if name == "betas" and v.ndim == 1:
                v = v.expand(B, -1)
            kw[name] = v.reshape(B, size)
        return kw

    # ------------------------------------------------------------------ hands
    def hand_components(self, side: str) -> torch.Tensor:
        """(n, 45) PCA rows of the model's hand basis (``smplx`` convention: full = pca @ rows)."""
        name = f"{side}_hand_components"
        if not hasattr(self.smplx, name):
            raise ValueError("this model uses full hand poses (no PCA)")
        return getattr(self.smplx, name)

    def hand_pca_to_full(self, pca: torch.Tensor, side: str) -> torch.Tensor:
        return torch.as_tensor(pca, dtype=torch.float32, device=self.device) @ self.hand_components(side)

    def hand_full_to_pca(self, full: torch.Tensor, side: str) -> torch.Tensor:
        """Least-squares projection of full 45-D hand poses onto the PCA coefficients."""
        C = self.hand_components(side)
        full = torch.as_tensor(full, dtype=torch.float32, device=self.device)
        return torch.linalg.lstsq(C.T, full.T).solution.T

    def rest_joints(self, betas=None) -> np.ndarray:
        """(55, 3) joints in the zero pose for ``betas`` (zero shape by default)."""
        d = {"betas": torch.zeros(1, self.layout.num_betas) if betas is None
             else torch.as_tensor(betas, dtype=torch.float32).reshape(1, -1)}
        with torch.no_grad():
            return self.forward(d, return_verts=False).joints[0].cpu().numpy()

    def extra_repr(self) -> str:
        return f"backend={self.backend}, path={self.path}, layout={self.layout}"


