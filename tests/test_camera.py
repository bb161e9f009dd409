import numpy as np
import torch

from s2v.camera import Camera


def test_look_at_puts_target_at_principal_point_and_up_is_up():
    cam = Camera.look_at([0, 0.2, 3.0], [0, 0.2, 0], 640, 480, fov_y_deg=40)
    np.testing.assert_allclose(cam.project(np.array([0, 0.2, 0.0])), [320, 240], atol=1e-9)
    top, bottom = cam.project(np.array([[0, 1.0, 0], [0, -1.0, 0]]))
    assert top[1] < 240 < bottom[1]                     # world up is image up
    left = cam.project(np.array([1.0, 0.2, 0]))         # subject's left (+x) faces the camera: image right
    assert left[0] > 320


def test_project_backproject_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    cam = Camera.look_at([0.3, 0.5, 4.0], [0, 0, 0], 512, 512, fov_y_deg=30)
    X = rng.uniform(-1, 1, size=(100, 3))
    uv = cam.project(X)
    back = cam.backproject(uv, cam.depth(X))
    assert np.abs(back - X).max() < 1e-9
    uv_t = cam.project(torch.tensor(X, dtype=torch.float64))
    assert np.abs(uv_t.numpy() - uv).max() < 1e-9
    rays = cam.ray(uv)
    d = (X - cam.center) / np.linalg.norm(X - cam.center, axis=1, keepdims=True)
    assert np.abs(rays - d).max() < 1e-9


def test_framing_contains_points_and_scaling_and_json(tmp_path):
    pts = np.random.default_rng(1).normal(size=(500, 3)) * [0.3, 0.8, 0.2]
    cam = Camera.framing(pts, 256, 256, margin=0.05)
    uv = cam.project(pts)
    assert uv.min() >= 0 and uv.max() <= 256
    half = cam.scaled(0.5)
    np.testing.assert_allclose((cam.project(pts) + 0.5) * 0.5 - 0.5, half.project(pts), atol=1e-9)
    f = cam.save(tmp_path / "camera.json")
    again = Camera.load(f)
    np.testing.assert_allclose(again.project(pts), uv)
