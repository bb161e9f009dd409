"""Trustworthy runs (issue 14): every probe of the issue — files that would run code, damaged or changed
artifacts, names and outputs that reach outside, two writers at once, resumes with other settings, leftovers —
ends in a clear message or a correct result."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from s2v.camera import Camera
from s2v.io import ArtifactError, load_torch, sweep_temp, temp_path
from s2v.run import Run, RunBusyError, RunNameError, check_name

PY = [sys.executable, "-m", "s2v"]


class _Payload:
    """What a malicious ``model.pt`` holds: unpickling it runs a command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def speaker(tiny_recording, tmp_path_factory):
    """A tiny prepared speaker (as in test_synthesize) in a runs folder of its own."""
    from s2v.synthesis.speaker import prepare_speaker

    from s2v.config import PRESETS, make

    tiny = make("speaker", "default", {"pose": {**PRESETS["pose"]["tiny"], "eval_every": 1000},
                                       "gan": {**PRESETS["gan"]["tiny"], "max_steps": 3, "checkpoint_every": 100,
                                               "sample_every": 100, "temporal": False}})
    rec, _ = tiny_recording
    root = tmp_path_factory.mktemp("speaker") / "tiny_speaker"
    shutil.copytree(rec.run.root, root)
    prepare_speaker(Run(root), tiny, progress=False)
    return Run(root)


@pytest.fixture()
def run_copy(tiny_recording, tmp_path):
    rec, _ = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "runs" / "tiny")
    return Run(tmp_path / "runs" / "tiny")


def _cli(*args, cwd=None):
    return subprocess.run([*PY, *args], capture_output=True, text=True, cwd=cwd)


# ------------------------------------------------------------------ no code from shared files
def test_a_model_file_with_a_pickle_payload_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"model": _Payload(marker), "config": {}, "input_dim": 1, "output_dim": 1}, tmp_path / "model.pt")
    from s2v.pose.lstm import load_model

    with pytest.raises(ArtifactError, match="not a plain trained pose LSTM.*could run code"):
        load_model(tmp_path / "model.pt")
    from s2v.gan.infer import load_generator

    torch.save({"generator": _Payload(marker), "config": {}}, tmp_path / "generator.pt")
    with pytest.raises(ArtifactError, match="not a plain trained generator"):
        load_generator(tmp_path / "generator.pt", "cpu")
    assert not marker.exists()


def test_a_shared_speaker_with_a_payload_in_its_manifest_runs_nothing(speaker, tmp_path):
    """The worst case: someone shares a run whose manifest was made to match the payload's checksum."""
    root = tmp_path / "runs" / "shared"
    shutil.copytree(speaker.root, root)
    run = Run(root)
    marker = tmp_path / "PWNED"
    ck = torch.load(run.path("pose_model"), weights_only=True)
    ck["meta"] = {"x": _Payload(marker)}
    torch.save(ck, run.path("pose_model"))
    with pytest.raises(ArtifactError, match="could run code"):        # `run accept` will not take it ...
        run.accept("pose_model")
    run.record("pose_model")                                          # ... so the attacker writes the manifest
    r = _cli("synthesize", "--run", "shared", "--runs-dir", str(tmp_path / "runs"), "--text", "hello there",
             "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 2 and "could run code" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not marker.exists() and not (tmp_path / "o.mp4").exists()


def test_damaged_or_wrong_model_files_get_one_message(speaker, tmp_path):
    from s2v.gan.infer import load_generator
    from s2v.pose.lstm import load_model

    data = speaker.path("pose_model").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="damaged or not a trained pose LSTM.*remake it with: python -m s2v pose"):
        load_model(tmp_path / "cut.pt")
    with pytest.raises(ArtifactError, match=r"is not a trained pose LSTM \(pose/model.pt\) \(expected the keys"):
        load_model(speaker.path("gan"))                              # a generator given as the LSTM
    with pytest.raises(ArtifactError, match="is not a trained generator"):
        load_generator(speaker.path("pose_model"), "cpu")
    (tmp_path / "zero.pt").write_bytes(b"")
    with pytest.raises(ArtifactError, match="damaged"):
        load_torch(tmp_path / "zero.pt", "checkpoint")


