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
# # 02 · Fitting: from 2D keypoints to SMPL-X parameters
#
# **What this stage does.** For every frame of the recording it finds the 2D keypoints of body, hands and
# face, then the SMPL-X parameters whose projected joints and landmarks match them.
#
# **Why (paper, section 3.2).** Keypoints alone are the wrong representation to learn from (figure 4:
# nothing stops a predicted arm from stretching). A fitted 3D model turns each frame into joint rotations on
# a fixed skeleton. The fit minimises, as SMPLify-X does, the confidence-weighted distance between projected
# model keypoints and detections ("so that noisy detection will have less influence"), plus priors. The
# paper's simplification: the speaker stands still, so **shape and global orientation are estimated on the
# first frames only** and fixed; each frame then has only the **106 pose and expression numbers** left.
#
# **How the kit does it.** The detector is MediaPipe Holistic (its models ship in the wheel), mapped to the
# OpenPose layout (BODY_25 + 2 × 21 hands + 70 face). The fitter optimises *all frames at once* on the
# device with a temporal smoothness term, using a forward pass that skins only the ~200 vertices the
# keypoints need; frames that end in a local minimum are re-started from their best neighbour. On a studio
# recording the result is compared with the ground truth.
#
# **Real speakers are rarely the paper's standing studio speaker.** They sit behind a desk, stand at a lectern
# or talk into a webcam. Only what is *seen* pulls the fit: a keypoint counts when it is confident *and* inside
# the image (detectors extrapolate hidden hips to the frame edge with a confidence that looks fine). The
# **framing** is read from which body points are seen — `full` (ankles), `half` (hips, no ankles),
# `head_shoulders` (no hips) — or given (`seated` is never guessed: a desk hides bent and straight legs alike).
# Joints with nothing seen stay at the framing's rest pose (standing, or seated); the skeleton images of later
# stages draw only what the recording showed. A frame *fails* when its mean residual passes 4 % of the
# person's height; a frame with no person is flagged *missing* and bridged from its neighbours. The last two
# sections fit a **real** half-body track (DWPose keypoints of a real speaker) and a **seated** studio speaker.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
run_name = "studio_demo"   # a run with capture/recording.mp4 (notebook 01)
runs_dir = ""           # "": $S2V_RUNS, else runs/ of the kit's checkout (the CLI's too)
source = "video"           # video: MediaPipe on the frames; truth: studio ground truth + noise
noise_px = 1.0             # keypoint noise (px) when source is truth
steps = 250                # optimisation steps over all frames
backend = "auto"           # body model
framing = "auto"           # auto | full | half | head_shoulders | seated
real_keypoints = ""        # a real DWPose track .npz ("": the one beside the kit's checkout, skipped if absent)
real_steps = 250           # optimisation steps for it (the default fit)
seated_seconds = 3.0       # length of the seated studio clip
seated_size = 256          # its image width (px)
seated_height = None       # its image height (None: 16:9, a desk shot)

# %%
from s2v.run import runs_root
runs_dir = str(runs_root(runs_dir))
print("runs:", runs_dir)
import numpy as np, matplotlib.pyplot as plt
from s2v.run import Run
from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.fitting.detect import detect_run, DetectorUnavailable
from s2v.fitting.fit import FitConfig, fit_run, joint_errors_mm
from s2v.keypoints import KeypointTrack, SLICES, project_model
from s2v.params import SMPLXParams
from s2v.plots import fit_losses, keypoints_grid
from s2v.video import read_video

run = Run.open(run_name, runs_dir)
try:
    track = detect_run(run, source=source, noise_px=noise_px)
except DetectorUnavailable as err:   # no MediaPipe: use the studio's truth so the notebook still teaches
    print(err); source = "truth"; track = detect_run(run, source="truth", noise_px=noise_px)
found = {p: float((track.points[:, sl, 2] > 0.5).any(1).mean()) for p, sl in SLICES.items()}
print("frames with the part found:", {k: f"{v:.0%}" for k, v in found.items()})

# %%
res = fit_run(run, FitConfig(steps=steps, framing=framing), backend=backend)
print(f"median reprojection error {np.median(res.residual_px):.2f} px, "
      f"{int(res.failed.sum())} of {len(res.failed)} frames failed")
print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.quality().items()})
print("shape (betas):", np.round(res.params.betas[:5], 2),
      " global orientation:", np.round(res.params.global_orient[0], 3))
fit_losses(res.loss_terms); plt.show()    # stage 1 (shape, orientation) then all frames (data, prior, smooth)

# %% [markdown]
# ## Detections and the fitted skeleton
#
# Top: the detected keypoints; bottom: the fitted model's keypoints projected with the same camera. The file
# `fit/overlay.mp4` (also `python -m s2v fit --overlay`) shows both over every frame: white dots are the
# detections the fit used, red ones those it ignored, a red border marks a failed frame.

# %%
frames, _ = read_video(run.path("recording"))
model = BodyModel(backend=backend, device="cpu")
camera = Camera.load(run.path("camera")) if run.has("camera") else Camera.default_for(track.width, track.height)
fitted = project_model(model, res.params, camera)
idx = np.linspace(0, len(frames) - 1, 4).astype(int)
pairs = np.concatenate([keypoints_grid(frames, track.points, idx, cols=4),
                        keypoints_grid(frames, fitted, idx, cols=4)], 0)
