"""A pinhole camera (OpenCV convention: x right, y down, z forward) for projection to pixels.

The studio camera of section 3.1 is fixed, so one :class:`Camera` serves a whole recording. World
coordinates are SMPL-X's (metres, y up, the body faces +z). ``project`` works on numpy arrays and on
torch tensors (differentiable, any device), so the fitter can use it directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Camera:
    """Intrinsics ``K`` (fx, fy, cx, cy) and world-to-camera extrinsics ``R``, ``t``: x_cam = R x + t."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        self.R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(3)
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-6) or np.linalg.det(self.R) < 0:
            raise ValueError("R must be a rotation matrix")
        vals = np.array([self.fx, self.fy, self.cx, self.cy, self.width, self.height], np.float64)
        if not (np.isfinite(vals).all() and np.isfinite(self.R).all() and np.isfinite(self.t).all()):
            raise ValueError(f"camera values must be finite numbers (fx, fy, cx, cy, size: {vals.tolist()})")
        if self.fx <= 0 or self.fy <= 0 or self.width <= 0 or self.height <= 0:
            raise ValueError("focal lengths and image size must be positive")
        # a pinhole of a recording of a speaker: horizontal field of view between 8 degrees (a long telephoto
        # across a room) and 170 (a fish-eye), square-ish pixels; fx x10 of a phone's ~65 degrees (2 degrees) is out
        if not (0.044 <= self.fx / self.width <= 7.1 and 0.2 <= self.fy / self.fx <= 5):
            fov = 2 * np.degrees(np.arctan(self.width / (2 * self.fx)))
            raise ValueError(f"implausible camera: fx {self.fx:g}, fy {self.fy:g} for a {self.width}x{self.height} "
                             f"image (horizontal field of view {fov:.1f} degrees, outside 8-170, or pixels far from "
                             "square)")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def look_at(cls, eye, target, width: int, height: int, fov_y_deg: float = 30.0,
                up=(0.0, 1.0, 0.0)) -> "Camera":
        """A camera at ``eye`` looking at ``target`` with vertical field of view ``fov_y_deg``."""
        eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
        z = target - eye
        z /= np.linalg.norm(z)
        x = np.cross(z, up)  # OpenCV: x right = forward x up... then y down
        if np.linalg.norm(x) < 1e-9:
            raise ValueError("up is parallel to the viewing direction")
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])
        f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
        return cls(f, f, width / 2.0, height / 2.0, width, height, R, -R @ eye)

    @classmethod
    def framing(cls, points: np.ndarray, width: int, height: int, fov_y_deg: float = 30.0,
                margin: float = 0.08, view_dir=(0.0, 0.0, -1.0)) -> "Camera":
        """A frontal camera whose image just contains ``points`` (N, 3) with a relative margin."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        lo, hi = pts.min(0), pts.max(0)
        center = (lo + hi) / 2
        half_h = (hi[1] - lo[1]) / 2 * (1 + 2 * margin)
        half_w = (hi[0] - lo[0]) / 2 * (1 + 2 * margin)
        half = max(half_h, half_w * height / width)
        dist = half / np.tan(np.radians(fov_y_deg) / 2) + (hi[2] - lo[2]) / 2
        view = np.asarray(view_dir, dtype=np.float64)
        return cls.look_at(center - view / np.linalg.norm(view) * dist, center, width, height, fov_y_deg)

    @classmethod
    def default_for(cls, width: int, height: int, fov_deg: float = 60.0) -> "Camera":
        """A camera for a video whose calibration is unknown: at the origin looking along +z, with a
        ``fov_deg`` field of view across the longer image side (typical of phones and webcams)."""
        f = 0.5 * max(width, height) / np.tan(np.radians(fov_deg) / 2)
        return cls(f, f, width / 2.0, height / 2.0, width, height)

    # ------------------------------------------------------------------ geometry
    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def center(self) -> np.ndarray:
        """Camera position in world coordinates."""
        return -self.R.T @ self.t

    def world_to_camera(self, X):
        R, t = self._rt_like(X)
        return X @ R.T + t

    def project(self, X):
        """World points (..., 3) -> pixels (..., 2). numpy in, numpy out; torch in, torch out."""
        Xc = self.world_to_camera(X)
        z = Xc[..., 2:3]
        z = z.clamp(min=1e-6) if hasattr(z, "clamp") else np.maximum(z, 1e-6)
        uv = Xc[..., :2] / z
        if hasattr(uv, "new_tensor"):
            self._rt_like(uv)
            f, c = self._torch_cache[(uv.device, uv.dtype)][2:]
        else:
            f, c = np.array([self.fx, self.fy]), np.array([self.cx, self.cy])
        return uv * f + c

    def depth(self, X):
        return self.world_to_camera(X)[..., 2]

    def backproject(self, uv, depth):
        """Pixels (..., 2) at camera depth (...) -> world points (..., 3). Inverse of :meth:`project`."""
        uv = np.asarray(uv, dtype=np.float64)
        d = np.asarray(depth, dtype=np.float64)[..., None]
        xy = (uv - [self.cx, self.cy]) / [self.fx, self.fy]
        Xc = np.concatenate([xy * d, d], axis=-1)
        return (Xc - self.t) @ self.R

    def ray(self, uv):
        """Unit viewing directions (world) through pixels (..., 2)."""
        uv = np.asarray(uv, dtype=np.float64)
        d = np.concatenate([(uv - [self.cx, self.cy]) / [self.fx, self.fy], np.ones(uv.shape[:-1] + (1,))], -1)
        d = d @ self.R
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def scaled(self, factor: float) -> "Camera":
        """The same camera for an image resized by ``factor`` (pixel centres kept consistent)."""
        return Camera(self.fx * factor, self.fy * factor, (self.cx + 0.5) * factor - 0.5,
                      (self.cy + 0.5) * factor - 0.5, round(self.width * factor), round(self.height * factor),
                      self.R.copy(), self.t.copy())

    def opengl_pose(self) -> np.ndarray:
        """Camera-to-world 4x4 in OpenGL convention (x right, y up, looking down -z), for pyrender."""
        pose = np.eye(4)
        pose[:3, :3] = self.R.T @ np.diag([1.0, -1.0, -1.0])
        pose[:3, 3] = self.center
        return pose

    def _rt_like(self, X):
        if hasattr(X, "new_tensor"):  # torch: cache per device/dtype (fitting projects every step)
            key = (X.device, X.dtype)
            cache = self.__dict__.setdefault("_torch_cache", {})
            if key not in cache:
                cache[key] = (X.new_tensor(self.R), X.new_tensor(self.t),
                              X.new_tensor([self.fx, self.fy]), X.new_tensor([self.cx, self.cy]))
            return cache[key][:2]
        return self.R, self.t

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy, "width": self.width,
                "height": self.height, "R": self.R.tolist(), "t": self.t.tolist(), "convention": "opencv"}

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        d = {k: v for k, v in d.items() if k != "convention"}
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        from s2v.io import save_json

        return save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Camera":
        """Read ``camera.json``; a damaged or implausible file is an :class:`s2v.io.ArtifactError` naming it."""
        import json

        from s2v.io import ArtifactError, load_json

        try:
            return cls.from_dict(load_json(path))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError, AttributeError) as e:
            raise ArtifactError(f"{path} is not a usable camera ({type(e).__name__}: {e}); capture the run again "
                                "(the capture stage writes it), or correct the file") from None
