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


def test_publish_turns_videos_into_frame_strips(tmp_path):
    """``s2v.notebooks.publish``: what a code host can show — an embedded MP4 becomes a PNG strip of its frames
    with a caption, widget outputs go, a progress stream keeps its tail, the machine's paths become relative."""
    import base64

    import numpy as np

    from s2v.notebooks import NOTEBOOKS as KIT, publish
    from s2v.video import write_video

    mp4 = write_video((np.full((32, 48, 3), 10 * i, np.uint8) for i in range(20)), tmp_path / "v.mp4", 10.0)
    html = f'<video controls src="data:video/mp4;base64,{base64.b64encode(mp4.read_bytes()).decode()}">'
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": "<Video>"}),
                    nbformat.v4.new_output("display_data", data={
                        "application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "0%"}),
                    nbformat.v4.new_output("stream", name="stderr", text="\r".join(f"{i}%" for i in range(2000))),
                    nbformat.v4.new_output("stream", name="stdout", text=f"run in {KIT.parent}/runs/ada\n")]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "x.ipynb")
    out = nbformat.read(publish(tmp_path / "x.ipynb", tmp_path / "pub" / "x.ipynb", frames=3), as_version=4)
    o = out.cells[0].outputs
    assert len(o) == 3 and "image/png" in o[0]["data"] and "data:video" not in json.dumps(out)
    assert "20 frames, 2.0 s at 10 fps" in o[0]["data"]["text/plain"]
    import cv2

    png = cv2.imdecode(np.frombuffer(base64.b64decode(o[0]["data"]["image/png"]), np.uint8), cv2.IMREAD_COLOR)
    assert png.shape == (32, 3 * 48, 3) and png[:, :48].mean() < png[:, -48:].mean()   # first ... last frame
    assert len(o[1]["text"]) < 4100 and o[1]["text"].rstrip().endswith("1999%")
    assert o[2]["text"] == "run in runs/ada\n"


def test_every_parameter_is_one_papermill_sees():
    """A name the parameters cell assigns but papermill cannot read (``a, b = 1, 2``) cannot be set by a batch
    config: ``s2v batch`` refuses it as unknown (the quickstart's ``size, lstm_steps, gan_steps`` once did)."""
    import ast

    from s2v.batch import declared_parameters

    for ipynb in sorted(NOTEBOOKS.glob("*.ipynb")):
        cell = next(c for c in nbformat.read(ipynb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        assigned = set()
        for node in ast.parse(cell.source).body:
            for t in getattr(node, "targets", [getattr(node, "target", None)]):
                assigned |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)} if t is not None else set()
        seen = declared_parameters(ipynb)
        assert assigned and assigned <= seen, f"{ipynb.name}: papermill does not see {sorted(assigned - seen)}"
