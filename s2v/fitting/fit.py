"""Body model fitting: 2D keypoints -> SMPL-X parameters per frame (paper section 3.2).

The objective is SMPLify-X's: the confidence-weighted, robust (Geman-McClure) distance between the
projected model keypoints and the detections, plus priors on pose, hands, expression and shape. The paper
simplifies it for a speaker standing still in front of a fixed camera: shape ``betas``, global orientation
(and translation) are estimated on the **first frames only** and then fixed, so each frame has only the
**106 pose + expression numbers** left.

Unlike SMPLify-X, which runs one optimisation per image, :func:`fit_sequence` optimises all frames of a
sequence together on the device, with a temporal smoothness term; :func:`fit_per_frame` is the per-frame
loop kept for comparison (``benchmarks/bench_fitting.py``). Both use the keypoint-only forward of
:meth:`s2v.body.BodyModel.keypoints`.

Real recordings rarely show the whole standing body of the paper's studio: a speaker sits behind a desk,
stands at a lectern or talks into a webcam. What the fitter does about it:

* **Only what is seen pulls.** A keypoint counts when its confidence passes ``conf_threshold`` *and* it lies
  inside the image: detectors extrapolate hidden hips and legs to (or past) the frame edge with a confidence
  that looks fine (MediaPipe: hips at y = 744 of 720 with 0.75), so points outside the image are dropped.
* **The framing** (:func:`detect_framing`) is read from which body points are seen: ``full`` (ankles seen),
  ``half`` (hips seen, not the ankles), ``head_shoulders`` (no hips). ``seated`` is never guessed (a desk
  hides the same points whether the legs are bent or not) and is given by the user. Body joints that place
  keypoints seen in under a fifth of the frames (legs under a desk, arms below a webcam's frame) are held at
  the framing's rest pose (standing; or seated: hips and knees bent 90 degrees, forearms forward on the desk)
  by a strong prior; the joints that are seen are fitted.
* **Edges are one-sided.** A detector puts a joint that leaves the image at (or just inside) the edge: a point
  within ``edge_margin`` of an edge only says "here or beyond" (:func:`_residual`). With two-sided residuals, the
  elbows of a head-and-shoulders view (MediaPipe: 8 px above the bottom edge, truth 252-260 of 256) made the upper
  arms foreshortened, and the fit swung them 110 mm back in depth.
* **Collar bones are held** (``joint_prior``): they turn the shoulders in depth, which one view barely sees;
  free, they traded the shoulders' depth for the shape's width (35-48 mm off in a head-and-shoulders view).
* **Far-off keypoints still pull.** The robust (Geman-McClure) scale is 0.05 image heights (36 px at 720p;
  SMPLify-X uses 100 px at about 1000 px): with 0.03 (22 px at 720p) a real desk speaker's raised hands,
  150 px from the arms-down start, fell in the flat part of the loss (the real DWPose track: hands 35-41 px
  off, 9 failed frames); 0.08 fits that track best but costs 12 mm of studio upper-body MPJPE. Measured and
  dropped (``benchmarks/RESULTS.md``, issue 12): annealing the scale from a plain L2 down (SMPLify's
  coarse-to-fine) sends studio arms into wrong depths (+30-60 mm); residuals in person heights or averaged
  per part weaken the priors the same way.
* **Close-ups take smaller first steps** (``FitConfig.max_step``). Adam's first steps move every variable by
  about ``lr`` whatever its gradient; a turn of 0.04 rad about the pelvis moves the face of a real 720p
  head-and-shoulders speaker (zoom = fx / depth = 2 image heights per metre) by 32 px, about the robust scale:
  stage 1 fled into the flat part of the loss and every frame failed (residual 80 px, four real clips 57-100 %
  failed). Stage 1 (shape, orientation, placement) now takes ``min(lr, max_step / zoom)``; the studio's
  standing speaker (zoom 0.5) keeps ``lr``; stage 2 (the per-frame poses, shorter levers) keeps ``lr`` too
  (capped there as well, the real DWPose track's body residual rose 14.6 -> 19.2 px).
* **The jaw line is not fitted** (``part_weights["contour"] = 0``, SMPLify-X's default): a detector's contour is
  the face's silhouette, the body model's is fixed vertices (MediaPipe's is 1.5x as wide as the free model's on
  the studio's own renders). Fitted, it pulled a real close-up's face 41 px off and shrank the head; without it
  the four real clips fit with 0-4 failed frames (face 5.6-6.1 px) and the DWPose track's face 8.5 -> 3.1 px, at
  2-3 mm more studio MPJPE for the full and knees-up views (``benchmarks/RESULTS.md``, issue 27).
* **Flags mean something.** A frame *fails* when its mean residual exceeds ``fail_frac`` of the person's height
  in the image (the median box of the seen keypoints), so a small or off-centre person is judged like a large
  centred one — but never below ``fail_min_px``: on a small person the detector's own error is larger than 4 %
  (MediaPipe on the 66 px seated studio speaker: 3-8 px per body point against the truth; a hand seen in one
  frame, a few px wide, failed a frame whose body fitted to 1 px). A frame where the person is *missing* (fewer
  than 4 body points seen) is flagged apart and bridged by the temporal term from its neighbours. Residuals are
  reported per part (body, each hand, face).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from s2v.body.hands import basis_meta, load_hand_basis
from s2v.body.poses import arms_down
from s2v.camera import Camera
from s2v.keypoints import SLICES, KeypointTrack, smplx_to_openpose_index
from s2v.params import ParamLayout, SMPLXParams


@dataclass
class FitConfig:
    init_frames: int = 8            # section 3.2: shape and global orientation from the first frames
    init_steps: int = 200
    steps: int = 250                # Adam steps on all frames together
    lr: float = 0.04
    # Adam's first steps are ``lr`` in every coordinate whatever the gradient: a turn of the whole body about
    # the pelvis by 0.04 rad moves a close-up face by 0.04 * 0.7 m * zoom (zoom = fx / depth in image heights
    # per metre), 32 px at 720p for a real head-and-shoulders speaker: past the robust scale, and the fit fled
    # into the loss's flat part (100 % failed frames). The step is capped at ``max_step`` image heights per
    # metre of lever (module docstring); a full-body studio view (zoom 0.5) keeps ``lr``.
    max_step: float = 0.02
    conf_threshold: float = 0.2     # detections below this confidence are ignored
    robust_sigma: float = 0.05      # Geman-McClure scale, in image heights (see module docstring)
    framing: str = "auto"           # "auto", "full", "half", "head_shoulders" or "seated" (module docstring)
    unseen_prior: float = 1e3       # w_pose multiplier that holds body joints with no seen keypoint at rest
    # the jaw line (contour) is left out as SMPLify-X does by default: a detector's contour is the face's
    # silhouette, the model's is fixed vertices, 0.63x as wide for MediaPipe's on the studio's own model (module
    # docstring); fitted, it pulled the face 8.8 px (studio) and 41 px (real 720p close-up) off and failed frames
    part_weights: dict = field(default_factory=lambda: {"body": 1.0, "hands": 1.0, "face": 1.0, "contour": 0.0})
    w_pose: float = 2e-5            # body pose towards a relaxed standing pose (weak: gestures are large)
    # per-joint multipliers of w_pose: a speaker stands still (section 3.2), so legs and spine move little;
    # without this, keypoint-convention offsets of a detector (e.g. ankles a few px off) become leg tilts in depth
    joint_prior: dict = field(default_factory=lambda: {
        "left_hip": 50.0, "right_hip": 50.0, "left_knee": 50.0, "right_knee": 50.0, "left_ankle": 50.0,
        "right_ankle": 50.0, "left_foot": 50.0, "right_foot": 50.0, "spine1": 10.0, "spine2": 10.0,
        "spine3": 10.0, "left_wrist": 5.0, "right_wrist": 5.0,
        # the collar bones turn the shoulders in depth, which one view barely sees: free, they traded the
        # shoulders' depth for the shape's width (head and shoulders: 35-48 mm off; bench_framings)
        "left_collar": 200.0, "right_collar": 200.0})
    w_bend: float = 1e-2            # elbows and knees bend one way only
    w_hands: float = 2e-5           # hand PCA coefficients (MANO-style L2 prior)
    w_expression: float = 1e-5
    w_jaw: float = 1e-4
    w_betas: float = 1e-6
    w_orient: float = 1e-3          # global orientation towards upright and facing the camera (a studio)
    w_smooth: float = 2e-3          # consecutive frames (whole 106-vector, scaled per part)
    hand_basis: str = "model"      # "model": the body model's hand PCA; "speaker": the speaker's own (s2v.body.hands)
    edge_margin: float = 0.04       # image heights: a point this close to the image's edge may lie beyond it
    fail_frac: float = 0.04         # a frame whose mean residual exceeds this fraction of the person's height fails
    fail_min_px: float = 4.0        # ... and this many px (a small person's detector noise is larger than 4 %)
    min_person_px: float = 48.0     # a person smaller than this (box height, px) is refused: too small to fit
    recovery_rounds: int = 3        # re-fit failed frames from their nearest good neighbour
    recovery_steps: int = 80
    shoulder_width: float = 0.36    # metres, for the initial depth guess
    device: str | None = None


#: What the camera shows (module docstring); ``auto`` picks one of the first three.
FRAMINGS = ("full", "half", "head_shoulders", "seated")
#: The face's 17 jaw-line points (iBUG 0-16) in the 137-point layout.
CONTOUR = slice(SLICES["face"].start, SLICES["face"].start + 17)
RESIDUAL_PARTS = ("body", "left_hand", "right_hand", "face")
_LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot",
               "right_foot")
#: The SMPL-X joints whose rotation places each BODY_25 keypoint: held at rest when the keypoint is unseen.
_JOINTS_OF_BODY25 = {9: ("right_hip",), 12: ("left_hip",), 10: ("right_knee",), 13: ("left_knee",),
                     11: ("right_ankle", "right_foot"), 14: ("left_ankle", "left_foot"),
                     3: ("right_shoulder",), 6: ("left_shoulder",), 4: ("right_elbow",), 7: ("left_elbow",)}


@dataclass
class FitResult:
    params: SMPLXParams
    residual_px: np.ndarray         # (T,) mean reprojection error of the seen keypoints
    failed: np.ndarray              # (T,) bool: the fit does not match what was seen
    losses: list[float]
    parts_px: np.ndarray | None = None   # (T, 4) mean residual per part (RESIDUAL_PARTS order), NaN where unseen
    missing: np.ndarray | None = None    # (T,) bool: no person seen (bridged from the neighbours)
    seen: np.ndarray | None = None       # (137,) bool: keypoints seen often enough to be drawn downstream
    framing: str = "full"
    person_px: float = 0.0          # the person's height in the image (px): the unit of the flags
    fps: float = 30.0
    hand_basis: dict | None = None  # the speaker's own hand PCA rows per side (s2v.body.hands), or None
    loss_terms: dict | None = None  # {term: (steps,)} data, prior, shape, orientation, smooth; NaN where not used

    def __post_init__(self) -> None:
        T = len(self.residual_px)
        if self.missing is None:
            self.missing = np.zeros(T, bool)
        if self.parts_px is None:
            self.parts_px = np.full((T, len(RESIDUAL_PARTS)), np.nan, np.float32)
        if self.seen is None:
            self.seen = np.ones(137, bool)

    def save(self, path) -> None:
        self.params.save(path, residual_px=self.residual_px, failed=self.failed, missing=self.missing,
                         parts_px=self.parts_px, seen=self.seen, framing=self.framing, person_px=self.person_px,
                         fps=self.fps, **(basis_meta(self.hand_basis) if self.hand_basis is not None else {}))

    def quality(self) -> dict:
        """Summary figures of the fit (what ``s2v run show`` and the next stages read)."""
        T = len(self.residual_px)
        ok = ~self.missing
        parts = {f"median_{p}_px": (float(np.nanmedian(self.parts_px[ok, i]))
                                    if ok.any() and np.isfinite(self.parts_px[ok, i]).any() else None)
                 for i, p in enumerate(RESIDUAL_PARTS)}
        return {"frames": T, "failed": int(self.failed.sum()), "missing": int(self.missing.sum()),
                "failed_fraction": float((self.failed | self.missing).mean()) if T else 1.0,
                "median_residual_px": float(np.median(self.residual_px[ok])) if ok.any() else None,
                **parts, "person_px": round(float(self.person_px), 1), "framing": self.framing, "fps": self.fps}


#: A fit that failed (or found no person) on more than this fraction of the frames stops the later stages.
MAX_FAILED = 0.5


class FitQualityError(ValueError):
    """The fit of a run failed on too many frames for the later stages to learn from it."""


class _Projector:
    """Model keypoints -> OpenPose-layout pixels, differentiable."""

    def __init__(self, model, camera: Camera):
        self.model, self.camera = model, camera
        idx = smplx_to_openpose_index(model.use_face_contour)
        self.valid = torch.as_tensor(idx >= 0, device=model.device)
        self.idx = torch.as_tensor(np.maximum(idx, 0), device=model.device)

    def __call__(self, params: dict) -> torch.Tensor:
        kp = self.model.keypoints(params)[:, self.idx]
        kp = torch.cat([kp[:, :1], (kp[:, 2:3] + kp[:, 5:6]) / 2, kp[:, 2:]], 1)  # neck = shoulder midpoint
        return self.camera.project(kp)


def _gmof(sq: torch.Tensor, sigma: float) -> torch.Tensor:
    s2 = sigma ** 2
    return s2 * sq / (s2 + sq)


def seen_points(track: KeypointTrack, conf_threshold: float = 0.2) -> np.ndarray:
    """(T, 137) bool: confident detections inside the image (extrapolated hidden joints fall outside)."""
    p = track.points
    inside = (p[..., 0] >= 0) & (p[..., 0] <= track.width - 1) & (p[..., 1] >= 0) & (p[..., 1] <= track.height - 1)
    return (p[..., 2] >= conf_threshold) & inside


def person_height_px(track: KeypointTrack, seen: np.ndarray) -> float:
    """The person's height in the image: median over frames of the vertical extent of the seen keypoints."""
    y = np.where(seen, track.points[..., 1], np.nan)
    ok = seen.sum(1) >= 4
    if not ok.any():
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.median(np.nanmax(y[ok], 1) - np.nanmin(y[ok], 1)))


