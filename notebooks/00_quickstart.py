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
# # 00 · Quickstart: speech or text in, a talking video out
#
# This notebook runs the whole kit on the embedded studio speaker, on a CPU, in a few minutes, and ends with
# a video. It is what `make demo` executes.
#
# **The method (paper, figure 2).** Speech2Video splits the problem in two, because an end-to-end audio-to-video
# network cannot learn the sparse, personal gestures of one speaker from a few hours of video:
#
# 1. **Speech to a 3D skeleton.** The audio (28 MFCC-based features) or the text drives a 2-layer LSTM that
#    outputs the 106 SMPL-X pose and expression numbers of every frame (section 3.4). Skeleton shape is fixed, so
#    limbs cannot stretch (section 3.2's 3D regularisation).
# 2. **Key poses.** At key words ("huge", "you", "me") poses from the speaker's own dictionary are inserted with
#    0.6 s ramps and a 0.3 s hold (section 3.3) — the personal gestures an LSTM averages away.
# 3. **Skeleton to video.** The skeleton is drawn as a colour image (white face, coloured hand circles) and a
#    vid2vid-style GAN with part-aware discriminators paints the speaker (section 3.5).
#
# **Here.** `prepare_speaker` records the studio speaker (ada), trains a small LSTM on the recording, builds her
# key-pose dictionary from her posing session, and trains a small GAN — each step skipped if already done, the GAN
# resumed if interrupted. The sizes are tiny (128², minutes of CPU), so the picture is blurry; the paper trained
# for a week on 8 GPUs, and `SpeakerConfig.preset("paper")` gives its sizes for a GPU machine.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
run_name = "quickstart_ada"
text = "The economy is huge, and it matters to you and me. Prices went up, but the tiny shops are still open."
audio = None             # or the path of a speech file (English, for key words)
out = "outputs/demo.mp4"
size = 128               # GAN width (pixels, multiple of 32)
lstm_steps = 300         # LSTM training steps
gan_steps = 600          # GAN training steps
key_poses = True         # insert the dictionary's key poses (section 3.3)
seed = 0
your_run = None          # a run notebooks 01-02 captured and fitted (e.g. "studio_demo_seated"): made a speaker too
your_size = 256          # its GAN width (px, multiple of 32); the height follows the recording's aspect

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import time
import matplotlib.pyplot as plt
from s2v.synthesis.speaker import SpeakerConfig, prepare_speaker
from s2v.run import Run
from s2v.synthesis.synthesize import Speaker, SynthesisConfig, speech_input, speech_to_poses, synthesize
from s2v.plots import inline_video, insertion_plot

cfg = SpeakerConfig.preset("quickstart")
cfg.pose.max_steps, cfg.gan.max_steps, cfg.gan.size = lstm_steps, gan_steps, size
t0 = time.time()
report = prepare_speaker(run_name, cfg, runs_dir)
print(f"speaker prepared in {time.time() - t0:.0f} s:", report)
speaker = Speaker.load(Run.open(run_name, runs_dir))
print(f"LSTM input: {speaker.inputs}, {speaker.fps:g} fps; GAN {speaker.gan_config['size']} px; "
      f"dictionary: {', '.join(speaker.dictionary.words) if speaker.dictionary else 'none'}")

# %% [markdown]
# ## The motion: LSTM poses, and the key poses inserted at key words
#
# Figure 6 on this sentence: how far the arms move away from the LSTM's own output once the key poses are
# inserted; the shaded spans are each key word's ramp in, hold and ramp out. Each key word is drawn with the
# probability stored in the dictionary (seeded: the same seed gives the same video).

# %%
scfg = SynthesisConfig(key_poses=key_poses, seed=seed)
speech = speech_input(text=text, cfg=scfg, voice=speaker.voice)
plain, _ = speech_to_poses(speaker, speech, SynthesisConfig(key_poses=False))
posed, records = speech_to_poses(speaker, speech, scfg)
insertion_plot(plain, posed, records, speaker.fps); plt.show()
for r in records:
    print(f"{r.word!r:>10} at {r.start:5.2f} s: {r.status}")

# %% [markdown]
# ## The video, with the speech

# %%
res = synthesize(speaker, out, text=text, cfg=scfg)
print(res.summary())
inline_video(res.video, width=2 * size)

# %%
if audio:   # your own speech: recognised word times (pocketsphinx) drive the key poses
    res2 = synthesize(speaker, str(out).replace(".mp4", "_audio.mp4"), audio=audio, cfg=scfg)
    print(res2.summary())
    inline_video(res2.video, width=2 * size)

# %% [markdown]
# ## Your own speaker
#
# The same steps work on a run of yours: a recording that notebook 01 captured (a video of you, or a studio
# framing) and notebook 02 fitted. Set `your_run` to its name. Its fit quality is checked first (a run whose fit
# failed on most frames is refused, with what to try), then the dictionary (the posed key words, or the suggested
# ones), the LSTM (which leaves those key words to the dictionary) and the GAN are made from the *fitted*
# parameters. The video keeps the recording's aspect, and the skeletons draw only what the recording showed: a
# speaker seated behind a desk gets no legs.

# %%
if your_run:
    import copy
    from s2v.fitting.fit import check_fit
    from s2v.run import Run
    mine = Run.open(your_run, runs_dir)
    q = check_fit(mine).quality()
    print(f"{your_run}: {q['framing']} framing, {q['failed']} of {q['frames']} frames failed")
    mcfg = copy.deepcopy(cfg)          # the same sizes, at its own GAN width
    mcfg.gan.size = your_size
    print("speaker prepared:", prepare_speaker(mine, mcfg, runs_dir))
    me = Speaker.load(mine)
    res3 = synthesize(me, str(out).replace(".mp4", f"_{your_run}.mp4"), text=text, cfg=scfg)
    print(res3.summary())
    from s2v.video import probe_size
    print("source {}x{} -> video {}x{}".format(*probe_size(mine.path("recording")), *probe_size(res3.video)))
    inline_video(res3.video, width=your_size)
