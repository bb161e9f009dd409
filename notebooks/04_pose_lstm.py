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
# # 04 · Speech to pose: the LSTM
#
# **What this stage does.** It learns to map speech to the 106 SMPL-X numbers of every frame, so that new
# speech can drive the speaker's body.
#
# **Why this way (paper, section 3.4).** Features: the audio's volume is normalised (RMS), then 25 ms windows
# every 10 ms give 13 MFCCs (40 mel filters, log, DCT) plus the log volume, and their frame-to-frame
# differences: 28 numbers. Alternatively the *text*: words spread over their time spans, zeros in pauses
# (Mandarin through pinyin, so homophones look alike). The network is a plain 2-layer LSTM with 300 cells;
# its output is delayed by 200 ms so it can "look into the future" (people start a gesture before the word).
# The loss weighs body, hands, mouth and face 1 : 4 : 100 : 100, because their parameters have very
# different scales, and adds a difference loss between consecutive poses for smoothness.
#
# **Where the kit departs from the paper (measured, issue 13).** Trained as the paper says, the LSTM's motion
# is jittery (jerk ~10× the truth's) and its body and hand errors are *worse than standing still at the mean
# pose*. The kit's defaults therefore predict per-dimension z-scores (`standardize`), divide each part's weight
# by how much that part moves (`part_norm`: with raw weights the face coefficients are almost all of the loss),
# match each window's spread over time to the truth's (`w_var`: plain L2 pays for gestures it cannot predict
# by predicting their average — stillness), and smooth body and hands with a 0.07 s Gaussian at inference
# (`smooth`; the jaw is left alone: it follows phonemes). `PoseLSTMConfig.preset("paper")` is section 3.4
# exactly. The table below shows where the result sits between the floor (mean pose) and the ceiling (another
# sentence's true motion).
#
# This notebook trains on studio scripts of one speaker and tests on a script it has never heard, as the
# paper did. The defaults are small so it runs in minutes on a CPU; `benchmarks/bench_pose.py` runs the
# longer version whose numbers are in `benchmarks/RESULTS.md`.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
speaker = "ada"
train_scripts = ["economy", "sports", "science", "weather"]
val_script = "history"
test_script = "technology"
inputs = "audio"       # audio | text
steps = 150            # training steps (the benchmark uses 400)
window = 2.0           # seconds per training window
hidden = 300           # LSTM cell size (section 3.4)
batch_size = 100       # section 3.4
flow_steps = 1200      # gesture-flow training steps (the default: about 4.5 min on 2 CPU cores)
flow_minutes = 5.0     # ... or this many minutes, whichever comes first
mocap_file = ""        # an SMPL-X motion file of yours (AMASS/BEAT2 .npz); "": the test script written as one
mocap_audio = ""       # its speech ("": the test script's)

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import json
import numpy as np, matplotlib.pyplot as plt
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.params import SMPLXParams
from s2v.pose.lstm import PoseLSTMConfig, predict
from s2v.pose.stage import run_sequence, train_pose, mouth_error_px, part_errors
from s2v.plots import features_with_words, loss_curves, skeleton_video, inline_video

runs = {}
for i, s in enumerate(train_scripts + [val_script, test_script]):
    run = Run.create(f"{speaker}_{s}", runs_dir)
    if not run.has("truth_params"):   # studio data without video: audio, transcript, ground truth
        record(StudioConfig(speaker=speaker, script=s, pose_session=False, seed=i, render=False), run, progress=False)
    runs[s] = run
print({s: f"{len(run_sequence(r, inputs).inputs) / 30:.1f} s" for s, r in runs.items()})

# %% [markdown]
# ## The input features, with the words

# %%
test = runs[test_script]
seq = run_sequence(test, "audio")
words = json.loads(test.path("transcript").read_text())["words"]
features_with_words(seq.inputs[:300], seq.fps, [w for w in words if w["start"] < 10]); plt.show()

