"""Headless batch runs: the notebooks in order with papermill, resumable.

A YAML (or JSON) file names the batch and gives parameters::

    name: ada                 # executed notebooks go to <runs_dir>/<name>/notebooks/
    runs_dir: runs
    parameters: {}            # given to every notebook that declares them (e.g. runs_dir, speaker)
    stages:                   # per-notebook parameters; the order is the pipeline's unless `order` is given
      01_capture: {max_seconds: 20}
      05_gan_training: {size: 256, steps: 20000}
    order: [01_capture, 02_fitting, 03_dictionary, 04_pose_lstm, 05_gan_training, 06_evaluation]

Each stage that finishes is recorded in ``<runs_dir>/<name>/batch.json`` (atomically) with the parameters it
ran with. A rerun starts at the first stage that is not recorded as done, or whose parameters or notebook
changed, and runs every stage after it again (later stages consume earlier outputs). A failing notebook
stops the batch with the executed copy (showing the failing cell) left beside the others.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from s2v.io import load_json, save_json
from s2v.notebooks import NOTEBOOKS, run_notebook

ORDER = ("01_capture", "02_fitting", "03_dictionary", "04_pose_lstm", "05_gan_training", "06_evaluation")

#: A stage is a notebook's name, without ``.ipynb``: no path, so it cannot reach outside the notebooks folder (where
#: it is read) or the batch folder (where its executed copy goes).
_STAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class BatchError(RuntimeError):
    """A stage failed; the message names the notebook and where its executed copy is."""


@dataclass
class BatchConfig:
    name: str = "batch"
    runs_dir: str = "runs"
    parameters: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    order: tuple[str, ...] = ORDER
    notebooks_dir: str | None = None           # default: the kit's notebooks/

    @classmethod
    def load(cls, path: str | Path) -> "BatchConfig":
        path = Path(path)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as e:   # tags (!!python/...) included: safe_load builds plain data only
                raise ValueError(f"{path} is not a plain YAML batch config: {str(e).splitlines()[0]}") from None
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a batch config is a mapping of name, runs_dir, parameters, stages")
        unknown = set(data) - {"name", "runs_dir", "parameters", "stages", "order", "notebooks_dir"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        if "order" in data:
            if not isinstance(data["order"], (list, tuple)):
                raise ValueError(f"{path}: order is a list of notebook names, got {data['order']!r}")
            data["order"] = tuple(data["order"])
        for key in ("parameters", "stages"):
            if data.get(key) is None:
                data.pop(key, None)
            elif not isinstance(data[key], dict):
                raise ValueError(f"{path}: {key} is a mapping, got {data[key]!r}")
        try:
            return cls(**data)
        except BatchError as err:
            raise BatchError(f"{path}: {err}") from None

    def __post_init__(self) -> None:
        from s2v.run import check_name

        check_name(self.name)          # the batch's folder lies inside runs_dir, like any run
        self.order = tuple(self.order)
        check_stages(self, kit=False)  # which notebooks there are is plan()'s to check: notebooks_dir may change

    @property
    def folder(self) -> Path:
        return Path(self.runs_dir) / self.name


def check_stage(stage) -> str:
    """``stage`` if it is a plain notebook name (letters, digits, ``.``, ``_``, ``-``; no path, no ``..``), else
    :class:`BatchError`."""
    if not isinstance(stage, str) or not _STAGE.fullmatch(stage) or ".." in stage:
        raise BatchError(f"stage {stage!r}: a stage is the name of a notebook without .ipynb (letters, digits, '.', "
                         "'_' and '-', starting with a letter or digit), not a path")
    return stage


def kit_stages() -> set[str]:
    """The notebooks the kit ships (its notebooks folder): the stages a config without ``notebooks_dir`` may run."""
    return set(ORDER) | {p.stem for p in NOTEBOOKS.glob("*.ipynb")}


def check_stages(cfg: BatchConfig, kit: bool = True) -> None:
    """Every stage of ``order`` and every key of ``stages`` is a plain notebook name, and (with ``kit``), in a
    config without ``notebooks_dir``, one of the kit's notebooks (:class:`BatchError` naming the stage otherwise)."""
    for stage in (*cfg.order, *(cfg.stages or {})):
        check_stage(stage)
    for stage, own in (cfg.stages or {}).items():
        if own is not None and not isinstance(own, dict):
            raise BatchError(f"stage {stage!r}: its parameters are a mapping, got {own!r}")
    if kit and not cfg.notebooks_dir:
        known = kit_stages()
        for stage in (*cfg.order, *(cfg.stages or {})):
            if stage not in known:
                raise BatchError(f"stage {stage!r} is not one of the kit's notebooks {sorted(known)}")