def detect_framing(seen: np.ndarray, min_fraction: float = 0.5) -> str:
    """``full`` / ``half`` / ``head_shoulders`` from how often ankles and hips are seen (``seated`` is
    never guessed: the user says it)."""
    present = seen[:, SLICES["body"]].sum(1) >= 4
    if not present.any():
        return "full"
    frac = seen[present][:, SLICES["body"]].mean(0)
    if max(frac[11], frac[14]) >= min_fraction:
        return "full"
    if max(frac[9], frac[12]) >= min_fraction:
        return "half"
    return "head_shoulders"


def framing_advice(framing: str, seen: np.ndarray) -> str | None:
    """A note when a found framing may be the wrong guess: ``head_shoulders`` (no hips) with the elbows and
    wrists in view is how a seated desk shot looks too (a real talk-show host: 5 failed frames and hands 3x
    worse than with ``seated``). ``seen``: the (137,) keypoints the recording showed."""
    body = np.asarray(seen)[SLICES["body"]]
    if framing == "head_shoulders" and body[[3, 6]].any() and body[[4, 7]].any():
        return ("elbows and hands are in view but no hips: if the speaker sits behind a desk, fit again with "
                "--framing seated (head_shoulders holds the unseen arms hanging)")
    return None


def _weights(track: KeypointTrack, seen: np.ndarray, cfg: FitConfig, device) -> torch.Tensor:
    w = np.where(seen, track.points[..., 2], 0.0).astype(np.float32)
    for part, sl in SLICES.items():
        key = "hands" if part.endswith("hand") else part
        w[:, sl] *= cfg.part_weights.get(key, 1.0)
    w[:, CONTOUR] *= cfg.part_weights.get("contour", 1.0)
    return torch.as_tensor(w, device=device)