# %% [markdown]
# ## Training, with the key words left to the dictionary
#
# Synthesis inserts the dictionary's key poses at its key words (notebook 03), so the LSTM is not asked to
# guess them from the sound: on the frames a key pose will take (its ramps and hold) the body and hands are left
# out of the loss, the mouth and face are still learned (`PoseLSTMConfig.key_words`; `train_pose` takes the
# speaker run's own dictionary when it has one). Here the dictionary is the one the studio speaker's training
# scripts give (`dictionary_from_studio`). Measured on this held-out script (`benchmarks/bench_motion.py`,
# `benchmarks/RESULTS.md`): LSTM + key poses, body/hand error 0.62/0.59× the mean pose's with the mask and a
# dictionary of all the speaker's key words, 1.02/0.86× when the LSTM learns every frame.

# %%
from s2v.dictionary.build import dictionary_from_studio
from s2v.dictionary.insertion import apply_dictionary, key_word_frames
dictionary = dictionary_from_studio([runs[s] for s in train_scripts])
masked = np.mean([key_word_frames(json.loads(runs[s].path("transcript").read_text())["words"], dictionary,
                                  len(run_sequence(runs[s]).targets), 30.0).mean() for s in train_scripts])
print(f"dictionary: {', '.join(dictionary.words)}; body and hands left to it on {masked:.0%} of the frames")
out = Run.create(f"pose_{speaker}_{inputs}", runs_dir)
cfg = PoseLSTMConfig(hidden=hidden, batch_size=batch_size, window=window, max_steps=steps, eval_every=25, patience=6)
trainer = train_pose([runs[s] for s in train_scripts], [runs[val_script]], out, cfg, inputs=inputs,
                     dictionary=dictionary)
loss_curves(trainer.state); plt.show()
st = trainer.state
print(f"{st.step} steps, " + (f"best validation loss {st.best_val:.3f} at step {st.best_step}"
                              if st.best_val < float("inf") else "no validation check kept a best model"))

# %% [markdown]
# ## On a script the network never heard
#
# The mouth error is Table 3's measure: the 20 mouth landmarks of the predicted and the true body, projected
# with the studio camera, mean distance in pixels.

# %%
model = trainer.best_model()
pred = predict(model, run_sequence(test, inputs).inputs, seq.fps)
posed = apply_dictionary(pred, words, dictionary, seq.fps)[0]      # what synthesis makes of it (section 3.3)
truth = SMPLXParams.load(test.path("truth_params"))
body = BodyModel(backend="free", device="cpu")
camera = Camera.load(test.path("camera"))
print("mouth error:", {k: round(v, 2) for k, v in mouth_error_px(pred, truth, camera, body).items()})
print("per-part error:", {k: round(v, 4) for k, v in part_errors(pred, truth.to_vector()).items()})
t = np.arange(len(pred)) / seq.fps
fig, ax = plt.subplots(2, 1, figsize=(14, 5), sharex=True)
ax[0].plot(t, truth.jaw_pose[:, 0], label="true jaw"); ax[0].plot(t, pred[:, 63], label="predicted jaw"); ax[0].legend()
j = truth.layout.slices()["body_pose"].start + 3 * 18 + 1   # right elbow flexion
ax[1].plot(t, truth.to_vector()[:, j], label="true right elbow"); ax[1].plot(t, pred[:, j], label="predicted")
ax[1].legend()
ax[1].set_xlabel("seconds"); plt.show()

# %% [markdown]
# ## Prediction and truth as skeleton videos, with the speech

# %%
p = SMPLXParams.from_vector(posed, truth.layout, betas=truth.betas)
video = skeleton_video([p.frames(slice(0, 300)), truth.frames(slice(0, 300))], body, camera.scaled(0.75),
                       out.root / "prediction_vs_truth.mp4", seq.fps, audio=test.path("audio"),
                       labels=["predicted + key poses", "truth"])
inline_video(video, width=384)

