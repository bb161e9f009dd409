# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Quickstart: speech or text in, a talking video out
#
# This notebook makes talking videos of the kit's studio speaker from a sentence, in English and in Mandarin, on a
# CPU, in well under a minute. It is what `make demo` executes.
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
# **Here.** The kit ships one trained speaker, ada (`data/speakers/ada`, a few MB): her LSTM, her key-pose
# dictionary and her GAN, trained by the kit itself on its studio recording of her, waist up at 320×384 so that
# face and hands are large enough to judge. The last section trains a speaker from scratch instead
# (`train_from_scratch = True`: a few minutes at 128², blurry — the paper trained for a week on 8 GPUs).

# %% tags=["parameters"]
# Parameters (papermill overrides these)
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
speaker_name = "ada"    # a run in runs_dir, else the speaker shipped in data/speakers/
text = "The economy is huge, and it matters to you and me. Prices went up, but the tiny shops are still open."
text_zh = "经济很重要，价格上涨了，但是小商店还开着。"   # Mandarin (eSpeak NG's cmn voice; key words 上, 小)
audio = None             # or the path of a speech file (English, for key words)
out = "outputs/demo.mp4"
key_poses = True         # insert the dictionary's key poses (section 3.3)
seed = 0
train_from_scratch = False   # also train the quickstart speaker (minutes on a CPU) and speak with it
run_name = "quickstart_ada"  # ... into this run
size = 128               # ... its GAN width (px)
lstm_steps = 300         # ... LSTM training steps
gan_steps = 600          # ... GAN training steps
your_run = None          # a run notebooks 01-02 captured and fitted (e.g. "studio_demo_seated"): made a speaker too
your_size = 256          # its GAN width (px, multiple of 32); the height follows the recording's aspect

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import matplotlib.pyplot as plt
from s2v.synthesis.speaker import SpeakerConfig, prepare_speaker, speaker_card
from s2v.run import Run
from s2v.synthesis.synthesize import Speaker, SynthesisConfig, speech_input, speech_to_poses, synthesize
from s2v.plots import inline_video, insertion_plot

speaker = Speaker.load(speaker_name, runs_dir)
card = speaker_card(speaker)
print(card["summary"])

# %% [markdown]
# ## The speaker: how good the generator is on frames it never saw
#
# Rows: the skeleton image, the real studio frame, the generated one, on held-out frames of the recording (the
# last 15 %, never trained on). PSNR and SSIM are measured on the whole frame and on the face and hand crops — the
# parts the paper's part-aware discriminators are there for (section 3.5).

# %%
if card["samples"] is not None:
    plt.figure(figsize=(12, 5)); plt.imshow(plt.imread(card["samples"])); plt.axis("off"); plt.show()
for name, q in card["quality"].items():
    print(f"{name:>28}: " + ", ".join(f"{k} {v:.3g}" for k, v in q.items()))

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
# ## The videos, with the speech
#
# The same speaker speaks Mandarin too: the LSTM hears the speech, whatever the language (the paper trains on
# English and Chinese). She posed her key words in English; the dictionary carries each gesture over to the
# Mandarin words for the same thing (上 for "up", 小 for "small": `with_translations`), so the Mandarin sentence
# gets key poses too, with the poses she struck.
#
# Faster than real time on a CPU: drawing, generating and encoding each frame, the summary's last figure. On a CPU
# with bfloat16 arithmetic in hardware (recent Xeons, AMD Zen 4) the generator runs in bfloat16, twice float32's
# speed, its frames within 1–4 grey levels of float32's; on other CPUs (AVX2: most laptops and clouds) it runs the
# speaker's int8 OpenVINO model, 2.2× float32's speed, held-out frames within 0.03 dB
# (`SynthesisConfig(precision=...)`, `auto` by default; `s2v gan optimize` makes the int8 model of your speaker).

# %%
res = synthesize(speaker, out, text=text, cfg=scfg)
print(res.summary())
inline_video(res.video, width=speaker.camera.width)

# %%
res_zh = synthesize(speaker, str(out).replace(".mp4", "_zh.mp4"), text=text_zh, lang="zh", cfg=scfg)
print(res_zh.summary())
inline_video(res_zh.video, width=speaker.camera.width)

# %% [markdown]
# ## Every video says it is synthetic
#
# A synthesised person is made to be hard to tell from a recording of them. So record and train only people who
# agreed to it, and never pass a synthesised video off as a recording. Each MP4 the kit writes carries that
# disclosure in its metadata: one sentence in the standard `comment` tag that players show (and an ffmpeg re-encode
# keeps), the same as fields (`s2v_*`, with IPTC's source type for media made by a trained model), and in the side
# JSON. Speakers learned from real recordings also draw a small "SYNTHETIC" mark in a corner of every frame
# (`SynthesisConfig(mark=...)`, `--mark/--no-mark`); this studio speaker is synthetic to begin with, so her videos
# carry the metadata only. `python -m s2v inspect VIDEO` (or `describe` below) reads it back.

# %%
from s2v.provenance import describe

print(describe(res.video)["summary"])

# %%
if audio:   # your own speech: recognised word times (pocketsphinx) drive the key poses
    res2 = synthesize(speaker, str(out).replace(".mp4", "_audio.mp4"), audio=audio, cfg=scfg)
    print(res2.summary())
    inline_video(res2.video, width=speaker.camera.width)

# %% [markdown]
# ## Training a speaker from scratch (optional: `train_from_scratch = True`)
#
# `prepare_speaker` records the studio speaker, builds her key-pose dictionary from her posing session, trains the
# LSTM (which leaves the key words to the dictionary) and trains the GAN — each step skipped if already done, the
# GAN resumed if interrupted. The `quickstart` preset is small (128², a few minutes of CPU) so the picture is
# blurry; the shipped speaker is the `shipped` preset (`s2v speaker --preset shipped --run ada_shipped --export
# data/speakers/ada`, about an hour on one CPU core), `SpeakerConfig.preset("paper")` the paper's sizes for a GPU.

# %%
if train_from_scratch:
    cfg = SpeakerConfig.preset("quickstart", **{"pose.max_steps": lstm_steps, "gan.max_steps": gan_steps,
                                                "gan.size": size})
    print("speaker prepared:", prepare_speaker(run_name, cfg, runs_dir))
    mine = Speaker.load(Run.open(run_name, runs_dir))
    res_t = synthesize(mine, str(out).replace(".mp4", "_trained.mp4"), text=text, cfg=scfg)
    print(res_t.summary())
    inline_video(res_t.video, width=2 * size)

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
    from s2v.fitting.fit import check_fit
    from s2v.run import Run
    mine = Run.open(your_run, runs_dir)
    q = check_fit(mine).quality()
    print(f"{your_run}: {q['framing']} framing, {q['failed']} of {q['frames']} frames failed")
    mcfg = SpeakerConfig.preset("quickstart", **{"pose.max_steps": lstm_steps, "gan.max_steps": gan_steps,
                                                 "gan.size": your_size})   # the quickstart sizes, its own width
    print("speaker prepared:", prepare_speaker(mine, mcfg, runs_dir))
    me = Speaker.load(mine)
    res3 = synthesize(me, str(out).replace(".mp4", f"_{your_run}.mp4"), text=text, cfg=scfg)
    print(res3.summary())
    from s2v.video import probe_size
    print("source {}x{} -> video {}x{}".format(*probe_size(mine.path("recording")), *probe_size(res3.video)))
    inline_video(res3.video, width=your_size)
