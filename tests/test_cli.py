"""Command-line subcommands not covered elsewhere: skeleton videos and run folders."""
import json
import subprocess
import sys

import numpy as np

from s2v.camera import Camera
from s2v.video import read_video


def _s2v(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "s2v", *args], capture_output=True, text=True, cwd=cwd)


def test_skeleton_command_renders_a_track(tiny_recording, tmp_path):
    rec, cfg = tiny_recording
    out = tmp_path / "skel.mp4"
    r = _s2v("skeleton", str(rec.run.path("truth_keypoints")), "--out", str(out), "--size", "64")
    assert r.returncode == 0, r.stderr
    frames, fps = read_video(out)
    assert frames.shape == (rec.num_frames, 64, 64, 3) and fps == cfg.fps
    assert frames[len(frames) // 2].max() > 200          # something drawn (the white face, colours)


def test_run_init_and_show(tmp_path):
    assert _s2v("run", "init", "r1", "--runs-dir", str(tmp_path)).returncode == 0
    r = _s2v("run", "show", "r1", "--runs-dir", str(tmp_path))
    shown = json.loads(r.stdout)
    assert shown["artifacts"] == {} and "recording" in shown["missing"]
    assert _s2v("run", "show", "nope", "--runs-dir", str(tmp_path)).returncode == 2


def test_default_camera_for_unknown_calibration():
    cam = Camera.default_for(1280, 720, fov_deg=60.0)
    assert (cam.cx, cam.cy) == (640.0, 360.0)
    edge = cam.project(np.array([np.tan(np.radians(30)), 0.0, 1.0]))   # 30 deg off-axis at depth 1
    np.testing.assert_allclose(edge, [1280.0, 360.0], atol=1e-6)
