import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_names = {_name(r) for r in pip if not r.startswith("-e")}
    assert env_names == {_name(d) for d in deps}
    assert any(r.startswith("-e .[dev]") for r in pip)


def test_cli_help_lists_the_stages():
    """Every stage is a subcommand of the parser (not only a word of the description) and has its own help."""
    import argparse

    from s2v.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    wanted = ("capture", "detect", "fit", "dictionary", "pose", "gan", "evaluate", "synthesize", "body", "skeleton",
              "run", "demo", "speaker", "batch")
    assert set(wanted) <= set(sub.choices), sorted(set(wanted) - set(sub.choices))
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert all(helps.get(c) for c in wanted), [c for c in wanted if not helps.get(c)]
    out = subprocess.run([sys.executable, "-m", "s2v", "--help"], capture_output=True, text=True, check=True).stdout
    for stage in wanted:
        assert re.search(rf"^\s+{stage}\s", out, re.M), stage      # listed as a subcommand line
    usage = subprocess.run([sys.executable, "-m", "s2v", "pose", "--help"], capture_output=True, text=True,
                           check=True).stdout
    assert "--train" in usage


def test_no_official_model_files_are_tracked():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [f for f in files if re.search(r"(SMPLX?|MANO)_(NEUTRAL|MALE|FEMALE|LEFT|RIGHT)", f, re.I)]
