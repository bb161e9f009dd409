"""Configs that would run code from elsewhere, settings that make no sense, modules that import each other: each
ends in a clear message before anything runs."""
import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat as nbf
import pytest

from s2v.batch import BatchConfig, BatchError, plan, run_batch
from s2v.config import PRESETS, ConfigError, load, make, presets
from s2v.notebooks import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
PY = [sys.executable, "-m", "s2v"]
#: The exit code of ``s2v batch`` for a config it refuses (s2v.cli._cmd_batch prints ``s2v: error: ...``).
BATCH_ERROR_RC = 1


def _cli(*args, cwd=None):
    return subprocess.run([*PY, *args], capture_output=True, text=True, cwd=cwd)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _evil_notebook(path: Path, marker: Path) -> None:
    """A notebook that leaves ``marker`` behind if it ever runs."""
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, path)


# ------------------------------------------------------------------ a batch's stages are notebook names, not paths
def test_the_cli_batch_refuses_a_stage_that_reaches_outside_the_notebooks(tmp_path):
    marker = tmp_path / "PWNED"
    _evil_notebook(tmp_path / "x" / "evil.ipynb", marker)
    stage = os.path.relpath(tmp_path / "x" / "evil", NOTEBOOKS)       # ../../../tmp/.../x/evil from the kit's
    assert (NOTEBOOKS / f"{stage}.ipynb").resolve() == (tmp_path / "x" / "evil.ipynb").resolve()
    for order in ([stage], ["../../x/evil"]):
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(f"name: b\nruns_dir: {tmp_path / 'runs'}\norder: {order!r}\n")
        before = _files(tmp_path)
        r = _cli("batch", str(cfg), cwd=tmp_path)
        assert r.returncode == BATCH_ERROR_RC, (r.returncode, r.stdout, r.stderr)
        assert r.stderr == (f"s2v: error: {cfg}: stage {order[0]!r}: a stage is the name of a notebook without "
                            ".ipynb (letters, digits, '.', '_' and '-', starting with a letter or digit), not a "
                            "path\n"), r.stderr
        assert not marker.exists()                                     # the notebook did not run
        assert _files(tmp_path) == before                              # nothing written, the batch folder neither


def test_batch_stage_names_are_checked_when_made_and_when_run(tmp_path):
    with pytest.raises(BatchError, match=r"stage '\.\./\.\./x/evil': .* not a path"):
        BatchConfig(order=("../../x/evil",))
    for bad in ("/etc/evil", "a/b", "a\\b", "..", "x..y", ".hidden", "", "a\nb"):
        with pytest.raises(BatchError, match="not a path"):
            BatchConfig(order=(bad,), notebooks_dir=str(tmp_path))
    with pytest.raises(BatchError, match=r"stage '\.\./evil'"):                  # keys of `stages` too
        BatchConfig(stages={"../evil": {"x": 1}})
    with pytest.raises(BatchError, match=r"stage '07_mine' is not one of the kit's notebooks \[.*'01_capture'"):
        plan(BatchConfig(order=("01_capture", "07_mine")))
    with pytest.raises(BatchError, match=r"stage '05_gan_trainig' is not one of the kit's notebooks"):
        plan(BatchConfig(stages={"05_gan_trainig": {"steps": 3}}))             # a misspelt stage is not ignored
    assert [s for s, *_ in plan(BatchConfig(order=("00_quickstart",)))] == ["00_quickstart"]   # any the kit ships
    cfg = BatchConfig(name="b", runs_dir=str(tmp_path / "runs"), order=("01_capture",))
    cfg.order = ("../../x/evil",)                                              # changed after it was made
    with pytest.raises(BatchError, match="not a path"):
        run_batch(cfg, progress=False, log=lambda *_: None)
    assert not (tmp_path / "runs").exists()                                    # a refused batch creates nothing
    (tmp_path / "bad.yaml").write_text("order: 01_capture\n")
    with pytest.raises(ValueError, match="order is a list of notebook names, got '01_capture'"):
        BatchConfig.load(tmp_path / "bad.yaml")


