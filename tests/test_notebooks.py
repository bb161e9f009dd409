"""Every notebook executes headlessly with papermill, and leaves its figures behind."""
import json

import pytest

from s2v.notebooks import NOTEBOOKS, run_notebook


def _params_cell_tagged(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return len(tagged) == 1


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell(path):
    assert _params_cell_tagged(path)


@pytest.mark.notebook
def test_body_model_notebook_runs(tmp_path):
    out = run_notebook("00_body_model.ipynb", tmp_path / "nb.ipynb", {"out_dir": str(tmp_path), "size": 128})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    assert "per frame: 106" in text and "paper's total: 119" in text
    assert "max bone-length change 0.0" in text      # < 0.1 mm under random 3D poses
    assert (tmp_path / "body_model.png").stat().st_size > 5000


def _outputs(nb):
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


@pytest.mark.notebook
def test_capture_notebook_records_the_studio_and_refuses_bad_input(tmp_path):
    out = run_notebook("01_capture.ipynb", tmp_path / "nb.ipynb",
                       {"runs_dir": str(tmp_path / "runs"), "max_seconds": 3.0, "size": 128, "fps": 25.0})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    assert "recorded" in text and "CaptureError:" in text and "no audio track" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "waveform and overlay figures"
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    assert (tmp_path / "runs" / "studio_demo" / "capture" / "truth" / "params.npz").exists()


@pytest.mark.notebook
def test_fitting_notebook_fits_and_compares_with_truth(tiny_recording, tmp_path):
    import shutil

    rec, _ = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "runs" / "tiny")
    out = run_notebook("02_fitting.ipynb", tmp_path / "nb.ipynb",
                       {"runs_dir": str(tmp_path / "runs"), "run_name": "tiny", "steps": 120})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    assert "median reprojection error" in text and "body_pa_mm" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 4
    assert (tmp_path / "runs" / "tiny" / "fit" / "params.npz").exists()


@pytest.mark.notebook
def test_pose_lstm_notebook_trains_and_evaluates(tmp_path):
    out = run_notebook("04_pose_lstm.ipynb", tmp_path / "nb.ipynb",
                       {"runs_dir": str(tmp_path / "runs"), "train_scripts": ["economy"], "val_script": "sports",
                        "test_script": "weather", "steps": 10, "hidden": 32, "batch_size": 8})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    assert "mouth error" in text and "per-part error" in text and "10 steps" in text
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    assert (tmp_path / "runs" / "pose_ada_audio" / "prediction_vs_truth.mp4").exists()


@pytest.mark.notebook
def test_dictionary_notebook_builds_inserts_and_measures(tmp_path):
    out = run_notebook("03_dictionary.ipynb", tmp_path / "nb.ipynb",
                       {"runs_dir": str(tmp_path / "runs"), "max_seconds": 3.0, "size": 128, "fps": 25.0})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    assert "6 entries" in text and "DictionaryError:" in text and "probability 1.5 is not a number in [0, 1]" in text
    assert "huge at" in text and "inserted (frames" in text
    import re

    ratios = [float(x) for x in re.findall(r"rad/s \(x([0-9.]+) of elsewhere\)", text)]
    assert len(ratios) == 2 and ratios[1] > 1.5 * ratios[0]      # key poses: more motion at key words
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    d = tmp_path / "runs" / "studio_dict" / "dictionary"
    assert (d / "dictionary.json").exists() and (d / "preview.mp4").stat().st_size > 10000


@pytest.mark.notebook
def test_gan_notebook_trains_evaluates_and_renders(tmp_path):
    out = run_notebook("05_gan_training.ipynb", tmp_path / "nb.ipynb",
                       {"runs_dir": str(tmp_path / "runs"), "max_seconds": 3.0, "steps": 20, "video_frames": 30})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for o in _outputs(nb))
    import re

    l1 = re.search(r"20 steps; L1 ([0-9.]+) -> ([0-9.]+)", text)
    assert l1 and float(l1.group(2)) < 0.8 * float(l1.group(1))          # the generator learns
    for part in ("psnr", "ssim_face", "psnr_left_hand", "psnr_right_hand"):
        v = float(re.search(rf"\b{part}: ([0-9.]+)", text).group(1))
        assert (10 < v < 60) if part.startswith("psnr") else (0 < v <= 1)
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 4          # pairs with boxes, losses, sample grid, part crops
    assert any("video" in "".join(o.get("data", {}).get("text/html", "")) for o in _outputs(nb)), "inline video"
    gan = tmp_path / "runs" / "studio_gan" / "gan"
    assert (gan / "generator.pt").exists() and (gan / "heldout.mp4").stat().st_size > 5000
    assert sorted(gan.glob("samples/step_*.png"))
