"""Run folders: every pipeline stage reads its inputs from, and writes its outputs to, one folder.

``runs/<name>/`` holds typed, versioned artifacts (one file each, see :data:`ARTIFACTS`) and a
``manifest.json`` that records, per artifact, the stage that wrote it, its format version, size,
checksum, the stage's config and the package versions in use. Because each arrow of the pipeline
is a file, any stage can be re-run alone, and a batch run resumes at the first missing artifact.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import socket
import sys
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from s2v.io import ArtifactError, folder_lock, load_json, process_alive, save_json, sweep_orphans, sweep_temp


@dataclass(frozen=True)
class ArtifactSpec:
    relpath: str
    stage: str
    version: int
    description: str


#: Every artifact of the pipeline, in pipeline order. Bump ``version`` when a format changes.
ARTIFACTS: dict[str, ArtifactSpec] = {
    "recording": ArtifactSpec("capture/recording.mp4", "capture", 1, "video of the speaker with the speech"),
    "audio": ArtifactSpec("capture/audio.wav", "capture", 1, "16 kHz mono speech"),
    "transcript": ArtifactSpec("capture/transcript.json", "capture", 1, "words with start/end seconds"),
    "camera": ArtifactSpec("capture/camera.json", "capture", 1, "pinhole camera of the recording"),
    "mocap": ArtifactSpec("capture/mocap.npz", "capture", 1, "motion capture: SMPL-X per frame in the kit's layout"),
    "truth_params": ArtifactSpec("capture/truth/params.npz", "capture", 1, "studio ground truth: SMPL-X per frame"),
    "truth_keypoints": ArtifactSpec("capture/truth/keypoints_2d.npz", "capture", 1,
                                    "studio ground truth: projected keypoints (OpenPose layout)"),
    "truth_keyposes": ArtifactSpec("capture/truth/keyposes.json", "capture", 1, "studio ground truth: posed key words"),
    "keypoints": ArtifactSpec("keypoints/keypoints.npz", "detect", 1, "2D body/hand/face keypoints per frame"),
    "params": ArtifactSpec("fit/params.npz", "fit", 1, "SMPL-X parameters per frame"),
    "features": ArtifactSpec("features/features.npz", "features", 1, "audio/text features per frame"),
    "pose_model": ArtifactSpec("pose/model.pt", "pose", 1, "trained speech-to-pose LSTM"),
    "pose_flow": ArtifactSpec("pose/flow.pt", "pose", 1, "trained gesture flow (samples of motion for speech)"),
    "dictionary": ArtifactSpec("dictionary/dictionary.json", "dictionary", 1, "word -> key pose dictionary"),
    "gan": ArtifactSpec("gan/generator.pt", "gan", 1, "trained skeleton-to-video generator"),
    "gan_int8": ArtifactSpec("gan/generator_int8.ov", "gan optimize", 1,
                             "the generator for CPUs without bfloat16: OpenVINO int8 (s2v gan optimize)"),
    "portrait": ArtifactSpec("portrait/face.pt", "portrait", 1,
                             "face at the source's resolution: network and reference faces (s2v.portrait)"),
    "portrait_frame": ArtifactSpec("portrait/frame.pt", "portrait", 1,
                                   "frame at the source's resolution: reference frames (and network)"),
    "video": ArtifactSpec("videos/output.mp4", "synthesize", 1, "synthesised talking video"),
}

#: artifacts only some runs have (besides the studio's ``truth_*``)
OPTIONAL = ("mocap", "portrait", "portrait_frame")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class MissingArtifactError(FileNotFoundError):
    """A stage asked for an artifact that an earlier stage has not written yet."""


class RunBusyError(RuntimeError):
    """Another process is writing the run."""


#: locks this process holds: run folder -> {stage: [open lock file, flock mode, depth]}, so a stage inside a
#: locked command re-enters
_LOCKS: dict[str, dict[str, list]] = {}

#: the stages whose artifacts each writer reads: it holds their locks shared while it writes its own
READS: dict[str, tuple[str, ...]] = {
    "capture": (), "detect": ("capture",), "fit": ("capture", "detect"), "dictionary": ("capture", "fit"),
    "pose": ("capture", "fit", "dictionary"), "gan": ("capture", "detect", "fit"),
    "portrait": ("capture", "detect", "fit"),
}


class RunNameError(ValueError):
    """A run name that is not a plain folder name inside the runs folder."""


def check_name(name: str) -> str:
    """``name`` if it is a plain run name (letters, digits, ``.``, ``_``, ``-``; no path, no newline)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RunNameError(f"run name {name!r}: use letters, digits, '.', '_' and '-' (at most 100, starting with a "
                           "letter or digit); a run is a folder inside the runs folder, not a path")
    return name


