"""Motion metrics against cases with known answers, and the section 4 experiments at tiny sizes."""
import numpy as np
import pytest

from s2v.evaluation.motion import (UPPER_BODY, baselines, beat_consistency, bone_variation, finger_length_error,
                            frechet_distance, jerk, joints_3d, l1_diversity, motion_beats, motion_metrics,
                            other_sentences_metrics, pause_frames, table, tile_to, velocity_error)


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, a) < 1e-6
    b = a + np.array([3.0, 0.0, 4.0])                        # shifted mean: FD = |dmu|^2 = 25
    assert frechet_distance(a, b) == pytest.approx(25.0, rel=1e-3)
    c = rng.normal(size=(20000, 3)) * 2.0                    # sigma 1 -> 2 per dim: (2 - 1)^2 * 3 = 3
    assert frechet_distance(a, c) == pytest.approx(3.0, rel=0.05)


def test_jerk_velocity_and_diversity_known_values():
    fps = 30.0
    t = np.arange(90) / fps
    still = np.zeros((90, 2, 3))
    linear = still.copy()
    linear[..., 0] = t[:, None]                               # 1 m/s: no jerk
    cubic = still.copy()
    cubic[..., 0] = t[:, None] ** 3                           # x''' = 6 m/s^3
    assert jerk(still, fps) == 0 and jerk(linear, fps) == pytest.approx(0, abs=1e-6)
    assert jerk(cubic, fps) == pytest.approx(6.0, rel=1e-6)
    assert velocity_error(linear, linear, fps) == 0
    assert velocity_error(linear, still, fps) == pytest.approx(1.0)    # 1 m/s everywhere
    assert l1_diversity(still) == 0
    sway = still.copy()
    sway[:, 1, 0] = np.where(np.arange(90) % 2, 0.01, -0.01)  # a joint 1 cm either side of its mean
    assert l1_diversity(sway) == pytest.approx(1.0)


def test_beat_consistency_rewards_motion_pauses_on_audio_beats():
    sr, fps = 16000, 30.0
    beats = np.arange(0.5, 9.5, 0.75)
    audio = np.zeros(10 * sr, np.float32)
    rng = np.random.default_rng(0)
    for b in beats:                                           # clicks: clear onsets
        i = int(b * sr)
        audio[i:i + 400] = rng.normal(scale=0.5, size=400) * np.exp(-np.arange(400) / 80)
    t = np.arange(int(10 * fps)) / fps

    def motion(offset):   # arm swings whose speed is zero at beats + offset
        x = np.cos(2 * np.pi * (t - offset) / 0.75 / 2) * 0.2  # speed minima where the cosine peaks/troughs
        j = np.zeros((len(t), 3, 3))
        j[:, 2, 0] = x
        j[:, 1, 1] = 0.5 * x
        return j

    on = beat_consistency(motion(0.5), fps, audio, sr)
    off = beat_consistency(motion(0.5 + 0.375), fps, audio, sr)   # minima half-way between the beats
    assert on > 0.85 and off < 0.6                                 # exp(-0.375²/0.18) = 0.46
    m = motion_beats(motion(0.5), fps)
    assert np.abs(m[:, None] - beats[None]).min(0).max() < 0.05     # every audio beat has a motion pause


def test_bones_pauses_baselines_and_table():
    pts = np.zeros((10, 3, 2))
    pts[:, 1, 0] = 1.0
    pts[:, 2, 0] = np.linspace(1.5, 3.0, 10)                  # second bone stretches
    assert bone_variation(pts, [(0, 1)]) == 0
    assert bone_variation(pts, [(1, 2)]) > 0.3
    assert finger_length_error(pts, pts, [(1, 2)]) == 0
    words = [{"word": "a", "start": 1.0, "end": 1.5}]
    p = pause_frames(words, 100, 50.0, margin=0.1)
    assert p[:45].all() and not p[45:81].any() and p[81:].all()     # speaking from 0.9 s to 1.6 s inclusive
    truth = np.arange(12, dtype=np.float32).reshape(6, 2)
    b = baselines(truth, truth[:4], np.array([7.0, 8.0]))
    assert (b["mean pose"] == [7, 8]).all() and len(b["other sentence (truth)"]) == 6
    assert "1.500" in table({"row": {"x": 1.5}}, 3)


def test_joints_are_root_relative_metres(body_model):
    """Two *different* poses: the arm moves, the root (pelvis) stays where it was (no global rotation or
    translation: differences between frames are the pose's alone), and distances are in metres."""
    poses = np.zeros((2, 106), np.float32)
    poses[1, 3 * 15 + 2] = -1.2                                   # frame 1: the left arm lowered
    j = joints_3d(poses, body_model)
    assert j.shape == (2, 17, 3)
    moved = np.linalg.norm(j[1] - j[0], axis=-1)
    names = list(UPPER_BODY)
    assert moved[names.index("left_wrist")] > 0.5 and moved[names.index("right_wrist")] < 1e-6
    w = joints_3d(poses, body_model, joints=("pelvis", "left_wrist", "right_wrist"))
    np.testing.assert_allclose(w[1, 0], w[0, 0], atol=1e-6)       # the root does not move with the arm
    assert 1.0 < np.linalg.norm(w[0, 1] - w[0, 2]) < 2.0           # T-pose wrist span: 1-2 m
    assert 0.5 < np.linalg.norm(w[1, 1] - w[0, 1]) < 1.0           # the lowered wrist travelled ~0.7 m


