"""Fitting SMPL-X to 2D keypoints (section 3.2), measured against the studio's ground truth."""
import json

import numpy as np
import pytest

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.fitting.fit import FitConfig, fit_per_frame, fit_run, fit_sequence, joint_errors_mm, load_fit
from s2v.keypoints import SLICES, KeypointTrack, load_openpose_json, project_model, save_openpose_json
from s2v.params import SMPLXParams

FRAMES = slice(0, 120)


@pytest.fixture(scope="module")
def studio(tiny_recording):
    rec, cfg = tiny_recording
    run = rec.run
    track = KeypointTrack.load(run.path("truth_keypoints"))
    truth = SMPLXParams.load(run.path("truth_params"))
    return run, Camera.load(run.path("camera")), track, truth


@pytest.fixture(scope="module")
def fitted(studio, body_model):
    run, cam, track, truth = studio
    rng = np.random.default_rng(0)
    pts = track.points[FRAMES].copy()
    pts[..., :2] += rng.normal(scale=0.5, size=pts[..., :2].shape)        # 0.5 px noise at 128^2
    res = fit_sequence(KeypointTrack(pts, track.width, track.height, track.fps), cam, body_model, FitConfig(),
                       progress=False)
    return res, truth.frames(FRAMES), pts


def test_batched_fit_recovers_the_studio_pose(fitted, body_model):
    res, truth, _ = fitted
    assert not res.failed.any()
    assert np.median(res.residual_px) < 1.5, np.median(res.residual_px)
    err = joint_errors_mm(res.params, truth, body_model)
    assert err["body_pa_mm"] < 40 and err["hands_pa_mm"] < 25, err
    assert err["body_mm"] < 60, err


def test_fit_fixes_shape_and_orientation_after_the_first_frames(fitted):
    res, truth, _ = fitted
    p = res.params
    assert np.ptp(p.global_orient, axis=0).max() == 0 and np.ptp(p.transl, axis=0).max() == 0
    assert p.to_vector().shape == (120, 106)
    # upright and facing the camera, like the truth (identity)
    from scipy.spatial.transform import Rotation

    assert Rotation.from_rotvec(p.global_orient[0]).magnitude() < np.radians(8)


def test_loss_decreases(fitted):
    res, _, _ = fitted
    first_stage2 = FitConfig().init_steps
    assert res.losses[-1] < res.losses[first_stage2] * 0.9
    # each term is logged: they add up to the total at every step, stage 1 has shape and orientation, the
    # per-frame stage the smoothness term, and the data term falls in both
    t = res.loss_terms
    assert set(t) == {"data", "prior", "shape", "orientation", "smooth"}
    assert all(len(v) == len(res.losses) for v in t.values())
    np.testing.assert_allclose(np.nansum(np.stack(list(t.values())), 0), res.losses, rtol=1e-5)
    assert np.isfinite(t["shape"][:first_stage2]).all() and np.isnan(t["shape"][first_stage2:]).all()
    assert np.isnan(t["smooth"][:first_stage2]).all() and np.isfinite(t["smooth"][first_stage2:]).all()
    # (stage 1 fits the torso alone first, then every point: compare like with like)
    s1 = FitConfig().init_steps // 3
    assert t["data"][first_stage2 - 1] < 0.5 * t["data"][s1] and t["data"][-1] < t["data"][first_stage2]


def test_jaw_follows_the_truth(fitted):
    res, truth, _ = fitted
    r = np.corrcoef(res.params.jaw_pose[:, 0], truth.jaw_pose[:, 0])[0, 1]
    assert r > 0.6, r


def test_per_frame_loop_agrees_with_batched(fitted, studio, body_model):
    res, truth, pts = fitted
    run, cam, track, _ = studio
    sub = KeypointTrack(pts[:4], track.width, track.height, track.fps)
    loop = fit_per_frame(sub, cam, body_model, res.params.frames(slice(0, 4)), FitConfig(), steps=150)
    assert np.median(loop.residual_px) < 2.0
    e = joint_errors_mm(loop.params, truth.frames(slice(0, 4)), body_model)
    assert e["body_pa_mm"] < 40