# ------------------------------------------------------------------ the manifest's checksums are checked
def test_a_changed_artifact_is_refused_with_the_command_that_remakes_it(run_copy):
    cam = json.loads(run_copy.path("camera").read_text())
    cam["fx"] *= 1.5                                                  # plausible, but not the recording's
    cam["fy"] *= 1.5
    run_copy.path("camera").write_text(json.dumps(cam))
    with pytest.raises(ArtifactError, match=r"capture/camera.json is not the file the 'capture' stage wrote.*"
                                            r"python -m s2v capture --run tiny.*run accept tiny --artifact camera"):
        run_copy.require("camera")
    assert run_copy.changed() == ["camera"]
    r = _cli("run", "show", "tiny", "--runs-dir", str(run_copy.root.parent))
    assert json.loads(r.stdout)["changed"] == ["camera"]
    run_copy.accept("camera")                                         # a deliberate edit, accepted
    assert run_copy.changed() == [] and Camera.load(run_copy.require("camera")).fx == pytest.approx(cam["fx"])
    cam["fx"] *= 10                                                   # the smeared video: implausible
    run_copy.path("camera").write_text(json.dumps(cam))
    with pytest.raises(ArtifactError, match="implausible camera"):
        Camera.load(run_copy.path("camera"))


def test_damaged_manifest_and_camera_get_a_message(run_copy):
    cam = json.loads(run_copy.path("camera").read_text())
    cam["fx"] = float("nan")
    run_copy.path("camera").write_text(json.dumps(cam))
    with pytest.raises(ArtifactError, match="not a usable camera.*finite"):
        Camera.load(run_copy.path("camera"))
    run_copy.path("camera").write_text('{"fx": 1')
    with pytest.raises(ArtifactError, match="not a usable camera"):
        Camera.load(run_copy.path("camera"))
    (run_copy.root / "manifest.json").write_text('{"artifacts": {')
    with pytest.raises(ArtifactError, match="manifest.json is damaged"):
        run_copy.require("audio")
    r = _cli("run", "show", "tiny", "--runs-dir", str(run_copy.root.parent))
    assert r.returncode == 2 and "manifest.json is damaged" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ names stay inside the runs folder
@pytest.mark.parametrize("name", ["../x", "/abs/path", "tiny\n", "..", "a/b", ".hidden", "x" * 101, ""])
def test_run_names_are_plain_folder_names(name, tmp_path):
    with pytest.raises(RunNameError):
        check_name(name)
    with pytest.raises(RunNameError):
        Run.open(name, tmp_path)


def test_the_cli_refuses_names_that_reach_outside(run_copy, tmp_path):
    runs = str(run_copy.root.parent)
    for args in (["synthesize", "--run", str(run_copy.root), "--text", "hi"],
                 ["dictionary", "build", "--run", "../x", "--replace", "--suggested"],
                 ["run", "show", "tiny\n"]):
        r = _cli(*args, "--runs-dir", runs)
        assert r.returncode == 2 and "run name" in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "x").exists()
    (tmp_path / "b.yaml").write_text("name: ../../x\n")
    r = _cli("batch", str(tmp_path / "b.yaml"))
    assert r.returncode == 1 and "run name" in r.stderr
    (tmp_path / "t.yaml").write_text("name: !!python/object/apply:os.system ['touch PWNED']\n")
    r = _cli("batch", str(tmp_path / "t.yaml"), cwd=tmp_path)
    assert r.returncode == 1 and "not a plain YAML" in r.stderr and not (tmp_path / "PWNED").exists()


# ------------------------------------------------------------------ outputs never destroy anything
def test_outputs_that_would_destroy_something_are_refused(run_copy, tmp_path):
    from s2v.synthesis.synthesize import SynthesisError, output_paths

    notes = tmp_path / "notes.json"
    notes.write_text("my notes")
    with pytest.raises(SynthesisError, match="name a file ending in .mp4"):
        output_paths(notes)
    for bad in (run_copy.path("pose_model").with_suffix(".mp4"), run_copy.root / "manifest.mp4"):
        with pytest.raises(SynthesisError, match="lies among the artifacts of the run"):
            output_paths(bad)
    assert output_paths(run_copy.root / "videos" / "x.mp4")[0].name == "x.mp4"
    (tmp_path / "v.json").write_text("{}")
    with pytest.raises(SynthesisError, match="v.json exists.*--force"):
        output_paths(tmp_path / "v.mp4", overwrite=False)
    assert output_paths(tmp_path / "v.mp4", overwrite=True)[1] == tmp_path / "v.json"
    assert notes.read_text() == "my notes"


