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


#: The pipeline's stages in order (notebook numbers; synthesis before its evaluation): one package per stage, and
#: the shared formats and tools of stage 0 (params, camera, keypoints, run folders, speech, rendering). A module
#: belongs to the longest prefix that names it; the orchestrators (CLI, batch, config registry, notebook runner,
#: plots) to none.
STAGES = {"s2v.body": 0, "s2v.params": 0, "s2v.camera": 0, "s2v.render": 0, "s2v.io": 0, "s2v.run": 0,
          "s2v.video": 0, "s2v.keypoints": 0, "s2v.speech": 0, "s2v.metrics": 0, "s2v.provenance": 0,
          "s2v.capture": 1, "s2v.studio": 1, "s2v.mocap": 1,
          "s2v.fitting": 2, "s2v.dictionary": 3, "s2v.pose": 4, "s2v.gan": 5, "s2v.portrait": 5, "s2v.synthesis": 6,
          "s2v.evaluation": 7}
ORCHESTRATORS = {"s2v", "s2v.__main__", "s2v.cli", "s2v.batch", "s2v.config", "s2v.notebooks", "s2v.plots"}


def _modules():
    import ast

    pkg = ROOT / "s2v"
    for f in sorted(pkg.rglob("*.py")):
        name = ".".join(("s2v", *f.relative_to(pkg).with_suffix("").parts)).removesuffix(".__init__")
        yield name, ast.parse(f.read_text(encoding="utf-8"))


def _stage(module: str):
    hits = [k for k in STAGES if module == k or module.startswith(k + ".")]
    return STAGES[max(hits, key=len)] if hits else None


def test_each_stage_with_several_modules_is_a_package():
    for pkg in ("fitting", "pose", "synthesis", "evaluation", "dictionary", "gan", "portrait", "studio", "body"):
        assert (ROOT / "s2v" / pkg / "__init__.py").is_file(), pkg
    flat = {p.stem for p in (ROOT / "s2v").glob("*.py")}
    assert not flat & {"pose_lstm", "pose_stage", "fit", "detect", "evaluation", "experiments", "speaker",
                       "synthesize"}, "a stage's module left outside its package"


def test_no_stage_imports_a_later_stage():
    """Every import, module-level or inside a function: a stage may use earlier stages, never later ones."""
    import ast

    later, unmapped = [], []
    for name, tree in _modules():
        if name in ORCHESTRATORS:
            continue
        own = _stage(name)
        if own is None:
            unmapped.append(name)
            continue
        for node in ast.walk(tree):
            targets = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for t in targets:
                s = _stage(t) if t.startswith("s2v") else None
                if s is not None and s > own:
                    later.append(f"{name} (stage {own}) imports {t} (stage {s}) on line {node.lineno}")
    assert not unmapped, f"modules without a stage in STAGES: {unmapped}"
    assert not later, "\n".join(later)


def test_no_duplicate_public_names():
    """A public class, function or constant is defined once in the library (re-exports are imports, not
    definitions); ``main`` is each command's entry point."""
    import ast
    from collections import defaultdict

    where = defaultdict(list)
    for name, tree in _modules():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for n in names:
                if not n.startswith("_") and n not in ("main", "__all__"):
                    where[n].append(name)
    dup = {n: m for n, m in where.items() if len(m) > 1}
    assert not dup, dup
