# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · The key-pose dictionary: gestures on cue
#
# **What this stage does.** It builds a dictionary that maps *key words* to *key poses* — "huge" to arms
# opened wide, "me" to a hand on the chest — and inserts those poses into any pose sequence at the moment
# the word is spoken.
#
# **Why (paper, section 3.3).** An LSTM trained on speech learns the *average* motion that goes with a sound:
# talking mouth, some beats, but no meaningful gestures — the same audio feature rarely comes with the same
# gesture. People do gesture on particular words, so the authors asked each speaker, at the end of a
# recording, to pose for key words ("huge, tiny, up, down, me, you"), picked those poses from the fitted
# SMPL-X sequence, and stored them per word. When synthesising, the word timestamps (from speech
# recognition, or the TTS engine itself) say where a key word starts; with the word's probability (frequent
# words such as "I" should not always trigger a gesture) the key pose replaces the predicted pose there:
# figure 6 — a **0.6 s ramp** in, the key pose **held 0.3 s** (a motion is copied frame by frame), a 0.6 s
# ramp out. In the user study 80.6 % preferred the videos with key poses.
#
# **Choices made here (beyond the paper).**
# - Rotations are interpolated on SO(3) (slerp of each joint's axis-angle) by default; the paper's linear
#   blend of the numbers is `interp="linear"`. For gesture-sized turns the two are within ~1 % of each
#   other, but linear blending takes the long way round when an axis-angle is not normalised (beyond 180°,
#   as optimisers return) — the tests show both.
# - A key pose drives body and hands; the speech keeps driving mouth and face (`parts=None`: all 106 numbers).
# - Mandarin key words are matched by pinyin syllable with tone, so homophones match and a key character
#   inside a longer word (上 in 上涨) is found.
# - Two key words too close together chain: the second ramps straight from the first pose (never cutting
#   its hold); a key word inside the previous hold is skipped.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
run_name = "studio_dict"
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
speaker = "ada"
script = "economy"
max_seconds = 6.0        # script length before the posing session (seconds)
size = 256               # video size (pixels)
fps = 30.0
source = "studio"        # how the dictionary is built without the widget: studio | spans | suggested
spans = []               # with source "spans": [word, start seconds, optional end seconds] per entry
sample = "The whole market is huge, and the first step is tiny. Prices go high, then low. Me? I trust you."
interp = "slerp"         # slerp | linear (the paper)
seed = 0
interactive = True       # show the widget builder

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import json
import matplotlib.pyplot as plt, soundfile as sf
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.studio.record import perform_text
from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.dictionary.build import DictionaryBuilder, load_dictionary
from s2v.dictionary.insertion import InsertionConfig, apply_dictionary
from s2v.dictionary.store import DictionaryError, KeyPoseDictionary
from s2v.dictionary.widgets import DictionaryWidget
from s2v.metrics import key_word_motion
from s2v.plots import distance_with_words, insertion_plot, skeleton_video, inline_video
from s2v.video import VideoFrames

run = Run.create(run_name, runs_dir)
if not run.has("recording"):   # a studio session: script, then the posing session
    record(StudioConfig(speaker=speaker, script=script, max_seconds=max_seconds, width=size, height=size, fps=fps,
                        seed=seed), run)
builder = DictionaryBuilder.from_run(run, load_existing=False)
print(f"{builder.num_frames} frames at {builder.fps:g} fps, {len(builder.words)} words; poses from {builder.source}")

# %% [markdown]
# ## Where the speaker leaves the rest pose
#
# The distance of the arms from the speaker's rest pose (the median pose of the recording), with the key
# words in orange. Red dots are the **suggestions**: for each spoken key word, the frame farthest from rest
# shortly after it. In a studio run the green bands are the true key-pose holds.

# %%
candidates = builder.suggest()
keyposes = json.loads(run.path("truth_keyposes").read_text())["events"] if run.has("truth_keyposes") else []
distance_with_words(builder.distance(), builder.fps, builder.words, candidates, keyposes); plt.show()
for c in candidates:
    print(f"{c.word:>8}  spoken at {c.start:6.2f} s  peak frame {c.frame:4d}  held {c.first}-{c.last}  "
          f"{c.distance:.2f} rad")

