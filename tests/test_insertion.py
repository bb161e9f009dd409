"""Key-pose insertion as figure 6: ramps of 0.6 s, hold of 0.3 s, SO(3) interpolation."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from s2v.dictionary.insertion import insert_key_pose, interpolate
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


def test_key_word_frames_cover_ramps_and_the_longest_entry():
    from s2v.dictionary.insertion import key_word_frames
    from s2v.dictionary.store import from_rows

    lay = ParamLayout()
    pose = np.zeros((1, lay.frame_dim), np.float32)
    d = from_rows([dict(word="huge", pose=pose, hold=0.3), dict(word="huge", pose=pose, hold=0.5),
                   dict(word="tiny", pose=np.zeros((12, lay.frame_dim), np.float32))], lay, fps=30.0)
    words = [{"word": "the", "start": 0.5, "end": 0.7}, {"word": "Huge,", "start": 2.0, "end": 2.4},
             {"word": "tiny", "start": 4.6, "end": 4.9}]
    m = key_word_frames(words, d, 150, 30.0)
    # huge at frame 60: 18 ramp frames before, the longer entry's 15-frame hold, 18 ramp frames out -> 42..92
    assert np.flatnonzero(m[:120]).tolist() == list(range(42, 93))
    # tiny: a 12-frame motion from frame 138 (ramp from 120), cut at the end of the recording
    assert m[120:].all() and not m[:42].any() and m.sum() == 51 + 30
    assert not key_word_frames([{"word": "small", "start": 1.0, "end": 1.2}], d, 150, 30.0).any()
