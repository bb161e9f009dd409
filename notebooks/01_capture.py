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
# # 01 · Capture: a speaker reading scripts, filmed by a fixed camera
#
# **What this stage does.** It produces the raw material every later stage learns from: a video of one
# person talking, the speech as 16 kHz audio, and (when known) the words with their times.
#
# **Why (paper, section 3.1).** The authors filmed their own speakers rather than using web videos: a
# *fixed* viewpoint, and a 5 ms exposure at 60 fps so moving hands are sharp enough to fit finger models;
# they kept every 5th frame. At the end of each session the speaker *posed for key words* ("huge, tiny,
# up, down, me, you") — the raw material of the key-pose dictionary (notebook 03).
#
# **The synthetic studio.** No Speech2Video data set is public, so the kit records a virtual speaker in the
# same way: eSpeak NG reads a script (with exact word times), the SMPL-X body performs it (jaw from the
# phonemes and loudness, breathing, sway, beat gestures, key poses on key words, a posing session at the
# end) and pyrender films it. Unlike a real studio it also writes the **ground truth**: the SMPL-X
# parameters of every frame, the projected keypoints and the list of posed key words, so that every later
# stage can be measured.
#
# **Your own recording.** Set `video_path` to a video file (with sound, one person, fixed camera). It is
# checked (audio present and not silent, one person in view), resized, resampled (`sample_every=5` on a
# 60 fps video is the paper's setting) and its audio extracted.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
run_name = "studio_demo"
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
speaker = "ada"          # ada | ben (English), chen (Mandarin)
script = "economy"       # economy | sports | science | weather | city (Mandarin)
max_seconds = 10.0       # length of the script part (None: the whole script)
size = 256               # image width (pixels)
height = None            # image height (None: square)
framing = "full"         # full | upper (knees up) | head_shoulders (webcam) | seated (behind a desk)
fps = 30.0
seed = 0
pose_session = True      # pose for the key words at the end (section 3.1)
video_path = None        # set to your own video to import it instead of the studio
sample_every = 1         # keep every k-th frame of your video (the paper: 5 of 60 fps)

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import json
import numpy as np, matplotlib.pyplot as plt, soundfile as sf
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.capture import import_video
from s2v.speech.features import level_db
from s2v.keypoints import KeypointTrack
from s2v.plots import waveform_with_words, keypoints_grid, inline_video
from s2v.video import read_video

run = Run.create(run_name, runs_dir)
if video_path is None:
    cfg = StudioConfig(speaker=speaker, script=script, max_seconds=max_seconds, width=size, height=height or size,
                       fps=fps, seed=seed, pose_session=pose_session, framing=framing)
    rec = record(cfg, run)
    print(f"recorded {rec.duration:.1f} s, {rec.num_frames} frames, {len(rec.words)} words, "
          f"{len(rec.keyposes)} key poses into {run.root}")
else:
    info = import_video(video_path, run, width=size, sample_every=sample_every)
    print(f"imported {video_path}: {info}")

# %% [markdown]
# ## The clip

# %%
inline_video(run.path("recording"), width=size)

# %% [markdown]
# ## Speech and words
#
# Word boundaries come from the TTS engine for studio speech (for real speech, notebook 04 aligns them with
# speech recognition). Red words are the ones the speaker posed for.

# %%
audio, sr = sf.read(run.path("audio"), dtype="float32")
print(f"{len(audio) / sr:.2f} s at {sr} Hz, level {level_db(audio):.1f} dBFS")
if run.has("transcript"):
    words = json.loads(run.path("transcript").read_text())["words"]
    keyposes = json.loads(run.path("truth_keyposes").read_text())["events"] if run.has("truth_keyposes") else []
    waveform_with_words(audio, sr, words, keyposes=keyposes)
    plt.show()
    for k in keyposes:
        print(f"{k['start']:6.2f} s  '{k['word']}' -> {k['pose']:6s} "
              f"(frame {k['frame']}, held {k['hold_frames']} frames)"
              + ("  [posing session]" if k["session"] else ""))

# %% [markdown]
# ## Ground truth on the frames
#
# The studio knows where every joint is: here the projected SMPL-X keypoints (OpenPose layout: body,
# hands, face) are drawn over the rendered frames. Notebook 02 has to recover them from the pixels alone.

# %%
frames, fps_ = read_video(run.path("recording"))
if run.has("truth_keypoints"):
    kp = KeypointTrack.load(run.path("truth_keypoints"))
    idx = np.linspace(0, len(frames) - 1, 8).astype(int)
    plt.figure(figsize=(14, 7)); plt.imshow(keypoints_grid(frames, kp.points, idx)); plt.axis("off"); plt.show()

# %% [markdown]
# ## Bad input is refused with a reason
#
# The capture stage checks what it is given. A clip without sound, for example:

# %%
from s2v.capture import CaptureError
from s2v.video import write_video
write_video(frames[:10], run.root / "no_audio.mp4", fps_)
try:
    import_video(run.root / "no_audio.mp4", Run.create(run_name + "_import", runs_dir))
except CaptureError as err:
    print("CaptureError:", err)