def test_two_syntheses_into_one_output_each_keep_their_own_speech(speaker, tmp_path):
    """The issue: a shared ``<out>.speech.wav`` muxed one process's speech into the other's video."""
    out = tmp_path / "same.mp4"
    runs = str(speaker.root.parent)
    cmds = [[*PY, "synthesize", "--run", speaker.name, "--runs-dir", runs, "--text", t, "--out", str(out),
             "--force", "--no-key-poses"] for t in ("one two three four five six seven", "hi")]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert all(rc == 0 for *_, rc in results), results
    meta = json.loads(out.with_suffix(".json").read_text())
    from s2v.synthesis.synthesize import SAMPLE_RATE, load_audio
    from s2v.video import count_frames

    assert count_frames(out) == meta["frames"]                        # the video and its metadata agree ...
    speech_s = len(load_audio(out)) / SAMPLE_RATE                     # ... and so does the speech muxed in
    assert abs(speech_s - meta["frames"] / meta["fps"]) < 0.25, (speech_s, meta["frames"] / meta["fps"])
    assert not list(tmp_path.glob(".*tmp*"))                          # no temporary speech left behind
    r = subprocess.run([c for c in cmds[1] if c != "--force"], capture_output=True, text=True)   # refused
    assert r.returncode == 2 and "exist" in r.stderr and "--force" in r.stderr


# ------------------------------------------------------------------ one writer per run
def test_a_second_writer_is_told_who_holds_the_run(run_copy):
    code = (f"from s2v.run import Run; import time\nwith Run({str(run_copy.root)!r}).lock('gan train'):\n"
            f"    print('held', flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError, match=rf"run 'tiny' is being written by 'gan train' \(pid {p.pid}"), \
                run_copy.lock("fit"):
            pass
        r = _cli("detect", "--run", "tiny", "--runs-dir", str(run_copy.root.parent))   # the keypoints it reads
        assert r.returncode == 2 and "being written by 'gan train'" in r.stderr
        with run_copy.lock("pose"):                                   # item 10: writers of stages the GAN does not
            pass                                                      # read go on beside it
        with run_copy.lock("dictionary build"):
            pass
    finally:
        p.kill()
        p.wait()
    with run_copy.lock("fit"), run_copy.lock("fit inner"):           # free again, and re-entrant
        pass


def test_leftovers_of_a_killed_writer_are_swept_when_the_run_is_next_locked(run_copy):
    stale = run_copy.root / "gan" / ".checkpoint.k3j2.tmp.pt"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"0" * 1000)
    keep = run_copy.root / "gan" / "notes.txt"
    keep.write_text("mine")
    with run_copy.lock("gan train"):
        assert not stale.exists() and keep.exists()
    with temp_path(run_copy.root / "x.wav", ".wav") as a, temp_path(run_copy.root / "x.wav", ".wav") as b:
        assert a != b and a.exists() and b.exists()                   # per-process (per-call) names
    assert not a.exists() and not b.exists()
    old = run_copy.root / ".y.abc.tmp.npz"
    old.write_bytes(b"1")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert sweep_temp(run_copy.root, older_than_s=3600) == [old]


def test_sigterm_during_synthesis_leaves_nothing(speaker, tmp_path):
    out = tmp_path / "term.mp4"
    p = subprocess.Popen([*PY, "synthesize", "--run", speaker.name, "--runs-dir", str(speaker.root.parent),
                          "--text", "a long sentence " * 120, "--out", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".*")) and p.poll() is None:
        time.sleep(0.05)                                              # until it writes its speech
    p.terminate()
    p.wait(60)
    assert not list(tmp_path.glob(".*tmp*")), list(tmp_path.iterdir())      # no temporary speech or video
    outputs = [out, out.with_suffix(".json"), out.with_suffix(".poses.npz")]
    if p.returncode == 0:   # it finished before the signal arrived: then the whole set is there
        assert all(f.exists() for f in outputs)
    else:                   # interrupted: no partial video, nothing beside it
        assert p.returncode == 143 and not any(f.exists() for f in outputs), (p.returncode, list(tmp_path.iterdir()))


# ------------------------------------------------------------------ resume with other settings
def test_resuming_with_other_settings_names_them_and_the_way_out(speaker, tmp_path):
    from s2v.pose.lstm import PoseLSTMConfig
    from s2v.pose.stage import train_pose

    out = Run.create("resume", tmp_path)
    cfg = PoseLSTMConfig(hidden=8, batch_size=2, window=1.0, max_steps=2, eval_every=1000, checkpoint_every=1)
    train_pose([speaker], [], out, cfg, progress=False)
    cfg2 = PoseLSTMConfig(hidden=16, batch_size=2, window=1.0, max_steps=4, eval_every=1000, checkpoint_every=1)
    with pytest.raises(ArtifactError, match=r"hidden: checkpoint 8, now 16.*start again with --fresh"):
        train_pose([speaker], [], out, cfg2, progress=False)
    assert out.set_aside("pose/checkpoint.pt").name.startswith("checkpoint.pt.")
    assert train_pose([speaker], [], out, cfg2, progress=False).state.step == 4


# ------------------------------------------------------------------ captures
def test_a_refused_capture_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    r = _cli("capture", "--run", "me", "--runs-dir", str(tmp_path / "runs"), "--video", str(bad), "--no-stt")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "runs" / "me").exists()


