"""Atomic file writes: nothing half-written survives an interrupted run.

Every writer goes to a temporary file in the destination folder and then ``os.replace``-s it into
place, which is atomic on POSIX and Windows file systems: a reader sees the old file or the new
one, never a torn one.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _temp_prefix(path: Path) -> str:
    """Temporary files are ``.<name>.p<pid>.<random>.tmp<ext>``: hidden, and naming the process that owns them,
    so :func:`sweep_orphans` can remove those of a killed process without touching a running one's."""
    return f".{path.stem}.p{os.getpid()}."


_OWNER = re.compile(r"\.p(\d+)\.[A-Za-z0-9_]+\.tmp")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process
        return True
    return True


def sweep_orphans(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Remove the temporary files (:func:`atomic_path`, :func:`temp_path`) in ``folder`` (and below it with
    ``recursive``) whose process has ended (killed: SIGKILL runs no cleanup); what was removed. Safe beside
    running writers: their files name a living process. Used on output folders, which no run lock covers, and
    on runs, whose stages may be written side by side."""
    gone = []
    folder = Path(folder)
    if not folder.is_dir():
        return gone
    for p in (folder.rglob if recursive else folder.glob)(".*.tmp*"):
        m = _OWNER.search(p.name)
        if m and p.is_file() and not p.is_symlink() and not process_alive(int(m[1])):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    ``suffix`` keeps the extension some writers insist on (``np.savez`` appends ``.npz``,
    ffmpeg picks the container from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def temp_path(beside: str | Path, suffix: str = "") -> Iterator[Path]:
    """A temporary file of this process's own beside ``beside`` (hidden, ``.tmp`` in its name, so
    :func:`sweep_temp` finds it if the process is killed), removed when the block ends however it ends."""
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(beside), suffix=".tmp" + suffix, dir=beside.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Wait for, then hold, an exclusive lock on ``folder`` itself (``flock`` on its descriptor: no lock file is
    left behind), so that writers of several files there (a video and its metadata) finish one after the other
    and each leaves a consistent set. A no-op where ``fcntl`` does not exist."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def sweep_temp(folder: str | Path, older_than_s: float = 0.0) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` and :func:`temp_path` leave when a process is killed
    (``.<name>.<random>.tmp<ext>``) under ``folder``, those older than ``older_than_s``; what was removed.
    Call it only while holding the folder's lock (no other writer is running)."""
    import time

    now, gone = time.time(), []
    for p in Path(folder).rglob(".*.tmp*"):
        if p.is_file() and now - p.stat().st_mtime >= older_than_s:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def save_npz(path: str | Path, compressed: bool = True, **arrays: Any) -> Path:
    path = Path(path)
    with atomic_path(path, ".npz") as tmp:
        (np.savez_compressed if compressed else np.savez)(tmp, **arrays)
    return path


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_json(path: str | Path, obj: Any) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default, ensure_ascii=False) + "\n")
    return path


def load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` of ``obj`` (a dict of tensors and plain data, as :func:`load_torch` reads), atomically."""
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def save_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


class ArtifactError(ValueError):
    """A file of a run that cannot be used as it is (damaged, of the wrong kind, unsafe, implausible)."""


def load_torch(path: str | Path, what: str, required: tuple[str, ...] = (), remake: str | None = None,
               device: Any = "cpu") -> dict:
    """A ``torch.save``-d dict of tensors and plain data, loaded with ``weights_only=True``.

    Runs are shared between people, so loading one must never run code: a full unpickling
    (``weights_only=False``) executes whatever a crafted ``model.pt`` asks for. The kit stores configs as
    plain data beside the weights, so the restricted loader reads everything it writes. Damaged files,
    files holding Python objects and files of another kind (missing ``required`` keys) get one clear
    message naming ``what`` was expected and the command that ``remake``-s it."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    fix = f"; remake it with: {remake}" if remake else ""
    if not path.exists():
        raise ArtifactError(f"{path}: no such {what}{fix}")
    try:
        obj = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        raise ArtifactError(
            f"{path} is not a plain {what}: it holds Python objects that only a full unpickling could build, "
            f"and that could run code, so s2v does not load it ({str(e).splitlines()[-1][:160]}). If an older s2v "
            f"or another tool wrote it, or someone sent it to you, remake it{fix or '.'}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, IndexError) as e:
        raise ArtifactError(f"{path} is damaged or not a {what} ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:160] if str(e) else 'unreadable'}){fix}") from None
    if not isinstance(obj, dict) or any(k not in obj for k in required):
        keys = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise ArtifactError(f"{path} is not a {what} (expected the keys {list(required)}, found {keys}){fix}")
    return obj


def load_state(module: Any, state: dict, path: str | Path) -> None:
    """``module.load_state_dict(state)`` for a file's weights; weights that do not fit the module built from the
    file's own config (a damaged or edited file) are an :class:`ArtifactError` naming ``path``."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{path}: its weights do not match its config ({str(e).splitlines()[0][:200]})") from None


def numpy_rng_state() -> dict:
    """The legacy global NumPy random state as plain data (``np.random.get_state`` holds an array)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"name": name, "keys": [int(k) for k in keys], "pos": int(pos), "has_gauss": int(has_gauss),
            "gauss": float(gauss)}


def set_numpy_rng_state(st: dict) -> None:
    np.random.set_state((st["name"], np.asarray(st["keys"], np.uint32), st["pos"], st["has_gauss"], st["gauss"]))


def load_states(path: Path, parts: dict[str, Any], states: dict, saved: dict, now: dict, fresh: str = "--fresh"
                ) -> None:
    """``parts[k].load_state_dict(states[k])`` for each ``k`` (a training checkpoint's networks and optimisers).
    Weights that do not fit the networks of the current settings raise :func:`resume_error` naming the settings
    that differ between the checkpoint's (``saved``) and now (``now``), not hundreds of size mismatches."""
    try:
        for key, part in parts.items():
            part.load_state_dict(states[key])
    except (RuntimeError, ValueError) as e:
        raise resume_error(path, saved, now, e, fresh) from None


def resume_error(path: Path, saved: dict, current: dict, error: Exception, fresh: str = "--fresh") -> ArtifactError:
    """The message for a checkpoint whose weights do not fit the network of the current settings: the settings
    that differ (not hundreds of lines of ``size mismatch``) and the two ways out."""
    def flat(d, pre=""):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{pre}{k}.") if isinstance(v, dict) else {f"{pre}{k}": v})
        return out

    a, b = flat(saved), flat(current)
    diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    what = "; ".join(f"{k}: checkpoint {a.get(k)!r}, now {b.get(k)!r}" for k in diff[:12]) or \
        str(error).splitlines()[0][:200]
    return ArtifactError(f"{path} was made with other settings than this run's, and its weights do not fit "
                         f"({what}). Either resume with the checkpoint's settings, or start again with {fresh}.")
