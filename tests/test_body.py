"""The free body model behaves as SMPL-X: joint tree, conventions, bone lengths, jaw, hands, shape."""
import numpy as np
import pytest
import torch

from s2v.body import JOINT_NAMES, PARENTS, BodyModel, BodyModelNotFound, bone_lengths, keypoint_names
from s2v.body.joints import LOWER_LIP68, UPPER_LIP68
from s2v.body.poses import arms_down, named_pose, set_joint
from s2v.params import ParamLayout, SMPLXParams

J = {n: i for i, n in enumerate(JOINT_NAMES)}


def _random_params(T, seed=0, scale=0.6, layout=None):
    rng = np.random.default_rng(seed)
    lay = layout or ParamLayout()
    v = rng.normal(scale=scale, size=(T, lay.frame_dim)).astype(np.float32)
    return SMPLXParams.from_vector(v, lay, global_orient=rng.normal(scale=0.5, size=3), transl=[0.1, -0.2, 0.3])


def test_joint_names_and_tree_match_smplx(body_model):
    from smplx.joint_names import JOINT_NAMES as SMPLX_NAMES

    assert list(JOINT_NAMES) == SMPLX_NAMES[:55]
    kintree = body_model.smplx.parents.cpu().numpy()
    np.testing.assert_array_equal(kintree, PARENTS)
    assert len(keypoint_names(True)) == 144 and len(keypoint_names(False)) == 127
    # the extra keypoints smplx appends are the ones we name, in the same order
    assert list(keypoint_names(False)[55:76]) == [n for n in SMPLX_NAMES[55:76]]


def test_bone_lengths_are_identical_under_random_poses(body_model):
    """Section 3.2's point: a pose is rotations on a fixed skeleton, so limbs cannot stretch."""
    rest = bone_lengths(body_model.rest_joints())
    with torch.no_grad():
        joints = body_model(_random_params(64, seed=3), return_verts=False).joints.numpy()
    assert np.abs(bone_lengths(joints) - rest).max() < 1e-5


def test_zero_pose_is_the_rest_pose_and_a_t_pose(body_model):
    m = body_model.smplx
    with torch.no_grad():
        out = body_model(SMPLXParams.zeros(1), return_verts=True)
    # flat hands: the zero *full* pose. With the PCA mean (relaxed hand) only the hands may differ.
    flat = BodyModel(backend="free", device="cpu", flat_hand_mean=True)
    with torch.no_grad():
        fo = flat(SMPLXParams.zeros(1))
    np.testing.assert_allclose(fo.vertices[0].numpy(), m.v_template.numpy(), atol=1e-6)
    np.testing.assert_allclose(fo.joints[0].numpy(), (m.J_regressor @ m.v_template).numpy(), atol=1e-6)
    j = out.joints[0].numpy()
    for side, s in (("left", 1), ("right", -1)):
        sh, el, wr = j[J[f"{side}_shoulder"]], j[J[f"{side}_elbow"]], j[J[f"{side}_wrist"]]
        arm = wr - sh
        assert s * arm[0] > 0.4 and abs(arm[1]) < 0.02 and abs(arm[2]) < 0.02, "arms horizontal along +-x"
        assert abs(el[1] - sh[1]) < 0.02
    head, pelvis = j[J["head"]], j[J["pelvis"]]
    assert head[1] - pelvis[1] > 0.4, "y is up"
    nose = out.keypoints[0, keypoint_names().index("nose")].numpy()
    assert nose[2] - head[2] > 0.05, "the body faces +z"
    assert abs(j[J["left_ankle"]][0] - j[J["left_hip"]][0]) < 0.06, "legs hang straight"