def test_the_numpy_random_state_survives_a_plain_checkpoint():
    from s2v.io import numpy_rng_state, set_numpy_rng_state

    np.random.seed(3)
    st = numpy_rng_state()
    a = np.random.rand(5)
    set_numpy_rng_state(json.loads(json.dumps(st)))
    np.testing.assert_array_equal(np.random.rand(5), a)


def test_a_damaged_video_is_imported_with_its_decode_errors_said(tiny_recording, tmp_path):
    from s2v.capture import import_video

    rec, _ = tiny_recording
    data = bytearray(rec.run.path("recording").read_bytes())
    rng = np.random.default_rng(0)
    for i in range(len(data) // 3, len(data) // 3 + 4000, 7):        # bytes corrupted in the middle
        data[i] = rng.integers(0, 256)
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    run = Run.create("bad", tmp_path / "runs")
    with pytest.warns(UserWarning, match=r"ffmpeg met \d+ decode error"):
        import_video(tmp_path / "bad.mp4", run, recognize_speech=False, people="ignore")
    assert run.manifest["artifacts"]["recording"]["config"]["decode_errors"] > 0


# ------------------------------------------------------------------ speech that is not speech
def test_noise_tones_long_audio_unknown_voices_and_empty_text_are_refused(tmp_path):
    import soundfile as sf

    from s2v.synthesis.synthesize import SynthesisConfig, SynthesisError, speech_input

    sr = 16000
    noise = np.random.default_rng(0).normal(0, 0.1, sr * 4).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr * 4) / sr)).astype(np.float32)
    with pytest.raises(SynthesisError, match="no voiced sound"):
        speech_input(noise, need_words=False)
    with pytest.raises(SynthesisError, match="steady tone"):
        speech_input(tone, need_words=False)
    sf.write(tmp_path / "long.wav", np.tile(tone, 3), sr)              # 12 s against a 5 s limit
    with pytest.raises(SynthesisError, match="longer than"):
        speech_input(str(tmp_path / "long.wav"), cfg=SynthesisConfig(max_seconds=5.0), need_words=False)
    with pytest.raises(SynthesisError, match="unknown voice 'nobody'"):
        speech_input(text="hello there", voice="nobody")
    with pytest.raises(SynthesisError, match="nothing to speak"):
        speech_input(text="\U0001F600\U0001F44D !!")
    with pytest.raises(SynthesisError, match="not valid UTF-8"):
        speech_input(text="caf\udce9 au lait")                        # a Latin-1 byte through the command line


def test_the_shared_real_speech_passes_the_voice_check(shared_data):
    from s2v.speech.features import no_speech_reason, speech_activity
    from s2v.synthesis.synthesize import load_audio

    y = load_audio(shared_data / "speech_en" / "jfk.flac")
    voiced, mod = speech_activity(y)
    assert no_speech_reason(y) is None and voiced > 0.5 and mod > 5.0


