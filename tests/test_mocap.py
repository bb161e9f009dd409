"""Motion capture in (issue 13): the ecosystem's SMPL-X motion files become runs, in sync with their speech;
time ranges of a run for training/validation."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from s2v.mocap import (
    MocapConfig,
    MocapError,
    read_mocap,
    to_kit,
    to_mocap,
)
from s2v.params import SMPLXParams
from s2v.run import Run


def _angle(a, b) -> float:
    """Largest rotation between two axis-angle arrays (radians)."""
    ra, rb = Rotation.from_rotvec(np.reshape(a, (-1, 3))), Rotation.from_rotvec(np.reshape(b, (-1, 3)))
    return float((ra.inv() * rb).magnitude().max())


@pytest.fixture(scope="module")
def studio(tiny_recording):
    rec, cfg = tiny_recording
    return rec.run, SMPLXParams.load(rec.run.path("truth_params")), cfg.fps


@pytest.fixture(scope="module")
def studio30(tmp_path_factory):
    """The studio at 30 fps (motion and speech, no video): 120 Hz is 4 frames per studio frame."""
    from s2v.studio import StudioConfig, record

    rec = record(StudioConfig.preset("tiny", max_seconds=3.0, pose_session=False, fps=30.0, render=False),
                 tmp_path_factory.mktemp("runs") / "s30", progress=False)
    return rec.run, SMPLXParams.load(rec.run.path("truth_params")), 30.0


def _amass_like(truth, model, fps, path):
    """Studio truth written as AMASS/BEAT2 write motion: 165 numbers at 120 Hz, absolute fingers, z-up,
    300 shape and 100 expression coefficients, the rate under BEAT2's key."""
    d = to_mocap(truth, model, fps, out_fps=120.0, hand_mean="absolute", up="z")
    d["betas"] = np.concatenate([d["betas"], np.full(290, 0.01, np.float32)])
    d["expressions"] = np.concatenate([d["expressions"], np.zeros((len(d["poses"]), 90), np.float32)], 1)
    np.savez(path, **d)
    return d


def test_mocap_file_round_trips_the_studio_truth(studio30, studio, body_model, tmp_path):
    run, truth, fps = studio30
    d = _amass_like(truth, body_model, fps, tmp_path / "take.npz")
    assert d["poses"].shape == (int(round((len(truth) - 1) * 120 / fps)) + 1, 165)
    # the fingers as MoSh++ stores them: absolute, the relaxed hand's curl (not ~0 as in the kit)
    assert abs(d["poses"][:, 75:].mean()) > 3 * abs(np.asarray(truth.left_hand_pose).mean() / 10)
    p, rep = to_kit(read_mocap(tmp_path / "take.npz"), body_model, MocapConfig(fps=fps))
    assert (rep.source_fps, rep.hand_mean, rep.up, rep.betas_in_file, rep.expression_in_file) == \
        (120.0, "absolute", "z", 300, 100)
    assert rep.betas_cut_norm == pytest.approx(0.01 * np.sqrt(290), rel=1e-3) and any("300" in n for n in rep.notes)
    assert len(p) == len(truth) and p.layout == truth.layout
    for f in ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose"):
        assert _angle(getattr(p, f), getattr(truth, f)) <= 1e-5, f
    for f in ("left_hand_pose", "right_hand_pose", "expression", "transl"):
        assert np.abs(getattr(p, f) - getattr(truth, f)).max() <= 1e-5, f
    assert np.abs(p.betas - truth.betas).max() <= 1e-6
    # 25 fps -> 120 Hz -> 25 fps: the samples fall between frames (4.8 per frame), so slerp of slerp: close
    run25, truth25, fps25 = studio
    p25, _ = to_kit(to_mocap(truth25, body_model, fps25, out_fps=120.0), body_model, MocapConfig(fps=fps25))
    assert len(p25) == len(truth25) and _angle(p25.body_pose, truth25.body_pose) < 0.02
    # the claw the issue saw: the hand mean added twice would curl every finger far more
    claw, _ = to_kit(read_mocap(tmp_path / "take.npz"), body_model, MocapConfig(fps=fps, hand_mean="relative"))
    assert np.abs(claw.left_hand_pose - truth.left_hand_pose).max() > 0.1


def test_conventions_are_detected_both_ways(studio, body_model):
    run, truth, fps = studio
    rel = to_mocap(truth, body_model, fps, hand_mean="relative", up="y")
    p, rep = to_kit(rel, body_model, MocapConfig(fps=fps))
    assert (rep.hand_mean, rep.up, rep.source_fps, len(p)) == ("relative", "y", fps, len(truth))
    assert np.abs(p.left_hand_pose - truth.left_hand_pose).max() <= 1e-5
    # SMPL-H files (AMASS): 156 numbers, no jaw/eyes
    smplh = dict(rel, poses=np.concatenate([rel["poses"][:, :66], rel["poses"][:, 75:]], 1))
    p2, _ = to_kit(smplh, body_model, MocapConfig(fps=fps))
    assert np.abs(p2.jaw_pose).max() == 0 and _angle(p2.body_pose, truth.body_pose) <= 1e-5
    with pytest.raises(MocapError, match="frame rate"):
        to_kit({k: v for k, v in rel.items() if k != "mocap_frame_rate"}, body_model)
    with pytest.raises(MocapError, match="165"):
        to_kit(dict(rel, poses=np.zeros((10, 100))), body_model)