def test_arms_down_pose_from_smplx_conventions_lands_the_wrists(body_model):
    """A hand-written SMPL-X pose (shoulders +-70 deg about z) means the same on the free model."""
    rest = body_model.rest_joints()
    p = SMPLXParams.zeros(1)
    p.body_pose[0] = arms_down(70.0)
    with torch.no_grad():
        j = body_model(p, return_verts=False).joints[0].numpy()
    a = np.radians(70)
    for side, s in (("left", 1), ("right", -1)):
        sh, wr0 = rest[J[f"{side}_shoulder"]], rest[J[f"{side}_wrist"]]
        L = np.linalg.norm(wr0 - sh)
        expect = sh + L * np.array([s * np.cos(a), -np.sin(a), 0.0])
        assert np.linalg.norm(j[J[f"{side}_wrist"]] - expect) < 0.01, side   # 1 cm
        assert j[J[f"{side}_wrist"]][1] < j[J["spine3"]][1] - 0.2           # hands are down by the hips


def test_elbow_flexion_brings_the_forearm_forward(body_model):
    p = SMPLXParams.zeros(1)
    bp = arms_down(70.0)
    set_joint(bp, "left_elbow", [0, -1.4, 0])   # about -y for the left arm: forearm to the front (+z)
    set_joint(bp, "right_elbow", [0, 1.4, 0])
    p.body_pose[0] = bp
    with torch.no_grad():
        j = body_model(p, return_verts=False).joints[0].numpy()
    for side in ("left", "right"):
        assert j[J[f"{side}_wrist"]][2] - j[J[f"{side}_elbow"]][2] > 0.15, side


def test_jaw_opens_the_lower_lip_only(body_model):
    p = SMPLXParams.zeros(2)
    p.jaw_pose[1] = [0.3, 0, 0]
    with torch.no_grad():
        f68 = body_model(p).face68.numpy()
    d = f68[1] - f68[0]
    lower, upper = d[LOWER_LIP68], d[UPPER_LIP68]
    assert (lower[:, 1] < -0.004).all(), f"lower lip moves down by >4 mm: {lower[:, 1]}"
    assert np.abs(upper).max() < 5e-4, "upper lip stays within 0.5 mm"
    mouth_open = np.linalg.norm(f68[1, 66] - f68[1, 62])
    assert mouth_open > 0.01


def test_expression_moves_the_face_not_the_body(body_model):
    p = SMPLXParams.zeros(2)
    p.expression[1, 0] = 2.0
    with torch.no_grad():
        out = body_model(p)
    dv = np.linalg.norm((out.vertices[1] - out.vertices[0]).numpy(), axis=1)
    w = body_model.smplx.lbs_weights.numpy()
    head = w[:, [J["head"], J["jaw"]]].sum(1) > 0.5
    assert dv[head].max() > 0.003 and dv[~head].max() < 1e-3
    np.testing.assert_allclose(out.joints[1].numpy(), out.joints[0].numpy(), atol=1e-5)


def test_shape_changes_stature_and_keeps_joints_consistent(body_model):
    stature = []
    for b in (-2.0, 0.0, 2.0):
        betas = np.zeros(10, np.float32)
        betas[0] = b
        p = SMPLXParams.zeros(1).replace(betas=betas)
        with torch.no_grad():
            v = body_model(p).vertices[0].numpy()
        stature.append(v[:, 1].max() - v[:, 1].min())
    assert abs(stature[2] - stature[0]) > 0.1, f"first shape direction changes the stature: {stature}"
    assert 1.6 < stature[1] < 1.85


def test_hand_pca_round_trips(body_model):
    rng = np.random.default_rng(5)
    for side in ("left", "right"):
        C = body_model.hand_components(side)
        assert C.shape == (12, 45)
        np.testing.assert_allclose((C @ C.T).numpy(), np.eye(12), atol=1e-5)   # orthonormal like MANO
        pca = torch.tensor(rng.normal(size=(8, 12)), dtype=torch.float32)
        back = body_model.hand_full_to_pca(body_model.hand_pca_to_full(pca, side), side)
        np.testing.assert_allclose(back.numpy(), pca.numpy(), atol=1e-4)


