import json
import os
from pathlib import Path

import numpy as np
import pytest

from s2v.io import atomic_path, save_npz
from s2v.run import ARTIFACTS, OPTIONAL, MissingArtifactError, Run


def test_run_folder_manifest_and_checksums(tmp_path):
    run = Run.create("demo", tmp_path)
    assert run.missing() == [a for a in ARTIFACTS if not a.startswith("truth_") and a not in OPTIONAL]
    with pytest.raises(MissingArtifactError, match=r"run the 'fit' stage first"):
        run.require("params")
    save_npz(run.path("params"), body_pose=np.zeros((2, 63)))
    rec = run.record("params", config={"lr": 0.01})
    assert rec["stage"] == "fit" and rec["version"] == ARTIFACTS["params"].version
    m = json.loads((run.root / "manifest.json").read_text())
    assert m["artifacts"]["params"]["config"] == {"lr": 0.01}
    assert "numpy" in m["artifacts"]["params"]["packages"]
    assert run.verify("params")
    save_npz(run.path("params"), body_pose=np.ones((2, 63)))
    assert not run.verify("params"), "a changed file must fail the checksum"
    assert "params" not in run.missing()


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(f) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert f.read_text() == "old"
    assert list(tmp_path.iterdir()) == [f]


def test_bad_run_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        Run.create("../escape", tmp_path)


def test_one_runs_root_for_notebooks_and_cli(tmp_path, monkeypatch):
    """A notebook runs in notebooks/, the CLI in the checkout: both find the checkout's runs/ (issue 15: the
    quickstart used to retrain in notebooks/runs after `make demo` had trained the speaker in another folder)."""
    import subprocess
    import sys

    from s2v.run import RUNS_ENV, runs_root

    kit = tmp_path / "kit"
    (kit / "s2v").mkdir(parents=True)
    (kit / "s2v" / "__init__.py").write_text("")
    (kit / "pyproject.toml").write_text("[project]\nname = 's2v'\n")
    (kit / "notebooks").mkdir()
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert runs_root(cwd=kit / "notebooks") == kit / "runs" == runs_root(cwd=kit)
    assert runs_root(cwd=tmp_path) == tmp_path / "runs"                     # outside a checkout: ./runs
    assert runs_root("elsewhere", cwd=kit) == Path("elsewhere")            # given: as given
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "mine"))
    assert runs_root(cwd=kit / "notebooks") == tmp_path / "mine"
    # the CLI from the notebooks folder of this checkout, with $S2V_RUNS: the run lands there
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "s2v", "run", "init", "probe"], cwd=root / "notebooks",
                       capture_output=True, text=True, env={**os.environ, RUNS_ENV: str(tmp_path / "mine")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mine" / "probe" / "manifest.json").exists()
