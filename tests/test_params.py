import numpy as np
import pytest

from s2v.params import PAPER_PART_WEIGHTS, ParamLayout, ParamsError, SMPLXParams


def test_paper_counts():
    lay = ParamLayout()
    assert lay.frame_dim == 106          # section 3.2: pose + expression with beta and orientation fixed
    assert lay.paper_dim == 119          # 75 + 24 + 10 + 10
    assert ParamLayout(num_hand_comps=45).frame_dim == 106 - 24 + 90


def test_slices_tile_the_vector_and_parts_cover_it_once():
    lay = ParamLayout()
    sl = list(lay.slices().values())
    assert sl[0].start == 0 and sl[-1].stop == 106
    assert all(a.stop == b.start for a, b in zip(sl, sl[1:]))
    idx = np.concatenate([lay.part_index(p) for p in lay.part_fields()])
    assert sorted(idx.tolist()) == list(range(106))
    w = lay.part_weights()
    assert w[lay.slices()["jaw_pose"]].tolist() == [100.0] * 3
    assert w[lay.slices()["left_hand_pose"]].tolist() == [4.0] * 12
    assert set(np.unique(w)) == set(PAPER_PART_WEIGHTS.values())


def test_vector_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 106)).astype(np.float32)
    p = SMPLXParams.from_vector(v, betas=np.arange(10), global_orient=[0.1, 0.2, 0.3])
    np.testing.assert_array_equal(p.to_vector(), v)
    assert p.global_orient.shape == (7, 3) and np.allclose(p.global_orient[3], [0.1, 0.2, 0.3])
    sub = p.frames(slice(2, 5))
    np.testing.assert_array_equal(sub.to_vector(), v[2:5])
    both = SMPLXParams.concatenate([sub, p.frames(np.array([0]))])
    assert len(both) == 4


def test_npz_round_trip_uses_smplx_keys(tmp_path):
    rng = np.random.default_rng(1)
    p = SMPLXParams.from_vector(rng.normal(size=(5, 106)), betas=rng.normal(size=10), transl=[0, 1, 2])
    f = p.save(tmp_path / "params.npz", fps=30)
    with np.load(f) as z:
        for k in ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose", "left_hand_pose",
                  "right_hand_pose", "betas", "expression", "transl"):
            assert k in z
        assert int(z["num_pca_comps"]) == 12 and float(z["meta_fps"]) == 30
    q = SMPLXParams.load(f)
    np.testing.assert_allclose(q.to_vector(), p.to_vector())
    np.testing.assert_allclose(q.betas, p.betas)
    np.testing.assert_allclose(q.transl, p.transl)
    assert not list(tmp_path.glob(".*tmp*")), "atomic write left a temporary file"


def test_smplify_x_style_and_amass_style_inputs():
    d = {"body_pose": np.zeros((1, 63)), "betas": np.ones((1, 10)), "global_orient": np.ones((1, 3)),
         "left_hand_pose": np.zeros((1, 12)), "right_hand_pose": np.zeros((1, 12)), "expression": np.zeros((1, 10))}
    p = SMPLXParams.from_mapping(d)
    assert len(p) == 1 and p.betas.tolist() == [1.0] * 10
    poses = np.random.default_rng(2).normal(size=(4, 165))
    q = SMPLXParams.from_mapping({"poses": poses, "trans": np.zeros((4, 3)), "betas": np.zeros(16)})
    assert q.layout.num_hand_comps == 45
    np.testing.assert_allclose(q.right_hand_pose, poses[:, 120:], rtol=1e-6)
    np.testing.assert_allclose(q.jaw_pose, poses[:, 66:69], rtol=1e-6)


def test_clear_errors_for_bad_shapes_and_nans():
    with pytest.raises(ParamsError, match=r"body_pose has shape \(3, 60\); expected \(3, 63\)"):
        SMPLXParams.zeros(3).replace(body_pose=np.zeros((3, 60)))
    bad = np.zeros((4, 106))
    bad[2, ParamLayout().slices()["left_hand_pose"].start + 3] = np.nan
    with pytest.raises(ParamsError, match=r"left_hand_pose contains NaN/inf at frames \[2\]"):
        SMPLXParams.from_vector(bad)
    with pytest.raises(ParamsError, match="expected"):
        SMPLXParams.from_vector(np.zeros((4, 100)))
    with pytest.raises(ParamsError):
        ParamLayout(num_hand_comps=0)
