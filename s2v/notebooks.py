"""Headless notebook execution with papermill, always on the interpreter running s2v.

A kernelspec named ``python3`` may point anywhere on a user's machine (``~/.local/share/jupyter`` wins
over the virtual environment's), so :func:`run_notebook` registers a private kernelspec for
``sys.executable`` and executes with it. The executed notebook then gets its source's kernelspec back (the one
``make setup`` installs, so Jupyter opens it without asking for a kernel) and is **signed** with the user's
Jupyter notary key (``nbformat.sign``): opened on this machine it is trusted, so its progress bars, widgets and
inline videos render instead of an empty "not trusted" output.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "s2v-python"


def _kernel_dir() -> Path:
    root = Path(tempfile.gettempdir()) / f"s2v-jupyter-{os.getuid() if hasattr(os, 'getuid') else 0}"
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "s2v (Python)", "language": "python"}))
    return root


def run_notebook(name: str | Path, out: str | Path, parameters: dict | None = None, cwd: str | Path | None = None,
                 progress: bool = False) -> Path:
    """Execute ``notebooks/<name>`` (or a path) into ``out`` with ``parameters`` injected."""
    import papermill as pm

    src = Path(name)
    if not src.exists():
        src = NOTEBOOKS / name
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(_kernel_dir()), os.environ.get("JUPYTER_PATH")]))
    try:
        pm.execute_notebook(str(src), str(out), parameters=parameters or {}, kernel_name=KERNEL,
                            progress_bar=progress, cwd=str(cwd) if cwd else None)
    finally:     # a failed run's notebook (with its traceback) is the kit's own output too
        if out.exists():
            try:
                finish_executed(out, src)
            except Exception as err:  # noqa: BLE001  (signing is a convenience: never hide the run's own error)
                import warnings

                warnings.warn(f"{out}: not signed as trusted ({type(err).__name__}: {err})", stacklevel=2)
    return out


def finish_executed(out: Path, source: Path) -> None:
    """Give the executed notebook ``out`` its ``source``'s kernelspec and sign it (trusted on this machine)."""
    import nbformat
    from nbformat.sign import NotebookNotary

    nb = nbformat.read(out, as_version=4)
    spec = nbformat.read(source, as_version=4).metadata.get("kernelspec")
    if spec:
        nb.metadata["kernelspec"] = spec
    NotebookNotary().sign(nb)
    nbformat.write(nb, out)


def publish(executed: str | Path, out: str | Path, frames: int = 4, max_stream_chars: int = 4000) -> Path:
    """An executed notebook made fit to publish (``docs/notebooks/``, read on a code host that shows a notebook's
    images but neither its HTML5 videos nor its widgets): each embedded video becomes a PNG strip of ``frames``
    frames with a caption of its length; widget outputs keep their text; progress-bar and log streams are cut to
    their last ``max_stream_chars`` characters; papermill's per-cell metadata (timings) goes. Returns ``out``."""
    import base64
    import re

    import nbformat

    from s2v.io import atomic_path

    nb = nbformat.read(executed, as_version=4)
    root = str(NOTEBOOKS.parent) + os.sep
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        outs = []
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            html = "".join(data.get("text/html", ""))
            m = re.search(r"data:video/mp4;base64,([A-Za-z0-9+/=\s]+)", html)
            if m:
                outs.append(_video_strip(base64.b64decode(m.group(1)), frames))
                continue
            if "application/vnd.jupyter.widget-view+json" in data:
                continue    # a progress bar or a widget: its text stand-in shows its first state (0 %), not its last
            for key in ("text/plain", "text/html"):   # the machine's paths: relative to the checkout
                if key in data:
                    data[key] = "".join(data[key]).replace(root, "")
            if o.get("output_type") == "stream":
                text = "".join(o.get("text", "")).replace("\r", "\n").replace(root, "")
                o["text"] = text if len(text) <= max_stream_chars else "…\n" + text[-max_stream_chars:]
            outs.append(o)
        cell.outputs = outs
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, ".ipynb") as tmp:
        nbformat.write(nb, tmp)
    return out


def _video_strip(mp4: bytes, frames: int):
    """A display_data output: ``frames`` frames of the MP4 ``mp4`` side by side, as a PNG."""
    import base64

    import cv2
    import nbformat
    import numpy as np

    from s2v.video import read_video

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.mp4"
        path.write_bytes(mp4)
        video, fps = read_video(path)
    idx = np.linspace(0, len(video) - 1, frames).round().astype(int)
    strip = np.concatenate([video[i] for i in idx], 1)
    ok, png = cv2.imencode(".png", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    caption = (f"<video: {len(video)} frames, {len(video) / fps:.1f} s at {fps:g} fps, with sound; frames "
               f"{', '.join(str(i) for i in idx)} shown — run the notebook to play it>")
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png.tobytes()).decode(),
                                                          "text/plain": caption})