def test_capture_and_config_files_that_cannot_be_read_get_a_message(run_copy, tmp_path):
    (tmp_path / "t.txt").write_bytes("caf\xe9".encode("latin-1"))
    r = _cli("capture", "--run", "new", "--runs-dir", str(tmp_path / "runs"), "--video", "x.mp4",
             "--transcript", str(tmp_path / "t.txt"))
    assert r.returncode == 2 and "not a readable UTF-8" in r.stderr and not (tmp_path / "runs" / "new").exists()
    (tmp_path / "g.json").write_text('{"size": 64, "nonsense": 1}')
    r = _cli("gan", "train", "--run", "tiny", "--runs-dir", str(run_copy.root.parent), "--config",
             str(tmp_path / "g.json"))
    assert r.returncode == 2 and "Key 'nonsense' not in 'GANConfig'" in r.stderr and "Traceback" not in r.stderr


def test_a_damaged_frame_cache_is_decoded_again(run_copy):
    from s2v.gan.data import run_frames

    a = np.array(run_frames(run_copy, 64, 64))
    cache = run_copy.root / "gan" / "cache" / "frames_64x64.npy"
    cache.write_bytes(cache.read_bytes()[:200])                       # truncated
    np.testing.assert_array_equal(run_frames(run_copy, 64, 64), a)


def test_resuming_a_gan_with_other_settings_names_them(speaker, tmp_path):
    from s2v.gan.train import train_gan

    from s2v.config import make

    def cfg(ngf):
        return make("gan", "tiny", {"generator.ngf": ngf, "max_steps": 1, "checkpoint_every": 1, "sample_every": 100,
                                    "temporal": False, "device": "cpu"})

    out = Run.create("gan_resume", tmp_path)
    train_gan([speaker], out, cfg(8), progress=False)
    assert (out.root / "gan" / "checkpoint.pt").exists()
    with pytest.raises(ArtifactError, match=r"generator.ngf: checkpoint 8, now 16.*--fresh"):
        train_gan([speaker], out, cfg(16), progress=False)


# ================================================================== second pass (issue 30)
def _syn(speaker, *args, cwd=None):
    return _cli("synthesize", "--run", speaker.name, "--runs-dir", str(speaker.root.parent), *args, cwd=cwd)


def _one_line_error(r, code=2):
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    return r.stderr


def test_no_output_is_written_through_a_link_or_into_a_folder(speaker, tmp_path):
    """Item 2: `--stream --force` onto a link to a run's generator overwrote the generator; a dangling link made
    the stream write where it pointed; an existing folder named like the video failed after the whole render."""
    gen = speaker.path("gan")
    before = gen.read_bytes()
    (tmp_path / "link.mp4").symlink_to(gen)
    for extra in (["--stream", "--force"], ["--force"], []):
        err = _one_line_error(_syn(speaker, "--text", "hello there", "--out", str(tmp_path / "link.mp4"), *extra))
        assert "symbolic link" in err
    assert gen.read_bytes() == before                                  # the generator is intact
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "elsewhere" / "made.mp4")
    err = _one_line_error(_syn(speaker, "--text", "hello there", "--out", str(tmp_path / "dangling.mp4"), "--stream"))
    assert "symbolic link" in err and not (tmp_path / "elsewhere").exists()
    (tmp_path / "folder.mp4").mkdir()
    t = time.perf_counter()
    err = _one_line_error(_syn(speaker, "--text", "hello there", "--out", str(tmp_path / "folder.mp4"), "--force"))
    assert "is a folder" in err and time.perf_counter() - t < 60 and not list((tmp_path / "folder.mp4").iterdir())
    from s2v.video import stream_video

    with pytest.raises(ValueError, match="symbolic link"):           # the streamer's own guard
        stream_video(iter([np.zeros((8, 8, 3), np.uint8)]), tmp_path / "link.mp4", 25)


def test_streamed_and_written_videos_are_both_yuv420p(tmp_path):
    import subprocess as sp

    from s2v.video import ffmpeg_exe, stream_video, write_video

    frames = [np.full((32, 32, 3), (40 * i) % 255, np.uint8) for i in range(10)]
    for fn, name in ((write_video, "w.mp4"), (stream_video, "s.mp4")):
        fn(iter(frames), tmp_path / name, 25)
        info = sp.run([ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / name)], capture_output=True, text=True).stderr
        assert "yuv420p" in info and "yuv444p" not in info, info