def test_missing_person_is_a_clear_error(studio, body_model):
    run, cam, track, _ = studio
    empty = KeypointTrack(np.zeros((5, 137, 3), np.float32), track.width, track.height)
    with pytest.raises(ValueError, match="no person detected"):
        fit_sequence(empty, cam, body_model, FitConfig(init_steps=3, steps=3), progress=False)


def test_lost_frames_are_flagged_not_garbage(studio, body_model):
    run, cam, track, _ = studio
    pts = track.points[:30].copy()
    pts[10:13] = 0.0                              # the person vanishes for three frames
    res = fit_sequence(KeypointTrack(pts, track.width, track.height), cam, body_model,
                       FitConfig(init_steps=60, steps=80), progress=False)
    assert res.missing[10:13].all() and not res.missing[:10].any() and not res.failed.any()
    assert np.isfinite(res.params.to_vector()).all()
    # bridged by the temporal term: the middle of the gap lies between its neighbours
    b = res.params.body_pose
    assert np.abs(b[11] - (b[9] + b[13]) / 2).max() < 0.05


def test_fit_stage_writes_params_with_residuals(studio, tmp_path):
    from s2v.fitting.detect import detect_run
    from s2v.run import Run

    run, *_ = studio
    r = Run.create("fitstage", tmp_path)
    for a in ("camera", "truth_keypoints"):
        r.path(a).write_bytes(run.path(a).read_bytes())
        r.record(a)                                # a run made by hand: its files recorded, as a stage would
    track = detect_run(r, source="truth", noise_px=0.5, progress=False)
    assert r.has("keypoints") and len(track) > 0
    small = KeypointTrack(track.points[:40], track.width, track.height, track.fps)
    small.save(r.path("keypoints"))
    r.accept("keypoints")                      # a deliberate edit: recorded, else the fit refuses the changed file
    res = fit_run(r, FitConfig(init_steps=60, steps=80), backend="free", progress=False)
    back = load_fit(r.path("params"))
    np.testing.assert_allclose(back.residual_px, res.residual_px)
    assert r.manifest["artifacts"]["params"]["frames"] == 40


def test_openpose_json_round_trip_and_largest_person(studio, tmp_path):
    _, _, track, _ = studio
    sub = KeypointTrack(track.points[:5], track.width, track.height)
    sub.points[2] = 0.0
    save_openpose_json(sub, tmp_path / "op")
    back = load_openpose_json(tmp_path / "op", track.width, track.height, 25.0)
    np.testing.assert_allclose(back.points, sub.points, atol=1e-4)
    # add a small second person to frame 0: the largest is kept
    f = tmp_path / "op" / "000000_keypoints.json"
    d = json.loads(f.read_text())
    small = dict(d["people"][0])
    small["pose_keypoints_2d"] = (np.asarray(small["pose_keypoints_2d"]).reshape(-1, 3)
                                  * [0.2, 0.2, 1]).ravel().tolist()
    d["people"].insert(0, small)
    f.write_text(json.dumps(d))
    again = load_openpose_json(tmp_path / "op", track.width, track.height, 25.0)
    np.testing.assert_allclose(again.points[0], sub.points[0], atol=1e-4)
    with pytest.raises(ValueError, match="2 people"):
        load_openpose_json(tmp_path / "op", track.width, track.height, 25.0, person="error")


