"""The notebooks' paired sources: every ``notebooks/NN_name.ipynb`` has a percent-format ``NN_name.py`` beside it
(jupytext), the two hold the same cells, and the committed notebooks are clean (no outputs, the kernel the kit
installs, one ``parameters`` cell, cells short enough to read)."""
import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
jupytext = pytest.importorskip("jupytext")


def _cells(nb) -> list[tuple[str, str, tuple]]:
    return [(c.cell_type, c.source.strip(), tuple(c.get("metadata", {}).get("tags", []))) for c in nb.cells]


def test_every_notebook_has_a_paired_source_in_sync():
    books, sources = sorted(NOTEBOOKS.glob("*.ipynb")), sorted(NOTEBOOKS.glob("*.py"))
    assert len(books) >= 8
    assert [p.stem for p in books] == [p.stem for p in sources], "a notebook without its .py, or a .py alone"
    for ipynb in books:
        py = ipynb.with_suffix(".py")
        text = py.read_text(encoding="utf-8")
        assert "formats: ipynb,py:percent" in text, f"{py.name}: not a jupytext pair"
        a, b = _cells(nbformat.read(ipynb, as_version=4)), _cells(jupytext.read(py))
        assert len(a) == len(b), f"{ipynb.name} has {len(a)} cells, {py.name} {len(b)}: run `jupytext --sync {py}`"
        for i, (ca, cb) in enumerate(zip(a, b)):
            assert ca == cb, f"{ipynb.name} cell {i} differs from {py.name}: run `jupytext --sync {py}`"


@pytest.mark.parametrize("ipynb", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_are_clean(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs committed"
    # the kernel `make setup` installs (ipykernel's own name): a notebook that opens as modified otherwise
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                         "language": "python"}
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    long = [(i, len(c.source.splitlines())) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and len(c.source.splitlines()) > 25]
    assert not long, f"cells longer than 25 lines belong in the library: {long}"


def test_executed_notebooks_are_trusted_and_keep_the_kit_kernel(tmp_path, monkeypatch):
    """What run_notebook (make demo, batches) writes opens trusted on this machine (signed with the user's notary
    key: progress bars, widgets and videos render) and names the kernel the kit installs, not papermill's."""
    from nbformat.sign import NotebookNotary

    from s2v.notebooks import run_notebook

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))     # the notary's key and database
    src = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML(f'<b>{x * 2}</b>')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, src)
    out = run_notebook(src, tmp_path / "out" / "tiny.ipynb", {"x": 21})
    done = nbformat.read(out, as_version=4)
    assert "<b>42</b>" in json.dumps(done.cells[-1].outputs)
    assert done.metadata["kernelspec"]["name"] == "python3"
    assert NotebookNotary().check_signature(done)
    done.cells[-1].outputs[0]["data"]["text/html"] = "<script>changed</script>"   # edited elsewhere: not trusted
    assert not NotebookNotary().check_signature(done)
