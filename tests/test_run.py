import json

import numpy as np
import pytest

from s2v.io import atomic_path, save_npz
from s2v.run import ARTIFACTS, MissingArtifactError, Run


def test_run_folder_manifest_and_checksums(tmp_path):
    run = Run.create("demo", tmp_path)
    assert run.missing() == [a for a in ARTIFACTS if not a.startswith("truth_") and a != "mocap"]
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
