"""The SMPL-X parameter layout used by every stage of s2v (paper, section 3.2).

SMPL-X is ``M(theta, beta, psi)``. The paper counts 119 numbers per frame:

========================  =====  ==========================================
field                      size   notes
========================  =====  ==========================================
``global_orient``            3    axis-angle, fixed after the first frames
``body_pose``            21 x 3   axis-angle of the 21 body joints
``jaw_pose``                 3    axis-angle (the mouth)
``leye_pose``/``reye_pose`` 2x3   axis-angle
``left/right_hand_pose``  2x12   MANO-style PCA coefficients (2 x 45 full)
``betas``                   10    shape, fixed after the first frames
``expression``              10    face expression
========================  =====  ==========================================

3 + 72 (24 joints: 21 body + jaw + 2 eyes) + 24 + 10 + 10 = 119. With shape and global orientation
fixed for a speaker standing still, 119 - 13 = **106 per-frame numbers** remain: the vector that the
LSTM predicts (section 3.4), the key-pose dictionary stores (section 3.3) and the fitter optimises.
``transl`` (3) is fixed as well and is not counted by the paper.

Field names and ``.npz`` keys follow the SMPL-X ecosystem (``smplx``, SMPLify-X, AMASS/BEAT2 style),
so fitted sequences open in other SMPL-X tools.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

NUM_BODY_JOINTS = 21
FULL_HAND_DIM = 45
LAYOUT_VERSION = 1

#: Relative loss weights of the parts (section 3.4: "body, hands, mouth, and face are 1, 4, 100, 100").
PAPER_PART_WEIGHTS: dict[str, float] = {"body": 1.0, "hands": 4.0, "mouth": 100.0, "face": 100.0}


class ParamsError(ValueError):
    """Raised for SMPL-X parameters of the wrong shape or with non-finite values."""


@dataclass(frozen=True)
class ParamLayout:
    """Sizes of the variable parts of the SMPL-X parameters.

    ``num_hand_comps`` is per hand: 12 PCA components (the paper's 24 hand numbers), or 45 for
    full axis-angle finger rotations.
    """

    num_hand_comps: int = 12
    num_betas: int = 10
    num_expression: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.num_hand_comps <= FULL_HAND_DIM:
            raise ParamsError(f"num_hand_comps must be in 1..45, got {self.num_hand_comps}")

    @property
    def use_pca(self) -> bool:
        return self.num_hand_comps < FULL_HAND_DIM

    @property
    def frame_fields(self) -> dict[str, int]:
        """The per-frame fields in vector order (the paper's 106 numbers)."""
        return {
            "body_pose": NUM_BODY_JOINTS * 3,
            "jaw_pose": 3,
            "leye_pose": 3,
            "reye_pose": 3,
            "left_hand_pose": self.num_hand_comps,
            "right_hand_pose": self.num_hand_comps,
            "expression": self.num_expression,
        }

    @property
    def frame_dim(self) -> int:
        return sum(self.frame_fields.values())

    @property
    def paper_dim(self) -> int:
        """All numbers counted by the paper: per-frame + betas + global orientation (119)."""
        return self.frame_dim + self.num_betas + 3

    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, size in self.frame_fields.items():
            out[name] = slice(start, start + size)
            start += size
        return out

    def part_fields(self) -> dict[str, tuple[str, ...]]:
        """The four parts that get their own loss weight (section 3.4)."""
        return {
            "body": ("body_pose",),
            "hands": ("left_hand_pose", "right_hand_pose"),
            "mouth": ("jaw_pose",),
            "face": ("expression", "leye_pose", "reye_pose"),
        }

    def part_index(self, part: str) -> np.ndarray:
        sl = self.slices()
        return np.concatenate([np.arange(sl[f].start, sl[f].stop) for f in self.part_fields()[part]])

    def part_weights(self, weights: Mapping[str, float] | None = None) -> np.ndarray:
        """Per-dimension weights of the 106-vector from per-part weights (default: the paper's)."""
        weights = dict(PAPER_PART_WEIGHTS if weights is None else weights)
        missing = set(self.part_fields()) - set(weights)
        if missing:
            raise ParamsError(f"part weights missing for {sorted(missing)}")
        w = np.zeros(self.frame_dim, dtype=np.float32)
        for part in self.part_fields():
            w[self.part_index(part)] = weights[part]
        return w


def _check(name: str, a: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
        raise ParamsError(f"{name} has shape {tuple(a.shape)}; expected {want}")
    bad = ~np.isfinite(a)
    if bad.any():
        frames = np.unique(np.nonzero(bad)[0])[:10].tolist() if a.ndim > 1 else []
        raise ParamsError(f"{name} contains NaN/inf" + (f" at frames {frames}" if frames else ""))
    return a


@dataclass
class SMPLXParams:
    """A sequence of T frames of SMPL-X parameters (numpy, float32).

    Per-frame arrays have a leading T axis. ``betas`` is one shape for the whole sequence;
    ``global_orient`` and ``transl`` are stored per frame (constant when fixed, as in the paper)
    so that files exchange with tools that expect per-frame values.
    """

    body_pose: np.ndarray
    jaw_pose: np.ndarray
    leye_pose: np.ndarray
    reye_pose: np.ndarray
    left_hand_pose: np.ndarray
    right_hand_pose: np.ndarray
    expression: np.ndarray
    betas: np.ndarray
    global_orient: np.ndarray
    transl: np.ndarray
    layout: ParamLayout = field(default_factory=ParamLayout)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def zeros(cls, num_frames: int, layout: ParamLayout | None = None) -> "SMPLXParams":
        layout = layout or ParamLayout()
        return cls.from_vector(np.zeros((num_frames, layout.frame_dim), np.float32), layout)

    @classmethod
    def from_vector(
        cls,
        vec: np.ndarray,
        layout: ParamLayout | None = None,
        betas: np.ndarray | None = None,
        global_orient: np.ndarray | None = None,
        transl: np.ndarray | None = None,
    ) -> "SMPLXParams":
        """Unpack (T, 106) per-frame vectors; the fixed parts default to zero."""
        layout = layout or ParamLayout()
        vec = np.asarray(vec, dtype=np.float32)
        if vec.ndim == 1:
            vec = vec[None]
        if vec.ndim != 2 or vec.shape[1] != layout.frame_dim:
            raise ParamsError(f"vector has shape {vec.shape}; expected (T, {layout.frame_dim})")
        T = vec.shape[0]
        parts = {name: vec[:, sl].copy() for name, sl in layout.slices().items()}

        def per_frame(a, name):
            a = np.zeros(3, np.float32) if a is None else np.asarray(a, np.float32)
            if a.shape == (3,):
                a = np.broadcast_to(a, (T, 3))
            return _check(name, a, (T, 3)).copy()

        betas = np.zeros(layout.num_betas, np.float32) if betas is None else betas
        return cls(**parts, betas=np.asarray(betas, np.float32),
                   global_orient=per_frame(global_orient, "global_orient"),
                   transl=per_frame(transl, "transl"), layout=layout)

    # ------------------------------------------------------------------ views
    @property
    def num_frames(self) -> int:
        return int(self.body_pose.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    def to_vector(self) -> np.ndarray:
        """Pack the per-frame fields into (T, 106)."""
        return np.concatenate([getattr(self, n) for n in self.layout.frame_fields], axis=1)

    def frames(self, index) -> "SMPLXParams":
        """A sub-sequence (slice, index array or boolean mask over frames)."""
        kw = {n: getattr(self, n)[index] for n in (*self.layout.frame_fields, "global_orient", "transl")}
        if kw["body_pose"].ndim == 1:
            kw = {k: v[None] for k, v in kw.items()}
        return SMPLXParams(**kw, betas=self.betas.copy(), layout=self.layout)

    def as_dict(self, per_frame_betas: bool = False) -> dict[str, np.ndarray]:
        d = {n: getattr(self, n) for n in (*self.layout.frame_fields, "global_orient", "transl", "betas")}
        if per_frame_betas:
            d["betas"] = np.broadcast_to(self.betas, (self.num_frames, self.layout.num_betas)).copy()
        return d

    def to_torch(self, device=None, dtype=None) -> dict:
        """Per-frame tensors (betas broadcast to T) ready for :class:`s2v.body.BodyModel`."""
        import torch

        dtype = dtype or torch.float32
        return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in self.as_dict(True).items()}

    @staticmethod
    def concatenate(seqs: list["SMPLXParams"]) -> "SMPLXParams":
        if not seqs:
            raise ParamsError("nothing to concatenate")
        lay = seqs[0].layout
        if any(s.layout != lay for s in seqs):
            raise ParamsError("cannot concatenate sequences with different layouts")
        kw = {n: np.concatenate([getattr(s, n) for s in seqs]) for n in (*lay.frame_fields, "global_orient", "transl")}
        return SMPLXParams(**kw, betas=seqs[0].betas.copy(), layout=lay)

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        lay = self.layout
        T = np.asarray(self.body_pose).shape[0] if np.ndim(self.body_pose) == 2 else None
        if T is None:
            raise ParamsError(f"body_pose has shape {np.shape(self.body_pose)}; expected (T, 63)")
        for name, size in lay.frame_fields.items():
            setattr(self, name, _check(name, getattr(self, name), (T, size)))
        self.global_orient = _check("global_orient", self.global_orient, (T, 3))
        self.transl = _check("transl", self.transl, (T, 3))
        self.betas = _check("betas", self.betas, (lay.num_betas,))

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | Path, **meta) -> Path:
        """Write an ``.npz`` atomically with SMPL-X ecosystem keys plus layout metadata."""
        from s2v.io import save_npz

        lay = self.layout
        extra = {
            "model_type": np.array("smplx"),
            "num_pca_comps": np.array(lay.num_hand_comps),
            "use_pca": np.array(lay.use_pca),
            "num_expression_coeffs": np.array(lay.num_expression),
            "s2v_layout_version": np.array(LAYOUT_VERSION),
        }
        extra.update({f"meta_{k}": np.asarray(v) for k, v in meta.items()})
        return save_npz(path, **self.as_dict(), **extra)

    @classmethod
    def load(cls, path: str | Path) -> "SMPLXParams":
        with np.load(path, allow_pickle=False) as z:
            return cls.from_mapping(dict(z), source=str(path))

    @classmethod
    def from_mapping(cls, d: Mapping[str, np.ndarray], source: str = "mapping") -> "SMPLXParams":
        """Build from a dict with SMPL-X keys (s2v files, SMPLify-X output, most SMPL-X tools).

        Missing eye/jaw/expression fields are zero; ``betas`` may be (10,), (1, 10) or (T, 10) (the
        first row is used); extra shape/expression coefficients beyond the layout are dropped.
        """
        if "body_pose" not in d:
            if "poses" in d:
                return cls.from_full_pose(d["poses"], trans=d.get("trans"), betas=d.get("betas"),
                                          expression=d.get("expressions", d.get("expression")))
            raise ParamsError(f"{source}: no 'body_pose' (or AMASS-style 'poses') key; keys are {sorted(d)}")
        body = np.asarray(d["body_pose"], np.float32).reshape(len(np.atleast_2d(d["body_pose"])), -1)
        T = body.shape[0]
        nh = int(d["num_pca_comps"]) if "num_pca_comps" in d else np.atleast_2d(d["left_hand_pose"]).shape[1]
        nx = np.atleast_2d(d["expression"]).shape[1] if "expression" in d else 10
        lay = ParamLayout(num_hand_comps=nh, num_expression=min(nx, 10) if "num_expression_coeffs" not in d
                          else int(d["num_expression_coeffs"]))

        def get(name, size):
            if name not in d:
                return np.zeros((T, size), np.float32)
            a = np.asarray(d[name], np.float32)
            a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a[None]
            if a.shape[0] == 1 and T > 1:
                a = np.repeat(a, T, axis=0)
            return a[:, :size] if name == "expression" else a

        betas = np.asarray(d.get("betas", np.zeros(10)), np.float32).reshape(
            -1, np.shape(d.get("betas", np.zeros(10)))[-1])[0]
        kw = {n: get(n, s) for n, s in lay.frame_fields.items()}
        return cls(**kw, betas=betas[:lay.num_betas], global_orient=get("global_orient", 3),
                   transl=get("transl", 3), layout=lay)

    @classmethod
    def from_full_pose(cls, poses: np.ndarray, trans=None, betas=None, expression=None) -> "SMPLXParams":
        """From AMASS/BEAT2-style (T, 165) full poses (55 joints x 3 axis-angle, hands in full 45-D)."""
        poses = np.asarray(poses, np.float32)
        if poses.ndim != 2 or poses.shape[1] != 165:
            raise ParamsError(f"full pose has shape {poses.shape}; expected (T, 165) = 55 joints x 3")
        T = poses.shape[0]
        lay = ParamLayout(num_hand_comps=FULL_HAND_DIM)
        expr = np.zeros((T, 10), np.float32) if expression is None else np.asarray(expression, np.float32)[:, :10]
        b = np.zeros(10, np.float32) if betas is None else np.asarray(betas, np.float32).reshape(-1)[:10]
        return cls(global_orient=poses[:, 0:3], body_pose=poses[:, 3:66], jaw_pose=poses[:, 66:69],
                   leye_pose=poses[:, 69:72], reye_pose=poses[:, 72:75], left_hand_pose=poses[:, 75:120],
                   right_hand_pose=poses[:, 120:165], expression=expr, betas=b,
                   transl=np.zeros((T, 3), np.float32) if trans is None else np.asarray(trans, np.float32),
                   layout=lay)

    def replace(self, **changes) -> "SMPLXParams":
        return dataclasses.replace(self, **changes)