# %% [markdown]
# ## The builder
#
# Scrub through the recording (video and skeleton side by side), click a word of the transcript to jump to
# it, take a suggestion or mark a frame (still pose) or a range (motion), set the word's probability and hold,
# add it, preview the insertion on the sample sentence, save. Everything the buttons do is a method of the
# widget (`add()`, `preview()`, `save()`), so this cell can also be scripted.

# %%
camera = Camera.load(run.path("camera"))
body = BodyModel(backend="free", device="cpu")
ui = DictionaryWidget(builder, VideoFrames(run.path("recording")), model=body, camera=camera, run=run, size=size,
                      sample=sample)
if interactive:
    from IPython.display import display
    display(ui)

# %% [markdown]
# ## Building without the widget (for papermill)
#
# `source = "studio"` takes the words the studio speaker posed for (their probabilities are the studio's);
# `"spans"` takes `(word, start[, end])` seconds from the parameters cell; `"suggested"` takes every
# suggestion as a still pose.

# %%
if source == "studio":
    builder.add_studio(json.loads(run.path("truth_keyposes").read_text()))
elif source == "spans":
    builder.add_spans(spans)
elif source == "suggested":
    for c in candidates:
        builder.add_candidate(c)
else:
    raise ValueError(f"source must be studio, spans or suggested, not {source!r}")
path = builder.save(run)
dictionary = load_dictionary(run)       # read back and validated
print(f"{len(dictionary)} entries -> {path}")
for row in dictionary.summary():
    print("  ", row)

# %% [markdown]
# The file is plain JSON (the pose numbers sit in a checksummed `.npz` beside it). Loading checks
# everything and says exactly what is wrong — for example, a hand-edited probability out of range:

# %%
doc = json.loads(path.read_text())
doc["entries"][0]["probability"] = 1.5
bad = path.with_name("edited.json"); bad.write_text(json.dumps(doc))
try:
    KeyPoseDictionary.load(bad)
except DictionaryError as err:
    print("DictionaryError:", err)
bad.unlink()

# %% [markdown]
# ## Insertion on a new sentence (figure 6)
#
# The sample sentence is spoken by eSpeak NG (which reports each word's time) and performed by the studio
# speaker *without* key poses — a stand-in for the LSTM's output, which notebook 04 trains. Then the
# dictionary's poses go in at the key words, each drawn with its probability (seeded, so the same seed
# gives the same video). Orange bands: ramp in, key pose, ramp out.

# %%
base, words, audio, sr = perform_text(sample, speaker, builder.fps, seed)
cfg = InsertionConfig(interp=interp)
posed, records = apply_dictionary(base, words, dictionary, builder.fps, cfg, seed=seed)
for r in records:
    span = f" (frames {r.span[0]}-{r.span[1] - 1})" if r.inserted else ""
    print(f"{r.word:>8} at {r.start:5.2f} s: {r.status}{span}")
insertion_plot(base, posed, records, builder.fps, dictionary.layout); plt.show()

# %% [markdown]
# ## Did it make a difference? An objective proxy for the user study
#
# The paper's preference study cannot be re-run here. What can be measured: how fast the arms move and how
# far they leave the rest pose in a window around the key words (0.6 s before to 0.9 s after), with and
# without the key poses.

# %%
times = [r.start for r in records]
rest = builder.rest
rows = {"without key poses": key_word_motion(base, builder.fps, times, dictionary.layout, rest),
        "with key poses": key_word_motion(posed, builder.fps, times, dictionary.layout, rest)}
for name, m in rows.items():
    print(f"{name:>18}: arm speed at key words {m['speed_at_key_words']:.2f} rad/s "
          f"(x{m['speed_ratio']:.2f} of elsewhere), "
          f"peak distance from rest {m['peak_distance_at_key_words']:.2f} rad")

# %% [markdown]
# ## Both versions as skeleton videos, with the sentence

# %%
wav = run.root / "dictionary" / "sample.wav"
sf.write(wav, audio, sr)
video = skeleton_video([builder.params(base), builder.params(posed)], body, camera,
                       run.root / "dictionary" / "preview.mp4", builder.fps, audio=wav,
                       labels=["without key poses", "with key poses"])
inline_video(video, width=2 * size)
