"""Section 4's experiments on studio data: each returns rows for a table (and what a plot needs).

All train on scripts of one studio speaker and test on a script none of the models heard (as the paper
recorded "totally different sentences"). Studio data without video (``render=False``) is enough for every
pose experiment: audio, word times and the true SMPL-X parameters. Sizes are parameters so that CI runs
the whole chain in minutes and a GPU machine runs it at the paper's scale.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2v.dictionary.insertion import apply_dictionary
from s2v.evaluation.motion import (VOICES, baselines, bone_variation, finger_length_error, motion_metrics,
                                  other_sentences_metrics, pause_frames)
from s2v.pose.lstm import PoseLSTMConfig, predict
from s2v.pose.stage import run_audio, mouth_error_px, run_inputs, run_targets, train_pose
from s2v.run import Run
from s2v.studio import StudioConfig, record

@dataclass
class EvaluationConfig:
    speaker: str = "ada"
    train_scripts: tuple[str, ...] = ("economy", "sports", "science", "weather", "history", "health")
    sizes: tuple[int, ...] = (2, 4, 6)       # scripts in the three training sets (the paper: 0.5 h, 1 h, 2 h)
    val_script: str = "travel"
    test_script: str = "technology"
    other_script: str = "city"               # the "another sentence" baseline
    max_seconds: float | None = None         # cut every script (CI)
    fps: float = 30.0
    pose: PoseLSTMConfig = field(default_factory=lambda: PoseLSTMConfig(window=2.0, max_steps=400, eval_every=50,
                                                                        patience=4))
    pause_noise_db: float = -50.0            # section 4.2
    key_sentence: str = ("The change was huge, and it starts with you and me. Prices were high, wages were low, "
                         "and a tiny step can help.")   # spoken by TTS for the key-pose study
    seed: int = 0


def studio_runs(cfg: EvaluationConfig, runs_dir: str | Path, progress: bool = False) -> dict[str, Run]:
    """The scripts as studio runs without video (recorded once; present runs are reused). ``<test>_clean`` is
    the test script without room noise: what TTS gives (digital silence in pauses, section 4.2)."""
    names = list(dict.fromkeys(list(cfg.train_scripts) + [cfg.val_script, cfg.test_script, cfg.other_script]))
    runs = {}
    for i, s in enumerate(names):
        run = Run.create(f"eval_{cfg.speaker}_{s}", runs_dir)
        if not run.has("truth_params"):
            record(StudioConfig(speaker=cfg.speaker, script=s, pose_session=False, seed=i, render=False, fps=cfg.fps,
                                max_seconds=cfg.max_seconds), run, progress=progress)
        runs[s] = run
    clean = Run.create(f"eval_{cfg.speaker}_{cfg.test_script}_clean", runs_dir)
    if not clean.has("truth_params"):
        i = names.index(cfg.test_script)
        record(StudioConfig(speaker=cfg.speaker, script=cfg.test_script, pose_session=False, seed=i, render=False,
                            fps=cfg.fps, max_seconds=cfg.max_seconds, noise_db=-400.0), clean, progress=progress)
    runs["clean"] = clean
    return runs


def train_models(cfg: EvaluationConfig, runs: dict[str, Run], runs_dir: str | Path, progress: bool = False) -> dict:
    """LSTMs: audio and text for each training-set size, and the 2D-keypoint baseline on the largest set.
    Returns {(inputs, size) | ("2d", size): model}; trained models are reused from their run folders."""
    from s2v.pose.lstm import load_model

    models, dictionaries = {}, {}
    jobs = [(k, n) for n in cfg.sizes for k in ("audio", "text")] + [("2d", max(cfg.sizes))]
    for kind, n in jobs:
        out = Run.create(f"eval_{cfg.speaker}_{kind}_{n}", runs_dir)
        if not out.has("pose_model"):
            target = "keypoints2d" if kind == "2d" else "smplx"
            if target == "smplx" and n not in dictionaries:   # the key poses the first n training scripts struck
                dictionaries[n] = studio_dictionary(cfg, runs, n)
            train_pose([runs[s] for s in cfg.train_scripts[:n]], [runs[cfg.val_script]], out, cfg.pose,
                       inputs="audio" if kind == "2d" else kind, target=target, progress=progress,
                       dictionary=dictionaries.get(n))
        models[(kind, n)] = load_model(out.path("pose_model"))[0]
    return models


def studio_dictionary(cfg: EvaluationConfig, runs: dict[str, Run], n: int | None = None):
    """The key-pose dictionary of the first ``n`` training scripts (all by default): what synthesis inserts."""
    from s2v.dictionary.build import dictionary_from_studio

    return dictionary_from_studio([runs[s] for s in cfg.train_scripts[:n or len(cfg.train_scripts)]])


def _body():
    from s2v.body import BodyModel

    return BodyModel(device="cpu")


def table3(cfg: EvaluationConfig, runs: dict[str, Run], models: dict) -> dict[str, dict[str, float]]:
    """Mouth error (px) on the test script per training size: original voice, three lowered voices, text."""
    import librosa

    from s2v.camera import Camera
    from s2v.params import SMPLXParams

    test = runs[cfg.test_script]
    truth = SMPLXParams.load(test.path("truth_params"))
    cam, body = Camera.load(test.path("camera")), _body()
    audio, sr = run_audio(test)
    T = len(truth)
    voices = {k: audio if st == 0 else librosa.effects.pitch_shift(audio, sr=sr, n_steps=st)
              for k, st in VOICES.items()}
    rows = {}
    for n in cfg.sizes:
        secs = sum(len(run_targets(runs[s])[0]) for s in cfg.train_scripts[:n]) / cfg.fps
        row = {}
        for k, y in voices.items():
            pred = predict(models[("audio", n)], run_inputs(test, T, cfg.fps, "audio", y, sr), cfg.fps)
            row[k] = mouth_error_px(pred, truth, cam, body)["mouth_px"]
        pred = predict(models[("text", n)], run_inputs(test, T, cfg.fps, "text"), cfg.fps)
        row["Text"] = mouth_error_px(pred, truth, cam, body)["mouth_px"]
        rows[f"{n} scripts ({secs:.0f} s)"] = row
    return rows


def skeleton_3d_vs_2d(cfg: EvaluationConfig, runs: dict[str, Run], models: dict) -> dict[str, dict[str, float]]:
    """Figure 4: limbs of the 3D-skeleton LSTM keep their length, those of the 2D-keypoint LSTM stretch.
    Bone-length variation over time (coefficient of variation) and finger-length error against the truth."""
    from s2v.camera import Camera
    from s2v.keypoints import project_model
    from s2v.params import SMPLXParams
    from s2v.pose.stage import KEYPOINTS_2D

    n = max(cfg.sizes)
    test = runs[cfg.test_script]
    truth = SMPLXParams.load(test.path("truth_params"))
    cam, body = Camera.load(test.path("camera")), _body()
    T = len(truth)
    x = run_inputs(test, T, cfg.fps, "audio")
    p3 = SMPLXParams.from_vector(predict(models[("audio", n)], x, cfg.fps), truth.layout, betas=truth.betas,
                                 global_orient=truth.global_orient, transl=truth.transl)
    kp3 = project_model(body, p3, cam)[:, KEYPOINTS_2D, :2]
    kp2 = predict(models[("2d", n)], x, cfg.fps).reshape(T, -1, 2) * cam.height
    kpt = project_model(body, truth, cam)[:, KEYPOINTS_2D, :2]
    arms = [(2, 3), (3, 4), (5, 6), (6, 7)]
    fingers = [(19 + 4 * f + k, 19 + 4 * f + k + 1) for f in range(5) for k in range(1, 4)]
    fingers += [(a + 21, b + 21) for a, b in fingers]
    rows = {}
    for name, kp in (("3D-skeleton LSTM", kp3), ("2D-keypoint LSTM", kp2), ("truth", kpt)):
        rows[name] = {"arm bone variation": bone_variation(kp, arms),
                      "finger bone variation": bone_variation(kp, fingers),
                      "finger length error": finger_length_error(kp, kpt, fingers)}
    return rows


def motion_quality(cfg: EvaluationConfig, runs: dict[str, Run], models: dict) -> dict[str, dict[str, float]]:
    """BC, L1 diversity, FD_g/FD_k, LVD, jerk on the test script for the audio and text LSTMs (the audio one also
    with the dictionary's key poses inserted, as synthesis does), the truth itself, and the two trivial baselines."""
    from s2v.params import SMPLXParams

    n = max(cfg.sizes)
    test = runs[cfg.test_script]
    truth = SMPLXParams.load(test.path("truth_params"))
    y = truth.to_vector()
    T = len(y)
    audio, sr = run_audio(test)
    other = run_targets(runs[cfg.other_script])[0]
    mean = np.concatenate([run_targets(runs[s])[0] for s in cfg.train_scripts[:n]]).mean(0)
    preds = {"LSTM (audio)": predict(models[("audio", n)], run_inputs(test, T, cfg.fps, "audio"), cfg.fps),
             "LSTM (text)": predict(models[("text", n)], run_inputs(test, T, cfg.fps, "text"), cfg.fps)}
    # what synthesis makes of it: the dictionary's key poses at the test script's key words (section 3.3)
    words = json.loads(test.require("transcript").read_text())["words"]
    d = studio_dictionary(cfg, runs, n)
    preds["LSTM (audio) + key poses"] = apply_dictionary(preds["LSTM (audio)"], words, d, cfg.fps, seed=cfg.seed)[0]
    preds |= {"truth": y} | baselines(y, other, mean)
    body = _body()
    rows = {k: motion_metrics(p, y, cfg.fps, audio, sr, body, truth.betas) for k, p in preds.items()}
    others = {s: run_targets(r)[0] for s, r in runs.items() if s not in (cfg.test_script, "clean")}
    rows[f"other sentences (mean of {len(others)})"] = other_sentences_metrics(y, others, cfg.fps, audio, sr, body,
                                                                               truth.betas)[0]
    return rows


def tts_pause_noise(cfg: EvaluationConfig, runs: dict[str, Run], models: dict) -> dict[str, dict[str, float]]:
    """Section 4.2: TTS audio is digitally silent in pauses, which the network never heard. Mouth error at the
    pauses and overall, the clean TTS audio fed as is vs with the paper's white noise added."""
    from s2v.camera import Camera
    from s2v.params import SMPLXParams
    from s2v.speech.features import add_pause_noise

    n = max(cfg.sizes)
    clean = runs["clean"]
    truth = SMPLXParams.load(runs[cfg.test_script].path("truth_params"))
    cam, body = Camera.load(clean.path("camera")), _body()
    audio, sr = run_audio(clean)
    words = json.loads(clean.path("transcript").read_text())["words"]
    T = len(truth)
    pause = pause_frames(words, T, cfg.fps)
    rows = {}
    for name, y in (("TTS as is (silent pauses)", audio),
                    (f"TTS + noise ({cfg.pause_noise_db:.0f} dBFS)", add_pause_noise(audio, sr, cfg.pause_noise_db))):
        pred = predict(models[("audio", n)], run_inputs(clean, T, cfg.fps, "audio", y, sr), cfg.fps)
        at = mouth_error_px(pred[pause], truth.frames(np.nonzero(pause)[0]), cam, body)
        rows[name] = {"mouth px at pauses": at["mouth_px"], "mouth shape px at pauses": at["mouth_shape_px"],
                      "mouth px overall": mouth_error_px(pred, truth, cam, body)["mouth_px"]}
    return rows


def key_pose_effect(seq: np.ndarray, words, dictionary, fps: float, seed: int = 0) -> dict[str, dict[str, float]]:
    """Section 4.2's key-pose study as an objective proxy: arm speed and distance from rest around the key
    words, without and with the dictionary's key poses inserted."""
    from s2v.dictionary.insertion import apply_dictionary, find_key_words
    from s2v.metrics import key_word_motion, rest_reference

    with_kp, recs = apply_dictionary(seq, words, dictionary, fps, seed=seed)
    times = [h.start for h in find_key_words(words, dictionary.keys(), dictionary.match_tones)]
    rest = rest_reference(seq)
    rows = {}
    for name, s in (("without key poses", seq), ("with key poses", with_kp)):
        m = key_word_motion(s, fps, times, rest=rest)
        rows[name] = {"arm speed at key words (rad/s)": m["speed_at_key_words"], "ratio to elsewhere": m["speed_ratio"],
                      "peak distance from rest (rad)": m["peak_distance_at_key_words"]}
    rows["with key poses"]["inserted"] = sum(r.status == "inserted" for r in recs)
    rows["without key poses"]["inserted"] = 0
    return rows


def hands_ablation(run: Run, gan_cfg, out_dir: str | Path, progress: bool = False) -> dict[str, dict[str, float]]:
    """Section 4.2's hand model: the GAN trained with and without the hand skeleton in its label images,
    held-out PSNR/SSIM on the whole frame and the hand crops (the crops are located on the labels *with*
    hands in both cases, so the same regions are compared)."""
    from dataclasses import replace

    from s2v.gan.data import ClipDataset
    from s2v.gan.infer import FrameGenerator, image_metrics
    from s2v.gan.train import GANTrainer

    rows = {}
    ref = ClipDataset([run], gan_cfg.size, gan_cfg.clip, "test")
    for hands in (True, False):
        cfg = replace(gan_cfg, hands=hands)
        train = ClipDataset([run], cfg.size, cfg.clip, "train", hands=hands)
        test = ClipDataset([run], cfg.size, cfg.clip, "test", hands=hands)
        tr = GANTrainer(cfg, train, Path(out_dir) / f"gan_hands_{'on' if hands else 'off'}", test)
        tr.train(progress)
        fg = FrameGenerator(tr.G.eval(), "fp32")   # figures the same on every machine
        s, t0 = test.index[0]
        t1 = test.index[-1][1] + test.clip
        ms = [image_metrics(fg(test.label(s, t)), np.asarray(test.sources[s].frames[t]), ref.label(s, t))
              for t in range(t0, t1)]
        keys = ("psnr", "ssim", "psnr_left_hand", "psnr_right_hand", "psnr_face")
        rows["hand skeleton " + ("on" if hands else "off")] = {
            k: float(np.nanmean([m[k] for m in ms if np.isfinite(m[k])] or [np.nan])) for k in keys}
    return rows


def key_pose_study(cfg: EvaluationConfig, runs: dict[str, Run], models: dict, runs_dir: str | Path,
                   progress: bool = False) -> dict[str, dict[str, float]]:
    """:func:`key_pose_effect` on a TTS sentence full of key words (``cfg.key_sentence``): the audio LSTM's
    poses, and the dictionary of the speaker's posing session (a studio run of the key words, recorded once)."""
    from s2v.dictionary.build import DictionaryBuilder

    posing = Run.create(f"eval_{cfg.speaker}_posing", runs_dir)
    if not posing.has("truth_keyposes"):
        record(StudioConfig(speaker=cfg.speaker, script=cfg.train_scripts[0], max_seconds=3.0, pose_session=True,
                            render=False, fps=cfg.fps, seed=cfg.seed), posing, progress=progress)
    b = DictionaryBuilder.from_run(posing, load_existing=False)
    b.add_studio(json.loads(posing.path("truth_keyposes").read_text()))
    from s2v.speech.features import add_pause_noise, align_to_frames, audio_features
    from s2v.synthesis.synthesize import SAMPLE_RATE, speech_from_text

    speech = speech_from_text(cfg.key_sentence, cfg.speaker)
    T = int(np.floor(speech.duration * cfg.fps))
    y = add_pause_noise(speech.audio, SAMPLE_RATE, cfg.pause_noise_db)
    seq = predict(models[("audio", max(cfg.sizes))], align_to_frames(audio_features(y, SAMPLE_RATE), T, cfg.fps),
                  cfg.fps)
    return key_pose_effect(seq, speech.words, b.dictionary, cfg.fps, cfg.seed)


def run_all(cfg: EvaluationConfig, runs_dir: str | Path, out: str | Path | None = None,
            progress: bool = False) -> dict[str, dict]:
    """Every pose experiment (Table 3, figure 4, motion quality, TTS noise, key poses); ``out``: a JSON file."""
    from s2v.io import save_json

    runs = studio_runs(cfg, runs_dir, progress)
    models = train_models(cfg, runs, runs_dir, progress)
    res = {"table3": table3(cfg, runs, models), "figure4": skeleton_3d_vs_2d(cfg, runs, models),
           "motion": motion_quality(cfg, runs, models), "tts_noise": tts_pause_noise(cfg, runs, models),
           "key_poses": key_pose_study(cfg, runs, models, runs_dir, progress)}
    if out is not None:
        save_json(Path(out), res)
    return res