def test_first_hand_component_curls_the_fingers_to_the_palm(body_model):
    p = SMPLXParams.zeros(2)
    p.left_hand_pose[1, 0] = p.right_hand_pose[1, 0] = 2.0
    p.left_hand_pose[0, 0] = p.right_hand_pose[0, 0] = -2.0
    with torch.no_grad():
        k = body_model(p, return_verts=False).keypoints.numpy()
    names = keypoint_names()
    for side in ("left", "right"):
        tip = k[:, names.index(f"{side}_middle")]
        wrist = k[:, names.index(f"{side}_wrist")]
        reach = np.linalg.norm(tip - wrist, axis=1)
        assert abs(reach[1] - reach[0]) > 0.02, "component 1 opens/closes the hand"


def test_vertex_keypoints_sit_on_the_right_body_parts(body_model):
    with torch.no_grad():
        out = body_model(SMPLXParams.zeros(1))
    k = dict(zip(keypoint_names(), out.keypoints[0].numpy()))
    j = out.joints[0].numpy()
    for side, s in (("left", 1), ("right", -1)):
        for f in ("thumb", "index", "middle", "ring", "pinky"):
            assert s * (k[f"{side}_{f}"][0] - j[J[f"{side}_wrist"]][0]) > 0.05, f"{side} {f} tip beyond the wrist"
        assert k[f"{side}_heel"][2] < k[f"{side}_big_toe"][2] - 0.12
        assert s * (k[f"{side}_ear"][0] - j[J["head"]][0]) > 0.05
        assert s * k[f"{side}_eye"][0] > 0.015
    assert k["nose"][1] < k["left_eye"][1] < k["face19"][1], "nose below eyes below brows"
    assert k["face57"][1] < k["face51"][1] and k["face54"][0] > k["face48"][0], "mouth layout"


def test_gradients_flow_for_fitting(body_model):
    bp = torch.zeros(2, 63, requires_grad=True)
    out = body_model({"body_pose": bp}, return_verts=False)
    out.keypoints[:, :, 0].sum().backward()
    assert bp.grad is not None and bp.grad.abs().sum() > 0


def test_full_hand_layout_and_batches(body_model):
    lay = ParamLayout(num_hand_comps=45)
    m = BodyModel(backend="free", layout=lay, device="cpu")
    with torch.no_grad():
        out = m(_random_params(3, layout=lay))
    assert out.vertices.shape == (3, body_model.num_vertices, 3) and out.keypoints.shape == (3, 144, 3)


def test_official_backend_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("S2V_BODY_MODELS", str(tmp_path))
    with pytest.raises(BodyModelNotFound, match="SMPLX_NEUTRAL.npz.*licence"):
        BodyModel(backend="smplx")
    with pytest.raises(BodyModelNotFound, match="build-free"):
        BodyModel(backend="free")


@pytest.mark.skipif(not __import__("s2v.body.model", fromlist=["x"]).official_model_path(),
                    reason="official SMPL-X files not in place")
def test_both_backends_agree_on_joint_order():
    official = BodyModel(backend="smplx", device="cpu")
    free = BodyModel(backend="free", device="cpu")
    np.testing.assert_array_equal(official.smplx.parents.numpy(), free.smplx.parents.numpy())
    assert official.keypoint_names == free.keypoint_names
    p = SMPLXParams.zeros(1)
    p.body_pose[0] = arms_down(70)
    jo, jf = official.rest_joints(), free.rest_joints()
    # the same pose lowers both arms: wrists end below the shoulders in both models
    for m in (official, free):
        with torch.no_grad():
            j = m(p, return_verts=False).joints[0].numpy()
        assert j[J["left_wrist"]][1] < j[J["left_shoulder"]][1] - 0.3
    assert np.abs(jo - jf).max() < 0.25


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    m = BodyModel(backend="free", device="cuda")
    out = m(named_pose("talking"))
    assert out.vertices.is_cuda