plt.figure(figsize=(14, 7)); plt.imshow(pairs); plt.axis("off"); plt.show()
from s2v.fitting.fit import fit_overlay_video
print("overlay video:", fit_overlay_video(run, backend=backend))

# %% [markdown]
# ## Residuals over time, and the worst frames

# %%
fig, ax = plt.subplots(figsize=(14, 3))
t = np.arange(len(res.residual_px)) / track.fps
ax.plot(t, res.residual_px, lw=1); ax.set_xlabel("seconds"); ax.set_ylabel("mean error (px)")
ax.scatter(t[res.failed], res.residual_px[res.failed], color="red", s=12, label="failed")
ax.legend(); plt.show()
worst = np.argsort(res.residual_px)[-4:]
print("worst frames:", worst, np.round(res.residual_px[worst], 1), "px")
plt.figure(figsize=(14, 4)); plt.imshow(keypoints_grid(frames, fitted, worst, cols=4)); plt.axis("off"); plt.show()

# %% [markdown]
# ## Against the ground truth (studio recordings only)
#
# MPJPE: mean 3D joint error after aligning the pelvis. PA-MPJPE: after the best similarity transform, which
# removes what one camera cannot see (overall scale and depth).

# %%
if run.has("truth_params"):
    truth = SMPLXParams.load(run.path("truth_params"))
    err = joint_errors_mm(res.params, truth, model)
    print({k: round(v, 1) for k, v in err.items()})
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.plot(t, truth.jaw_pose[:, 0], label="jaw (truth)"); ax.plot(t, res.params.jaw_pose[:, 0], label="jaw (fitted)")
    ax.set_xlabel("seconds"); ax.legend(); plt.show()

# %% [markdown]
# ## A real half-body speaker
#
# A real person talking behind the camera's lower edge: DWPose keypoints (body, hands, face) of a real video,
# 768 × 768, hips detected *below* the image. They are ignored, the framing is read as half body or head and
# shoulders, and the seen parts are fitted. Drawn over a grey canvas (the video is not shipped): white dots are
# the detections used, red ones the ignored, the coloured skeleton is the fit. Residuals are per part, in px
# and as a fraction of the person's height in the image.

# %%
from pathlib import Path
from s2v.fitting.fit import fit_sequence, seen_points
from s2v.keypoints import REAL_HALFBODY_TRACK
from s2v.render.overlay import overlay_grid
real_keypoints = real_keypoints or REAL_HALFBODY_TRACK
if Path(real_keypoints).exists():
    real = KeypointTrack.from_dwpose_npz(real_keypoints)
    cam_r = Camera.default_for(real.width, real.height)
    rres = fit_sequence(real, cam_r, model, FitConfig(steps=real_steps), progress=False)
    q = rres.quality()
    print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in q.items()})
    print("median residual / person height:",
          {p: f"{q[f'median_{p}_px'] / q['person_px']:.1%}" for p in ("body", "left_hand", "right_hand", "face")})
    idx = np.linspace(0, len(real) - 1, 4).astype(int)
    grid = overlay_grid(project_model(model, rres.params, cam_r), real.points, seen_points(real), idx,
                        (real.width, real.height))
    plt.figure(figsize=(14, 4)); plt.imshow(grid); plt.axis("off"); plt.show()
else:
    print(f"no real track at {real_keypoints} (it ships beside the kit's development checkout only)")

# %% [markdown]
# ## A seated speaker behind a desk
#
# The studio can seat its speaker behind a desk that hides the legs (forearms resting forward). The framing is
# given (`seated`): the unseen legs stay bent at the seated rest pose, the rest is fitted from MediaPipe's
# keypoints on the rendered video and compared with the truth.

# %%
from s2v.studio import StudioConfig, record
seated = Run.create(f"{run_name}_seated", runs_dir)
if not seated.has("recording"):
    record(StudioConfig(framing="seated", width=seated_size, height=seated_height or seated_size * 9 // 16,
                        max_seconds=seated_seconds,
                        pose_session=False), seated, progress=False)
try:
    detect_run(seated, progress=False)
except DetectorUnavailable:
    detect_run(seated, source="truth", noise_px=noise_px, progress=False)
sres = fit_run(seated, FitConfig(steps=steps, framing="seated"), backend=backend, progress=False)
print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in sres.quality().items()})
seated_truth = SMPLXParams.load(seated.path("truth_params"))
print({k: round(v, 1) for k, v in joint_errors_mm(sres.params, seated_truth, model).items()})
sframes, _ = read_video(seated.path("recording"))
strack = KeypointTrack.load(seated.path("keypoints"))
sfit = project_model(model, sres.params, Camera.load(seated.path("camera")))
grid = overlay_grid(sfit, strack.points, seen_points(strack), np.linspace(0, len(sframes) - 1, 4).astype(int),
                    (strack.width, strack.height), frames=sframes, failed=sres.failed)
plt.figure(figsize=(14, 4)); plt.imshow(grid); plt.axis("off"); plt.show()
