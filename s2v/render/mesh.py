"""Headless mesh rendering with pyrender (body previews, overlays, the synthetic studio).

The OpenGL platform is chosen by environment variable before pyrender is imported:
``PYOPENGL_PLATFORM`` if set, else ``S2V_GL`` (``egl``, the default, or ``osmesa``). EGL works with
Mesa's llvmpipe on a CPU-only machine and with the NVIDIA driver on a GPU machine. OSMesa needs
``libosmesa6`` and PyOpenGL >= 3.1.7 (pyrender's metadata pins 3.1.0; see the README).
"""
from __future__ import annotations

import os

import numpy as np

from s2v.camera import Camera

SKIN = (0.86, 0.67, 0.55)
CLOTH = (0.25, 0.35, 0.6)


def _gl_platform() -> str:
    plat = os.environ.get("PYOPENGL_PLATFORM") or os.environ.get("S2V_GL", "egl")
    os.environ["PYOPENGL_PLATFORM"] = plat
    return plat


class MeshRenderer:
    """Renders triangle meshes seen by a :class:`~s2v.camera.Camera` into RGB (+ depth) arrays.

    Create once and reuse: the GL context is the expensive part. ``close()`` frees it.
    """

    def __init__(self, camera: Camera, bg_color=(1.0, 1.0, 1.0), light_intensity: float = 3.0):
        self.platform = _gl_platform()
        import pyrender

        self._pr = pyrender
        self.camera = camera
        self.scene = pyrender.Scene(bg_color=[float(c) for c in bg_color] + [1.0],
                                    ambient_light=[0.35, 0.35, 0.35])
        cam = pyrender.IntrinsicsCamera(camera.fx, camera.fy, camera.cx, camera.cy, znear=0.05, zfar=50.0)
        pose = camera.opengl_pose()
        self.scene.add(cam, pose=pose)
        key = pyrender.DirectionalLight(color=np.ones(3), intensity=light_intensity)
        self.scene.add(key, pose=pose)
        fill = np.eye(4)
        fill[:3, :3] = _rot_y(np.radians(50)) @ pose[:3, :3]
        self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=light_intensity * 0.4), pose=fill)
        self.renderer = pyrender.OffscreenRenderer(camera.width, camera.height)
        self._nodes: list = []

    def render(self, vertices: np.ndarray, faces: np.ndarray, vertex_colors: np.ndarray | None = None,
               color=SKIN, smooth: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """One mesh (V, 3) -> (H, W, 3) uint8 image and (H, W) float depth (0 = background)."""
        import trimesh

        for n in self._nodes:
            self.scene.remove_node(n)
        self._nodes.clear()
        vc = None
        if vertex_colors is not None:
            vc = np.asarray(vertex_colors, dtype=np.float64)
            vc = (vc * 255 if vc.max() <= 1.0 else vc).astype(np.uint8)
        tm = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), vertex_colors=vc, process=False)
        material = None
        if vc is None:
            material = self._pr.MetallicRoughnessMaterial(baseColorFactor=[*color, 1.0], metallicFactor=0.0,
                                                          roughnessFactor=0.8)
        mesh = self._pr.Mesh.from_trimesh(tm, material=material, smooth=smooth)
        self._nodes.append(self.scene.add(mesh))
        rgb, depth = self.renderer.render(self.scene)
        return np.ascontiguousarray(rgb[..., :3]), depth

    def close(self) -> None:
        self.renderer.delete()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def overlay(image: np.ndarray, render: np.ndarray, depth: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend a render onto an image where the mesh is (depth > 0)."""
    out = image.astype(np.float32).copy()
    m = depth > 0
    out[m] = (1 - alpha) * out[m] + alpha * render[m]
    return out.clip(0, 255).astype(np.uint8)