# %% [markdown]
# ## Does it move like a person? Jitter, diversity, and the floor and ceiling
#
# Per-frame error alone rewards standing still: the *mean pose* (the floor) has a low error and no motion at
# all. So the motion is also measured as the field does (`s2v.evaluation.motion`): **jerk** (m/s³, the third
# derivative of the upper-body joints: jitter), **L1 diversity** (cm: how far the poses spread), **FD_g / FD_k**
# (Fréchet distances of poses and of velocities to the truth's), **BC** (beat consistency with the audio) beside
# **BC shifted** (the same motion against its speech shifted in time: what motion unrelated to the speech
# scores — BC alone rated every moving row alike on a real take), and **wrist speed r** (does it move when the
# speaker moves). On your own run, `python -m s2v pose evaluate --run NAME --test START-END` prints this table
# for a held-out time range, with other segments of the same run as the ceiling. The
# ceiling is the *true motion of another sentence*: human, but not about these words — one sentence is a noisy
# ceiling (on the held-out "technology" script the eight others score FD_g 0.36–0.86, and the speaker's own second
# performance of the same speech 0.20–0.51: `benchmarks/bench_fd_ceiling.py`), so the mean over every other
# script is shown too. Issue 13's bar: jerk
# ≤ 1.5× and L1div ≥ 0.6× the truth's, body and hand errors below the mean pose's. The LSTM alone is quiet where
# it left the key words to the dictionary; "+ key poses" is the motion synthesis makes.

# %%
from s2v.evaluation.motion import baselines, motion_metrics, other_sentences_metrics, table
import soundfile as sf
y = truth.to_vector()
mean = np.concatenate([run_sequence(runs[s], inputs).targets for s in train_scripts]).mean(0)
rows = {"LSTM": pred, "LSTM + key poses": posed, "truth": y}
rows |= baselines(y, run_sequence(runs[val_script]).targets, mean)
rows["mean pose + key poses"] = apply_dictionary(rows["mean pose"], words, dictionary, seq.fps)[0]
audio, sr = sf.read(test.path("audio"), dtype="float32")
metrics = {k: motion_metrics(v, y, seq.fps, audio, sr, body, truth.betas) for k, v in rows.items()}
# one other sentence is a noisy ceiling: also the mean over every other script of this notebook
others = {s: run_sequence(runs[s]).targets for s in train_scripts + [val_script]}
metrics["other sentences (mean)"] = other_sentences_metrics(y, others, seq.fps, audio, sr, body, truth.betas)[0]
errors = {k: part_errors(v, y) for k, v in rows.items()}
print(table({k: {**metrics[k], **{f"{p} err": e for p, e in errors.get(k, {}).items()}} for k in metrics}, 3))
tj, td = metrics["truth"]["jerk (m/s³)"], metrics["truth"]["L1div (cm)"]
for k in ("LSTM", "LSTM + key poses"):
    m, e, e0 = metrics[k], errors[k], errors["mean pose"]
    print(f"{k}: jerk {m['jerk (m/s³)'] / tj:.2f}x, L1div {m['L1div (cm)'] / td:.2f}x the truth's; body/hand "
          f"error {e['body'] / e0['body']:.2f}/{e['hands'] / e0['hands']:.2f}x the mean pose's")

# %% [markdown]
# ## Regression or samples: a generative gesture model
#
# Whatever the loss, the LSTM is a *regression*: one pose per frame, the best guess. Where the speech decides
# the motion (the jaw, a beat on a stressed syllable) that is right; where it leaves a choice open (which hand,
# how wide, whether this syllable gets a gesture at all), the best guess under L2 is the *average* of the
# choices — a still, blurred gesture — and the same speech always gives the same motion. A generative model
# answers with *samples*: a motion the speaker might have made with this speech, and another one for another
# seed. The kit's is a conditional **flow matching** model (`s2v.pose.flow`: a temporal convolution network
# that learns the velocity from noise to motion, sampled in 16 steps over the whole sequence at once; why this
# method rather than VQ codebooks, diffusion or a mixture density network is in its docstring and in
# `benchmarks/RESULTS.md`). It hears the same 28 audio features plus the word timing. `python -m s2v pose --kind
# flow --train RUN --out RUN` trains it from the shell, `synthesize --seed N` then picks the sample, and `pose
# evaluate` puts two seeds beside the LSTM. Read the rows below for: L1div (does it move as much as the
# speaker?), wrist speed r (does it move *when* the speaker moves?), BC against BC shifted (on the beat?), and
# how far apart two seeds are.

