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


def _stock_beat2(truth, model, fps, path, short_s: float = 0.5):
    """Studio truth written as a stock BEAT2 take comes: 165 numbers at 30 Hz under 'mocap_frame_rate', MoSh++'s
    absolute fingers with no flag saying so, SMPL-X's 300 betas (a built speaker) and FLAME's 100 expressions, and
    the motion ``short_s`` shorter than its speech."""
    d = to_mocap(truth, model, fps, hand_mean="absolute")
    del d["flat_hand_mean"], d["body_model"]                          # a stock file names neither
    n = len(d["poses"]) - int(round(short_s * fps))
    d = {k: (v[:n] if np.ndim(v) and len(v) == len(truth) else v) for k, v in d.items()}
    d["betas"] = np.r_[np.full(10, 1.5, np.float32), np.zeros(290, np.float32)]
    d["expressions"] = np.concatenate([d["expressions"], np.zeros((n, 90), np.float32)], 1)
    np.savez(path, **d)
    return n


def test_a_stock_beat2_take_imports_with_no_flags(studio30, body_model, tmp_path, capsys):
    """Issue 28's bar: motion 0.5 s shorter than its speech, absolute fingers, foreign betas/expressions -> one
    command, no flags: the speech cut to the motion, hands as the truth's (not fists), the neutral shape, and
    every choice printed."""
    import soundfile as sf

    from s2v.cli import main

    run, truth, fps = studio30
    n = _stock_beat2(truth, body_model, fps, tmp_path / "take.npz")
    R = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["capture", "--run", "b2", "--mocap", str(tmp_path / "take.npz"), "--audio",
                 str(run.path("audio")), "--no-stt", *R]) == 0
    out = capsys.readouterr().out
    assert "MoSh++" in out and "neutral shape" in out and "speech's last" in out
    b2 = Run(tmp_path / "runs" / "b2")
    p = SMPLXParams.load(b2.path("mocap"))
    audio, sr = sf.read(b2.path("audio"))
    assert len(p) == n and abs(len(audio) / sr - n / fps) < 1.0 / fps          # in sync after the cut
    assert np.abs(p.left_hand_pose - truth.left_hand_pose[:n]).max() <= 1e-4     # relaxed, as recorded
    assert np.abs(p.betas).max() == 0 and np.abs(p.expression).max() == 0       # not poured into the free bases
    assert _angle(p.jaw_pose, truth.jaw_pose[:n]) <= 1e-5                        # the jaw is a joint: kept
    # --start/--end keep a part of the take, motion and speech alike
    assert main(["capture", "--run", "part", "--mocap", str(tmp_path / "take.npz"), "--audio",
                 str(run.path("audio")), "--no-stt", "--start", "0.5", "--end", "2.0", *R]) == 0
    part = Run(tmp_path / "runs" / "part")
    pp = SMPLXParams.load(part.path("mocap"))
    audio, sr = sf.read(part.path("audio"))
    assert len(pp) == int(round(1.5 * fps)) and abs(len(audio) / sr - 1.5) < 1.0 / fps
    assert _angle(pp.body_pose, truth.body_pose[int(round(0.5 * fps)):][:len(pp)]) <= 1e-5


def test_mocap_choices_that_cannot_be_right_are_refused(studio30, body_model):
    run, truth, fps = studio30
    d = to_mocap(truth, body_model, fps, hand_mean="absolute")
    with pytest.raises(MocapError, match="contradicts the file's own frame rate"):
        to_kit(d, body_model, MocapConfig(fps=fps, source_fps=fps * 0.993))   # BEAT2's 29.8 for 30
    # a file with neither a flag nor MoSh++'s key, whose average hand lies halfway: refused with both figures
    mean = np.concatenate([body_model.smplx.left_hand_mean.numpy(), body_model.smplx.right_hand_mean.numpy()])
    odd = {k: v for k, v in d.items() if k not in ("flat_hand_mean", "mocap_frame_rate")}
    odd["fps"] = np.array(fps)
    odd["poses"] = odd["poses"].copy()
    odd["poses"][:, 75:] = mean / 2
    with pytest.raises(MocapError, match="too close to call"):
        to_kit(odd, body_model, MocapConfig(fps=fps))
    p, rep = to_kit(odd, body_model, MocapConfig(fps=fps, hand_mean="relative"))
    assert rep.hand_mean == "relative" and any("as given" in n for n in rep.notes)