def test_a_killed_synthesis_leaves_no_temporary_file_after_the_next(speaker, tmp_path):
    """Item 6: SIGKILL runs no cleanup; the next synthesis into the folder removes what a dead process left, and
    never what a living one is writing."""
    import signal

    out = tmp_path / "out"
    out.mkdir()
    p = subprocess.Popen([*PY, "synthesize", "--run", speaker.name, "--runs-dir", str(speaker.root.parent),
                          "--text", "a long sentence " * 120, "--out", str(out / "k.mp4")], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".*tmp*")) and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait(60)
    left = list(out.glob(".*tmp*"))
    assert left and all(f".p{p.pid}." in f.name for f in left), left    # the temp names say whose they are
    living = out / f".other.p{os.getpid()}.abcd1234.tmp.wav"             # a running writer's (this process)
    living.write_bytes(b"x")
    r = _syn(speaker, "--text", "hello there", "--out", str(out / "next.mp4"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(out.glob(".*tmp*")) == [living]


def test_a_transcript_that_is_not_the_speech_is_refused(speaker, tmp_path):
    """Item 3: a Mandarin transcript of English speech, an unrelated English transcript: refused with the
    alignment's evidence, not stretched over the speech (or a TypeError from pocketsphinx)."""
    import soundfile as sf

    from s2v.speech.tts import ESpeak, resample

    s = ESpeak().synthesize("ask not what your country can do for you, ask what you can do for your country",
                            voice="en-us")
    sf.write(tmp_path / "en.wav", resample(s.audio, s.sample_rate, 16000), 16000)
    (tmp_path / "zh.txt").write_text("这个市场很大", encoding="utf-8")
    (tmp_path / "other.txt").write_text("The weather today is sunny with a light breeze from the west and the "
                                        "market is huge for everybody here", encoding="utf-8")
    for txt, says in (("zh.txt", "zh transcript does not match"), ("other.txt", "does not (fit|match) the speech")):
        r = _syn(speaker, "--audio", str(tmp_path / "en.wav"), "--transcript", str(tmp_path / txt),
                 "--out", str(tmp_path / "o.mp4"))
        import re

        assert re.search(says, _one_line_error(r)), r.stderr
        assert not (tmp_path / "o.mp4").exists()
    r = _cli("capture", "--run", "other", "--runs-dir", str(tmp_path / "runs"), "--video",
             str(speaker.require("recording")), "--transcript", str(tmp_path / "other.txt"), "--allow-several-people")
    assert "does not" in _one_line_error(r) and not (tmp_path / "runs" / "other").exists()


def test_unrecorded_artifacts_and_implausible_cameras_are_not_used_or_accepted(run_copy):
    """Item 4: an artifact without a manifest record skipped its checksum; `run accept` took a NaN camera and a
    2-degree field of view (fx x10)."""
    m = json.loads((run_copy.root / "manifest.json").read_text())
    del m["artifacts"]["camera"]
    (run_copy.root / "manifest.json").write_text(json.dumps(m))
    cam = json.loads(run_copy.path("camera").read_text())
    cam["fx"] *= 10
    cam["fy"] *= 10
    run_copy.path("camera").write_text(json.dumps(cam))
    with pytest.raises(ArtifactError, match="has no record in the run's manifest"):
        run_copy.require("camera")
    runs = str(run_copy.root.parent)
    r = _cli("run", "accept", "tiny", "--artifact", "camera", "--runs-dir", runs)
    assert "implausible camera" in _one_line_error(r) and "field of view 2." in r.stderr
    cam["fx"] = float("nan")
    run_copy.path("camera").write_text(json.dumps(cam))
    assert "finite" in _one_line_error(_cli("run", "accept", "tiny", "--artifact", "camera", "--runs-dir", runs))
    assert "camera" not in json.loads((run_copy.root / "manifest.json").read_text())["artifacts"]


def test_text_is_bounded_like_audio(speaker, tmp_path):
    t = time.perf_counter()
    r = _syn(speaker, "--text", "word " * 10000, "--out", str(tmp_path / "long.mp4"))
    err = _one_line_error(r)
    assert "49999 characters" in err and "longer than 30 min" in err and time.perf_counter() - t < 60
    from s2v.synthesis.synthesize import SynthesisError, speech_from_text

    with pytest.raises(SynthesisError, match="longer than 0.5 min"):
        speech_from_text("这是一个很长的句子。" * 20, max_seconds=30)    # 200 characters, ~50 s
    assert speech_from_text("hello there", max_seconds=30).duration < 30


def test_ctrl_c_ends_a_long_command_with_one_line_and_the_way_on(speaker, tmp_path):
    """Item 7: Ctrl-C gave tracebacks; now, like SIGTERM, one line and the command that resumes (training) or
    starts again (synthesis); the resume command printed is run and finishes the training."""
    import shlex
    import signal

    root = tmp_path / "runs"
    shutil.copytree(speaker.root, root / "sp")
    ckpt = root / "sp" / "gan" / "checkpoint.pt"
    ckpt.unlink(missing_ok=True)
    gan = ["gan", "train", "--run", "sp", "--runs-dir", str(root), "--preset", "tiny", "--steps", "60", "--set",
           "checkpoint_every=2", "--fresh"]
    syn = ["synthesize", "--run", "sp", "--runs-dir", str(root), "--text", "a long sentence " * 60, "--out",
           str(tmp_path / "c.mp4")]
    said = {}
    for args, ready, kind in ((gan, lambda: ckpt.exists(), "Resume from the last checkpoint with: "),
                              (syn, lambda: list(tmp_path.glob(".c.*tmp*")), "To start again: ")):
        # a shell's background job (CI, nohup) inherits SIGINT ignored, and Python then never raises
        # KeyboardInterrupt: the child gets Ctrl-C's default back, as in a terminal
        p = subprocess.Popen([*PY, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 180
        while not ready() and p.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert p.poll() is None, "the command ended before it could be interrupted"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 130, (p.returncode, err[-2000:])
        lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip() and "|" not in ln]  # bars aside
        assert "Traceback" not in err and len(lines) == 1 and kind in lines[0], err[-2000:]
        said[args[0]] = lines[0].split(kind)[1]
    assert not list(tmp_path.glob(".*tmp*")) and not (tmp_path / "c.mp4").exists()
    cmd = shlex.split(said["gan"])
    assert cmd[:3] == ["python", "-m", "s2v"] and cmd[3:] == gan[:-1]           # without --fresh
    r = subprocess.run([*PY, *cmd[3:]], capture_output=True, text=True)
    assert r.returncode == 0 and "resuming from" in r.stdout and "trained 60 steps" in r.stdout, r


def _advice(err: str, after: str) -> list[str]:
    """The command an error message gives after ``after`` (up to ' (or', ';' or the end), as argv."""
    import re
    import shlex

    m = re.search(re.escape(after) + r"(python -m s2v .+?)(?: \(or |; |\)|$)", err.strip())
    assert m, err
    cmd = shlex.split(m.group(1))
    assert cmd[:3] == ["python", "-m", "s2v"], cmd
    return cmd[3:]


def test_every_fix_command_an_error_prints_works(run_copy, tmp_path):
    """Item 8: the checksum error suggested `pose --run X`, `gan --run X`, `dictionary --run X` (argparse errors),
    and `run accept ada` for the shipped speaker (which answered 'give --artifact, one of []'). Each command the
    errors print now is run here and does what it says."""
    runs = str(run_copy.root.parent)
    cam = json.loads(run_copy.path("camera").read_text())
    cam["fx"] *= 1.5
    cam["fy"] *= 1.5
    run_copy.path("camera").write_text(json.dumps(cam))
    with pytest.raises(ArtifactError) as e:
        run_copy.require("camera")
    remake, accept = _advice(str(e.value), "Remake it: "), _advice(str(e.value), "accept it: ")
    assert remake[:3] == ["capture", "--run", "tiny"] and "--runs-dir" in remake
    r = _cli(*accept)
    assert r.returncode == 0 and "accepted capture/camera.json" in r.stdout, r.stderr
    assert run_copy.require("camera") and json.loads(run_copy.path("camera").read_text())["fx"] == cam["fx"]
    run_copy.path("camera").write_text(json.dumps({**cam, "fx": cam["fx"] * 1.1}))
    r = _cli(*remake)                                                 # the studio records the run again
    assert r.returncode == 0, r.stderr[-2000:]
    assert run_copy.require("camera") and json.loads(run_copy.path("camera").read_text())["fx"] != cam["fx"] * 1.1
    # a stage's missing artifact: the command that makes it (here the dictionary, from the studio's key poses)
    err = _one_line_error(_cli("dictionary", "show", "--run", "tiny", "--runs-dir", runs))
    make = _advice(err, "run the 'dictionary' stage first: ")
    assert make[:2] == ["dictionary", "build"], make
    assert _cli(*make).returncode == 0
    assert _cli("dictionary", "show", "--run", "tiny", "--runs-dir", runs).returncode == 0
    # every stage's advice parses as a command of the CLI
    from s2v.cli import build_parser
    from s2v.run import ARTIFACTS

    import shlex

    for artifact in ARTIFACTS:
        cmd = shlex.split(run_copy.remake_command(artifact))
        assert cmd[:3] == ["python", "-m", "s2v"], cmd
        try:
            build_parser().parse_args(cmd[3:])
        except SystemExit:
            pytest.fail(f"the advice for {artifact} is not a command of the CLI: {shlex.join(cmd)}")


def test_the_shipped_speakers_fix_command_works(tmp_path, monkeypatch):
    from s2v.body.model import body_models_dir, data_dir

    data = tmp_path / "data"
    shutil.copytree(data_dir() / "speakers" / "ada", data / "speakers" / "ada")
    env = {**os.environ, "S2V_DATA": str(data), "S2V_BODY_MODELS": str(body_models_dir())}
    monkeypatch.setenv("S2V_DATA", str(data))
    cam_path = data / "speakers" / "ada" / "capture" / "camera.json"
    cam = json.loads(cam_path.read_text())
    cam_path.write_text(json.dumps({**cam, "fx": cam["fx"] * 1.2, "fy": cam["fy"] * 1.2}))
    r = subprocess.run([*PY, "synthesize", "--run", "ada", "--runs-dir", str(tmp_path / "runs"), "--text", "hi",
                        "--out", str(tmp_path / "o.mp4")], capture_output=True, text=True, env=env)
    err = _one_line_error(r)
    assert "shipped with the kit" in err
    accept = _advice(err, "accept it: ")
    r = subprocess.run([*PY, *accept, "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "accepted capture/camera.json" in r.stdout, r.stderr
    r = subprocess.run([*PY, "run", "show", "ada", "--runs-dir", str(tmp_path / "runs")], capture_output=True,
                       text=True, env=env)
    assert json.loads(r.stdout)["changed"] == [], r.stdout


def test_small_defects_of_the_second_pass(tmp_path):
    """Item 9: a PNG given as a video; a forced bf16 on a CPU without it; warnings without Python source lines;
    fp16 on a CPU refused with one line; `gan --help` says what each action reads."""
    import imageio.v3 as iio

    from s2v.capture import CaptureError, probe
    from s2v.gan.infer import resolve_precision

    iio.imwrite(tmp_path / "still.png", np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(CaptureError, match="an image \\(png\\), not a video"):
        probe(tmp_path / "still.png")
    with pytest.warns(UserWarning, match="emulates it, ~10x slower"):
        assert resolve_precision("cpu", "bf16", flags=set()) == "bf16"
    import warnings

    from s2v.cli import _warning_line

    assert _warning_line("x", UserWarning, "f.py", 3, "src") == "s2v: warning: x\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("cpu", "bf16", flags={"amx_bf16"}) == "bf16"
    help_text = _cli("gan", "--help").stdout
    for line in ("train     --run SPEAKER", "render    --run SPEAKER", "evaluate  --run SPEAKER", "optimize  --run"):
        assert line in help_text


def test_a_damaged_model_names_the_command_of_its_own_run(speaker, tmp_path):
    """The loaders' advice names the run (no `<speaker>` placeholders), and parses as a command."""
    import shlex

    from s2v.cli import build_parser
    from s2v.gan.infer import load_generator
    from s2v.pose.lstm import load_model

    root = tmp_path / "runs" / "sp"
    shutil.copytree(speaker.root, root)
    for art, load, says in (("pose_model", load_model, "pose --train sp --out sp --runs-dir"),
                            ("gan", lambda p: load_generator(p, "cpu"), "gan train --run sp --runs-dir")):
        path = Run(root).path(art)
        path.write_bytes(path.read_bytes()[:100])
        with pytest.raises(ArtifactError) as e:
            load(path)
        cmd = shlex.split(str(e.value).split("remake it with: ")[1])
        assert says in shlex.join(cmd) and "<" not in str(e.value), str(e.value)
        build_parser().parse_args(cmd[3:])
