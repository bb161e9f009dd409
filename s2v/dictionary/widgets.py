"""The key-pose dictionary builder as an ipywidgets UI (notebook 03).

A view on a :class:`~s2v.dictionary.build.DictionaryBuilder`: a frame scrubber with the video frame and the
colourised skeleton side by side, a strip showing how far the arms are from the rest pose with the key
words marked, the transcript as clickable words, suggested key poses, fields for the key word,
probability and hold, a still/motion switch with a frame range, a preview of the insertion on a sample
sentence, and save. Every action is a method (``add()``, ``take_suggestion()``, ``preview()``, ``save()``)
that the buttons call, so tests drive the UI from Python by setting widget values and clicking.
"""
from __future__ import annotations

import html

import numpy as np

from s2v.dictionary.build import DEFAULT_KEYWORDS, DictionaryBuilder, speak_words
from s2v.dictionary.store import DictionaryError, tokens

SAMPLE = "This project is huge, but the first step is tiny. Prices go up and then down. Me? I trust you."


def _png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def timeline_strip(distance: np.ndarray, fps: float, words: list[dict], cursor: int, width: int = 720,
                   height: int = 64, marks=(), selection: tuple[int, int] | None = None) -> np.ndarray:
    """An RGB strip: distance from rest over time (white), key-word starts (orange ticks), suggested
    frames (green), the selected range (blue band) and the current frame (red)."""
    import cv2

    img = np.full((height, width, 3), 24, np.uint8)
    T = max(1, len(distance) - 1)
    x = lambda f: int(round(f / T * (width - 1)))  # noqa: E731
    if selection is not None:
        img[:, x(selection[0]):x(selection[1]) + 1] = (30, 60, 120)
    keys = {tokens(k) for k in DEFAULT_KEYWORDS}
    for w in words:
        if tokens(w["word"]) in keys:
            cv2.line(img, (x(w["start"] * fps), 0), (x(w["start"] * fps), 10), (255, 160, 0), 2)
    d = np.asarray(distance, float)
    top = max(1e-6, d.max())
    pts = np.stack([np.linspace(0, width - 1, len(d)), height - 4 - d / top * (height - 16)], 1).astype(np.int32)
    cv2.polylines(img, [pts], False, (230, 230, 230), 1)
    for f in marks:
        cv2.circle(img, (x(f), height - 6), 3, (60, 220, 60), -1)
    cv2.line(img, (x(cursor), 0), (x(cursor), height - 1), (255, 40, 40), 1)
    return img


