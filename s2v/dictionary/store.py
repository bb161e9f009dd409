"""The key-pose dictionary: word -> key pose (paper, section 3.3).

"We build a key pose dictionary that maps a key word to its key pose" — a still pose (one frame of the 106
numbers) or a motion (a few frames), each with the probability that the speaker strikes it when the word
is spoken ("we set a probability for each key word"), how long a still pose (or a motion's last frame) is
held, which parts of the body it drives, and where it came from (run, frame range), so a dictionary can be
audited and rebuilt.

Words are matched as **tokens**: an English word is one lower-case token; a Mandarin character becomes its
pinyin syllable with the tone number (``上`` -> ``shang4``), so homophones match (``尚`` is also ``shang4``)
and a key character inside a longer spoken word (``上涨``) is found. ``match_tones=False`` lets any tone
match. An entry's word may be several tokens ("thank you", ``下面``) and matches consecutive tokens.

On disk (:meth:`KeyPoseDictionary.save`): ``dictionary.json`` — human-readable, versioned — and the pose
arrays in ``dictionary.<hash>.npz`` beside it. The npz is named by its content and written first, then the
JSON atomically, so an interrupted save leaves the previous dictionary intact and never a JSON that points
at the wrong arrays. :meth:`KeyPoseDictionary.load` validates everything and says exactly what is wrong.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from s2v.speech.text import CJK, language_of  # noqa: F401  (language_of: re-exported)
from s2v.io import atomic_path, save_json
from s2v.params import ParamLayout

FORMAT = "s2v-keypose-dictionary"
VERSION = 1
ENTRY_PARTS = ("body", "hands", "mouth", "face")
#: Parts a key pose drives by default: body and hands, so the speech keeps driving the mouth and face
#: during a gesture. The paper inserts all 106 numbers; ``parts=None`` does that.
DEFAULT_PARTS = ("body", "hands")


class DictionaryError(ValueError):
    """A dictionary file or entry that is malformed; the message says where and what."""


# ---------------------------------------------------------------------------------------------- words
_LETTERS = r"[^\W\d_\u3400-\u9fff\uf900-\ufaff]+"
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|" + _LETTERS + "(?:'" + _LETTERS + ")*[1-5]?")


def tokens(text: str, tones: bool = True) -> tuple[str, ...]:
    """Match tokens of a word or phrase: lower-case words; each CJK character as its pinyin syllable
    (tone number appended, ``pypinyin`` TONE3 style); typed pinyin such as ``"shang4"`` stays as it is."""
    out = []
    for m in _TOKEN.finditer(text.lower()):
        t = m.group(0)
        if CJK.fullmatch(t):
            from pypinyin import Style, lazy_pinyin

            t = lazy_pinyin(t, style=Style.TONE3, neutral_tone_with_five=True)[0]
        out.append(t)
    if not tones:
        out = [re.sub(r"(?<=[a-z])[1-5]$", "", t) for t in out]
    return tuple(out)


# ---------------------------------------------------------------------------------------------- entries
@dataclass
class Entry:
    """One key pose: a still pose ``(1, D)`` or a motion ``(M, D)`` for a word."""

    word: str
    pose: np.ndarray
    probability: float = 1.0     # chance the pose is inserted when the word is spoken (section 3.3)
    hold: float | None = None    # seconds a still pose is held (section 3.3; default 0.3), or a motion's last
    #                              frame after it played its frames (default 0: none)
    parts: tuple[str, ...] | None = DEFAULT_PARTS
    source: dict = field(default_factory=dict)  # {"run", "frames": [a, b], "fps", "method"}

    def __post_init__(self) -> None:
        self.pose = np.asarray(self.pose, np.float32)
        if self.pose.ndim == 1:
            self.pose = self.pose[None]
        if self.hold is None:
            self.hold = 0.3 if len(self.pose) == 1 else 0.0
        if self.parts is not None:
            self.parts = tuple(self.parts)

    @property
    def kind(self) -> str:
        return "still" if len(self.pose) == 1 else "motion"

    @property
    def language(self) -> str:
        return language_of(self.word)

    def key(self, tones: bool = True) -> tuple[str, ...]:
        return tokens(self.word, tones)

    def check(self, layout: ParamLayout, where: str = "entry") -> None:
        """Raise :class:`DictionaryError` naming ``where`` if anything is out of range."""
        where = f"{where} ({self.word!r})"
        if not isinstance(self.word, str) or not tokens(self.word):
            raise DictionaryError(f"{where}: the word must contain letters or CJK characters")
        p = self.probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise DictionaryError(f"{where}: probability {p!r} is not a number in [0, 1]")
        h = self.hold
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.0 <= h <= 10.0:
            raise DictionaryError(f"{where}: hold {h!r} is not a number of seconds in [0, 10]")
        if self.pose.ndim != 2 or self.pose.shape[1] != layout.frame_dim or len(self.pose) == 0:
            raise DictionaryError(f"{where}: pose has shape {tuple(self.pose.shape)}; expected (1, {layout.frame_dim}) "
                                  f"for a still pose or (M, {layout.frame_dim}) for a motion")
        if not np.isfinite(self.pose).all():
            bad = np.unique(np.nonzero(~np.isfinite(self.pose))[0]).tolist()
            raise DictionaryError(f"{where}: pose has NaN/inf in frame(s) {bad[:10]}")
        if self.parts is not None:
            unknown = [p for p in self.parts if p not in ENTRY_PARTS]
            if unknown or not self.parts:
                raise DictionaryError(f"{where}: parts {list(self.parts)} must be a non-empty subset of "
                                      f"{list(ENTRY_PARTS)} or null (all parts)")


# ---------------------------------------------------------------------------------------------- dictionary
@dataclass
class KeyPoseDictionary:
    """Key words and their key poses. Several entries may share a word (variants, picked at random)."""

    entries: list[Entry] = field(default_factory=list)
    layout: ParamLayout = field(default_factory=ParamLayout)
    fps: float = 30.0            # frame rate of the motions
    match_tones: bool = True     # Mandarin: a syllable matches only with the same tone
    speaker: str | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    @property
    def words(self) -> list[str]:
        return sorted({e.word for e in self.entries})

    def add(self, entry: Entry) -> Entry:
        entry.check(self.layout, f"entry {len(self.entries)}")
        self.entries.append(entry)
        return entry

    def remove(self, word: str) -> int:
        """Remove every entry whose key equals ``word``'s; returns how many."""
        key = tokens(word, self.match_tones)
        before = len(self.entries)
        self.entries = [e for e in self.entries if e.key(self.match_tones) != key]
        return before - len(self.entries)

    def lookup(self, word: str) -> list[Entry]:
        key = tokens(word, self.match_tones)
        return [e for e in self.entries if e.key(self.match_tones) == key]

    def keys(self) -> dict[tuple[str, ...], list[Entry]]:
        out: dict[tuple[str, ...], list[Entry]] = {}
        for e in self.entries:
            out.setdefault(e.key(self.match_tones), []).append(e)
        return out

    def summary(self) -> list[dict]:
        """One row per entry (for tables)."""
        return [{"word": e.word, "tokens": " ".join(e.key(self.match_tones)), "kind": e.kind, "frames": len(e.pose),
                 "probability": round(float(e.probability), 3), "hold_s": round(float(e.hold), 3),
                 "parts": "all" if e.parts is None else "+".join(e.parts),
                 "source": f"{e.source.get('run', '?')}:{e.source.get('frames', '')}"} for e in self.entries]

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | Path) -> Path:
        """Write ``path`` (JSON) and its pose arrays (``<stem>.<hash>.npz``) atomically."""
        path = Path(path)
        for i, e in enumerate(self.entries):
            e.check(self.layout, f"entry {i}")
        arrays = {f"e{i:03d}": e.pose for i, e in enumerate(self.entries)}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays) if arrays else np.savez_compressed(buf, empty=np.zeros(0))
        blob = buf.getvalue()
        digest = hashlib.sha256(blob).hexdigest()
        npz = path.with_name(f"{path.stem}.{digest[:12]}.npz")
        if not npz.exists():
            with atomic_path(npz, ".npz") as tmp:
                tmp.write_bytes(blob)
        doc = {
            "format": FORMAT, "version": VERSION,
            "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "layout": {"num_hand_comps": self.layout.num_hand_comps, "num_betas": self.layout.num_betas,
                       "num_expression": self.layout.num_expression},
            "frame_dim": self.layout.frame_dim, "fps": float(self.fps), "match_tones": bool(self.match_tones),
            "speaker": self.speaker, "poses": npz.name, "poses_sha256": digest, "meta": self.meta,
            "entries": [{"word": e.word, "language": e.language, "tokens": list(e.key(self.match_tones)),
                         "kind": e.kind, "frames": int(len(e.pose)), "array": f"e{i:03d}",
                         "probability": float(e.probability), "hold": float(e.hold),
                         "parts": None if e.parts is None else list(e.parts), "source": e.source}
                        for i, e in enumerate(self.entries)],
        }
        save_json(path, doc)
        for old in path.parent.glob(f"{path.stem}.*.npz"):  # arrays of earlier saves
            if old.name != npz.name:
                old.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "KeyPoseDictionary":
        """Read and validate a dictionary; :class:`DictionaryError` says exactly what is wrong."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no key-pose dictionary at {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DictionaryError(f"{path}: not valid JSON "
                                  f"(line {err.lineno}, column {err.colno}: {err.msg})") from None
        return cls.from_document(doc, path)

    @classmethod
    def from_document(cls, doc: dict, path: Path) -> "KeyPoseDictionary":
        def fail(msg: str):
            raise DictionaryError(f"{path}: {msg}")

        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            fail(f"not a key-pose dictionary (expected \"format\": \"{FORMAT}\")")
        v = doc.get("version")
        if not isinstance(v, int):
            fail("\"version\" is missing or not an integer")
        if v > VERSION:
            fail(f"written by a newer s2v (format version {v}); this s2v reads version {VERSION} — upgrade s2v")
        for k, typ in (("layout", dict), ("frame_dim", int), ("fps", (int, float)), ("poses", str),
                       ("poses_sha256", str), ("entries", list)):
            if k not in doc:
                fail(f"missing \"{k}\"")
            if not isinstance(doc[k], typ) or isinstance(doc[k], bool):
                fail(f"\"{k}\" has the wrong type ({type(doc[k]).__name__})")
        try:
            layout = ParamLayout(**doc["layout"])
        except (TypeError, ValueError) as err:
            fail(f"\"layout\" is invalid: {err}")
        if layout.frame_dim != doc["frame_dim"]:
            fail(f"\"frame_dim\" is {doc['frame_dim']} but the layout gives {layout.frame_dim}")
        if not doc["fps"] > 0:
            fail(f"\"fps\" must be positive, got {doc['fps']}")
        npz = path.with_name(doc["poses"])
        if not npz.exists():
            fail(f"its pose arrays {npz.name} are missing (copy the .npz beside the .json)")
        blob = npz.read_bytes()
        if hashlib.sha256(blob).hexdigest() != doc["poses_sha256"]:
            fail(f"{npz.name} does not match the checksum in the JSON (the file was changed or replaced)")
        with np.load(io.BytesIO(blob)) as z:
            arrays = {k: z[k] for k in z.files}
        entries = []
        for i, d in enumerate(doc["entries"]):
            where = f"entries[{i}]"
            if not isinstance(d, dict):
                fail(f"{where} is not an object")
            for k in ("word", "array", "probability", "hold"):
                if k not in d:
                    fail(f"{where} has no \"{k}\"")
            if d["array"] not in arrays:
                fail(f"{where} ({d['word']!r}): array {d['array']!r} is not in {npz.name}")
            pose = arrays[d["array"]]
            if "frames" in d and d["frames"] != len(pose):
                fail(f"{where} ({d['word']!r}): says {d['frames']} frames but its array has {len(pose)}")
            parts = d.get("parts", list(DEFAULT_PARTS))
            if parts is not None and not isinstance(parts, list):
                fail(f"{where} ({d['word']!r}): \"parts\" must be a list or null")
            e = Entry(d["word"], pose, d["probability"], d["hold"], None if parts is None else tuple(parts),
                      d.get("source") or {})
            try:
                e.check(layout, where)
            except DictionaryError as err:
                fail(str(err))
            entries.append(e)
        return cls(entries, layout, float(doc["fps"]), bool(doc.get("match_tones", True)), doc.get("speaker"),
                   doc.get("meta") or {})


def from_rows(rows: Iterable[dict], layout: ParamLayout | None = None, fps: float = 30.0) -> KeyPoseDictionary:
    """A dictionary from dicts with the :class:`Entry` fields (handy in tests and scripts)."""
    d = KeyPoseDictionary(layout=layout or ParamLayout(), fps=fps)
    for r in rows:
        d.add(Entry(**r))
    return d