def test_textgrid_word_times_are_kept_as_given(studio30, body_model, tmp_path):
    """A Praat TextGrid (BEAT2's word times) is read, not re-aligned: its words and times land in the run's
    transcript, moved by --start and cut to the speech kept; silence labels are dropped."""
    import json

    from praatio import textgrid

    from s2v.cli import main

    run, truth, fps = studio30
    _stock_beat2(truth, body_model, fps, tmp_path / "take.npz")
    given = [(0.20, 0.62, "hello"), (0.62, 0.70, "sil"), (0.70, 1.10, "world"), (1.60, 2.05, "again"),
             (2.30, 2.60, "late")]
    tg = textgrid.Textgrid()
    tg.addTier(textgrid.IntervalTier("words", given, 0.0, 3.0))
    tg.addTier(textgrid.IntervalTier("phones", [(0.2, 0.4, "HH")], 0.0, 3.0))
    tg.save(str(tmp_path / "take.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    R = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["capture", "--run", "tg", "--mocap", str(tmp_path / "take.npz"), "--audio", str(run.path("audio")),
                 "--transcript", str(tmp_path / "take.TextGrid"), "--start", "0.5", "--end", "2.2", *R]) == 0
    t = json.loads((tmp_path / "runs" / "tg" / "capture" / "transcript.json").read_text())
    assert "TextGrid" in t["source"]
    # "hello" starts before the part kept and "late" ends after it: dropped; the rest moved by -0.5 s
    assert [(w["word"], w["start"], w["end"]) for w in t["words"]] == [("world", 0.2, 0.6), ("again", 1.1, 1.55)]


def test_mocap_hands_speaker_keeps_fingers_the_model_basis_loses(studio30, body_model, tmp_path):
    """--hands speaker: the speaker's own 12 components from the file's fingers (as fit --hands speaker). Fingers
    moving in directions the free basis lacks are kept, and the basis travels in capture/mocap.npz."""
    from s2v.body.hands import load_hand_basis
    from s2v.cli import main

    run, truth, fps = studio30
    d = to_mocap(truth, body_model, fps, hand_mean="absolute")
    rng = np.random.default_rng(0)
    dirs = np.linalg.qr(rng.normal(size=(90, 3)))[0].T                     # 3 finger synergies of this speaker
    T = len(d["poses"])
    d["poses"][:, 75:] += (np.sin(np.arange(T)[:, None] * [0.2, 0.31, 0.45]) * 0.6) @ dirs
    np.savez(tmp_path / "take.npz", **d)
    _, rep_model = to_kit(d, body_model, MocapConfig(fps=fps))
    p, rep = to_kit(d, body_model, MocapConfig(fps=fps, hands="speaker"))
    assert rep_model.hand_pca_error_rad > 0.05 and rep.hand_pca_error_rad < 0.2 * rep_model.hand_pca_error_rad
    R = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["capture", "--run", "hs", "--mocap", str(tmp_path / "take.npz"), "--audio", str(run.path("audio")),
                 "--no-stt", "--hands", "speaker", *R]) == 0
    basis = load_hand_basis(Run(tmp_path / "runs" / "hs").path("mocap"))
    assert basis is not None and basis["left"].shape == (12, 45)
    full = np.asarray(SMPLXParams.load(Run(tmp_path / "runs" / "hs").path("mocap")).left_hand_pose) @ basis["left"]
    want = d["poses"][:len(full), 75:120] - body_model.smplx.left_hand_mean.numpy()
    assert np.abs(full - want).mean() < 0.02
