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
