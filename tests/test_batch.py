"""The batch runner: notebooks in order, parameters filtered and checked, resume from the first stage not done."""
import json

import nbformat as nbf
import pytest

from s2v.batch import BatchConfig, BatchError, plan, run_batch


def _notebook(path, params: str, body: str):
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbf.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, path)


@pytest.fixture
def books(tmp_path):
    d = tmp_path / "nbs"
    d.mkdir()
    log = tmp_path / "log.txt"
    for name, extra in (("a", ""), ("b", "fail = False\n"), ("c", "")):
        _notebook(d / f"{name}.ipynb", f"runs_dir = 'x'\nvalue = 0\n{extra}",
                  "from pathlib import Path\n"
                  + ("assert not fail, 'asked to fail'\n" if extra else "")
                  + f"with open({str(log)!r}, 'a') as f: f.write('{name}=' + str(value) + '\\n')\n"
                  f"Path(runs_dir, '{name}.out').write_text(str(value))\n")
    return d, log, tmp_path


def _ran(log):
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_runs_in_order_then_resumes_from_the_first_changed_stage(books):
    d, log, tmp = books
    cfg = BatchConfig(name="t", runs_dir=str(tmp / "runs"), parameters={"runs_dir": str(tmp), "unused": 1},
                      stages={"b": {"value": 2}}, order=("a", "b", "c"), notebooks_dir=str(d))
    state = run_batch(cfg, progress=False, log=lambda *_: None)
    assert _ran(log) == ["a=0", "b=2", "c=0"] and (tmp / "b.out").read_text() == "2"
    assert all(v["status"] == "done" for v in state.values())
    assert (cfg.folder / "notebooks" / "c.ipynb").exists()
    run_batch(cfg, progress=False, log=lambda *_: None)
    assert _ran(log) == []                                          # all done: nothing runs
    cfg.stages["b"] = {"value": 3}
    run_batch(cfg, progress=False, log=lambda *_: None)
    assert _ran(log) == ["b=3", "c=0"]                              # b changed: b and everything after it


def test_a_failing_stage_stops_the_batch_and_is_retried(books):
    d, log, tmp = books
    cfg = BatchConfig(name="t", runs_dir=str(tmp / "runs"), parameters={"runs_dir": str(tmp)},
                      stages={"b": {"fail": True}}, order=("a", "b", "c"), notebooks_dir=str(d))
    with pytest.raises(BatchError, match="b failed"):
        run_batch(cfg, progress=False, log=lambda *_: None)
    assert _ran(log) == ["a=0"]
    state = json.loads((cfg.folder / "batch.json").read_text())
    assert state["b"]["status"] == "failed" and "asked to fail" in state["b"]["error"]
    assert "asked to fail" in (cfg.folder / "notebooks" / "b.ipynb").read_text()   # the executed copy shows why
    cfg.stages["b"] = {"fail": False}
    run_batch(cfg, progress=False, log=lambda *_: None)
    assert _ran(log) == ["b=0", "c=0"]                              # a was done: resumed at b


def test_parameters_are_checked_against_the_notebook(books, tmp_path):
    d, _, tmp = books
    cfg = BatchConfig(stages={"a": {"nonsense": 1}}, order=("a",), notebooks_dir=str(d))
    with pytest.raises(BatchError, match=r"nonsense.*not in its parameters cell"):
        plan(cfg)
    with pytest.raises(BatchError, match="no notebook"):
        plan(BatchConfig(order=("zz",), notebooks_dir=str(d)))
    (tmp_path / "c.yaml").write_text("name: x\nruns_dir: r\nstages:\n  a: {value: 4}\norder: [a]\n")
    c = BatchConfig.load(tmp_path / "c.yaml")
    assert c.order == ("a",) and c.stages == {"a": {"value": 4}}
    (tmp_path / "bad.yaml").write_text("nmae: x\n")
    with pytest.raises(ValueError, match="unknown keys"):
        BatchConfig.load(tmp_path / "bad.yaml")


@pytest.mark.parametrize("name", ["ada_gpu.yaml", "tiny.yaml"])
def test_shipped_configs_match_the_notebooks(name):
    from pathlib import Path

    cfg = BatchConfig.load(Path(__file__).resolve().parents[1] / "configs" / name)
    stages = plan(cfg)
    assert [s[0] for s in stages] == list(cfg.order) and all(p["runs_dir"] == cfg.runs_dir for _, _, p, _ in stages)


def test_cli_batch_runs_and_reports_bad_configs(books, tmp_path):
    import subprocess
    import sys

    d, log, tmp = books
    cfg = tmp_path / "b.yaml"
    cfg.write_text(f"name: cli\nruns_dir: {tmp / 'runs'}\nparameters: {{runs_dir: {tmp}}}\norder: [a, c]\n"
                   f"notebooks_dir: {d}\n")
    r = subprocess.run([sys.executable, "-m", "s2v", "batch", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1 and "--other-notebooks" in r.stderr and not _ran(log)   # a config cannot run code
    r = subprocess.run([sys.executable, "-m", "s2v", "batch", str(cfg), "--other-notebooks"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert _ran(log) == ["a=0", "c=0"] and "done" in r.stdout
    (tmp_path / "bad.yaml").write_text("nmae: x\n")
    r = subprocess.run([sys.executable, "-m", "s2v", "batch", str(tmp_path / "bad.yaml")], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "unknown keys" in r.stderr and "Traceback" not in r.stderr