def test_the_ceiling_over_every_other_sentence_is_their_mean(body_model):
    """The other-sentence ceiling averaged over all other sentences: each scored as a prediction of the truth
    (tiled to its length), the mean per metric; a sentence equal to the truth scores FD_g 0."""
    rng = np.random.default_rng(0)
    truth = (0.2 * rng.standard_normal((40, 106))).astype(np.float32)
    others = {"same": truth[:25], "other": (0.3 * rng.standard_normal((30, 106))).astype(np.float32)}
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    mean, rows = other_sentences_metrics(truth, others, 30.0, audio, 16000, body_model)
    assert rows["same"]["FD_g"] > 0 and rows["other"]["FD_g"] > rows["same"]["FD_g"]     # tiled: 25 of 40 frames
    assert tile_to(truth[:25], 40).shape == (40, 106) and (tile_to(truth[:25], 40)[25:] == truth[:15]).all()
    one = motion_metrics(tile_to(others["other"], 40), truth, 30.0, audio, 16000, body_model)
    assert rows["other"] == pytest.approx(one, nan_ok=True)       # (1 s of audio: no shifted-speech BC, nan)
    for k in one:
        assert mean[k] == pytest.approx((rows["same"][k] + rows["other"][k]) / 2, nan_ok=True)
    same, _ = other_sentences_metrics(truth, {"same": truth}, 30.0, audio, 16000, body_model)
    assert same["FD_g"] == pytest.approx(0, abs=1e-3) and same["LVD (m/s)"] == pytest.approx(0, abs=1e-6)


@pytest.mark.slow
def test_experiments_at_tiny_size(tmp_path):
    from s2v.evaluation.experiments import (EvaluationConfig, key_pose_study, motion_quality, studio_runs, table3,
                                            train_models, tts_pause_noise)
    from s2v.pose.lstm import PoseLSTMConfig

    cfg = EvaluationConfig(train_scripts=("economy", "sports"), sizes=(1, 2), max_seconds=4.0,
                           pose=PoseLSTMConfig(hidden=16, batch_size=4, window=1.0, max_steps=4, eval_every=2))
    runs = studio_runs(cfg, tmp_path)
    assert {"economy", "sports", "travel", "technology", "city", "clean"} <= set(runs)
    models = train_models(cfg, runs, tmp_path)
    assert set(models) == {("audio", 1), ("text", 1), ("audio", 2), ("text", 2), ("2d", 2)}
    t3 = table3(cfg, runs, models)
    assert len(t3) == 2 and all(np.isfinite(list(r.values())).all() for r in t3.values())
    noise = tts_pause_noise(cfg, runs, models)
    assert len(noise) == 2 and all(r["mouth px at pauses"] > 0 for r in noise.values())
    kp = key_pose_study(cfg, runs, models, tmp_path)
    assert kp["with key poses"]["inserted"] >= 2
    mq = motion_quality(cfg, runs, models)
    ceiling = mq["other sentences (mean of 4)"]               # economy, sports, travel, city: all but the test
    assert mq["truth"]["FD_g"] < 1e-3 < mq["other sentence (truth)"]["FD_g"] and ceiling["FD_g"] > 1e-3
    assert set(ceiling) == set(mq["truth"])


def test_beat_consistency_against_shifted_speech_separates_related_from_unrelated_motion():
    """Issue 28: BC alone scored every moving row alike. Beside the same motion's BC against its speech shifted
    in time, motion whose pauses fall on the speech's beats scores well above that baseline; motion that ignores
    the speech scores at it."""
    from s2v.evaluation.motion import shifted_beat_consistency

    sr, fps, secs = 16000, 30.0, 20.0
    rng = np.random.default_rng(1)
    beats = np.cumsum(rng.uniform(0.45, 1.2, 40))
    beats = beats[beats < secs - 0.5]
    audio = np.zeros(int(secs * sr), np.float32)
    for b in beats:
        i = int(b * sr)
        audio[i:i + 400] = rng.normal(scale=0.5, size=400) * np.exp(-np.arange(400) / 80)
    t = np.arange(int(secs * fps)) / fps

    def strokes(times):   # a stroke between consecutive times: the hands pause exactly at each of them
        knots = np.r_[0.0, times, secs]
        pos = rng.normal(scale=0.2, size=(len(knots), 3))
        k = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
        u = (t - knots[k]) / (knots[k + 1] - knots[k])
        x = pos[k] + (pos[k + 1] - pos[k]) * ((1 - np.cos(np.pi * u)) / 2)[:, None]
        j = np.zeros((len(t), 3, 3))
        j[:, 1], j[:, 2] = 0.5 * x, x
        return j

    related = strokes(beats)
    unrelated = strokes(np.sort(rng.uniform(0.3, secs - 0.3, len(beats))))
    bc, base = beat_consistency(related, fps, audio, sr), shifted_beat_consistency(related, fps, audio, sr)
    assert bc - base > 0.25, (bc, base)
    bc_u, base_u = beat_consistency(unrelated, fps, audio, sr), shifted_beat_consistency(unrelated, fps, audio, sr)
    assert abs(bc_u - base_u) < 0.1, (bc_u, base_u)