# %%
from s2v.evaluation.motion import joints_3d, sample_distance
from s2v.pose.flow import GestureFlowConfig, sample
from s2v.pose.stage import train_flow
fcfg = GestureFlowConfig.preset("default", max_steps=flow_steps, max_minutes=flow_minutes)
flow = train_flow([runs[s] for s in train_scripts], out, fcfg).ema
x_flow = run_sequence(test, "audio+words").inputs
samples = {f"flow seed {k}": sample(flow, x_flow, seed=k, steps=fcfg.sample_steps) for k in (0, 1)}
for k, v in samples.items():
    metrics[k], errors[k] = motion_metrics(v, y, seq.fps, audio, sr, body, truth.betas), part_errors(v, y)
show = ("LSTM", "flow seed 0", "flow seed 1", "truth", "mean pose", "other sentences (mean)")
print(table({k: {**metrics[k], **{f"{p} err": e for p, e in errors.get(k, {}).items()}} for k in show}, 3))
apart = sample_distance(*(joints_3d(v, body, truth.betas) for v in samples.values()))
print(f"two samples {apart:.1f} cm apart ({apart / td:.2f}x the truth's L1div); flow seed 0: jerk "
      f"{metrics['flow seed 0']['jerk (m/s³)'] / tj:.2f}x, L1div {metrics['flow seed 0']['L1div (cm)'] / td:.2f}x")

# %%
wrist = {k: joints_3d(v, body, truth.betas, joints=("right_wrist",))[:, 0, 1]
         for k, v in {"truth": y, "LSTM": pred, **samples}.items()}
fig, ax = plt.subplots(figsize=(10, 3))
for k, h in wrist.items():
    ax.plot(t[:len(h)], h, label=k, lw=2 if k == "truth" else 1)
ax.set(xlabel="s", ylabel="right wrist height (m)", title="one speech: the regression's one answer, two samples")
ax.legend(ncol=4)
plt.show()

# %% [markdown]
# ## Your own motion capture
#
# Motion capture gives the SMPL-X motion directly, without fitting video. The ecosystem's files (AMASS,
# BEAT2: `poses` T×165, `trans`, `betas`, `expressions`, the frame rate under `mocap_frame_rate` or
# `mocap_framerate`) become a run with `s2v.mocap.import_mocap` — from the shell:
#
# ```
# python -m s2v capture --mocap take.npz --audio take.wav --run me_mocap [--transcript take.txt]
# python -m s2v pose --train me_mocap:0-40 --val me_mocap:40-47 --out me_mocap
# ```
#
# The import resamples to the kit's frame rate (slerp per joint), turns MoSh++'s *absolute* finger rotations
# into the kit's (relative to the hand mean; else every hand is a claw), turns AMASS's z-up world to y-up,
# fixes the root as the paper does (and says how far the speaker turned and walked), and reports what the
# 10 shape/expression coefficients cut. `RUN:START-END` splits one long take into training and validation.
# Here, without a file of yours, the test script is written the way AMASS writes motion and read back.

# %%
from s2v.mocap import MocapConfig, import_mocap, to_mocap
if not mocap_file:
    mocap_file = str(out.root / "test_as_amass.npz")
    np.savez(mocap_file, **to_mocap(truth, body, seq.fps, out_fps=120.0, hand_mean="absolute", up="z"))
mc = Run.create(f"{speaker}_mocap", runs_dir)
rep = import_mocap(mocap_file, mc, mocap_audio or test.path("audio"), MocapConfig(fps=seq.fps), model=body,
                   recognize_speech=False)
print(f"{rep.source_frames} frames at {rep.source_fps:g} Hz -> {rep.frames} at {rep.fps:g} fps; fingers "
      f"{rep.hand_mean}, up {rep.up}, root {rep.root} (turned {rep.turned_deg:.0f} deg, walked {rep.walked_m:.2f} m)")
print("\n".join(rep.notes))
back = SMPLXParams.load(mc.path("mocap"))
print(f"largest difference to the original: {np.abs(back.to_vector() - truth.to_vector()[:len(back)]).max():.2e}")
