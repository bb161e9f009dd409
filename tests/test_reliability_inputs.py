"""Inputs a new user brings that ended in tracebacks, silent surprises or floods of log lines: a motion file with a
NaN/inf/zero frame rate or NaN poses, a second dictionary entry for a word and a motion's hold in the dictionary
widget, MediaPipe's start-up chatter during keypoint detection, and a GAN training resumed after an interruption."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

# ---------------------------------------------------------------------------------------------- mocap import
T = 20


def _take(fps=30.0, **kw) -> dict:
    """A small SMPL-X motion file's arrays (relative fingers, y up, the frame rate under BEAT2's key)."""
    rng = np.random.default_rng(0)
    d = {"poses": (rng.normal(size=(T, 165)) * 0.05).astype(np.float32), "trans": np.zeros((T, 3), np.float32),
         "betas": np.zeros(10, np.float32), "flat_hand_mean": np.array(False), "mocap_frame_rate": np.array(fps)}
    d.update(kw)
    return d


@pytest.mark.parametrize("fps,shown", [(float("nan"), "nan"), (float("inf"), "inf"), (0.0, "0"), (-30.0, "-30")])
def test_a_motion_file_frame_rate_that_is_no_rate_is_refused(body_model, fps, shown):
    from s2v.mocap import MocapConfig, MocapError, to_kit

    with pytest.raises(MocapError) as err:
        to_kit(_take(fps), body_model, MocapConfig(fps=30.0))
    assert str(err.value) == f"the file's 'mocap_frame_rate': frame rate must be a positive finite number, got {shown}"
    with pytest.raises(MocapError, match=f"^--mocap-fps: frame rate must be a positive finite number, got {shown}$"):
        MocapConfig(fps=30.0, source_fps=fps)                        # given on the command line (--mocap-fps)
    with pytest.raises(MocapError, match=f"frame rate must be a positive finite number, got {shown}$"):
        MocapConfig(fps=fps)


def test_a_motion_file_with_nan_poses_is_refused_naming_the_frames(body_model):
    from s2v.mocap import MocapConfig, MocapError, to_kit

    poses = _take()["poses"].copy()
    poses[3, 100] = np.nan          # a finger: reached torch.linalg.lstsq's INTERNAL ASSERT
    poses[7, 4] = np.inf            # the body
    with pytest.raises(MocapError, match=re.escape("poses contain NaN/inf at frames [3, 7] (of 20)")):
        to_kit(_take(poses=poses), body_model, MocapConfig(fps=30.0))
    trans = np.zeros((T, 3), np.float32)
    trans[11, 1] = np.nan
    with pytest.raises(MocapError, match=re.escape("trans contain NaN/inf at frames [11] (of 20)")):
        to_kit(_take(trans=trans), body_model, MocapConfig(fps=30.0))
    many = _take()["poses"].copy()
    many[::2, 0] = np.nan
    with pytest.raises(MocapError, match=re.escape("at frames [0, 2, 4, 6, 8, 10, 12, 14, 16, 18] (of 20)")):
        to_kit(_take(poses=many), body_model, MocapConfig(fps=30.0))
    p, rep = to_kit(_take(), body_model, MocapConfig(fps=30.0))       # the same file without them imports
    assert len(p) == T and rep.source_fps == 30.0


@pytest.mark.parametrize("case", ["nan-fps", "nan-poses"])
def test_cli_mocap_import_of_a_broken_file_is_one_error_line(tmp_path, case):
    import soundfile as sf

    if case == "nan-fps":
        d, message = _take(float("nan")), "frame rate must be a positive finite number, got nan"
    else:
        poses = _take()["poses"].copy()
        poses[5, 90] = np.nan
        d, message = _take(poses=poses), "poses contain NaN/inf at frames [5]"
    np.savez(tmp_path / "take.npz", **d)
    sf.write(tmp_path / "speech.wav", np.zeros(16000, np.float32), 16000)
    cli = subprocess.run([sys.executable, "-m", "s2v", "capture", "--run", "take", "--mocap",
                          str(tmp_path / "take.npz"), "--audio", str(tmp_path / "speech.wav"), "--no-stt",
                          "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2, cli.stderr
    assert "Traceback" not in cli.stderr and cli.stderr.startswith("s2v: error: ") and message in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs" / "take").exists()               # a refused capture leaves no run behind


# ---------------------------------------------------------------------------------------------- dictionary widget
FPS = 25.0


@pytest.fixture
def widget():
    pytest.importorskip("ipywidgets")
    from s2v.dictionary.build import DictionaryBuilder
    from s2v.dictionary.widgets import DictionaryWidget
    from s2v.params import ParamLayout

    lay = ParamLayout()
    rng = np.random.default_rng(1)
    seq = (rng.normal(size=(100, lay.frame_dim)) * 0.1).astype(np.float32)
    words = [{"word": "huge", "start": 0.4, "end": 0.8}, {"word": "tiny", "start": 2.0, "end": 2.4}]
    b = DictionaryBuilder(seq, FPS, words, lay, run_name="synthetic")
    return b, DictionaryWidget(b, None, size=64)


def test_widget_refuses_a_second_entry_for_a_word_unless_told_to_replace_or_add_a_variant(widget):
    b, ui = widget
    ui.word.value, ui.kind.value, ui.frame.value = "huge", "still", 10
    ui.add_button.click()
    assert len(b.dictionary) == 1 and "added still pose for &#x27;huge&#x27;" in ui.status.value
    ui.word.value, ui.frame.value = "Huge", 30                       # the same word, another frame
    ui.add_button.click()
    assert len(b.dictionary) == 1 and b.dictionary.entries[0].source["frames"] == [10, 10]
    assert "#c92a2a" in ui.status.value
    assert ("&#x27;Huge&#x27; already has 1 entry (still, frames 10-10): remove it first, or set &#x27;word "
            "taken&#x27; to replace its entries or to add a variant") in ui.status.value
    ui.existing.value = "replace"
    ui.add_button.click()
    assert [e.source["frames"] for e in b.dictionary] == [[30, 30]]
    assert "replaced 1 entry by a still pose for &#x27;Huge&#x27;" in ui.status.value
    assert len(ui.entries.options) == 1
    ui.existing.value, ui.frame.value = "variant", 50
    ui.add_button.click()
    assert [e.source["frames"] for e in b.dictionary] == [[30, 30], [50, 50]]
    assert "as a variant (2 for the word, picked at random)" in ui.status.value
    ui.existing.value = "refuse"
    ui.add_button.click()
    assert len(b.dictionary) == 2 and "already has 2 entries" in ui.status.value
    ui.word.value = "tiny"                                           # another word is not held up
    ui.add_button.click()
    assert len(b.dictionary) == 3 and "#c92a2a" not in ui.status.value


def test_widget_motion_keeps_the_hold_it_was_given_and_it_is_held(widget, tmp_path):
    from s2v.dictionary.insertion import key_word_frames
    from s2v.dictionary.store import KeyPoseDictionary

    b, ui = widget
    ui.word.value, ui.kind.value, ui.range.value, ui.hold.value = "huge", "motion", (20, 30), 0.8
    ui.add_button.click()
    (e,) = b.dictionary.entries
    assert (e.kind, len(e.pose), e.hold) == ("motion", 11, 0.8)
    assert "added motion pose for &#x27;huge&#x27; (11 frames, then held 0.8 s)" in ui.status.value
    b.dictionary.save(tmp_path / "dictionary.json")
    assert KeyPoseDictionary.load(tmp_path / "dictionary.json").entries[0].hold == 0.8
    # inserted: the 11 frames, then the last one for 0.8 s (20 frames at 25 fps), body and hands
    seq, (r,) = b.preview([{"word": "huge", "start": 1.0, "end": 1.4}], seconds=4.0)
    k, body = 25, np.r_[b.layout.part_index("body"), b.layout.part_index("hands")]
    np.testing.assert_allclose(seq[k:k + 11][:, body], e.pose[:, body], atol=1e-6)
    np.testing.assert_allclose(seq[k + 11:k + 31][:, body], np.repeat(e.pose[-1:, body], 20, 0), atol=1e-6)
    assert not np.allclose(seq[k + 32, body], e.pose[-1, body], atol=1e-6)      # the ramp out begins
    N = 15                                                                   # 0.6 s ramps
    assert r.span == (k - N, k + 31 + N) and key_word_frames(
        [{"word": "huge", "start": 1.0, "end": 1.4}], b.dictionary, 100, FPS).sum() == 31 + 2 * N
    # a motion given no hold plays its frames and goes (as before); a still pose keeps its 0.3 s default
    from s2v.dictionary.build import motion_entry, still_entry

    assert motion_entry("x", b.seq, 0, 4).hold == 0.0 and still_entry("x", b.seq, 0).hold == 0.3


# ---------------------------------------------------------------------------------------------- detection logs
NOISE = re.compile(r"W0000|I0000|INFO:|WARNING:")


def test_detect_on_a_recording_prints_no_mediapipe_start_up_chatter(tmp_path):
    """Before: 9-10 lines on every run ("INFO: Created TensorFlow Lite XNNPACK delegate", "WARNING: All log
    messages before absl::InitializeLog()", 7-8 "W0000 ... Feedback manager requires a model with a single
    signature"); GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL did not reach them."""
    pytest.importorskip("mediapipe")
    import cv2

    from s2v.run import Run
    from s2v.video import write_video

    frames = np.full((6, 128, 96, 3), 235, np.uint8)
    for i, f in enumerate(frames):                                    # a stick figure waving
        cv2.circle(f, (48, 30), 10, (90, 60, 40), -1)
        cv2.line(f, (48, 40), (48, 90), (40, 40, 160), 6)
        cv2.line(f, (48, 50), (20, 30 + 5 * i), (40, 40, 160), 4)
    r = Run.create("d", tmp_path)
    write_video(frames, r.path("recording"), fps=25.0)
    r.record("recording", fps=25.0)
    cli = subprocess.run([sys.executable, "-m", "s2v", "detect", "--run", "d", "--runs-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    noise = [ln for ln in re.split(r"[\r\n]", cli.stderr) if NOISE.search(ln)]
    assert noise == [], noise
    assert "keypoints" in cli.stderr + cli.stdout and r.path("keypoints").exists()


def test_the_log_filter_keeps_errors_and_unknown_lines(capfd):
    from s2v.fitting.detect import quiet_native_logs

    with quiet_native_logs():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1796658022.658875   29763 inference_feedback_manager.cc:114] Feedback manager\n")
        os.write(2, b"I0000 00:00:1796658022.7   29763 gl_context.cc:357] GL version\n")
        os.write(2, b"E0000 00:00:1796658022.8   29763 graph.cc:12] Calculator::Open() failed\n")
        os.write(2, b"a line of some")
        os.write(2, b"thing else\nno newline at the end")
    out, err = capfd.readouterr()
    assert err == ("E0000 00:00:1796658022.8   29763 graph.cc:12] Calculator::Open() failed\n"
                   "a line of something else\nno newline at the end")
    os.write(2, b"W0000 00:00:1.0   1 x.cc:1] after the block: shown\n")      # fd 2 is back as it was
    assert "after the block" in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------- GAN resume
@pytest.mark.parametrize("stop", [5, 8], ids=["mid-epoch", "epoch-boundary"])
def test_gan_resumed_training_is_bit_identical_to_an_uninterrupted_one(tiny_recording, tmp_path, stop):
    """Training 10 steps on 4 clips (batches of 1: epochs of 4) in one go, or interrupted at step ``stop`` and
    resumed by a new trainer: the same generator and discriminator weights and losses, bit for bit."""
    from torch.utils.data import Subset

    from s2v.gan.config import GANConfig
    from s2v.gan.data import ClipDataset
    from s2v.gan.train import GANTrainer

    rec, _ = tiny_recording
    data = Subset(ClipDataset([rec.run], 64, 3, "train"), range(4))

    def cfg(steps):
        return GANConfig.preset("tiny", max_steps=steps, checkpoint_every=1000, sample_every=1000, device="cpu")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(123)
        whole = GANTrainer(cfg(10), data, tmp_path / "whole")
        whole.train(progress=False)
        torch.manual_seed(456)                                       # the global RNG is the checkpoint's, not this
        first = GANTrainer(cfg(stop), data, tmp_path / "resumed")
        first.train(progress=False)
        assert first.data_state["start"] in (4, 8) and first.step == stop
        again = GANTrainer(cfg(10), data, tmp_path / "resumed")
        assert again.step == stop
        again.train(progress=False)
    finally:
        torch.set_num_threads(threads)
    assert again.step == whole.step == 10
    assert [h["loss_g"] for h in again.history] == [h["loss_g"] for h in whole.history]
    for net in ("G", "D"):
        a, b = getattr(whole, net).state_dict(), getattr(again, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_a_motion_file_whose_poses_are_text_is_refused(tmp_path):
    from s2v.body import BodyModel
    from s2v.mocap import MocapError, to_kit

    with pytest.raises(MocapError, match="not arrays of rotations"):
        to_kit({"poses": np.array([["a"] * 165] * 4), "mocap_frame_rate": np.array(30.0)}, BodyModel(device="cpu"))