class DictionaryWidget:
    """Build a key-pose dictionary by scrubbing through a recording; ``display(widget)`` shows it."""

    def __init__(self, builder: DictionaryBuilder, frames=None, keypoints: np.ndarray | None = None,
                 model=None, camera=None, run=None, size: int = 256, sample: str = SAMPLE):
        import ipywidgets as w

        self.b, self.frames, self.run, self.size = builder, frames, run, size
        self.model, self.camera = model, camera
        if keypoints is None and model is not None and camera is not None:
            from s2v.keypoints import project_model

            keypoints = project_model(model, builder.params(builder.seq), camera)
        self.keypoints = keypoints
        self.dist = builder.distance()
        self.candidates = builder.suggest()
        T = builder.num_frames
        grow = dict(flex="1 1 320px", width="auto", min_width="240px")      # shares a wrapping row
        self.frame = w.IntSlider(0, 0, T - 1, description="frame", continuous_update=True, layout=grow)
        self.play = w.Play(0, 0, T - 1, interval=int(1000 / builder.fps))
        w.jslink((self.play, "value"), (self.frame, "value"))
        self.info = w.HTML()
        # an image without data shows a broken-image icon: hidden until there is something to show
        self.video = w.Image(format="png", width=size, layout=w.Layout(display="none"))
        self.skeleton = w.Image(format="png", width=size, layout=w.Layout(display="none"))
        self.strip = w.Image(format="png", layout=w.Layout(width="100%", margin="0"))   # no margin: no 2 px overflow
        self.word_buttons = []
        for i, wd in enumerate(builder.words):
            btn = w.Button(description=wd["word"], tooltip=f"{wd['start']:.2f}-{wd['end']:.2f} s",
                           layout=w.Layout(width="auto"))
            btn.style.button_color = "#ffd8a8" if tokens(wd["word"]) in {tokens(k) for k in DEFAULT_KEYWORDS} else None
            btn.on_click(lambda _b, i=i: self.go_to_word(i))
            self.word_buttons.append(btn)
        self.transcript = w.Box(self.word_buttons, layout=w.Layout(flex_flow="row wrap", max_height="140px",
                                                                   overflow="auto"))
        spoken = sorted({wd["word"].lower() for wd in builder.words if tokens(wd["word"])})
        self.word = w.Combobox(placeholder="key word", options=spoken, description="key word")
        self.kind = w.ToggleButtons(options=["still", "motion"], value="still", description="pose")
        self.range = w.IntRangeSlider(value=(0, min(T - 1, int(builder.fps))), min=0, max=T - 1,
                                      description="range", layout=grow)
        self.mark_start = w.Button(description="range start = frame", layout=w.Layout(width="auto"))
        self.mark_end = w.Button(description="range end = frame", layout=w.Layout(width="auto"))
        self.probability = w.FloatSlider(1.0, min=0.0, max=1.0, step=0.05, description="probability")
        self.hold = w.FloatSlider(0.3, min=0.0, max=2.0, step=0.05, description="hold (s)",
                                  tooltip="a still pose: how long it is held; a motion: how long its last frame is")
        # a word that has an entry already: the user says what a second one means (never a silent second entry)
        self.existing = w.Dropdown(options=[("refuse", "refuse"), ("replace its entries", "replace"),
                                            ("add as a variant", "variant")], value="refuse",
                                   description="word taken", style={"description_width": "initial"})
        self.add_button = w.Button(description="add to dictionary", button_style="success")
        lists = dict(width="auto", flex="1 1 auto", min_width="200px")
        self.entries = w.Select(options=[], rows=6, description="entries", layout=w.Layout(**lists))
        self.remove_button = w.Button(description="remove selected")
        self.suggestions = w.Select(options=[(self._label(c), i) for i, c in enumerate(self.candidates)], rows=6,
                                    description="suggested", layout=w.Layout(**lists))
        self.take_button = w.Button(description="use suggestion")
        self.sample = w.Textarea(sample, description="sample", layout=w.Layout(**grow))
        self.seed = w.IntText(0, description="seed")
        self.preview_button = w.Button(description="preview insertion", button_style="info")
        self.preview_image = w.Image(format="png", layout=w.Layout(width="100%", display="none"))
        self.preview_info = w.HTML()
        self.save_button = w.Button(description="save dictionary", button_style="warning")
        self.status = w.HTML()

        self.frame.observe(lambda _c: self.show(), names="value")
        self.range.observe(lambda _c: self.show(), names="value")
        self.mark_start.on_click(lambda _b: self._mark(0))
        self.mark_end.on_click(lambda _b: self._mark(1))
        self.add_button.on_click(lambda _b: self.add())
        self.remove_button.on_click(lambda _b: self.remove())
        self.take_button.on_click(lambda _b: self.take_suggestion())
        self.preview_button.on_click(lambda _b: self.preview())
        self.save_button.on_click(lambda _b: self.save())
        if self.candidates:
            self.suggestions.value = 0
        self._refresh_entries()
        builder.on_change(self._refresh_entries)     # entries added in code (another cell) show up here too
        self.show()

        def row(*children):   # wraps instead of cutting what does not fit (1400 px and narrower windows)
            return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", width="100%", align_items="center"))

        column = dict(flex="1 1 420px", min_width="0", width="auto")
        self.widget = w.VBox([
            row(self.play, self.frame), self.info, row(self.video, self.skeleton), self.strip,
            w.HTML("<b>transcript</b> (click a word to jump to it; key words are orange)"), self.transcript,
            row(w.VBox([self.suggestions, self.take_button], layout=w.Layout(**column)),
                w.VBox([self.entries, self.remove_button], layout=w.Layout(**column))),
            row(self.word, self.kind), row(self.range, self.mark_start, self.mark_end),
            row(self.probability, self.hold, self.existing, self.add_button),
            row(self.sample, w.VBox([self.seed, self.preview_button])), self.preview_info, self.preview_image,
            row(self.save_button, self.status),
        ], layout=w.Layout(width="100%", max_width="100%", overflow="hidden"))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ actions
    def _label(self, c) -> str:
        return f"{c.word} @ {c.start:.2f} s: frame {c.frame} (held {c.first}-{c.last}), {c.distance:.2f} rad"

    def _say(self, msg: str, ok: bool = True) -> None:
        """The status line: every action first clears it, so an old error never stands beside a later success."""
        colour = "#2b8a3e" if ok else "#c92a2a"
        self.status.value = f"<span style='color:{colour}'>{html.escape(msg)}</span>" if msg else ""

    def _show_image(self, image, png: bytes) -> None:
        image.value = png
        image.layout.display = ""

    def go_to_word(self, i: int) -> None:
        wd = self.b.words[i]
        self.frame.value = self.b.frame_of(wd["start"])
        self.word.value = wd["word"].lower()

    def _mark(self, end: int) -> None:
        lo, hi = self.range.value
        f = self.frame.value
        self.range.value = (min(f, hi), hi) if end == 0 else (lo, max(f, lo))

    def take_suggestion(self) -> None:
        if self.suggestions.value is None:
            return
        c = self.candidates[self.suggestions.value]
        self.word.value = c.word.lower()
        self.range.value = (c.first, c.last)
        self.kind.value = "still"
        self.frame.value = c.frame

    def add(self):
        """Add the current word/frame (still) or word/range (motion) with the probability and hold (a motion plays
        its frames, then holds its last one for the hold). A word that has entries already is refused with a
        message unless ``existing`` says to replace them or to add a variant (one is picked at random)."""
        self._say("")
        word = self.word.value.strip()
        try:
            if not word:
                raise DictionaryError("type or pick a key word first")
            taken = self.b.dictionary.lookup(word)
            if taken and self.existing.value == "refuse":
                have = "; ".join(f"{t.kind}, frames {'-'.join(str(f) for f in t.source.get('frames') or '?')}"
                                 for t in taken)
                raise DictionaryError(f"{word!r} already has {len(taken)} entr{'y' if len(taken) == 1 else 'ies'} "
                                      f"({have}): remove it first, or set 'word taken' to replace its entries or "
                                      "to add a variant")
            if self.kind.value == "still":
                e = self.b.add_still(word, self.frame.value, self.probability.value, self.hold.value)
            else:
                e = self.b.add_motion(word, *self.range.value, probability=self.probability.value,
                                      hold=self.hold.value)
        except (DictionaryError, IndexError) as err:
            self._say(str(err), ok=False)
            return None
        replaced = 0
        if taken and self.existing.value == "replace":   # the new entry is in: the old ones go
            for old in taken:
                i = next((i for i, o in enumerate(self.b.dictionary.entries) if o is old and o is not e), None)
                if i is not None:
                    self.b.remove(i)
                    replaced += 1
        what = f"{e.kind} pose for {word!r} (" + ("" if e.kind == "still" else f"{len(e.pose)} frames, then ") + \
            f"held {e.hold:g} s)"
        if any(e is t for t in taken) and not replaced:       # the very same entry (same frames, values)
            msg = f"{what} is in the dictionary already: nothing changed"
        elif replaced:
            msg = f"replaced {replaced} entr{'y' if replaced == 1 else 'ies'} by a {what}"
        elif taken:
            msg = f"added {what} as a variant ({len(self.b.dictionary.lookup(word))} for the word, picked at random)"
        else:
            msg = f"added {what}"
        self._say(f"{msg}; {len(self.b.dictionary)} entries")
        return e

    def remove(self):
        """Remove the selected entry; afterwards nothing is selected, so a second click removes nothing until
        another entry is chosen (the list never moves the selection onto an entry the user did not pick)."""
        i = self.entries.value
        if i is None:
            self._say("select an entry to remove first", ok=False)
            return None
        label = next(k for k, v in self.entries.options if v == i)
        e = self.b.remove(i)
        self._say(f"removed {label} ({len(self.b.dictionary)} entries left)")
        return e

    def _refresh_entries(self) -> None:
        rows = self.b.dictionary.summary()
        self.entries.options = [(f"{r['word']} · {r['kind']} ({r['frames']} fr) · p={r['probability']} · "
                                 f"hold {r['hold_s']} s · {r['source']}", i) for i, r in enumerate(rows)]
        self.entries.index = None       # ipywidgets would select the first row: choose explicitly

    def preview(self, words: list[dict] | None = None):
        """Speak the sample sentence (eSpeak NG) and insert the dictionary's key poses into the rest pose;
        shows skeletons at the inserted key words. Returns (sequence, insertion records)."""
        self._say("")
        if words is None:
            words, _, _ = speak_words(self.sample.value)
        seq, recs = self.b.preview(words, seed=self.seed.value)
        done = [r for r in recs if r.inserted]
        self.preview_info.value = html.escape(
            f"{len(recs)} key word(s) found, {len(done)} inserted: "
            + ", ".join(f"{r.word}@{r.start:.2f}s{'' if r.inserted else ' (' + r.status + ')'}" for r in recs))
        self._say(f"preview: {len(done)} of {len(recs)} key word(s) inserted")
        if self.model is not None and self.camera is not None and done:
            from s2v.keypoints import project_model
            from s2v.render.skeleton import render_skeleton

            frames = [(r.span[0] + r.span[1]) // 2 for r in done][:6]  # middle of each key pose
            kp = project_model(self.model, self.b.params(seq[frames]), self.camera)
            s = self.size // 2
            tiles = [render_skeleton(k, s, s, (self.camera.width, self.camera.height)) for k in kp]
            self._show_image(self.preview_image, _png(np.concatenate(tiles, 1)))
        return seq, recs

    def save(self):
        self._say("")
        if self.run is None:
            self._say("no run to save into (pass run=...)", ok=False)
            return None
        try:
            path = self.b.save(self.run)
        except DictionaryError as err:
            self._say(str(err), ok=False)
            return None
        self._say(f"saved {len(self.b.dictionary)} entries to {path}")
        return path

    # ------------------------------------------------------------------ view
    def show(self) -> None:
        f = self.frame.value
        t = f / self.b.fps
        spoken = [wd["word"] for wd in self.b.words if wd["start"] - 0.05 <= t <= wd["end"] + 0.05]
        self.info.value = (f"t = {t:.2f} s &nbsp; distance from rest {self.dist[f]:.2f} rad &nbsp; "
                           f"word: <b>{html.escape(' '.join(spoken)) or '—'}</b>")
        s = self.size
        if self.frames is not None and f < len(self.frames):
            import cv2

            img = self.frames[f]
            self._show_image(self.video, _png(cv2.resize(img, (s, int(round(s * img.shape[0] / img.shape[1]))))))
        if self.keypoints is not None:
            from s2v.render.skeleton import render_skeleton

            src = (self.camera.width, self.camera.height) if self.camera is not None else None
            h = s if src is None else int(round(s * src[1] / src[0]))
            self._show_image(self.skeleton, _png(render_skeleton(self.keypoints[f], s, h, src)))
        self.strip.value = _png(timeline_strip(self.dist, self.b.fps, self.b.words, f,
                                               marks=[c.frame for c in self.candidates], selection=self.range.value))
