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
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from s2v.io import ArtifactError, load_json, save_json, sweep_temp


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


#: locks this process holds: run folder -> (open lock file, depth), so a stage inside a locked command re-enters
_LOCKS: dict[str, list] = {}


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
                f"run '{self.name}' has no {artifact} ({spec.relpath}): run the '{spec.stage}' stage first "
                f"(python -m s2v {spec.stage} --run {self.name}, or its notebook)")
        rec = self.manifest["artifacts"].get(artifact)
        if rec and rec.get("version", spec.version) > spec.version:
            raise MissingArtifactError(f"{p} has format version {rec['version']}, newer than this s2v "
                                       f"understands ({spec.version}); upgrade s2v")
        if verify and rec and rec.get("sha256") and not _same_file(p, rec):
            raise ArtifactError(
                f"run '{self.name}': {spec.relpath} is not the file the '{spec.stage}' stage wrote on "
                f"{rec.get('written', '?')} (its checksum differs from the manifest's): it was changed, damaged or "
                f"replaced since. Remake it (python -m s2v {spec.stage} --run {self.name}, or its notebook), or, "
                f"if you changed it on purpose, accept it: python -m s2v run accept {self.name} --artifact {artifact}")
        return p

    def record(self, artifact: str, config: Any = None, **info: Any) -> dict:
        """Note in the manifest that ``artifact`` was (re)written, with the config that made it."""
        spec = _spec(artifact)
        p = self.require(artifact, verify=False)
        rec = {"path": spec.relpath, "stage": spec.stage, "version": spec.version, "written": _now(),
               "bytes": p.stat().st_size, "sha256": _sha256(p), "config": _plain(config),
               "packages": package_versions(), **info}
        m = self.manifest
        m["artifacts"][artifact] = rec
        m.setdefault("stages", {})[spec.stage] = {"finished": rec["written"], "config": rec["config"]}
        save_json(self.root / MANIFEST, m)
        return rec

    @contextlib.contextmanager
    def lock(self, what: str):
        """Hold the run's write lock while ``what`` (e.g. "gan train") writes it: a second writer, in any process,
        is refused with who holds it (two trainings of one run would silently overwrite each other). On taking
        the lock, temporary files a killed writer left behind are swept. Re-entrant within a process; a no-op
        where ``fcntl`` does not exist."""
        key = str(self.root.resolve())
        if key in _LOCKS:
            _LOCKS[key][1] += 1
            try:
                yield self
            finally:
                _LOCKS[key][1] -= 1
            return
        try:
            import fcntl
        except ImportError:  # not POSIX
            yield self
            return
        import socket

        self.root.mkdir(parents=True, exist_ok=True)
        f = open(self.root / ".lock", "a+", encoding="utf-8")  # noqa: SIM115 (held across the yield)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunBusyError(f"run '{self.name}' is being written by {holder}; wait until it finishes (or stop "
                               "it), then run this again") from None
        try:
            f.seek(0)
            f.truncate()
            f.write(f"'{what}' (pid {os.getpid()} on {socket.gethostname()}, since {_now()})")
            f.flush()
            sweep_temp(self.root)
            _LOCKS[key] = [f, 1]
            yield self
        finally:
            _LOCKS.pop(key, None)
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()

    def accept(self, artifact: str) -> dict:
        """Record the file now on disk as ``artifact`` (after a deliberate edit), keeping its stage's config."""
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


def _spec(artifact: str) -> ArtifactSpec:
    try:
        return ARTIFACTS[artifact]
    except KeyError:
        raise KeyError(f"unknown artifact {artifact!r}; known: {list(ARTIFACTS)}") from None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
