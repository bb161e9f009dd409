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
# # 05 · From skeleton to video: the part-aware GAN
#
# **What this stage does.** It learns to paint the speaker: given the colourised skeleton of a frame (and of
# the frames before it), produce the photo-realistic frame. At synthesis time the skeletons come from the
# LSTM's poses with key poses inserted; here they come from the recording itself, so every generated frame
# has a real one to be compared with.
#
# **Why this way (paper, section 3.5).** The authors "adopt the vid2vid" generator: frames are generated one
# after the other, each conditioned on the current *and previous* label images and the previously generated
# frames, so the video is temporally coherent; the discriminators judge single frames (at several scales,
# with feature matching, as pix2pixHD) and short runs of frames (temporal). Faces and hands are small in the
# frame but carry most of what viewers look at, so the paper adds **part attention**: the face and both hands
# are located *by their special colours in the label image* (the white face, the reserved hand-circle
# colours), the same boxes are cropped from the generated and real frames, enlarged, and judged by their own
# discriminators — which "leads to sharper results".
#
# **Here.** Losses need no downloaded network (no ImageNet VGG can be fetched): adversarial (LSGAN or hinge),
# feature matching, L1 on the frame and extra L1 on the part crops. The defaults below are tiny so that the
# notebook runs in minutes on a CPU; the paper trained for a week on 8 GPUs (`torchrun`, see the README), and
# `benchmarks/bench_gan.py` measures a longer CPU run with the part discriminators on and off.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
run_name = "studio_gan"
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
speaker = "ada"
script = "economy"
max_seconds = 4.0        # script length (seconds)
size = 64                # training width (pixels, multiple of 32)
ngf = 16                 # generator width (pix2pixHD: 64)
n_blocks = 2             # residual blocks (pix2pixHD: 9)
steps = 60               # training steps
minutes = None           # or stop after this many minutes
parts = True             # part-aware discriminators (section 3.5)
video_frames = 60        # held-out frames rendered into the video
framing = "full"         # the studio speaker: full | upper | head_shoulders | seated (half-body speakers)
seed = 0
portrait_steps = 30      # the portrait renderer's face network (the CPU recipe: 25 minutes)
portrait_run = ""        # a real speaker's run with portrait/ trained (python -m s2v portrait train)
portrait_source = ""     # ... and a held-out sentence of it (a run), judged frame by frame

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import numpy as np, matplotlib.pyplot as plt
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.gan.data import ClipDataset, to_uint8
from s2v.config import make
from s2v.gan.train import train_gan
from s2v.gan.infer import FrameGenerator, evaluate, load_generator, render_run
from s2v.plots import gan_losses, part_crops, inline_video
from s2v.portrait.render import PortraitRenderer

run = Run.create(run_name, runs_dir)
if not run.has("recording"):
    record(StudioConfig(speaker=speaker, script=script, max_seconds=max_seconds, width=max(128, size),
                        height=max(128, size), seed=seed, framing=framing), run)
