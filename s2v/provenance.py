"""Say what is synthetic: every video the kit makes carries its disclosure (issue 31).

A synthesised talking person is, by design, hard to tell from a recording of them. So each MP4 the kit writes
says in its container metadata that it is synthetic and what made it, the way provenance standards do:

* ``comment`` and ``description``: standard MP4 tags (``©cmt``, ``desc``) that players and ``ffprobe`` show and
  that ffmpeg copies into a re-encode by default: one readable sentence (synthetic, kit and version, speaker,
  source, date);
* ``s2v_*`` keys (written with ``-movflags use_metadata_tags``) with the same facts as fields, among them IPTC's
  digital source type for media made by a trained model (:data:`DIGITAL_SOURCE_TYPE`), read back by
  :func:`read` and ``python -m s2v inspect VIDEO``.

Container metadata is easy to strip (a screen capture loses it), so speakers learned from real recordings also
get a visible mark in a corner of every frame (:func:`mark_frame`, ``synthesize --mark``). A C2PA manifest
(cryptographically signed provenance) would need a signing certificate and the ``c2pa`` tool chain, neither of
which the kit can ship; the IPTC source type is the vocabulary C2PA itself uses for this assertion.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: IPTC NewsCodes digital source type of "media created by a model trained on sampled content"
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: the visible mark's text
MARK = "SYNTHETIC"


@dataclass(frozen=True)
class Provenance:
    """What a synthesised video says about itself."""
    speaker: str                         # the speaker's run or shipped name
    source: str                          # "text", "audio" or "poses" (a run's own poses rendered)
    source_sha256: str                   # of the text (UTF-8) or of the audio file / samples
    kit_version: str
    created: str                         # ISO 8601, UTC
    tool: str = "synthesize"             # synthesize, gan render, portrait render, notebook
    marked: bool = False                 # a visible mark is drawn on the frames

    @classmethod
    def make(cls, speaker: str, source: str, data: bytes | str | Path | np.ndarray, tool: str = "synthesize",
             marked: bool = False) -> "Provenance":
        """``data``: the text, the audio file, or samples, hashed."""
        from s2v import __version__

        return cls(speaker, source, content_hash(data), __version__,
                   _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), tool, marked)

    def sentence(self) -> str:
        return (f"SYNTHETIC VIDEO: not a recording. Made by the s2v kit {self.kit_version} ({self.tool}) from "
                f"{self.source} (sha256 {self.source_sha256[:16]}) with the speaker model '{self.speaker}', "
                f"{self.created}.")

    def tags(self) -> dict[str, str]:
        """ffmpeg ``-metadata`` keys and values."""
        fields = {f"s2v_{k}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in asdict(self).items()}
        return {"comment": self.sentence(), "description": self.sentence(), "s2v_synthetic": "true",
                "s2v_digital_source_type": DIGITAL_SOURCE_TYPE, **fields}

    def to_dict(self) -> dict:
        return {"synthetic": True, "digital_source_type": DIGITAL_SOURCE_TYPE, **asdict(self)}


def content_hash(data: bytes | str | Path | np.ndarray) -> str:
    if isinstance(data, Path):
        return hashlib.sha256(data.read_bytes()).hexdigest()
    if isinstance(data, str):
        return hashlib.sha256(data.encode("utf-8")).hexdigest()
    if isinstance(data, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
    return hashlib.sha256(bytes(data)).hexdigest()


def read(path: str | Path) -> dict[str, str]:
    """The container metadata of a video, read with the kit's own ffmpeg (``-f ffmetadata``): {key: value}."""
    from s2v.video import ffmpeg_exe

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    r = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"], capture_output=True,
                       text=True)
    if r.returncode:
        raise ValueError(f"{path}: not a readable video ({r.stderr.strip()[-200:]})")
    out, key = {}, None
    for line in r.stdout.splitlines():
        if line.startswith(";") or line.startswith("["):
            if line.startswith("["):      # a stream's or chapter's section: the global tags are read
                break
            continue
        m = re.match(r"((?:[^=\\]|\\.)+)=(.*)", line)
        if m:
            key = _unescape(m.group(1))
            out[key] = _unescape(m.group(2))
        elif key is not None:             # a value with an escaped newline goes on
            out[key] += "\n" + _unescape(line)
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def describe(path: str | Path) -> dict:
    """What a video says about its origin: {"synthetic": bool | None, "summary": str, "tags": {...}}.
    ``synthetic`` is None when the file carries no s2v disclosure (made elsewhere, or stripped)."""
    tags = read(path)
    ours = {k[4:]: v for k, v in tags.items() if k.startswith("s2v_")}
    if ours.get("synthetic") == "true":
        return {"synthetic": True, "summary": tags.get("comment") or tags.get("description", ""), "s2v": ours,
                "tags": tags}
    text = " ".join(tags.get(k, "") for k in ("comment", "description"))
    if "SYNTHETIC VIDEO" in text:         # a re-encode kept the standard tags only
        return {"synthetic": True, "summary": text.strip(), "s2v": {}, "tags": tags}
    return {"synthetic": None, "summary": "no s2v disclosure in this file's metadata (not made by s2v, or its "
                                          "metadata was stripped: look for the visible mark)", "s2v": {},
            "tags": tags}


def mark_frame(frame: np.ndarray, text: str = MARK) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with ``text`` in its lower-right corner: white letters on a dark box, scaled to
    the frame (about 1/28 of its height), readable on any background. A copy; the input is untouched."""
    import cv2

    out = np.array(frame, dtype=np.uint8, copy=True, order="C")   # generator frames may be views of CHW tensors
    h, w = out.shape[:2]
    scale = max(0.3, h / 28 / 22)                  # Hershey simplex capitals are ~22 px tall at scale 1
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, int(round(th * 0.35)))
    x1, y1 = w - 1 - pad, h - 1 - pad
    x0, y0 = max(0, x1 - tw - 2 * pad), max(0, y1 - th - base - 2 * pad)
    box = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (box * 0.35).astype(np.uint8)              # darkened, so white letters always read
    cv2.putText(out, text, (x0 + pad, y1 - pad - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thick, cv2.LINE_AA)
    return out


def mark_region(shape: tuple[int, int], text: str = MARK) -> tuple[slice, slice]:
    """The (rows, columns) :func:`mark_frame` draws in for a frame of ``shape`` (H, W): for tests and crops."""
    probe = mark_frame(np.full((*shape[:2], 3), 255, np.uint8), text)    # the darkened box shows on white
    ys, xs = np.nonzero(probe.min(-1) < 255)
    return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)


def learned_from_real_recordings(run) -> bool:
    """Whether a speaker's run was learned from real recordings (a captured video or frames, motion capture)
    rather than the synthetic studio: its capture config names a source and no studio."""
    rec = run.manifest["artifacts"].get("camera") or run.manifest["artifacts"].get("pose_model") or {}
    conf = rec.get("config") or {}
    if isinstance(conf, dict) and "studio" in conf:
        return False
    return bool(conf) or not run.has("truth_params")
