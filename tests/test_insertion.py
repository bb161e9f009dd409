"""Key-pose insertion as figure 6: ramps of 0.6 s, hold of 0.3 s, SO(3) interpolation."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from s2v.dictionary.insertion import InsertionConfig, insert_key_pose, interpolate
from s2v.params import ParamLayout

LAY = ParamLayout()


def test_figure6_weights_and_hold():
    seq = np.zeros((60, 106), np.float32)
    pose = np.zeros(106, np.float32)
    pose[0] = 1.0
    out, span = insert_key_pose(seq, pose, 30, fps=10)   # ramp 6 frames, hold 3
    np.testing.assert_allclose(out[24:39, 0], [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6,
                                               2 / 6, 1 / 6, 0], atol=1e-6)
    assert span == (24, 39) and not out[:24].any() and not out[39:].any()


def test_motion_is_copied_frame_by_frame_and_edges_are_clipped():
    seq = np.zeros((20, 106), np.float32)
    motion = np.linspace(0, 1, 5)[:, None] * np.ones(106, np.float32)
    out, _ = insert_key_pose(seq, motion, 8, fps=5)
    np.testing.assert_allclose(out[8:13, 5], np.linspace(0, 1, 5))
    early, _ = insert_key_pose(seq, np.ones(106), 1, fps=10)   # ramp longer than the frames before it
    assert early[1, 0] == 1 and np.isfinite(early).all()
    late, _ = insert_key_pose(seq, np.ones(106), 19, fps=10)
    assert late[19, 0] == 1


def test_parts_limit_the_insertion():
    seq = np.zeros((30, 106), np.float32)
    seq[:, LAY.slices()["jaw_pose"].start] = np.linspace(0, 0.3, 30)
    out, _ = insert_key_pose(seq, np.full(106, 0.5, np.float32), 15, fps=10, parts=("body", "hands"))
    np.testing.assert_array_equal(out[:, LAY.slices()["jaw_pose"]], seq[:, LAY.slices()["jaw_pose"]])
    assert out[15, 0] == np.float32(0.5)


def test_slerp_keeps_constant_angular_speed_and_linear_does_not():
    a = np.zeros(106, np.float32)
    b = np.zeros(106, np.float32)
    a[0:3] = Rotation.from_euler("z", 170, degrees=True).as_rotvec()
    b[0:3] = Rotation.from_euler("z", -170, degrees=True).as_rotvec()   # 20 degrees away the short way
    w = np.linspace(0, 1, 11)
    for interp, ok in (("slerp", True), ("linear", False)):
        out = interpolate(a, b, w, LAY, interp)
        R = Rotation.from_rotvec(out[:, 0:3])
        step = np.degrees([(R[i].inv() * R[i + 1]).magnitude() for i in range(10)])
        if ok:
            np.testing.assert_allclose(step, 2.0, atol=1e-3)   # 20 deg in 10 equal steps
        else:
            assert step.max() > 10 * step.min() or step.sum() > 100   # the long way round, uneven


def test_bad_interp_is_refused():
    with pytest.raises(ValueError):
        interpolate(np.zeros(106), np.zeros(106), np.array([0.5]), LAY, "cubic")
