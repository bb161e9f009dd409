"""Building a key-pose dictionary from a fitted recording (section 3.3).

The paper's speakers, at the end of a recording session, "pose for key words" ("huge", "tiny", "up",
"down", "me", "you"); the key poses are then picked from the fitted SMPL-X sequence and stored with the
word. Three ways to do that here, all producing the same :class:`~s2v.dictionary.store.Entry` objects:

* :func:`suggest` proposes candidates: frames where the arms are far from the speaker's rest pose, within
  a short window after a spoken key word, with the range of frames around the peak that stay near it
  (how long it was held) — the widget starts from these;
* :func:`entries_from_spans` takes ``(word, start[, end])`` seconds, e.g. from a papermill parameters cell;
* :func:`entries_from_studio` reads the studio's ``truth/keyposes.json`` (which key word was posed when).

:class:`DictionaryBuilder` holds one recording (pose sequence, fps, words) and a dictionary being edited;
the widget of :mod:`s2v.dictionary.widgets` is a view on it, and scripts and tests use it directly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2v.dictionary.insertion import Insertion, InsertionConfig, apply_dictionary, find_key_words
from s2v.dictionary.store import DEFAULT_PARTS, DictionaryError, Entry, KeyPoseDictionary, tokens
from s2v.metrics import distance_from, rest_reference
from s2v.params import ParamLayout, SMPLXParams

#: Words a speaker is asked to pose for (section 3.3's "huge, tiny, up, down, me, you") and near synonyms,
#: in English and Mandarin; the candidates :func:`suggest` looks at unless given its own list.
DEFAULT_KEYWORDS: tuple[str, ...] = (
    "huge", "big", "bigger", "giant", "whole", "large", "tiny", "small", "little", "high", "up", "rise", "lift",
    "low", "down", "fall", "falls", "me", "i", "my", "you", "your",
    "大", "小", "高", "上", "低", "下", "我", "你",
)


@dataclass(frozen=True)
class SuggestConfig:
    before: float = 0.2           # seconds before the word's start searched for the pose peak
    after: float = 1.0            # seconds after it (a pose is struck on the word and held)
    min_distance: float = 0.6     # radians (summed over the arm joints): weaker peaks are not key poses
    near_peak: float = 0.15       # frames within this fraction of the peak distance form the pose's range
    per_word: int = 1             # best occurrences kept per key word


@dataclass(frozen=True)
class Candidate:
    """A proposed key pose: the word as spoken, its time, the peak frame (the still pose proposed) and the
    range of frames around it that stay near the peak (how long the speaker held it; the widget can take
    that range as a motion instead)."""

    word: str
    start: float
    frame: int
    first: int
    last: int
    distance: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "frame": self.frame,
                "frames": [self.first, self.last], "distance": round(self.distance, 3)}


def _words(words) -> list[dict]:
    return [w if isinstance(w, dict) else {"word": w.text, "start": w.start, "end": w.end} for w in words]


def suggest(seq: np.ndarray, fps: float, words, keywords=DEFAULT_KEYWORDS, layout: ParamLayout | None = None,
            rest: np.ndarray | None = None, cfg: SuggestConfig | None = None) -> list[Candidate]:
    """Candidate key poses, best first: for each spoken key word, the frame in
    [start - before, start + after] farthest from the rest pose, if farther than ``min_distance``."""
    cfg = cfg or SuggestConfig()
    layout = layout or ParamLayout()
    seq = np.asarray(seq, np.float32)
    rest = rest_reference(seq) if rest is None else rest
    dist = distance_from(seq, rest, layout)
    T = len(seq)
    keys = {tokens(k) for k in keywords} if keywords is not None else None
    words = _words(words)
    if keys is None:  # every word is a candidate
        keys = {tokens(w["word"]) for w in words if tokens(w["word"])}
    out: list[Candidate] = []
    for hit in find_key_words(words, keys):
        a = max(0, int(np.floor((hit.start - cfg.before) * fps)))
        b = min(T, int(np.ceil((hit.start + cfg.after) * fps)) + 1)
        if b <= a:
            continue
        k = a + int(np.argmax(dist[a:b]))
        peak = float(dist[k])
        if peak < cfg.min_distance:
            continue
        # the range of frames around the peak that stay close to the peak pose
        near = distance_from(seq, seq[k], layout) <= cfg.near_peak * peak
        first = last = k
        while first > 0 and near[first - 1]:
            first -= 1
        while last < T - 1 and near[last + 1]:
            last += 1
        out.append(Candidate(hit.text, hit.start, k, first, last, peak))
    out.sort(key=lambda c: -c.distance)
    kept, count = [], {}
    for c in out:
        key = tokens(c.word)
        if count.get(key, 0) < cfg.per_word:
            kept.append(c)
            count[key] = count.get(key, 0) + 1
    return kept


def still_entry(word: str, seq: np.ndarray, frame: int, run: str | None = None, fps: float = 30.0,
                probability: float = 1.0, hold: float = 0.3, parts=DEFAULT_PARTS, method: str = "manual") -> Entry:
    frame = int(frame)
    if not 0 <= frame < len(seq):
        raise IndexError(f"frame {frame} is outside the recording (0..{len(seq) - 1})")
    return Entry(word, seq[frame], probability, hold, parts,
                 {"run": run, "frames": [frame, frame], "fps": fps, "method": method})


def motion_entry(word: str, seq: np.ndarray, first: int, last: int, run: str | None = None, fps: float = 30.0,
                 probability: float = 1.0, parts=DEFAULT_PARTS, method: str = "manual", hold: float = 0.0) -> Entry:
    """The frames ``first..last`` as a motion, its last frame then held ``hold`` seconds (0: none)."""
    first, last = int(first), int(last)
    if not 0 <= first <= last < len(seq):
        raise IndexError(f"frames {first}..{last} are not a range inside the recording (0..{len(seq) - 1})")
    return Entry(word, seq[first:last + 1], probability, hold, parts,
                 {"run": run, "frames": [first, last], "fps": fps, "method": method})


def entries_from_spans(seq: np.ndarray, fps: float, spans, run: str | None = None, probability: float = 1.0,
                       hold: float = 0.3, parts=DEFAULT_PARTS) -> list[Entry]:
    """Entries from ``[(word, start), (word, start, end), {"word", "start", "end", "probability", "hold"}]``
    (seconds): one time gives a still pose at that frame, two a motion over that range."""
    out = []
    for i, s in enumerate(spans):
        d = dict(s) if isinstance(s, dict) else dict(zip(("word", "start", "end"), s))
        if "word" not in d or "start" not in d:
            raise DictionaryError(f"span {i} ({s!r}): needs a word and a start time (seconds)")
        p, h = float(d.get("probability", probability)), float(d.get("hold", hold))
        a = int(round(float(d["start"]) * fps))
        if d.get("end") is None:
            out.append(still_entry(d["word"], seq, a, run, fps, p, h, parts, "spans"))
        else:
            b = int(round(float(d["end"]) * fps))
            if b < a:
                raise DictionaryError(f"span {i} ({s!r}): ends before it starts")
            # a motion's hold only as the span gives it (the default hold is a still pose's)
            out.append(motion_entry(d["word"], seq, a, b, run, fps, p, parts, "spans", float(d.get("hold", 0.0))))
    return out


def entries_from_studio(seq: np.ndarray, keyposes: dict, run: str | None = None,
                        probabilities: dict[str, float] | None = None, hold: float = 0.3) -> list[Entry]:
    """One still entry per posed word of a studio run's ``keyposes.json``: the pose in the middle of its
    hold, preferring the posing session at the end (long, deliberate holds, as in section 3.1). The
    probability of each word is the studio's own (``KEYWORD_PROBABILITY``, default 0.9)."""
    from s2v.studio.cast import KEYWORD_PROBABILITY

    probabilities = KEYWORD_PROBABILITY if probabilities is None else probabilities
    fps = float(keyposes["fps"])
    best: dict[tuple, dict] = {}
    for ev in keyposes["events"]:
        key = tokens(ev["word"])
        old = best.get(key)
        if old is None or (ev.get("session") and not old.get("session")):
            best[key] = ev
    out = []
    for ev in best.values():
        mid = min(len(seq) - 1, int(ev["frame"]) + int(ev["hold_frames"]) // 2)
        w = ev["word"].lower()
        out.append(still_entry(w, seq, mid, run, fps, float(probabilities.get(w, 0.9)), hold, DEFAULT_PARTS, "studio"))
    return out


def dictionary_from_studio(runs) -> KeyPoseDictionary:
    """A studio speaker's dictionary from the key poses it struck in several runs (``entries_from_studio`` of
    each run's ``truth/keyposes.json``; a word's first run wins): what a speaker's own recordings give."""
    d = KeyPoseDictionary()
    seen: set[tuple[str, ...]] = set()
    for r in runs:
        seq = _run_poses(r)[0]
        for e in entries_from_studio(seq, json.loads(r.require("truth_keyposes").read_text()), r.name):
            if e.key() not in seen:
                seen.add(e.key())
                d.add(e)
    return d


def studio_vocabulary(speaker: str, layout: ParamLayout | None = None,
                      languages: tuple[str, ...] = ("en", "zh")) -> KeyPoseDictionary:
    """Every key word a studio speaker gestures on (``s2v.studio.cast.KEYWORDS``, both languages), each with the
    cast's key pose and probability: what a user has who curated their whole gesture vocabulary in notebook 03,
    synonyms included ("whole" and "large" for the wide gesture), not only the words their recordings posed."""
    from s2v.dictionary.store import language_of
    from s2v.studio.cast import KEYWORD_PROBABILITY, KEYWORDS, SPEAKERS, key_pose

    lay, sp = layout or ParamLayout(), SPEAKERS[speaker]
    d = KeyPoseDictionary(layout=lay)
    for w, pose in KEYWORDS.items():
        if language_of(w) in languages:
            d.add(Entry(w, key_pose(pose, lay, sp.right_handed)[None], KEYWORD_PROBABILITY.get(w, 0.9), 0.3,
                        DEFAULT_PARTS, {"method": "studio cast"}))
    return d


def with_translations(d: KeyPoseDictionary, gestures: dict[str, str] | None = None,
                      probabilities: dict[str, float] | None = None) -> KeyPoseDictionary:
    """``d`` plus, for every word of *another language* that names the same gesture as one of its entries
    (``gestures``: word -> gesture name; the studio cast's ``KEYWORDS`` by default, which maps "huge", "big" and
    大 to "wide"), an entry with the *recorded* pose of that entry under the other word. A speaker who posed
    "huge" in an English session then also gestures at 大 in Mandarin speech, with the pose they struck, not a
    generic one. Words already in ``d`` keep their own entries, and synonyms in the same language are not added
    (the speaker's recordings decide those, and the LSTM's key-word mask of its own language stays the same).
    Entries carry ``source["translated_from"]``."""
    from dataclasses import replace

    from s2v.dictionary.store import language_of
    from s2v.studio.cast import KEYWORD_PROBABILITY, KEYWORDS

    gestures = KEYWORDS if gestures is None else gestures
    probabilities = KEYWORD_PROBABILITY if probabilities is None else probabilities
    out = KeyPoseDictionary(layout=d.layout, match_tones=d.match_tones)
    have = set()
    for e in d.entries:
        out.add(e)
        have.add(e.word)
    for word, gesture in gestures.items():
        if word in have:
            continue
        same = [e for e in d.entries if gestures.get(e.word) == gesture and "translated_from" not in e.source
                and language_of(e.word) != language_of(word)]
        if same:
            e = same[0]
            out.add(replace(e, word=word, probability=float(probabilities.get(word, 0.9)), pose=e.pose.copy(),
                            source={**e.source, "translated_from": e.word}))
            have.add(word)
    return out


def _same_entry(a: Entry, b: Entry) -> bool:
    return (a.word == b.word and a.kind == b.kind and a.probability == b.probability and a.hold == b.hold
            and tuple(a.parts or ()) == tuple(b.parts or ()) and a.pose.shape == b.pose.shape
            and np.array_equal(a.pose, b.pose) and a.source.get("run") == b.source.get("run")
            and list(a.source.get("frames") or []) == list(b.source.get("frames") or []))


def _run_poses(run) -> tuple[np.ndarray, float, str, SMPLXParams]:
    """The run's pose sequence: fitted parameters if present, else the studio ground truth."""
    from s2v.fitting.fit import run_poses

    p, fps, name, _ = run_poses(run)
    return p.to_vector(), fps, name, p


@dataclass
class DictionaryBuilder:
    """One recording and the dictionary being built from it (the widget's model; no widgets here)."""

    seq: np.ndarray
    fps: float
    words: list[dict]
    layout: ParamLayout = field(default_factory=ParamLayout)
    run_name: str | None = None
    dictionary: KeyPoseDictionary | None = None
    rest: np.ndarray | None = None
    source: str = ""
    fixed: SMPLXParams | None = None   # shape, orientation and placement of the speaker (for drawing)
    listeners: list = field(default_factory=list, repr=False)   # called after every change of the dictionary

    def __post_init__(self) -> None:
        self.seq = np.asarray(self.seq, np.float32)
        self.words = _words(self.words)
        if self.dictionary is None:
            self.dictionary = KeyPoseDictionary(layout=self.layout, fps=self.fps)
        if self.rest is None:
            self.rest = rest_reference(self.seq)

    @classmethod
    def from_run(cls, run, load_existing: bool = True) -> "DictionaryBuilder":
        """A builder over a run: its fitted (or, in the studio, true) poses and its transcript; an existing
        dictionary of the run is loaded to be extended."""
        seq, fps, source, p = _run_poses(run)
        words = json.loads(run.require("transcript").read_text())["words"]
        d = KeyPoseDictionary.load(run.require("dictionary")) if load_existing and run.has("dictionary") else None
        speaker = None
        if run.has("truth_params"):
            with np.load(run.require("truth_params")) as z:
                speaker = str(z["meta_speaker"]) if "meta_speaker" in z else None
        b = cls(seq, fps, words, p.layout, run.name, d, source=source, fixed=p.frames(slice(0, 1)))
        b.dictionary.speaker = b.dictionary.speaker or speaker
        return b

    @property
    def num_frames(self) -> int:
        return len(self.seq)

    def frame_of(self, seconds: float) -> int:
        return int(np.clip(round(seconds * self.fps), 0, self.num_frames - 1))

    def params(self, seq: np.ndarray) -> SMPLXParams:
        """Parameters of ``seq`` (T, D) with the recording's shape, orientation and placement."""
        if self.fixed is None:
            return SMPLXParams.from_vector(seq, self.layout)
        f = self.fixed
        return SMPLXParams.from_vector(seq, self.layout, betas=f.betas, global_orient=f.global_orient[0],
                                       transl=f.transl[0])

    def distance(self) -> np.ndarray:
        """(T,) distance of each frame from the speaker's rest pose (radians, arms)."""
        return distance_from(self.seq, self.rest, self.layout)

    def suggest(self, keywords=DEFAULT_KEYWORDS, cfg: SuggestConfig | None = None) -> list[Candidate]:
        return suggest(self.seq, self.fps, self.words, keywords, self.layout, self.rest, cfg)

    def why_no_suggestion(self, keywords=DEFAULT_KEYWORDS, cfg: SuggestConfig | None = None) -> str:
        """One sentence saying why :meth:`suggest` found nothing, and what to do instead."""
        cfg = cfg or SuggestConfig()
        words = _words(self.words)
        if not words:
            return ("the run has no word times (capture/transcript.json is missing or empty): capture it again "
                    "with --transcript, or give key poses by time with 'dictionary build --span WORD:SECONDS'")
        hits = find_key_words(words, {tokens(k) for k in keywords})
        if not hits:
            return (f"none of the {len(words)} words spoken is a key word ({', '.join(keywords[:8])}, ...): give "
                    "key poses by time with 'dictionary build --span WORD:SECONDS[-END]'")
        dist = distance_from(self.seq, self.rest, self.layout)
        return (f"{len(hits)} key word(s) spoken ({', '.join(sorted({h.text for h in hits}))}), but the arms never "
                f"leave the rest pose by {cfg.min_distance:g} rad near them (at most {float(dist.max()):.2f} in the "
                "whole run): no gesture to suggest; give one by time with 'dictionary build --span WORD:SECONDS'")

    # ------------------------------------------------------------------ changes (each one tells the listeners)
    def on_change(self, fn) -> None:
        """Call ``fn()`` after every change of the dictionary (the widget refreshes its list of entries)."""
        self.listeners.append(fn)

    def _changed(self) -> None:
        for fn in self.listeners:
            fn()

    def _add(self, entries: list[Entry]) -> list[Entry]:
        """Add ``entries``; one equal to an entry already there (same word, pose, source, probability, hold and
        parts) is not added twice, so re-running a notebook cell leaves the dictionary as it was."""
        out = []
        for e in entries:
            same = next((o for o in self.dictionary.entries if _same_entry(o, e)), None)
            out.append(same if same is not None else self.dictionary.add(e))
        self._changed()
        return out

    def remove(self, index: int) -> Entry:
        """Remove the entry at ``index`` (of ``dictionary.entries``) and return it."""
        if not 0 <= index < len(self.dictionary.entries):
            raise IndexError(f"no entry {index}: the dictionary has {len(self.dictionary.entries)}")
        e = self.dictionary.entries.pop(index)
        self._changed()
        return e

    def add_still(self, word: str, frame: int, probability: float = 1.0, hold: float = 0.3, parts=DEFAULT_PARTS,
                  method: str = "manual") -> Entry:
        return self._add([still_entry(word, self.seq, frame, self.run_name, self.fps, probability, hold, parts,
                                      method)])[0]

    def add_motion(self, word: str, first: int, last: int, probability: float = 1.0, parts=DEFAULT_PARTS,
                   method: str = "manual", hold: float = 0.0) -> Entry:
        return self._add([motion_entry(word, self.seq, first, last, self.run_name, self.fps, probability, parts,
                                       method, hold)])[0]

    def add_candidate(self, c: Candidate, probability: float = 1.0, hold: float = 0.3, motion: bool = False) -> Entry:
        """A suggestion as a still pose (its peak frame) or, with ``motion``, as the frames of its range."""
        if not motion:
            return self.add_still(c.word.lower(), c.frame, probability, hold, method="suggested")
        return self.add_motion(c.word.lower(), c.first, c.last, probability, method="suggested")

    def add_spans(self, spans, probability: float = 1.0, hold: float = 0.3) -> list[Entry]:
        return self._add(entries_from_spans(self.seq, self.fps, spans, self.run_name, probability, hold))

    def add_studio(self, keyposes: dict) -> list[Entry]:
        return self._add(entries_from_studio(self.seq, keyposes, self.run_name))

    def preview(self, words, base: np.ndarray | None = None, seconds: float | None = None,
                cfg: InsertionConfig | None = None, seed: int = 0) -> tuple[np.ndarray, list[Insertion]]:
        """The dictionary applied to ``words`` (timestamps) over ``base`` poses (default: the rest pose for
        the length of the words plus half a second, or ``seconds``)."""
        words = _words(words)
        if base is None:
            dur = seconds if seconds is not None else (max((w["end"] for w in words), default=0.0) + 0.5)
            base = np.repeat(self.rest[None], max(1, int(round(dur * self.fps))), axis=0)
        return apply_dictionary(base, words, self.dictionary, self.fps, cfg, seed)

    def save(self, run) -> Path:
        """Write the dictionary into ``run`` (``dictionary/dictionary.json`` + arrays) and record it."""
        with run.lock("dictionary build"):
            path = self.dictionary.save(run.path("dictionary"))
            run.record("dictionary", entries=len(self.dictionary), words=self.dictionary.words, source=self.source)
        return path


def load_dictionary(run) -> KeyPoseDictionary:
    """The run's dictionary (validated)."""
    return KeyPoseDictionary.load(run.require("dictionary"))


def speak_words(text: str, voice: str | None = None) -> tuple[list[dict], np.ndarray, int]:
    """Word timestamps (and the audio) of a sample sentence from the offline TTS (eSpeak NG):
    English by default, Mandarin (``cmn``) when the text has CJK characters."""
    from s2v.speech.text import language_of
    from s2v.speech.tts import ESpeak

    voice = voice or ("cmn" if language_of(text) == "zh" else "en-us")
    sp = ESpeak().synthesize(text, voice=voice)
    return [w.to_dict() for w in sp.words], sp.audio, sp.sample_rate