def test_a_notebook_linked_from_outside_the_notebooks_folder_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    _evil_notebook(tmp_path / "elsewhere" / "evil.ipynb", marker)
    books = tmp_path / "books"
    books.mkdir()
    (books / "evil.ipynb").symlink_to(tmp_path / "elsewhere" / "evil.ipynb")
    cfg = BatchConfig(name="b", runs_dir=str(tmp_path / "runs"), order=("evil",), notebooks_dir=str(books))
    with pytest.raises(BatchError, match=rf"stage 'evil': its notebook {books / 'evil.ipynb'} lies outside {books}"):
        plan(cfg)
    assert not marker.exists()


# ------------------------------------------------------------------ settings that make no sense
@pytest.mark.parametrize("kind, preset, overrides, message", [
    ("gan", "tiny", {"lr": -1}, "GANConfig: lr must be a positive finite number, got -1.0"),
    ("gan", "tiny", ["lr=nan"], "GANConfig: lr must be a finite number, got nan"),
    ("gan", "tiny", ["lr=.inf"], "GANConfig: lr must be a finite number, got inf"),
    ("gan", "tiny", ["max_steps=-5"], "GANConfig: max_steps must be a positive finite number, got -5"),
    ("gan", "tiny", ["batch_size=0"], "GANConfig: batch_size must be a positive finite number, got 0"),
    ("gan", "tiny", ["checkpoint_every=0"], "GANConfig: checkpoint_every must be a positive finite number, got 0"),
    ("gan", "tiny", ["generator.ngf=-8"], "GANConfig: generator.ngf must be a positive finite number, got -8"),
    ("gan", "tiny", ["betas=[0.5,1.5]"], "GANConfig: betas[1] must lie in [0, 1), got 1.5"),
    ("gan", "tiny", ["lambda_fm=-1"], "GANConfig: lambda_fm must be a finite number >= 0, got -1.0"),
    ("gan", "tiny", ["part_weights.face=nan"], "GANConfig: part_weights.face must be a number, got 'nan'"),
    ("gan", "tiny", {"part_weights": {"face": float("nan")}}, "GANConfig: part_weights.face must be a finite number"),
    ("gan", "cpu", ["max_minutes=-1"], "GANConfig: max_minutes must be a positive finite number, got -1.0"),
    ("pose", "tiny", ["lr=0"], "PoseLSTMConfig: lr must be a positive finite number, got 0.0"),
    ("pose", "tiny", ["eval_every=0"], "PoseLSTMConfig: eval_every must be a positive finite number, got 0"),
    ("pose", "tiny", ["window=-2"], "PoseLSTMConfig: window must be a positive finite number, got -2.0"),
    ("pose", "tiny", ["dropout=1.5"], "PoseLSTMConfig: dropout must lie in [0, 1], got 1.5"),
    ("flow", "tiny", ["lr=-0.1"], "GestureFlowConfig: lr must be a positive finite number, got -0.1"),
    ("flow", "tiny", ["max_minutes=nan"], "GestureFlowConfig: max_minutes must be a finite number, got nan"),
    ("fit", "default", ["steps=-1"], "FitConfig: steps must be a finite number >= 0, got -1"),
    ("studio", "tiny", ["fps=0"], "StudioConfig: fps must be a positive finite number, got 0.0"),
    ("studio", "tiny", ["background=[0.5,.inf,0.5]"], "StudioConfig: background[1] must be a finite number, got inf"),
    ("speaker", "quickstart", {"gan": {"lr": -1}}, "SpeakerConfig: gan.lr must be a positive finite number, got -1.0"),
    ("evaluation", "default", {"sizes": [2, 0]}, "EvaluationConfig: sizes[1] must be a positive finite number, got 0"),
])
def test_settings_that_make_no_sense_are_refused_naming_the_field(kind, preset, overrides, message):
    with pytest.raises(ConfigError) as err:
        make(kind, preset, overrides)
    assert str(err.value).startswith(message), str(err.value)