@dataclass
class _Problem:
    """What both fitters optimise against."""
    proj: _Projector
    obs: torch.Tensor      # (T, 137, 2) observed pixels
    w: torch.Tensor        # (T, 137) per-point weights (0: not seen)
    H: float               # image height: the unit of the data term
    S: float               # the person's height in px: the unit of the failure flags
    seen: np.ndarray       # (T, 137)
    framing: str
    size: torch.Tensor     # (2,) image width and height in px
    margin: float          # px: points closer than this to an edge are one-sided (:func:`_residual`)


def _problem(track: KeypointTrack, camera: Camera, model, cfg: FitConfig) -> _Problem:
    seen = seen_points(track, cfg.conf_threshold)
    S = person_height_px(track, seen)
    if S <= 0:
        raise ValueError("no person detected in any frame (no confident body keypoints inside the image)")
    if S < cfg.min_person_px:
        raise ValueError(f"the person is too small to fit: {S:.0f} px tall in a {track.width}x{track.height} "
                         f"image (at least {cfg.min_person_px:g} px); crop the video around the speaker "
                         "(capture --crop) or record closer")
    framing = detect_framing(seen) if cfg.framing == "auto" else cfg.framing
    if framing not in FRAMINGS:
        raise ValueError(f"framing {cfg.framing!r}: choose 'auto' or one of {FRAMINGS}")
    return _Problem(_Projector(model, camera), torch.as_tensor(track.points[..., :2], device=model.device),
                    _weights(track, seen, cfg, model.device), float(track.height), S, seen, framing,
                    torch.tensor([track.width, track.height], dtype=torch.float32, device=model.device),
                    cfg.edge_margin * track.height)


