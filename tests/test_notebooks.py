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