def test_settings_that_may_be_zero_or_negative_are_kept():
    g = make("gan", "tiny", ["seed=-3", "lambda_temporal=0", "cold_start=0", "max_minutes=null", "num_workers=0",
                             "generator.n_local=0", "part_weights.face=0"])
    assert (g.seed, g.lambda_temporal, g.cold_start, g.max_minutes, g.part_weights["face"]) == (-3, 0.0, 0.0, None, 0)
    p = make("pose", "tiny", ["w_acc=0", "smooth=0", "delay=0", "dropout=0"])
    assert (p.w_acc, p.smooth, p.delay, p.dropout) == (0.0, 0.0, 0.0, 0.0)
    s = make("studio", "tiny", ["offset_x=-0.2", "noise_db=-70", "max_seconds=null"])
    assert (s.offset_x, s.noise_db, s.max_seconds) == (-0.2, -70.0, None)
    for kind in PRESETS:                        # every preset as shipped passes its own checks
        for name in presets(kind):
            make(kind, name)


def test_a_config_file_with_nan_is_refused(tmp_path):
    (tmp_path / "g.yaml").write_text("preset: tiny\nlr: .nan\n")
    with pytest.raises(ConfigError, match=r"g\.yaml: GANConfig: lr must be a finite number, got nan"):
        load("gan", tmp_path / "g.yaml")
    assert math.isfinite(make("gan", "tiny").lr)


def test_the_cli_refuses_settings_that_make_no_sense_before_anything_runs(tmp_path):
    runs = tmp_path / "runs"
    for sets, message in ((["--set", "lr=nan"], "GANConfig: lr must be a finite number, got nan"),
                          (["--set", "lr=-1"], "GANConfig: lr must be a positive finite number, got -1.0"),
                          (["--steps", "-5"], "GANConfig: max_steps must be a positive finite number, got -5")):
        r = _cli("gan", "train", "--run", "nope", "--runs-dir", str(runs), "--preset", "tiny", *sets, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr == f"s2v: error: {message}\n", (sets, r.returncode, r.stderr)
    r = _cli("pose", "train", "--train", "nope", "--out", "nope", "--runs-dir", str(runs), "--preset", "tiny",
             "--set", "batch_size=0", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == "s2v: error: PoseLSTMConfig: batch_size must be a positive finite number, got 0\n"
    assert not runs.exists()


# ------------------------------------------------------------------ no module imports one that imports it back
#: 2-cycles not yet untangled, with why: the OpenVINO generator (gan.cpu) calibrates on the PyTorch FrameGenerator
#: (gan.infer), which picks the OpenVINO backend and its thread counts from gan.cpu (both imports inside functions).
KNOWN_CYCLES = {("s2v.gan.cpu", "s2v.gan.infer")}


def _import_graph() -> dict[str, set[str]]:
    """Module -> the s2v modules it imports, at module level or inside functions (``from a import b`` counts as
    importing ``a.b`` where that is a module, else ``a``)."""
    pkg = ROOT / "s2v"
    trees = {}
    for f in sorted(pkg.rglob("*.py")):
        name = ".".join(("s2v", *f.relative_to(pkg).with_suffix("").parts)).removesuffix(".__init__")
        trees[name] = (f.name == "__init__.py", ast.parse(f.read_text(encoding="utf-8")))
    graph = {}
    for name, (is_pkg, tree) in trees.items():
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name.split(".")[0] == "s2v"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:                            # relative: from the module's package
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if module.split(".")[0] != "s2v":
                    continue
                out |= {f"{module}.{a.name}" if f"{module}.{a.name}" in trees else module for a in node.names}
        out.discard(name)
        graph[name] = out
    return graph


def test_no_module_imports_a_module_that_imports_it_back():
    graph = _import_graph()
    assert "s2v.config" in graph["s2v.studio.record"]          # imports inside functions count (its preset())
    cycles = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps if a in graph.get(b, ())})
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    assert not new, "modules that import each other:\n" + "\n".join(f"  {a} <-> {b}" for a, b in new)


def test_the_studio_presets_still_take_every_english_script():
    import importlib

    cast, record = (importlib.import_module(f"s2v.studio.{m}") for m in ("cast", "record"))  # s2v.studio.record:
    assert record.ALL_ENGLISH is cast.ALL_ENGLISH                  # the function, in the package's namespace
    assert cast.ALL_ENGLISH.split("+") == [n for n, (lang, _) in cast.SCRIPTS.items() if lang == "en"]
    assert make("studio", "demo").script == cast.ALL_ENGLISH
    assert make("speaker", "shipped").studio.script == cast.ALL_ENGLISH