#: sha256 of files already checked in this process, by (path, size, mtime): a stage that opens one artifact
#: many times hashes it once
_HASHED: dict[tuple[str, int, int], str] = {}


#: Environment variable naming the folder every run lives in (notebooks and CLI alike).
RUNS_ENV = "S2V_RUNS"


def runs_root(runs_dir: str | Path | None = None, cwd: str | Path | None = None) -> Path:
    """The folder runs live in, the same for the CLI and the notebooks: ``runs_dir`` when given (absolute, or
    relative to the working directory), else ``$S2V_RUNS``, else ``runs/`` of the kit's checkout that holds the
    working directory (found upwards: a folder with ``pyproject.toml`` and ``s2v/``; so a notebook running in
    ``notebooks/`` finds the runs ``make demo`` and the CLI made), else ``./runs``."""
    if runs_dir not in (None, ""):
        return Path(runs_dir)
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]).expanduser()
    here = Path(cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "s2v" / "__init__.py").is_file():
            return d / "runs"
    return here / "runs"


def package_versions(names=("s2v", "numpy", "torch", "smplx", "librosa", "opencv-python-headless",
                            "pyrender", "mediapipe", "anny")) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASHED:
        return _HASHED[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    _HASHED[key] = h.hexdigest()
    return _HASHED[key]


def _same_file(path: Path, rec: dict) -> bool:
    """``path`` is the file a manifest record describes (same sha256)."""
    return _sha256(path) == rec.get("sha256")


def cli_command() -> str | None:
    """The command line of this process when it is the kit's CLI (``python -m s2v ...``), else None (a notebook,
    a test, a script): recorded with each artifact so that an error can say exactly how to remake it."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is None or argv0.name != "__main__.py" or argv0.parent.name != "s2v":
        return None
    return shlex.join(["python", "-m", "s2v", *sys.argv[1:]])


def _plain(config: Any) -> Any:
    if config is None:
        return None
    if is_dataclass(config):
        return asdict(config)
    return config


class Run:
    """A run folder ``<runs_dir>/<name>``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def open(cls, name: str, runs_dir: str | Path = "runs") -> "Run":
        """The run ``name`` inside ``runs_dir``: the only way the CLI, batch configs and notebooks name a run,
        so that no name reaches outside the runs folder (``../x``, ``/abs/path``, a trailing newline)."""
        check_name(name)
        base = Path(runs_dir).resolve()
        run = cls(Path(runs_dir) / name)
        if run.root.resolve().parent != base:
            raise RunNameError(f"run {name!r} resolves to {run.root.resolve()}, outside the runs folder {base}")
        return run

    @classmethod
    def create(cls, name: str, runs_dir: str | Path = "runs", exist_ok: bool = True) -> "Run":
        run = cls.open(name, runs_dir)
        if run.root.exists() and not exist_ok:
            raise FileExistsError(f"run folder {run.root} exists")
        run.root.mkdir(parents=True, exist_ok=True)
        if not (run.root / MANIFEST).exists():
            save_json(run.root / MANIFEST, {"manifest_version": MANIFEST_VERSION, "name": name,
                                            "created": _now(), "artifacts": {}, "stages": {}})
        return run

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def manifest(self) -> dict:
        p = self.root / MANIFEST
        if not p.exists():
            return {"manifest_version": MANIFEST_VERSION, "artifacts": {}, "stages": {}}
        try:
            m = load_json(p)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ArtifactError(f"{p} is damaged ({type(e).__name__}: {e}); it lists what the run's stages wrote. "
                                f"Restore it, or move the run aside and make it again") from None
        if not isinstance(m, dict) or not isinstance(m.get("artifacts"), dict):
            raise ArtifactError(f"{p} is not a run manifest (no 'artifacts' table)")
        return m

    def path(self, artifact: str) -> Path:
        """Where ``artifact`` lives; the parent folder is created."""
        spec = _spec(artifact)
        p = self.root / spec.relpath
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def has(self, artifact: str) -> bool:
        return (self.root / _spec(artifact).relpath).exists()

    def require(self, artifact: str, verify: bool = True) -> Path:
        """The artifact's path, or a clear error saying which stage makes it. With ``verify``, the file must
        be the one the manifest recorded (same checksum): a file changed, damaged or swapped after its stage
        wrote it is refused with the command that remakes it, not used to make silently wrong output."""
        spec = _spec(artifact)
        p = self.root / spec.relpath
        if not p.exists():
            raise MissingArtifactError(
                f"run '{self.name}' has no {artifact} ({spec.relpath}): run the '{spec.stage}' stage first: "
                f"{self.remake_command(artifact)} (or its notebook)")
        rec = self.manifest["artifacts"].get(artifact)
        if rec and rec.get("version", spec.version) > spec.version:
            raise MissingArtifactError(f"{p} has format version {rec['version']}, newer than this s2v "
                                       f"understands ({spec.version}); upgrade s2v")
        if verify and not (rec and rec.get("sha256")):
            raise ArtifactError(
                f"run '{self.name}': {spec.relpath} has no record in the run's manifest, so nothing says which stage "
                f"wrote it or that it is intact. {self.fix_advice(artifact)}")
        if verify and not _same_file(p, rec):
            raise ArtifactError(
                f"run '{self.name}': {spec.relpath} is not the file the '{spec.stage}' stage wrote on "
                f"{rec.get('written', '?')} (its checksum differs from the manifest's): it was changed, damaged or "
                f"replaced since. {self.fix_advice(artifact)}")
        return p

    def record(self, artifact: str, config: Any = None, **info: Any) -> dict:
        """Note in the manifest that ``artifact`` was (re)written, with the config that made it."""
        spec = _spec(artifact)
        p = self.require(artifact, verify=False)
        rec = {"path": spec.relpath, "stage": spec.stage, "version": spec.version, "written": _now(),
               "bytes": p.stat().st_size, "sha256": _sha256(p), "config": _plain(config),
               "packages": package_versions(), **({"command": cmd} if (cmd := cli_command()) else {}), **info}
        with folder_lock(self.root):   # writers of two stages may record at once: one read-modify-write at a time
            m = self.manifest
            m["artifacts"][artifact] = rec
            m.setdefault("stages", {})[spec.stage] = {"finished": rec["written"], "config": rec["config"]}
            save_json(self.root / MANIFEST, m)
        return rec

    @contextlib.contextmanager
    def lock(self, what: str, stage: str | None = None):
        """Hold the run's write locks while ``what`` (e.g. "gan train") writes it: its own stage's exclusively and,
        shared, those of the stages whose files it reads (:data:`READS`). So two trainings of one stage, or a fit
        under a GAN that reads its poses, are refused with who holds the run, while writers of independent
        stages (``pose`` and ``gan train``) run side by side. ``stage``: default the first word of ``what``;
        one not in :data:`READS` takes every stage exclusively. Temporary files of writers that were killed are
        swept on taking the lock. Re-entrant within a process; a no-op where ``fcntl`` does not exist."""
        try:
            import fcntl
        except ImportError:  # not POSIX
            yield self
            return
        stage = stage or what.split(" ")[0]
        wanted = ({stage: fcntl.LOCK_EX} | {s: fcntl.LOCK_SH for s in READS[stage]} if stage in READS
                  else {s: fcntl.LOCK_EX for s in READS})
        self.root.mkdir(parents=True, exist_ok=True)
        key = str(self.root.resolve())
        held = _LOCKS.setdefault(key, {})
        taken = []
        try:
            for s, mode in wanted.items():
                if s in held and (held[s][1] == fcntl.LOCK_EX or mode == fcntl.LOCK_SH):
                    held[s][2] += 1                  # this process holds it already (a stage inside a command)
                    taken.append(s)
                    continue
                f = held[s][0] if s in held else open(self.root / f".lock.{s}", "a+", encoding="utf-8")  # noqa: SIM115
                try:
                    fcntl.flock(f, mode | fcntl.LOCK_NB)
                except BlockingIOError:
                    if s not in held:
                        f.close()
                    raise RunBusyError(f"run '{self.name}' is being written by {self._holders() or 'another process'}"
                                       "; wait until it finishes (or stop it), then run this again") from None
                if s in held:
                    held[s][1:] = [mode, held[s][2] + 1]
                else:
                    held[s] = [f, mode, 1]
                taken.append(s)
                if mode == fcntl.LOCK_EX and held[s][2] == 1:
                    f.seek(0)
                    f.truncate()
                    f.write(f"'{what}' (pid {os.getpid()} on {socket.gethostname()}, since {_now()})")
                    f.flush()
            if all(held[s][2] == 1 for s in taken):   # the outermost lock of this process
                sweep_orphans(self.root, recursive=True)
                for s, mode in wanted.items():
                    if mode == fcntl.LOCK_EX:        # no other writer of this stage: files of older kits too
                        for folder in {(self.root / a.relpath).parent for a in ARTIFACTS.values() if a.stage == s}:
                            if folder != self.root and folder.is_dir():
                                sweep_temp(folder)
            yield self
        finally:
            for s in reversed(taken):
                entry = held[s]
                entry[2] -= 1
                if entry[2] == 0:
                    if entry[1] == fcntl.LOCK_EX:
                        entry[0].seek(0)
                        entry[0].truncate()
                    fcntl.flock(entry[0], fcntl.LOCK_UN)
                    entry[0].close()
                    del held[s]
            if not held:
                _LOCKS.pop(key, None)

    def _holders(self) -> str:
        """Who holds the run's locks now, from their lock files (living processes only)."""
        out = []
        for f in sorted(self.root.glob(".lock.*")):
            text = f.read_text(encoding="utf-8", errors="replace").strip()
            m = re.search(r"\(pid (\d+)", text)
            if text and m and int(m[1]) != os.getpid() and process_alive(int(m[1])) and text not in out:
                out.append(text)
        return " and ".join(out)

    def fix_advice(self, artifact: str) -> str:
        """What to do about a changed or unrecorded ``artifact``: the command that remakes it, or the one that
        accepts the file as it is (each run by ``tests/test_reliability.py``)."""
        shipped = self.shipped
        where = "" if shipped or self.root.parent.resolve() == runs_root().resolve() else \
            f" --runs-dir {shlex.quote(str(self.root.parent))}"
        accept = f"python -m s2v run accept {self.name} --artifact {artifact}{where}"
        if shipped:
            return (f"'{self.name}' is the speaker shipped with the kit ({self.root}): restore the kit's file (git "
                    f"checkout, or reinstall the kit), or, if you changed it on purpose, accept it: {accept}")
        return (f"Remake it: {self.remake_command(artifact)} (or its notebook); or, if you changed it on purpose, "
                f"accept it: {accept}")

    def remake_command(self, artifact: str) -> str:
        """The command that wrote ``artifact`` (recorded when the CLI made it), else the one that makes it from
        the run's earlier artifacts (capture: from the source the manifest names)."""
        spec = _spec(artifact)
        rec = self.manifest["artifacts"].get(artifact) or {}
        if rec.get("command") and not re.match(r"python -m s2v (speaker|batch|demo)\b", rec["command"]):
            return rec["command"]      # ('speaker' skips what exists: it would not remake this one)
        n = self.name
        where = ("" if self.root.parent.resolve() == runs_root().resolve()
                 else f" --runs-dir {shlex.quote(str(self.root.parent))}")
        if spec.stage == "capture":
            conf = rec.get("config") or {}
            studio = conf.get("studio") if isinstance(conf.get("studio"), dict) else None
            if studio:
                opts = [f"--speaker {studio['speaker']}", f"--script {studio['script']}", f"--seed {studio['seed']}",
                        f"--framing {studio['framing']}", f"--size {studio['width']}", f"--height {studio['height']}"]
                if studio.get("max_seconds"):
                    opts.append(f"--seconds {studio['max_seconds']:g}")
                return f"python -m s2v capture --run {n}{where} " + " ".join(opts)
            if conf.get("source"):
                return f"python -m s2v capture --run {n}{where} --video {shlex.quote(str(conf['source']))}"
            return f"python -m s2v capture --run {n}{where}"      # the studio's default recording
        return {"detect": f"python -m s2v detect --run {n}",
                "fit": f"python -m s2v fit --run {n}",
                "features": f"python -m s2v pose --train {n} --out {n}",
                "pose": f"python -m s2v pose --train {n} --out {n}"
                        + (" --kind flow" if artifact == "pose_flow" else ""),
                "dictionary": f"python -m s2v dictionary build --run {n} "
                              + ("--from-studio" if self.has("truth_keyposes") else "--suggested"),
                "gan": f"python -m s2v gan train --run {n}",
                "gan optimize": f"python -m s2v gan optimize --run {n}",
                "portrait": f"python -m s2v portrait train --run {n}",
                "synthesize": f"python -m s2v synthesize --run {n} --text '...'"}[spec.stage] + where

    @property
    def shipped(self) -> bool:
        """Whether this is a speaker shipped with the kit (``data/speakers/<name>``)."""
        from s2v.body.model import data_dir

        return (data_dir() / "speakers").resolve() == self.root.resolve().parent

    def accept(self, artifact: str) -> dict:
        """Record the file now on disk as ``artifact`` (after a deliberate edit), keeping its stage's config. The
        file must still be usable as what it is (a camera that loads, a JSON that parses): accepting a NaN
        camera would make a garbage video with exit status 0."""
        validate_artifact(artifact, self.require(artifact, verify=False))
        old = self.manifest["artifacts"].get(artifact, {})
        return self.record(artifact, old.get("config"), accepted=_now())

    def changed(self) -> list[str]:
        """Artifacts whose file differs from what the manifest recorded."""
        return [a for a, rec in self.manifest["artifacts"].items() if a in ARTIFACTS and self.has(a)
                and rec.get("sha256") and not self.verify(a)]

    def set_aside(self, relpath: str) -> Path | None:
        """Move ``relpath`` (e.g. a checkpoint) to ``<name>.<time>.bak`` beside it; the new name, or None."""
        p = self.root / relpath
        if not p.exists():
            return None
        dst = p.with_name(f"{p.name}.{_dt.datetime.now():%Y%m%d-%H%M%S}.bak")
        os.replace(p, dst)
        return dst

    def verify(self, artifact: str) -> bool:
        """True when the file on disk is the one the manifest recorded (checksum)."""
        rec = self.manifest["artifacts"].get(artifact)
        p = self.root / _spec(artifact).relpath
        return bool(rec) and p.exists() and _same_file(p, rec)

    def missing(self) -> list[str]:
        """Artifacts not written yet, in pipeline order (studio ground truth exists for studio runs only, motion
        capture for mocap runs only, the portrait for speakers that have one)."""
        return [a for a in ARTIFACTS if a not in OPTIONAL and not a.startswith("truth_") and not self.has(a)]

    def __repr__(self) -> str:
        done = [a for a in ARTIFACTS if self.has(a)]
        return f"Run({str(self.root)!r}, artifacts={done})"


def remake_advice(path: str | Path, artifact: str, default: str) -> str:
    """How to remake ``path``, an ``artifact`` of some run: the run's own command when the file lies in a run
    folder (:meth:`Run.remake_command`; for a shipped speaker, restoring the kit's file), else ``default``."""
    root = Path(path).resolve().parent.parent
    if not (root / MANIFEST).is_file() or (root / ARTIFACTS[artifact].relpath).resolve() != Path(path).resolve():
        return default
    run = Run(root)
    if run.shipped:
        return f"nothing: it is the kit's own file ({ARTIFACTS[artifact].relpath} of the shipped '{run.name}'); " \
               "restore it (git checkout, or reinstall the kit)"
    try:
        return run.remake_command(artifact)
    except ArtifactError:        # a damaged manifest: the generic advice
        return default


def validate_artifact(artifact: str, path: Path) -> None:
    """An :class:`ArtifactError` when ``path`` cannot be used as ``artifact``: a camera must load (finite and
    plausible, :class:`s2v.camera.Camera`), JSON artifacts must parse, torch files must load as plain data."""
    if artifact == "camera":
        from s2v.camera import Camera

        Camera.load(path)
    elif path.suffix == ".json":
        try:
            load_json(path)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ArtifactError(f"{path} is not valid JSON ({e})") from None
    elif path.suffix == ".pt":
        from s2v.io import load_torch

        load_torch(path, ARTIFACTS[artifact].description)


def _spec(artifact: str) -> ArtifactSpec:
    try:
        return ARTIFACTS[artifact]
    except KeyError:
        raise KeyError(f"unknown artifact {artifact!r}; known: {list(ARTIFACTS)}") from None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