def facing_camera(camera: Camera) -> np.ndarray:
    """Axis-angle global orientation of a body standing upright and facing ``camera``."""
    R = camera.R.T @ np.diag([1.0, -1.0, -1.0])  # body x, y, z = camera right, up, towards the camera
    return Rotation.from_matrix(R).as_rotvec().astype(np.float32)


def _initial_translation(model, camera: Camera, track: KeypointTrack, frames: np.ndarray, seen: np.ndarray,
                         cfg: FitConfig, go: np.ndarray) -> np.ndarray:
    """Place the pelvis so the shoulders' pixel width matches the model's at that depth."""
    pts = track.points[frames]
    ok = seen[frames, 2] & seen[frames, 5]
    if not ok.any():
        raise ValueError("no shoulders detected in the first frames: is there a person in the video?")
    w_px = np.median(np.linalg.norm(pts[ok, 2, :2] - pts[ok, 5, :2], axis=-1))
    depth = camera.fx * cfg.shoulder_width / max(w_px, 1.0)
    mid = np.median((pts[ok, 2, :2] + pts[ok, 5, :2]) / 2, axis=0)
    target = camera.backproject(mid, depth)                   # world point of the shoulder midpoint
    rest = model.rest_joints()
    sh_mid = (rest[16] + rest[17]) / 2                        # model frame
    R = Rotation.from_rotvec(go).as_matrix()
    return (target - R @ sh_mid).astype(np.float32)


def step_size(camera: Camera, transl: np.ndarray, cfg: FitConfig) -> float:
    """Adam's learning rate for a person at ``transl`` (the initial guess): ``cfg.lr``, capped so one step of a
    rotation moves the image by at most ``cfg.max_step`` image heights per metre of lever (see ``FitConfig.lr``).
    The zoom is ``fx / depth / height``: 0.5 for the studio's standing speaker, 2 for a real close-up."""
    depth = float((camera.R @ np.asarray(transl, np.float64) + camera.t)[2])
    zoom = camera.fy / max(depth, 1e-3) / camera.height
    return float(min(cfg.lr, cfg.max_step / zoom))


def _joint_prior_weights(cfg: FitConfig, device, unseen: tuple[str, ...] = ()) -> torch.Tensor:
    from s2v.body.joints import JOINT_NAMES

    w = np.ones(63, np.float32)
    for name, mult in cfg.joint_prior.items():
        j = JOINT_NAMES.index(name) - 1
        w[3 * j:3 * j + 3] = mult
    for name in unseen:
        j = JOINT_NAMES.index(name) - 1
        w[3 * j:3 * j + 3] = cfg.unseen_prior
    return torch.as_tensor(w * cfg.w_pose, device=device)


def unseen_joints(seen: np.ndarray, framing: str, min_fraction: float = 0.2) -> tuple[str, ...]:
    """Body joints held at the framing's rest pose: those whose keypoints are seen in under ``min_fraction``
    of the frames with a person (all leg joints when seated)."""
    if framing == "seated":
        return _LEG_JOINTS
    present = seen[:, SLICES["body"]].sum(1) >= 4
    frac = seen[present][:, SLICES["body"]].mean(0) if present.any() else np.zeros(25)
    out: list[str] = []
    for k, joints in _JOINTS_OF_BODY25.items():
        if frac[k] < min_fraction:
            out += joints
    return tuple(out)


def rest_vector(layout: ParamLayout, framing: str = "full") -> np.ndarray:
    """The pose the priors pull towards and fitting starts from: arms relaxed at the sides, standing (or,
    ``seated``, hips and knees bent 90 degrees and the forearms forward)."""
    from s2v.body.poses import set_joint

    rest = np.zeros(layout.frame_dim, np.float32)
    body = arms_down(65.0)
    if framing == "seated":  # on a chair, forearms forward onto the desk (where desk speakers keep them)
        for side, s in (("left", -1.0), ("right", 1.0)):
            set_joint(body, f"{side}_hip", [-np.pi / 2, 0, 0])
            set_joint(body, f"{side}_knee", [np.pi / 2, 0, 0])
            set_joint(body, f"{side}_elbow", [0, s * 1.2, 0])
    rest[layout.slices()["body_pose"]] = body
    return rest