def test_a_speaker_who_turns_and_walks(studio, body_model):
    """Root motion: fixed (the paper) faces the camera at the first frame's place and says how far the speaker
    turned and walked; keep keeps it per frame. The body's own motion is the same either way."""
    run, truth, fps = studio
    T = len(truth)
    yaw = np.linspace(0.0, np.pi / 2, T)                            # a quarter turn
    d = to_mocap(truth, body_model, fps, hand_mean="relative")
    d["poses"][:, :3] = Rotation.from_euler("y", yaw[:, None]).as_rotvec()
    d["trans"] = np.stack([np.linspace(0, 1.2, T), np.zeros(T), np.zeros(T)], 1).astype(np.float32)
    fixed, rep = to_kit(d, body_model, MocapConfig(fps=fps))
    assert rep.turned_deg == pytest.approx(90.0, abs=0.5) and rep.walked_m == pytest.approx(1.2, abs=1e-3)
    assert any("turns 90 degrees and walks 1.20 m" in n for n in rep.notes)
    assert _angle(fixed.global_orient, np.zeros((T, 3))) <= 1e-5 and np.ptp(fixed.transl, 0).max() == 0
    kept, _ = to_kit(d, body_model, MocapConfig(fps=fps, root="keep"))
    assert _angle(kept.global_orient, d["poses"][:, :3]) <= 1e-5 and np.abs(kept.transl - d["trans"]).max() <= 1e-5
    assert np.abs(kept.to_vector() - fixed.to_vector()).max() <= 1e-5


def test_a_120hz_capture_becomes_a_run_in_sync_with_its_speech(studio, body_model, tmp_path):
    """The CLI path: capture --mocap --audio; 120 Hz motion at the kit's 25 fps lasts what the speech lasts,
    the pose stage trains on it, and a wrong frame rate is refused (the speech would drift)."""
    import soundfile as sf

    from s2v.cli import main
    from s2v.fitting.fit import run_poses

    run, truth, fps = studio
    _amass_like(truth, body_model, fps, tmp_path / "take.npz")
    R = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["capture", "--run", "mc", "--mocap", str(tmp_path / "take.npz"), "--audio",
                 str(run.path("audio")), "--fps", str(fps), "--no-stt", *R]) == 0
    mc = Run(tmp_path / "runs" / "mc")
    p, f, name, _ = run_poses(mc)
    audio, sr = sf.read(mc.path("audio"))
    assert name == "mocap" and f == fps and abs(len(p) / f - len(audio) / sr) <= 1.0 / fps
    assert _angle(p.body_pose, truth.body_pose) < 0.02                # 4.8 samples per frame: slerp of slerp
    assert mc.manifest["artifacts"]["mocap"]["config"]["hand_mean"] == "absolute"
    assert main(["pose", "--train", "mc:0-2", "--val", "mc:2-", "--out", "mc", "--steps", "2", "--preset", "cpu",
                 *R]) == 0
    # 120 Hz read as 60 Hz: twice as long as the speech -> refused, nothing half-written
    assert main(["capture", "--run", "bad", "--mocap", str(tmp_path / "take.npz"), "--mocap-fps", "60", "--audio",
                 str(run.path("audio")), "--no-stt", *R]) == 2
    assert not Run(tmp_path / "runs" / "bad").has("mocap")


def test_time_ranges_split_one_recording(studio):
    from s2v.pose.stage import RunSpan, SpanError, run_sequence

    run, truth, fps = studio
    whole = run_sequence(run)
    a = run_sequence(RunSpan.parse(f"{run.name}:0-2", run.root.parent))
    b = run_sequence(RunSpan.parse(f"{run.name}:2-", run.root.parent))
    assert len(a.targets) == int(round(2 * fps)) and len(a.targets) + len(b.targets) == len(whole.targets)
    assert np.array_equal(np.concatenate([a.inputs, b.inputs]), whole.inputs)
    assert np.array_equal(b.targets, whole.targets[len(a.targets):])
    assert a.name == f"{run.name}:0-2" and b.name == f"{run.name}:2-"
    for bad in (f"{run.name}:5-3", f"{run.name}:x", f"{run.name}:3"):
        with pytest.raises(SpanError):
            RunSpan.parse(bad, run.root.parent)
    with pytest.raises(SpanError, match="outside"):
        run_sequence(RunSpan.parse(f"{run.name}:900-901", run.root.parent))
