"""Every notebook executes headlessly with papermill, and leaves its figures behind.

The notebooks run once, in pipeline order, as one resumable batch (``s2v.batch``, what ``s2v batch`` does on a
GPU machine) at tiny sizes; each test then checks one executed notebook's outputs and artifacts.
"""
import json
import re

import pytest

from s2v.batch import BatchConfig, BatchError, run_batch
from s2v.notebooks import NOTEBOOKS


def _params_cell_tagged(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return len(tagged) == 1


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell(path):
    assert _params_cell_tagged(path)


#: tiny sizes per notebook (CI); the shared runs_dir is given to every notebook that declares it
TINY = {
    "00_body_model": {"size": 128},
    "01_capture": {"max_seconds": 3.0, "size": 128, "fps": 25.0},
    "02_fitting": {"run_name": "studio_demo", "steps": 120, "seated_seconds": 2.0, "seated_size": 256},
    "03_dictionary": {"max_seconds": 3.0, "size": 128, "fps": 25.0},
    "04_pose_lstm": {"train_scripts": ["economy"], "val_script": "sports", "test_script": "weather", "steps": 10,
                     "hidden": 32, "batch_size": 8, "flow_steps": 8},
    "05_gan_training": {"max_seconds": 3.0, "steps": 20, "video_frames": 30, "framing": "upper"},
    "06_evaluation": {"train_scripts": ["economy", "sports", "science"], "sizes": [1, 2, 3], "max_seconds": 5.0,
                      "steps": 10, "hidden": 32, "batch_size": 8, "gan_steps": 6},
    "00_quickstart": {"train_from_scratch": True, "size": 64, "lstm_steps": 10, "gan_steps": 8,
                      "your_run": "studio_demo_seated"},
}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    stages = {k: dict(v) for k, v in TINY.items()}
    stages["00_body_model"]["out_dir"] = str(root)
    stages["00_quickstart"]["out"] = str(root / "demo.mp4")
    cfg = BatchConfig(name="ci", runs_dir=str(root / "runs"), parameters={"runs_dir": str(root / "runs")},
                      stages=stages, order=tuple(TINY))
    try:
        state, error = run_batch(cfg, progress=False, log=lambda *_: None), None
    except BatchError as err:
        state, error = json.loads((cfg.folder / "batch.json").read_text()), err
    return root, cfg, state, error


def _executed(chain, stage):
    root, cfg, state, error = chain
    st = state.get(stage, {})
    if st.get("status") != "done":
        pytest.fail(f"{stage} did not run: {st.get('error') or error or 'an earlier stage failed'}")
    nb = json.loads((cfg.folder / "notebooks" / f"{stage}.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    return nb, text, root / "runs"


def _outputs(nb):
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def _images(nb):
    return [o for o in _outputs(nb) if "image/png" in o.get("data", {})]


def _has_video(nb):
    return any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb))


@pytest.mark.notebook
def test_batch_ran_every_notebook_in_order_and_resumes(chain):
    root, cfg, state, error = chain
    assert error is None, error
    assert list(state) == list(TINY) and all(v["status"] == "done" for v in state.values())
    again = run_batch(cfg, progress=False, log=lambda *_: None)       # nothing to do: every stage is done
    assert {k: v["seconds"] for k, v in again.items()} == {k: v["seconds"] for k, v in state.items()}


@pytest.mark.notebook
def test_body_model_notebook_runs(chain):
    nb, text, runs = _executed(chain, "00_body_model")
    tmp_path = chain[0]
    assert "per frame: 106" in text and "paper's total: 119" in text
    assert "max bone-length change 0.0" in text      # < 0.1 mm under random 3D poses
    assert (tmp_path / "body_model.png").stat().st_size > 5000


@pytest.mark.notebook
def test_capture_notebook_records_the_studio_and_refuses_bad_input(chain):
    nb, text, runs = _executed(chain, "01_capture")
    assert "recorded" in text and "CaptureError:" in text and "no audio track" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "waveform and overlay figures"
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    assert (runs / "studio_demo" / "capture" / "truth" / "params.npz").exists()


@pytest.mark.notebook
def test_fitting_notebook_fits_and_compares_with_truth(chain):
    nb, text, runs = _executed(chain, "02_fitting")
    assert "median reprojection error" in text and "body_pa_mm" in text and "'framing': 'full'" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 5                                          # + the seated overlay grid
    assert ((runs / "studio_demo" / "fit" / "params.npz").exists()
            and (runs / "studio_demo" / "fit" / "overlay.mp4").exists())
    # the seated speaker: framing given, fitted with no failed frame
    seated = [ln for ln in text.splitlines() if "'framing': 'seated'" in ln]
    assert seated and "'failed': 0," in seated[0], seated
    from s2v.keypoints import REAL_HALFBODY_TRACK

    if REAL_HALFBODY_TRACK.exists():                                 # the real DWPose track, when present
        m = re.search(r"median residual / person height: (\{.*\})", text)
        assert m and len(images) >= 6
        assert all(float(v.strip("%'")) <= 3.0 for v in re.findall(r"'([\d.]+)%'", m.group(1))), m.group(1)


@pytest.mark.notebook
def test_pose_lstm_notebook_trains_and_evaluates(chain):
    nb, text, runs = _executed(chain, "04_pose_lstm")
    assert "mouth error" in text and "per-part error" in text and "10 steps" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    assert (runs / "pose_ada_audio" / "prediction_vs_truth.mp4").exists()
    # the motion table with its floor and ceiling, and the mocap import round trip (120 Hz AMASS layout)
    assert "mean pose" in text and "other sentence (truth)" in text and re.search(r"LSTM: jerk [\d.]+x", text)
    # the dictionary's key words were left to it in training, and synthesis puts its key poses back
    assert re.search(r"body and hands left to it on \d+% of the frames", text)
    m = re.search(r"LSTM \+ key poses: jerk [\d.]+x, L1div ([\d.]+)x the truth's; body/hand error ([\d.]+)/", text)
    assert m and float(m.group(1)) > 0.3, text[-2000:]
    # the generative model beside the regression: two seeds, two motions
    m = re.search(r"two samples ([\d.]+) cm apart \(([\d.]+)x the truth's L1div\); flow seed 0: jerk [\d.]+x", text)
    assert m and float(m.group(1)) > 0 and (runs / "pose_ada_audio" / "pose" / "flow.pt").exists()
    assert "at 120 Hz -> " in text and "fingers absolute, up z" in text
    assert float(re.search(r"largest difference to the original: ([\d.e+-]+)", text).group(1)) <= 1e-5


@pytest.mark.notebook
def test_dictionary_notebook_builds_inserts_and_measures(chain):
    nb, text, runs = _executed(chain, "03_dictionary")
    assert "6 entries" in text and "DictionaryError:" in text and "probability 1.5 is not a number in [0, 1]" in text
    assert "huge at" in text and "inserted (frames" in text
    ratios = [float(x) for x in re.findall(r"rad/s \(x([0-9.]+) of elsewhere\)", text)]
    assert len(ratios) == 2 and ratios[1] > 1.5 * ratios[0]      # key poses: more motion at key words
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    d = runs / "studio_dict" / "dictionary"
    assert (d / "dictionary.json").exists() and (d / "preview.mp4").stat().st_size > 10000


@pytest.mark.notebook
def test_gan_notebook_trains_evaluates_and_renders(chain):
    nb, text, runs = _executed(chain, "05_gan_training")
    l1 = re.search(r"20 steps; L1 ([0-9.]+) -> ([0-9.]+)", text)
    assert l1 and float(l1.group(2)) < 0.8 * float(l1.group(1))          # the generator learns
    for part in ("psnr", "ssim_face", "psnr_left_hand", "psnr_right_hand"):
        v = float(re.search(rf"\b{part}: ([0-9.]+)", text).group(1))
        assert (10 < v < 60) if part.startswith("psnr") else (0 < v <= 1)
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 5          # pairs with boxes, losses, sample grid, part crops, portrait strip
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    # the portrait section: trained on the run but its last 15 %, judged on those at the source's size
    face = re.search(r"'psnr_face': ([0-9.]+), 'ssim_face': ([0-9.]+)", text)
    assert face and 15 < float(face.group(1)) < 60 and 0 < float(face.group(2)) <= 1
    assert (runs / "studio_gan" / "portrait" / "face.pt").exists()
    gan = runs / "studio_gan" / "gan"
    assert (gan / "generator.pt").exists() and (gan / "heldout.mp4").stat().st_size > 5000
    assert sorted(gan.glob("samples/step_*.png"))
    # a half-body (knees up) speaker: the labels draw no feet, which the camera never showed
    from s2v.gan.data import run_keypoints
    from s2v.run import Run

    kp = run_keypoints(Run(runs / "studio_gan"), 64, 64)
    assert (kp[:, [11, 14, 19, 20, 21, 22, 23, 24], 2] == 0).all() and (kp[:, [2, 5], 2] > 0).all()


@pytest.mark.notebook
def test_evaluation_notebook_prints_every_table_beside_the_paper(chain):
    nb, text, runs = _executed(chain, "06_evaluation")
    res = json.loads((runs / "evaluation.json").read_text())
    assert set(res) == {"table3", "figure4", "motion", "tts_noise", "key_poses", "hands"}
    assert "paper (1280x720)" in text and "1.769" in text and "80.6%" in text
    assert len(res["table3"]) == 3 and all(set(r) == {"Orig.", "Man1", "Man2", "Man3", "Text"}
                                           for r in res["table3"].values())
    f4 = res["figure4"]     # figure 4: the 2D-keypoint LSTM stretches fingers, the 3D skeleton cannot
    assert f4["2D-keypoint LSTM"]["finger length error"] > 5 * f4["3D-skeleton LSTM"]["finger length error"]
    m = res["motion"]
    assert m["truth"]["FD_g"] < 1e-6 and m["truth"]["LVD (m/s)"] == 0.0 and m["mean pose"]["L1div (cm)"] == 0.0
    assert m["other sentence (truth)"]["FD_g"] > 0 and 0 <= m["LSTM (audio)"]["BC"] <= 1
    assert m["LSTM (audio) + key poses"]["L1div (cm)"] > 0
    kp = res["key_poses"]
    assert kp["with key poses"]["inserted"] >= 2
    assert (kp["with key poses"]["peak distance from rest (rad)"]
            > kp["without key poses"]["peak distance from rest (rad)"])
    assert all(10 < r["psnr"] < 60 for r in res["hands"].values())
    assert len(_images(nb)) >= 3          # Table 3, figure 4, motion metrics


@pytest.mark.notebook
def test_quickstart_notebook_ends_in_a_talking_video(chain):
    from s2v.video import read_video

    nb, text, runs = _executed(chain, "00_quickstart")
    assert "shipped with the kit" in text and "key poses inserted" in text
    assert re.search(r"at +[0-9.]+ s: inserted", text)
    assert re.search(r"held-out.*psnr_face [0-9.]+", text)              # the shipped speaker's quality
    for name, shape in (("demo", (384, 320, 3)), ("demo_zh", (384, 320, 3)), ("demo_trained", (64, 64, 3))):
        frames, _ = read_video(chain[0] / f"{name}.mp4")              # shipped: English, Mandarin; trained here
        n = int(re.search(name + r"\.mp4: (\d+) frames", text).group(1))
        assert len(frames) == n > 50 and frames.shape[1:] == shape, name
    assert _has_video(nb) and len(_images(nb)) >= 2
    for art in ("pose/model.pt", "gan/generator.pt", "dictionary/dictionary.json"):
        assert (runs / "quickstart_ada" / art).exists()
    # a half-body run through the notebooks: notebook 01's studio, seated behind a desk at 16:9 (notebook 02),
    # fitted by notebook 02, made a speaker and speaking here: the source's aspect, no legs in the skeletons
    m = re.search(r"studio_demo_seated: seated framing, (\d+) of (\d+) frames failed", text)
    assert m and int(m.group(1)) == 0, text[-2000:]
    m = re.search(r"source (\d+)x(\d+) -> video (\d+)x(\d+)", text)
    sw, sh, vw, vh = map(int, m.groups())
    assert (sw, sh) == (256, 144) and (vw, vh) == (256, 160)       # 16:9 at the stride of 32: sides trimmed
    from s2v.synthesis.synthesize import Speaker

    sp = Speaker.load(runs / "studio_demo_seated")
    for art in ("fit/params.npz", "pose/model.pt", "gan/generator.pt"):    # trained on the fit, not the truth
        assert (runs / "studio_demo_seated" / art).exists()
    assert not sp.seen[[10, 11, 13, 14, 19, 20, 21, 22, 23, 24]].any() and sp.seen[[2, 5, 7]].all()