def _priors(vec: torch.Tensor, layout: ParamLayout, rest: torch.Tensor, joint_w: torch.Tensor,
            cfg: FitConfig) -> torch.Tensor:
    sl = layout.slices()
    body = vec[:, sl["body_pose"]]
    loss = (joint_w * (body - rest[sl["body_pose"]]) ** 2).sum(1)
    # elbows (joints 18, 19) flex about -y / +y, knees (4, 5) about +x: penalise the wrong direction
    bend = torch.relu(body[:, 3 * 17 + 1]) + torch.relu(-body[:, 3 * 18 + 1]) + \
        torch.relu(-body[:, 3 * 3 + 0]) + torch.relu(-body[:, 3 * 4 + 0])
    loss = loss + cfg.w_bend * bend ** 2
    loss = loss + cfg.w_hands * (vec[:, sl["left_hand_pose"]] ** 2).sum(1)
    loss = loss + cfg.w_hands * (vec[:, sl["right_hand_pose"]] ** 2).sum(1)
    loss = loss + cfg.w_expression * (vec[:, sl["expression"]] ** 2).sum(1)
    loss = loss + cfg.w_jaw * (vec[:, sl["jaw_pose"]] ** 2).sum(1)
    loss = loss + cfg.w_expression * ((vec[:, sl["leye_pose"]] ** 2).sum(1) + (vec[:, sl["reye_pose"]] ** 2).sum(1))
    return loss