cfg = make("gan", "quickstart", {"size": size, "generator.ngf": ngf, "generator.n_blocks": n_blocks, "ndf": ngf,
                                 "part_ndf": ngf, "parts": ["face", "left_hand", "right_hand"] if parts else [],
                                 "max_steps": steps, "max_minutes": minutes, "sample_every": max(1, steps // 3),
                                 "checkpoint_every": max(1, steps // 3), "seed": seed})
test = ClipDataset([run], size, cfg.clip, "test")
print(f"{len(test)} held-out clips")

# %% [markdown]
# ## The training pairs
#
# The label image (drawn from the SMPL-X parameters, on the fly) and the real frame. The boxes are what part
# attention finds by colour: the face (white) and the two hand circles.

# %%
import cv2
b = test[0]
lab, real = to_uint8(b["labels"][-1]), to_uint8(b["frames"][-1])
shown = [lab.copy(), real.copy()]
for box, ok in zip(b["boxes"][-1].numpy().astype(int), b["valid"][-1].numpy()):
    if ok:
        for im in shown:
            cv2.rectangle(im, tuple(box[:2]), tuple(box[2:] - 1), (255, 0, 0), 1)
plt.figure(figsize=(6, 3)); plt.imshow(np.concatenate(shown, 1)); plt.axis("off"); plt.show()

# %% [markdown]
# ## Training (resumes from `gan/checkpoint.pt` if interrupted)

# %%
trainer = train_gan([run], run, cfg)
gan_losses(trainer.history); plt.show()
h = trainer.history
print(f"{trainer.step} steps; L1 {np.mean([x['l1'] for x in h[:5]]):.3f} -> {np.mean([x['l1'] for x in h[-5:]]):.3f}")
plt.figure(figsize=(10, 4)); plt.imshow(plt.imread(trainer.samples[-1])); plt.axis("off")
plt.title("held-out clip: label / real / generated"); plt.show()

# %% [markdown]
# ## Held-out frames: whole frame and part crops
#
# Generated one after the other from a cold start, as at synthesis time, and compared with the real frames:
# PSNR (dB) and SSIM on the whole frame and on the face and hand boxes.

# %%
G, _ = load_generator(run.path("gan"), "cpu")
metrics = evaluate(G, test)
for k, v in metrics.items():
    print(f"{k:>18}: {v:.3f}")
fg = FrameGenerator(G)
s, t0 = test.index[0]
for t in range(t0, t0 + 8):
    lab = test.label(s, t); fake = fg(lab)
real = np.asarray(test.sources[s].frames[t0 + 7])
plt.figure(figsize=(4, 4)); plt.imshow(part_crops(lab, real, fake)); plt.axis("off")
plt.title("face, left hand, right hand: label | real | generated"); plt.show()

# %% [markdown]
# ## The held-out part as a video: label | generated | real, with the speech

# %%
first = test.index[0][1]
video = render_run(G, run, run.root / "gan" / "heldout.mp4", first, first + video_frames, size=size)
inline_video(video, width=3 * max(size, 128))

# %% [markdown]
# ## A real person, sharp: the portrait renderer
#
# The GAN above paints the whole frame at its training width, so a real speaker's face gets a few dozen
# pixels and comes out as a blur. For a real person the face and mouth are the product, and for a few minutes
# of one person the best prior for what the person looks like is the recording itself. `s2v.portrait` works
# as the talking-face methods do (Wav2Lip and MuseTalk condition on a *reference frame* of the same video,
# Everybody Dance Now adds a face network on top of the body GAN, vid2vid warps what it can and hallucinates
# the rest): the face is cut from the recording **at its own resolution**, a reference face is retrieved
# (the recording's frame whose head pose is nearest), warped onto the target pose by the keypoints, and a
# small network corrects the warp and paints what the reference lacks (another mouth). Flow and mask are
# applied at the source's resolution, so the skin keeps the recording's sharpness; the room comes from
# reference frames, never from a generator, and from one camera position per output (clips of several takes
# are grouped by framing, `s2v.portrait.framing`). Hands in view get the same care: the reference hand of the
# nearest shape, moved onto the hand's keypoints (`psnr_right_hand` below where the run shows one).
# `benchmarks/bench_portrait.py` measures it on a real held-out
# sentence (`benchmarks/RESULTS.md`); here, truth | output | difference ×4 on held-out frames — the studio
# run's last 15 % by default (its face is a few pixels: a demonstration of the calls), or `portrait_run`'s
# model on `portrait_source`.

# %%
from s2v.portrait.data import PortraitConfig, held_out_start
from s2v.video import count_frames
from s2v.portrait.evaluate import strip
from s2v.portrait.stage import evaluate_heldout, frame_config, train_portrait
if portrait_run:
    folder = Run.open(portrait_run, runs_dir).require("portrait").parent
    held, start = Run.open(portrait_source, runs_dir), 0
else:
    face = PortraitConfig(size=64, steps=portrait_steps, max_minutes=None, anchors=8, seed=seed)
    folder, held = run.root / "portrait", run
    train_portrait([run], folder, face, frame_config(face, size=64), hold_out=0.15, progress=False)
    start = held_out_start(count_frames(run.require("recording")), 0.15)
res, out_frames, true_frames, pts = evaluate_heldout(folder, held, start=start, background="recording",
                                                     lips=bool(portrait_run), identity=bool(portrait_run))
print({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()})
side = PortraitRenderer.load(folder, "cpu").face.side
plt.figure(figsize=(6, 8)); plt.imshow(strip(out_frames, true_frames, pts, side)); plt.axis("off")
plt.title("held out: truth | output | difference x4"); plt.show()