def test_detector_finds_the_studio_speaker(studio):
    pytest.importorskip("mediapipe", reason="MediaPipe not installed (make installs it)")
    from s2v.fitting.detect import detect_frames
    from s2v.video import read_video

    run, _, track, _ = studio
    frames, _ = read_video(run.path("recording"))
    det = detect_frames(frames[:40], progress=False)
    gt = track.points[:40]
    body = det.points[:, SLICES["body"]]
    ok = body[..., 2] > 0.5
    assert ok[:, [0, 2, 5, 9, 12]].mean() > 0.95                 # nose, shoulders, hips
    err = np.linalg.norm(body[..., :2] - gt[:, SLICES["body"], :2], axis=-1)
    assert np.median(err[ok]) < 4.0, np.median(err[ok])          # px at 128^2
    face = det.points[:, SLICES["face"]]
    assert (face[:, :68, 2] > 0).mean() > 0.8                    # the face is ~12 px tall at 128^2


def test_speaker_hand_basis_travels_with_the_fit(studio, tmp_path):
    """``fit --hands speaker``: the speaker's own 12-component basis is stored with the fit and every stage that
    draws the speaker's skeleton uses it (issue 13)."""
    from s2v.body.hands import load_hand_basis
    from s2v.gan.data import run_keypoints
    from s2v.run import Run

    run, *_ = studio
    r = Run.create("hands", tmp_path)
    for a in ("camera", "recording", "audio"):
        r.path(a).write_bytes(run.path(a).read_bytes())
        r.record(a)
    track = KeypointTrack.load(run.path("truth_keypoints"))
    KeypointTrack(track.points[:30], track.width, track.height, track.fps).save(r.path("keypoints"))
    r.record("keypoints")
    res = fit_run(r, FitConfig(init_steps=40, steps=60, hand_basis="speaker"), backend="free", progress=False)
    basis = load_hand_basis(r.path("params"))
    share = r.manifest["artifacts"]["params"]["hand_basis_share"]
    assert set(basis) == {"left", "right"} and basis["left"].shape == (12, 45)
    for side in ("left", "right"):
        np.testing.assert_allclose(basis[side] @ basis[side].T, np.eye(12), atol=1e-4)   # orthonormal rows
        assert share[side] > 0.99                                  # 30 frames of one speaker: 12 rows hold them
        np.testing.assert_array_equal(load_fit(r.path("params")).hand_basis[side], basis[side])
    cam = Camera.load(r.path("camera"))
    own = project_model(BodyModel(backend="free", device="cpu", hand_basis=basis), res.params, cam)
    other = project_model(BodyModel(backend="free", device="cpu"), res.params, cam)
    drawn = run_keypoints(r, cam.width, cam.height, backend="free")
    hands = slice(25, 67)
    assert np.abs(own[:, hands, :2] - other[:, hands, :2]).max() > 1.0    # the basis matters ...
    np.testing.assert_allclose(drawn[:, hands, :2], own[:, hands, :2], atol=0.6)   # ... and the GAN's labels use it
    with pytest.raises(ValueError, match="does not fit the layout"):
        BodyModel(backend="free", device="cpu", hand_basis={"left": basis["left"][:6], "right": basis["right"][:6]})


def test_real_fingers_fit_the_speaker_basis_better_than_the_free_one(shared_data):
    """Issue 13's bar on the real DWPose track: the speaker's own 12 components express >= 90 % of the fingers
    and fit the 2D hands at least as well as the free model's generated basis."""
    from s2v.fitting.fit import fit_with_speaker_hands

    tr = KeypointTrack.from_dwpose_npz(shared_data / "keypoints_halfbody" / "echomimic_pose01.npz")
    tr = KeypointTrack(tr.points[:60], tr.width, tr.height, tr.fps)
    cam = Camera.default_for(tr.width, tr.height)
    cfg = FitConfig(init_steps=100, steps=150)
    free = fit_sequence(tr, cam, BodyModel(backend="free", device="cpu"), cfg, progress=False).quality()
    res, info = fit_with_speaker_hands(tr, cam, "free", cfg, progress=False)
    own = res.quality()
    assert min(info["hand_basis_share"].values()) >= 0.9, info
    for side in ("left_hand", "right_hand"):
        assert own[f"median_{side}_px"] <= free[f"median_{side}_px"] + 0.2, (side, own, free)
    assert own["failed"] == 0