def _residual(pb: _Problem, uv: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Projected minus detected pixels, one-sided at the image's edges: a detector places a joint that leaves
    the image at (or near) the edge, so a point within ``pb.margin`` of an edge only says "here or beyond": the
    model is pulled back if it lies inside of it, never for lying beyond. (MediaPipe on the studio's
    head-and-shoulders view put the elbows 8 px above the bottom edge while they were at 252-260 of 256: fitted
    two-sided, the foreshortened upper arms swung 110 mm back in depth; bench_framings.)"""
    r = uv - obs
    r = torch.where(obs > pb.size - 1 - pb.margin, r.clamp(max=0.0), r)
    return torch.where(obs < pb.margin, r.clamp(min=0.0), r)


def _data(pb: _Problem, vec, fixed: dict, obs: torch.Tensor, w: torch.Tensor, cfg: FitConfig, layout: ParamLayout):
    d = {n: vec[:, s] for n, s in layout.slices().items()}
    d.update({k: v.expand(len(vec), -1) for k, v in fixed.items()})
    uv = pb.proj(d)
    sq = ((_residual(pb, uv, obs) / pb.H) ** 2).sum(-1)
    return (w * _gmof(sq, cfg.robust_sigma)).sum(1) / w.sum(1).clamp(min=1.0), uv


def fit_sequence(track: KeypointTrack, camera: Camera, model, cfg: FitConfig | None = None,
                 progress: bool = True) -> FitResult:
    """Fit SMPL-X to a whole keypoint sequence at once (shape/orientation from the first frames)."""
    from tqdm.auto import tqdm

    cfg = cfg or FitConfig()
    dev = model.device
    lay = model.layout
    T = len(track)
    pb = _problem(track, camera, model, cfg)
    obs, w = pb.obs, pb.w
    visible = (w[:, SLICES["body"]] > 0).sum(1) >= 4
    if not visible.any():
        raise ValueError("no person detected in any frame (no confident body keypoints)")

    rest_t = torch.as_tensor(rest_vector(lay, pb.framing), device=dev)
    joint_w = _joint_prior_weights(cfg, dev, unseen_joints(pb.seen, pb.framing))
    go0 = facing_camera(camera)
    first = np.nonzero(visible.cpu().numpy())[0][:cfg.init_frames]
    tr0 = _initial_translation(model, camera, track, first, pb.seen, cfg, go0)
    lr = step_size(camera, tr0, cfg)

    # --- stage 1: shape, global orientation, translation (+ poses) on the first frames
    betas = torch.zeros(1, lay.num_betas, device=dev, requires_grad=True)
    go_init = torch.as_tensor(go0[None], device=dev)
    go = go_init.clone().requires_grad_(True)
    tr = torch.as_tensor(tr0[None], device=dev).clone().requires_grad_(True)
    v1 = rest_t.repeat(len(first), 1).clone().requires_grad_(True)
    o1, w1 = obs[first], w[first]
    losses: list[float] = []
    terms: list[dict] = []

    def log(t: dict) -> torch.Tensor:
        """Sum the loss terms ``t``; the total and each term go into the history (notebook 02 plots them)."""
        loss = sum(t.values())
        losses.append(float(loss.detach()))
        terms.append({k: float(v.detach()) for k, v in t.items()})
        return loss
    bar = tqdm(total=cfg.init_steps + cfg.steps, desc="fitting", unit="step", disable=not progress)
    for phase, (vars_, steps) in enumerate((([go, tr], cfg.init_steps // 3),
                                             ([go, tr, betas, v1], cfg.init_steps - cfg.init_steps // 3))):
        opt = torch.optim.Adam(vars_, lr=lr)
        wt = w1.clone()
        if phase == 0:  # torso only first (SMPLify's camera/orientation initialisation)
            torso = torch.zeros_like(wt)
            torso[:, [1, 2, 5, 8, 9, 12]] = wt[:, [1, 2, 5, 8, 9, 12]]
            wt = torso
        for _ in range(steps):
            opt.zero_grad()
            data, _ = _data(pb, v1, {"betas": betas, "global_orient": go, "transl": tr}, o1, wt, cfg, lay)
            loss = log({"data": data.mean(), "prior": _priors(v1, lay, rest_t, joint_w, cfg).mean(),
                        "shape": cfg.w_betas * (betas ** 2).sum(),
                        "orientation": cfg.w_orient * ((go - go_init) ** 2).sum()})
            loss.backward()
            opt.step()
            bar.update()

    # --- stage 2: the 106 per-frame numbers of all frames together, shape/orientation fixed
    fixed = {"betas": betas.detach(), "global_orient": go.detach(), "transl": tr.detach()}
    init = v1.detach().mean(0)
    vec = init.repeat(T, 1).clone()
    vec[torch.as_tensor(first, device=dev)] = v1.detach()
    vec.requires_grad_(True)
    smooth_w = torch.as_tensor(lay.part_weights({"body": 1.0, "hands": 0.1, "mouth": 1.0, "face": 0.05}), device=dev)

    def refine(vec: torch.Tensor, steps: int) -> torch.Tensor:
        vec = vec.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([vec], lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=cfg.lr * 0.05)
        for _ in range(steps):
            opt.zero_grad()
            data, _ = _data(pb, vec, fixed, obs, w, cfg, lay)
            t = {"data": data.mean(), "prior": _priors(vec, lay, rest_t, joint_w, cfg).mean()}
            if T > 1:
                t["smooth"] = cfg.w_smooth * (((vec[1:] - vec[:-1]) ** 2) * smooth_w).sum(1).mean()
            loss = log(t)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
        return vec.detach()

    vec = refine(vec, cfg.steps)
    # frames stuck in a local minimum (e.g. a hand turned the wrong way) restart from their nearest
    # well-fitted neighbour: the warm start of a per-frame fitter, for just the frames that need it; when
    # every frame failed, from the best-fitted frames
    for _ in range(cfg.recovery_rounds):
        r = _result(pb, vec, fixed, cfg, lay, [], track.fps)
        bad = r.failed
        if not bad.any():
            break
        good = np.nonzero(~bad & ~r.missing)[0]
        if len(good) == 0:
            good = np.argsort(r.residual_px + 1e9 * r.missing)[:max(1, (~r.missing).sum() // 10)]
        src = good[np.abs(good[None, :] - np.nonzero(bad)[0][:, None]).argmin(1)]
        vec[torch.as_tensor(np.nonzero(bad)[0], device=dev)] = vec[torch.as_tensor(src, device=dev)]
        bar.total += cfg.recovery_steps
        vec = refine(vec, cfg.recovery_steps)
    bar.close()
    names = list(dict.fromkeys(k for t in terms for k in t))
    out = _result(pb, vec, fixed, cfg, lay, losses, track.fps)
    out.loss_terms = {k: np.array([t.get(k, np.nan) for t in terms], np.float64) for k in names}
    return out


def _part_means(err: torch.Tensor, seen: torch.Tensor) -> np.ndarray:
    out = []
    for p in RESIDUAL_PARTS:
        e, s = err[:, SLICES[p]], seen[:, SLICES[p]]
        n = s.sum(1)
        out.append(torch.where(n > 0, (e * s).sum(1) / n.clamp(min=1), torch.full_like(n, float("nan"),
                                                                                       dtype=e.dtype)))
    return torch.stack(out, 1).cpu().numpy().astype(np.float32)


def _result(pb: _Problem, vec, fixed, cfg, lay, losses, fps: float) -> FitResult:
    with torch.no_grad():
        _, uv = _data(pb, vec, fixed, pb.obs, pb.w, cfg, lay)
        err = torch.linalg.norm(_residual(pb, uv, pb.obs), dim=-1)
        seen = pb.w > 0
        res = (err * seen).sum(1) / seen.sum(1).clamp(min=1)
        parts = _part_means(err, seen)
    res = res.cpu().numpy()
    missing = (seen[:, SLICES["body"]].sum(1) < 4).cpu().numpy()
    failed = ~missing & (res > max(cfg.fail_frac * pb.S, cfg.fail_min_px))
    p = SMPLXParams.from_vector(vec.cpu().numpy(), lay, betas=fixed["betas"][0].cpu().numpy(),
                                global_orient=fixed["global_orient"][0].cpu().numpy(),
                                transl=fixed["transl"][0].cpu().numpy())
    return FitResult(p, res.astype(np.float32), failed, losses, parts, missing, drawn_points(pb.seen[~missing]),
                     pb.framing, pb.S, fps)


def drawn_points(seen: np.ndarray, min_fraction: float = 0.2) -> np.ndarray:
    """(137,) bool: the keypoints later stages draw, those seen in at least ``min_fraction`` of the (T, 137)
    frames (none when there are no frames); the neck goes with both shoulders (it is their midpoint)."""
    drawn = seen.mean(0) >= min_fraction if len(seen) else np.zeros(seen.shape[1], bool)
    drawn[1] = drawn[2] & drawn[5]
    return drawn


def fit_per_frame(track: KeypointTrack, camera: Camera, model, fixed: SMPLXParams, cfg: FitConfig | None = None,
                  steps: int | None = None, progress: bool = False) -> FitResult:
    """The per-frame loop (SMPLify-X style): one optimisation per frame, warm-started from the previous
    one, with the same objective minus the temporal term and shape/orientation taken from ``fixed``."""
    from tqdm.auto import tqdm

    cfg = cfg or FitConfig()
    dev, lay = model.device, model.layout
    pb = _problem(track, camera, model, cfg)
    rest_t = torch.as_tensor(rest_vector(lay, pb.framing), device=dev)
    joint_w = _joint_prior_weights(cfg, dev, unseen_joints(pb.seen, pb.framing))
    n = steps or cfg.steps
    fx = {"betas": torch.as_tensor(fixed.betas[None], device=dev),
          "global_orient": torch.as_tensor(fixed.global_orient[:1], device=dev),
          "transl": torch.as_tensor(fixed.transl[:1], device=dev)}
    out = torch.zeros(len(track), lay.frame_dim, device=dev)
    cur = torch.as_tensor(fixed.to_vector()[0], device=dev)
    losses = []
    for t in tqdm(range(len(track)), desc="per-frame fit", disable=not progress):
        v = cur[None].clone().requires_grad_(True)
        opt = torch.optim.Adam([v], lr=cfg.lr)
        for _ in range(n):
            opt.zero_grad()
            data, _ = _data(pb, v, fx, pb.obs[t:t + 1], pb.w[t:t + 1], cfg, lay)
            loss = data.mean() + _priors(v, lay, rest_t, joint_w, cfg).mean()
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()))
        cur = v.detach()[0]
        out[t] = cur
    return _result(pb, out, fx, cfg, lay, losses, track.fps)


#: Upper-body joints (spine to wrists, head): what every framing sees, for comparing framings.
UPPER_JOINTS = [3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]


def shown_joints(seen: np.ndarray) -> list[int]:
    """SMPL-X body joints whose keypoint a recording showed (``seen``: the fit's (137,) bool ``seen``): the
    first 15 BODY_25 points mark joints (:func:`s2v.keypoints.smplx_to_openpose_index`), the nose (a vertex
    keypoint) stands for the head joint."""
    from s2v.keypoints import smplx_to_openpose_index

    joint = smplx_to_openpose_index()[:15].copy()
    joint[0] = 15
    return sorted(int(j) for k, j in enumerate(joint) if seen[k])


def joint_errors_mm(fitted: SMPLXParams, truth: SMPLXParams, model,
                    seen: np.ndarray | None = None) -> dict[str, float]:
    """Mean per-joint 3D error (mm) after aligning the pelvis (MPJPE), and after the best similarity
    transform (PA-MPJPE, which removes the scale/depth ambiguity of a single view): body joints aligned
    on the body, each hand (wrist + 15 finger joints) aligned on itself, as hand benchmarks do.

    With ``seen`` (the fit's keypoints seen), also ``shown_mm`` / ``shown_pa_mm``: the upper-body joints the
    recording showed (head, shoulders, elbows, wrists: :func:`shown_joints`), aligned at the neck — the joint
    every framing sees (a head-and-shoulders view has no pelvis to align on, and its arms are outside the image:
    their error is the prior's, not the fit's)."""
    with torch.no_grad():
        a = model.keypoints(fitted)[:, :55]
        b = model.keypoints(truth)[:, :55]
    a = a - a[:, :1]
    b = b - b[:, :1]
    e = torch.linalg.norm(a - b, dim=-1).cpu().numpy() * 1000
    body = list(range(1, 22))
    hands = list(range(25, 55))
    A, B = a.cpu().numpy(), b.cpu().numpy()

    def pa_error(idx):  # Procrustes-align each frame on these joints only, then their mean error
        return float(np.mean([np.linalg.norm(_procrustes(x[idx], y[idx]) - y[idx], axis=-1).mean()
                              for x, y in zip(A, B)]) * 1000)

    body_pa = pa_error(list(range(0, 22)))
    hands_pa = (pa_error([20] + list(range(25, 40))) + pa_error([21] + list(range(40, 55)))) / 2
    out = {"body_mm": float(e[:, body].mean()), "hands_mm": float(e[:, hands].mean()),
           "jaw_mm": float(e[:, 22].mean()), "body_pa_mm": body_pa, "hands_pa_mm": hands_pa,
           "upper_mm": float(e[:, UPPER_JOINTS].mean()), "upper_pa_mm": pa_error([0, *UPPER_JOINTS])}
    if seen is not None:
        shown = [j for j in shown_joints(seen) if j in UPPER_JOINTS and j != 12]
        en = np.linalg.norm((A - A[:, 12:13]) - (B - B[:, 12:13]), axis=-1) * 1000
        out["shown_mm"] = float(en[:, shown].mean())
        out["shown_pa_mm"] = pa_error([12, *shown])
    return out


def _procrustes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x`` aligned to ``y`` by the best similarity transform (rotation, scale, translation)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    U, S, Vt = np.linalg.svd(xc.T @ yc)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.diag([1.0, 1.0, d])
    R = U @ D @ Vt
    scale = (S * np.diag(D)).sum() / (xc ** 2).sum()
    return scale * xc @ R + my


def fit_run(run, cfg: FitConfig | None = None, backend: str = "auto", progress: bool = True) -> FitResult:
    """The fitting stage of a run: ``keypoints/keypoints.npz`` (+ ``capture/camera.json`` when known)
    -> ``fit/params.npz`` with per-frame and per-part residuals (px), failure/missing flags, the framing,
    the keypoints seen (drawn downstream) and the frame rate."""
    cfg = cfg or FitConfig()
    with run.lock("fit"):
        return _fit_run(run, cfg, backend, progress)


def _fit_run(run, cfg: FitConfig, backend: str, progress: bool) -> FitResult:
    from s2v.body import BodyModel, resolve_backend

    track = KeypointTrack.load(run.require("keypoints"))
    camera = Camera.load(run.require("camera")) if run.has("camera") else Camera.default_for(track.width, track.height)
    if cfg.hand_basis not in ("model", "speaker"):
        raise ValueError(f"hand_basis {cfg.hand_basis!r}: choose 'model' or 'speaker'")
    info = {}
    if cfg.hand_basis == "speaker":
        res, info = fit_with_speaker_hands(track, camera, backend, cfg, progress)
    else:
        res = fit_sequence(track, camera, BodyModel(backend=backend, device=cfg.device), cfg, progress=progress)
    res.save(run.path("params"))
    run.record("params", config=cfg, body_model=resolve_backend(backend)[0], **res.quality(), **info)
    return res


def fit_with_speaker_hands(track: KeypointTrack, camera: Camera, backend: str = "auto", cfg: FitConfig | None = None,
                           progress: bool = True) -> tuple[FitResult, dict]:
    """Fit twice (:mod:`s2v.body.hands`): with full 45-D fingers, then, with the speaker's own 12-component basis
    made from those fingers, in the paper's layout. Returns the second fit (carrying its basis) and
    ``{"hand_basis_share": {side: share of the 45-D fingers the basis expresses}}``."""
    from s2v.body import BodyModel
    from s2v.body.hands import hand_basis_from

    cfg = cfg or FitConfig()
    lay = ParamLayout()
    full = BodyModel(backend=backend, device=cfg.device, layout=ParamLayout(num_hand_comps=45))
    first = fit_sequence(track, camera, full, cfg, progress=progress)
    ok = ~first.failed & ~first.missing
    hands = {s: np.asarray(getattr(first.params, f"{s}_hand_pose"))[ok if ok.sum() >= 2 else slice(None)]
             for s in ("left", "right")}
    basis, share = hand_basis_from(hands, lay.num_hand_comps)
    model = BodyModel(backend=backend, device=cfg.device, layout=lay, hand_basis=basis)
    res = fit_sequence(track, camera, model, cfg, progress=progress)
    res.hand_basis = basis
    return res, {"hand_basis_share": {s: round(v, 4) for s, v in share.items()}}


def load_fit(path) -> FitResult:
    """Read ``fit/params.npz`` back with its residuals and flags (files from before the per-part figures
    read with the defaults)."""
    with np.load(path) as z:
        meta = {k[5:]: z[k] for k in z.files if k.startswith("meta_")}
    get = meta.get
    return FitResult(SMPLXParams.load(path), meta["residual_px"], meta["failed"].astype(bool), [],
                     get("parts_px"), None if get("missing") is None else get("missing").astype(bool),
                     None if get("seen") is None else get("seen").astype(bool), str(get("framing", "full")),
                     float(get("person_px", 0.0)), float(get("fps", 30.0)), load_hand_basis(path))


def check_fit(run, max_failed: float = MAX_FAILED) -> FitResult | None:
    """Stop a later stage that would learn from a failed fit: raises :class:`FitQualityError` when more than
    ``max_failed`` of the frames failed or had no person. Returns the fit (None for runs without one)."""
    if not run.has("params"):
        return None
    res = load_fit(run.require("params"))
    q = res.quality()
    if q["failed_fraction"] > max_failed:
        raise FitQualityError(
            f"run '{run.name}': the body fit failed on {q['failed']} and found no person on {q['missing']} of "
            f"{q['frames']} frames (median residual {q['median_residual_px']} px for a person "
            f"{q['person_px']} px tall). Later stages would learn from wrong poses. Look at the overlay "
            f"(python -m s2v fit --run {run.name} --overlay), check the keypoints (is the person in view?), "
            "give the framing (--framing half|head_shoulders|seated) or the camera's focal length, and fit again")
    return res


def run_poses(run, source: str = "auto", max_failed: float = MAX_FAILED) -> tuple[SMPLXParams, float, str, np.ndarray]:
    """A run's pose sequence for the later stages: the fitted parameters (``source="fit"``; checked by
    :func:`check_fit`), an imported motion capture (``"mocap"``, :mod:`s2v.mocap`) or a studio run's ground
    truth (``"truth"``); ``"auto"`` takes them in that order. Returns (params, fps, artifact name, (137,) bool
    keypoints to draw: what the recording showed)."""
    auto = next((a for a in ("params", "mocap") if run.has(a)), "truth_params")
    name = {"auto": auto, "fit": "params", "mocap": "mocap", "truth": "truth_params"}[source]
    path = run.require(name)
    if name == "params":
        res = check_fit(run, max_failed)
        return res.params, res.fps, name, res.seen
    with np.load(path) as z:
        fps = float(z["meta_fps"]) if "meta_fps" in z else 30.0
    seen = np.ones(137, bool)
    if run.has("truth_keypoints"):  # what a perfect detector saw (the studio marks hidden points with 0)
        from s2v.keypoints import KeypointTrack

        seen = drawn_points(KeypointTrack.load(run.path("truth_keypoints")).points[..., 2] > 0)
    return SMPLXParams.load(path), fps, name, seen


def fit_overlay_video(run, out: str | Path | None = None, backend: str = "auto") -> Path:
    """``fit/overlay.mp4``: the run's recording with its fit and detections drawn on it
    (:mod:`s2v.render.overlay`)."""
    from s2v.body import BodyModel
    from s2v.keypoints import project_model
    from s2v.render.overlay import overlay_frames
    from s2v.video import iter_frames, probe_fps, write_video

    res = load_fit(run.require("params"))
    track = KeypointTrack.load(run.require("keypoints"))
    cam = Camera.load(run.require("camera")) if run.has("camera") else Camera.default_for(track.width, track.height)
    fitted = project_model(BodyModel(backend=backend, device="cpu", hand_basis=res.hand_basis), res.params, cam)
    out = Path(out) if out else run.root / "fit" / "overlay.mp4"
    video = run.require("recording")
    frames = overlay_frames(iter_frames(video), fitted, track.points, seen_points(track), res.failed)
    return write_video(frames, out, probe_fps(video), audio=run.path("audio") if run.has("audio") else None)