def _inside(path: Path, folder: Path, what: str, stage: str) -> Path:
    """``path`` if it resolves inside ``folder`` (links followed), else :class:`BatchError`."""
    if not path.resolve().is_relative_to(folder.resolve()):
        raise BatchError(f"stage {stage!r}: its {what} {path} lies outside {folder}")
    return path


def declared_parameters(notebook: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def _fingerprint(notebook: Path, params: dict) -> str:
    h = hashlib.sha256(notebook.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def plan(cfg: BatchConfig, other_notebooks: bool = True) -> list[tuple[str, Path, dict, str]]:
    """(stage, notebook, parameters, fingerprint) in order; parameters are the shared ones the notebook
    declares, then its own. A config's ``notebooks_dir`` (notebooks other than the kit's: code that will run)
    is followed only with ``other_notebooks`` (the CLI's ``--other-notebooks``; code that builds a config in
    Python chose its notebooks itself): a config file shared with you cannot make the batch run notebooks from
    elsewhere."""
    if cfg.notebooks_dir and not other_notebooks and Path(cfg.notebooks_dir).resolve() != NOTEBOOKS.resolve():
        raise BatchError(f"the config runs the notebooks of {cfg.notebooks_dir}, not the kit's: code from there "
                         "would run. If you trust them, add --other-notebooks")
    check_stages(cfg)            # the names again (the config may have changed since), and the kit's
    src = Path(cfg.notebooks_dir) if cfg.notebooks_dir else NOTEBOOKS
    out = []
    for stage in cfg.order:
        nb = _inside(src / f"{stage}.ipynb", src, "notebook", stage)
        if not nb.exists():
            raise BatchError(f"no notebook {nb}")
        declared = declared_parameters(nb)
        params = {k: v for k, v in cfg.parameters.items() if k in declared}
        own = dict(cfg.stages.get(stage) or {})
        unknown = set(own) - declared
        if unknown:
            raise BatchError(f"{stage}: parameters {sorted(unknown)} are not in its parameters cell "
                             f"(it declares {sorted(declared)})")
        params.update(own)
        out.append((stage, nb, params, _fingerprint(nb, params)))
    return out


def run_batch(cfg: BatchConfig, progress: bool = True, log=print, other_notebooks: bool = True) -> dict:
    """Execute the stages, resuming: returns the state ({stage: {"status", "seconds", "notebook", ...}})."""
    stages = plan(cfg, other_notebooks)        # a config that cannot run creates nothing
    folder = cfg.folder
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    state_path = folder / "batch.json"
    state = load_json(state_path) if state_path.exists() else {}
    rerun = False
    for stage, nb, params, fp in stages:
        done = state.get(stage, {})
        if not rerun and done.get("status") == "done" and done.get("fingerprint") == fp:
            log(f"{stage}: done before, skipped")
            continue
        rerun = True
        out = _inside(folder / "notebooks" / f"{stage}.ipynb", folder, "executed copy", stage)
        log(f"{stage}: running {nb.name} with {params}")
        t = time.perf_counter()
        try:
            run_notebook(nb, out, params, progress=progress)
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            state[stage] = {"status": "failed", "seconds": round(time.perf_counter() - t, 1), "notebook": str(out),
                            "error": f"{type(err).__name__}: "
                                     f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''}"}
            save_json(state_path, state)
            raise BatchError(f"{stage} failed; the executed notebook with the error is {out}") from err
        state[stage] = {"status": "done", "seconds": round(time.perf_counter() - t, 1), "notebook": str(out),
                        "parameters": params, "fingerprint": fp}
        save_json(state_path, state)
    return state
