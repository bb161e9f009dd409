"""Run folders: every pipeline stage reads its inputs from, and writes its outputs to, one folder.

``runs/<name>/`` holds typed, versioned artifacts (one file each, see :data:`ARTIFACTS`) and a
``manifest.json`` that records, per artifact, the stage that wrote it, its format version, size,
checksum, the stage's config and the package versions in use. Because each arrow of the pipeline
is a file, any stage can be re-run alone, and a batch run resumes at the first missing artifact.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import platform
import re
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from s2v.io import load_json, save_json


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
    "dictionary": ArtifactSpec("dictionary/dictionary.json", "dictionary", 1, "word -> key pose dictionary"),
    "gan": ArtifactSpec("gan/generator.pt", "gan", 1, "trained skeleton-to-video generator"),
    "video": ArtifactSpec("videos/output.mp4", "synthesize", 1, "synthesised talking video"),
}

#: artifacts only some runs have (besides the studio's ``truth_*``)
OPTIONAL = ("mocap",)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class MissingArtifactError(FileNotFoundError):
    """A stage asked for an artifact that an earlier stage has not written yet."""


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
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    def create(cls, name: str, runs_dir: str | Path = "runs", exist_ok: bool = True) -> "Run":
        if not _NAME.match(name):
            raise ValueError(f"run name {name!r}: use letters, digits, '.', '_' and '-'")
        run = cls(Path(runs_dir) / name)
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
        return load_json(p) if p.exists() else {"manifest_version": MANIFEST_VERSION, "artifacts": {}, "stages": {}}

    def path(self, artifact: str) -> Path:
        """Where ``artifact`` lives; the parent folder is created."""
        spec = _spec(artifact)
        p = self.root / spec.relpath
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def has(self, artifact: str) -> bool:
        return (self.root / _spec(artifact).relpath).exists()

    def require(self, artifact: str) -> Path:
        """The artifact's path, or a clear error saying which stage makes it."""
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
        return p

    def record(self, artifact: str, config: Any = None, **info: Any) -> dict:
        """Note in the manifest that ``artifact`` was (re)written, with the config that made it."""
        spec = _spec(artifact)
        p = self.require(artifact)
        rec = {"path": spec.relpath, "stage": spec.stage, "version": spec.version, "written": _now(),
               "bytes": p.stat().st_size, "sha256": _sha256(p), "config": _plain(config),
               "packages": package_versions(), **info}
        m = self.manifest
        m["artifacts"][artifact] = rec
        m.setdefault("stages", {})[spec.stage] = {"finished": rec["written"], "config": rec["config"]}
        save_json(self.root / MANIFEST, m)
        return rec

    def verify(self, artifact: str) -> bool:
        """True when the file on disk is the one the manifest recorded (checksum)."""
        rec = self.manifest["artifacts"].get(artifact)
        p = self.root / _spec(artifact).relpath
        return bool(rec) and p.exists() and _sha256(p) == rec["sha256"]

    def missing(self) -> list[str]:
        """Artifacts not written yet, in pipeline order (studio ground truth exists for studio runs only, motion
        capture for mocap runs only)."""
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
