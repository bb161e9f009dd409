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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

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
    conf_threshold: float = 0.2     # detections below this confidence are ignored
    robust_sigma: float = 0.03      # Geman-McClure scale, in image heights
    part_weights: dict = field(default_factory=lambda: {"body": 1.0, "hands": 1.0, "face": 1.0})
    w_pose: float = 2e-5            # body pose towards a relaxed standing pose (weak: gestures are large)
    # per-joint multipliers of w_pose: a speaker stands still (section 3.2), so legs and spine move little;
    # without this, keypoint-convention offsets of a detector (e.g. ankles a few px off) become leg tilts in depth
    joint_prior: dict = field(default_factory=lambda: {
        "left_hip": 50.0, "right_hip": 50.0, "left_knee": 50.0, "right_knee": 50.0, "left_ankle": 50.0,
        "right_ankle": 50.0, "left_foot": 50.0, "right_foot": 50.0, "spine1": 10.0, "spine2": 10.0,
        "spine3": 10.0, "left_wrist": 5.0, "right_wrist": 5.0})
    w_bend: float = 1e-2            # elbows and knees bend one way only
    w_hands: float = 2e-5           # hand PCA coefficients (MANO-style L2 prior)
    w_expression: float = 1e-5
    w_jaw: float = 1e-4
    w_betas: float = 1e-6
    w_orient: float = 1e-3          # global orientation towards upright and facing the camera (a studio)
    w_smooth: float = 2e-3          # consecutive frames (whole 106-vector, scaled per part)
    fail_px: float = 0.04           # a frame whose mean residual exceeds this many image heights fails
    recovery_rounds: int = 3        # re-fit failed frames from their nearest good neighbour
    recovery_steps: int = 80
    shoulder_width: float = 0.36    # metres, for the initial depth guess
    device: str | None = None


@dataclass
class FitResult:
    params: SMPLXParams
    residual_px: np.ndarray         # (T,) mean reprojection error of the confident keypoints
    failed: np.ndarray              # (T,) bool
    losses: list[float]

    def save(self, path) -> None:
        self.params.save(path, residual_px=self.residual_px, failed=self.failed)


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


def _weights(track: KeypointTrack, cfg: FitConfig, device) -> torch.Tensor:
    w = np.where(track.points[..., 2] >= cfg.conf_threshold, track.points[..., 2], 0.0).astype(np.float32)
    for part, sl in SLICES.items():
        key = "hands" if part.endswith("hand") else part
        w[:, sl] *= cfg.part_weights.get(key, 1.0)
    return torch.as_tensor(w, device=device)


def _problem(track: KeypointTrack, camera: Camera, model, cfg: FitConfig):
    """What both fitters optimise against: projector, observed pixels, per-point weights, image height."""
    return (_Projector(model, camera), torch.as_tensor(track.points[..., :2], device=model.device),
            _weights(track, cfg, model.device), float(track.height))


def facing_camera(camera: Camera) -> np.ndarray:
    """Axis-angle global orientation of a body standing upright and facing ``camera``."""
    R = camera.R.T @ np.diag([1.0, -1.0, -1.0])  # body x, y, z = camera right, up, towards the camera
    return Rotation.from_matrix(R).as_rotvec().astype(np.float32)


def _initial_translation(model, camera: Camera, track: KeypointTrack, frames: np.ndarray, cfg: FitConfig,
                         go: np.ndarray) -> np.ndarray:
    """Place the pelvis so the shoulders' pixel width matches the model's at that depth."""
    pts = track.points[frames]
    ok = (pts[:, 2, 2] > cfg.conf_threshold) & (pts[:, 5, 2] > cfg.conf_threshold)
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


def _joint_prior_weights(cfg: FitConfig, device) -> torch.Tensor:
    from s2v.body.joints import JOINT_NAMES

    w = np.ones(63, np.float32)
    for name, mult in cfg.joint_prior.items():
        j = JOINT_NAMES.index(name) - 1
        w[3 * j:3 * j + 3] = mult
    return torch.as_tensor(w * cfg.w_pose, device=device)


def _rest_vector(layout: ParamLayout, device) -> torch.Tensor:
    """The pose the priors pull towards and fitting starts from: standing, arms relaxed at the sides."""
    rest = np.zeros(layout.frame_dim, np.float32)
    rest[layout.slices()["body_pose"]] = arms_down(65.0)
    return torch.as_tensor(rest, device=device)


def _priors(vec: torch.Tensor, layout: ParamLayout, rest: torch.Tensor, cfg: FitConfig) -> torch.Tensor:
    sl = layout.slices()
    body = vec[:, sl["body_pose"]]
    loss = (_joint_prior_weights(cfg, vec.device) * (body - rest[sl["body_pose"]]) ** 2).sum(1)
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


def _data(proj: _Projector, vec, fixed: dict, obs: torch.Tensor, w: torch.Tensor, H: float, cfg: FitConfig,
          layout: ParamLayout):
    d = {n: vec[:, s] for n, s in layout.slices().items()}
    d.update({k: v.expand(len(vec), -1) for k, v in fixed.items()})
    uv = proj(d)
    sq = (((uv - obs) / H) ** 2).sum(-1)
    return (w * _gmof(sq, cfg.robust_sigma)).sum(1) / w.sum(1).clamp(min=1.0), uv


def fit_sequence(track: KeypointTrack, camera: Camera, model, cfg: FitConfig | None = None,
                 progress: bool = True) -> FitResult:
    """Fit SMPL-X to a whole keypoint sequence at once (shape/orientation from the first frames)."""
    from tqdm.auto import tqdm

    cfg = cfg or FitConfig()
    dev = model.device
    lay = model.layout
    T = len(track)
    proj, obs, w, H = _problem(track, camera, model, cfg)
    visible = (w[:, SLICES["body"]] > 0).sum(1) >= 4
    if not visible.any():
        raise ValueError("no person detected in any frame (no confident body keypoints)")

    rest_t = _rest_vector(lay, dev)
    go0 = facing_camera(camera)
    first = np.nonzero(visible.cpu().numpy())[0][:cfg.init_frames]
    tr0 = _initial_translation(model, camera, track, first, cfg, go0)

    # --- stage 1: shape, global orientation, translation (+ poses) on the first frames
    betas = torch.zeros(1, lay.num_betas, device=dev, requires_grad=True)
    go_init = torch.as_tensor(go0[None], device=dev)
    go = go_init.clone().requires_grad_(True)
    tr = torch.as_tensor(tr0[None], device=dev).clone().requires_grad_(True)
    v1 = rest_t.repeat(len(first), 1).clone().requires_grad_(True)
    o1, w1 = obs[first], w[first]
    losses: list[float] = []
    bar = tqdm(total=cfg.init_steps + cfg.steps, desc="fitting", unit="step", disable=not progress)
    for phase, (vars_, steps) in enumerate((([go, tr], cfg.init_steps // 3),
                                             ([go, tr, betas, v1], cfg.init_steps - cfg.init_steps // 3))):
        opt = torch.optim.Adam(vars_, lr=cfg.lr)
        wt = w1.clone()
        if phase == 0:  # torso only first (SMPLify's camera/orientation initialisation)
            torso = torch.zeros_like(wt)
            torso[:, [1, 2, 5, 8, 9, 12]] = wt[:, [1, 2, 5, 8, 9, 12]]
            wt = torso
        for _ in range(steps):
            opt.zero_grad()
            data, _ = _data(proj, v1, {"betas": betas, "global_orient": go, "transl": tr}, o1, wt, H, cfg, lay)
            loss = data.mean() + _priors(v1, lay, rest_t, cfg).mean() + cfg.w_betas * (betas ** 2).sum() \
                + cfg.w_orient * ((go - go_init) ** 2).sum()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
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
            data, _ = _data(proj, vec, fixed, obs, w, H, cfg, lay)
            loss = data.mean() + _priors(vec, lay, rest_t, cfg).mean()
            if T > 1:
                loss = loss + cfg.w_smooth * (((vec[1:] - vec[:-1]) ** 2) * smooth_w).sum(1).mean()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.update()
        return vec.detach()

    vec = refine(vec, cfg.steps)
    # frames stuck in a local minimum (e.g. a hand turned the wrong way) restart from their nearest
    # well-fitted neighbour: the warm start of a per-frame fitter, for just the frames that need it
    for _ in range(cfg.recovery_rounds):
        bad = _result(proj, vec, fixed, obs, w, H, cfg, lay, []).failed & visible.cpu().numpy()
        if not bad.any() or bad.all():
            break
        good = np.nonzero(~bad)[0]
        src = good[np.abs(good[None, :] - np.nonzero(bad)[0][:, None]).argmin(1)]
        vec[torch.as_tensor(np.nonzero(bad)[0], device=dev)] = vec[torch.as_tensor(src, device=dev)]
        bar.total += cfg.recovery_steps
        vec = refine(vec, cfg.recovery_steps)
    bar.close()
    return _result(proj, vec, fixed, obs, w, H, cfg, lay, losses)


def _result(proj, vec, fixed, obs, w, H, cfg, lay, losses) -> FitResult:
    with torch.no_grad():
        _, uv = _data(proj, vec, fixed, obs, w, H, cfg, lay)
        err = torch.linalg.norm(uv - obs, dim=-1)
        seen = w > 0
        res = (err * seen).sum(1) / seen.sum(1).clamp(min=1)
    res = res.cpu().numpy()
    failed = (seen.sum(1) < 4).cpu().numpy() | (res > cfg.fail_px * H)
    p = SMPLXParams.from_vector(vec.cpu().numpy(), lay, betas=fixed["betas"][0].cpu().numpy(),
                                global_orient=fixed["global_orient"][0].cpu().numpy(),
                                transl=fixed["transl"][0].cpu().numpy())
    return FitResult(p, res.astype(np.float32), failed, losses)


def fit_per_frame(track: KeypointTrack, camera: Camera, model, fixed: SMPLXParams, cfg: FitConfig | None = None,
                  steps: int | None = None, progress: bool = False) -> FitResult:
    """The per-frame loop (SMPLify-X style): one optimisation per frame, warm-started from the previous
    one, with the same objective minus the temporal term and shape/orientation taken from ``fixed``."""
    from tqdm.auto import tqdm

    cfg = cfg or FitConfig()
    dev, lay = model.device, model.layout
    proj, obs, w, H = _problem(track, camera, model, cfg)
    rest_t = _rest_vector(lay, dev)
    fx = {"betas": torch.as_tensor(fixed.betas[None], device=dev),
          "global_orient": torch.as_tensor(fixed.global_orient[:1], device=dev),
          "transl": torch.as_tensor(fixed.transl[:1], device=dev)}
    out = torch.zeros(len(track), lay.frame_dim, device=dev)
    cur = torch.as_tensor(fixed.to_vector()[0], device=dev)
    losses = []
    for t in tqdm(range(len(track)), desc="per-frame fit", disable=not progress):
        v = cur[None].clone().requires_grad_(True)
        opt = torch.optim.Adam([v], lr=cfg.lr)
        for _ in range(steps or cfg.steps):
            opt.zero_grad()
            data, _ = _data(proj, v, fx, obs[t:t + 1], w[t:t + 1], H, cfg, lay)
            loss = data.mean() + _priors(v, lay, rest_t, cfg).mean()
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()))
        cur = v.detach()[0]
        out[t] = cur
    return _result(proj, out, fx, obs, w, H, cfg, lay, losses)


def joint_errors_mm(fitted: SMPLXParams, truth: SMPLXParams, model) -> dict[str, float]:
    """Mean per-joint 3D error (mm) after aligning the pelvis (MPJPE), and after the best similarity
    transform (PA-MPJPE, which removes the scale/depth ambiguity of a single view): body joints aligned
    on the body, each hand (wrist + 15 finger joints) aligned on itself, as hand benchmarks do."""
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
    return {"body_mm": float(e[:, body].mean()), "hands_mm": float(e[:, hands].mean()),
            "jaw_mm": float(e[:, 22].mean()), "body_pa_mm": body_pa, "hands_pa_mm": hands_pa}


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
    -> ``fit/params.npz`` with per-frame residuals (px) and failure flags."""
    from s2v.body import BodyModel

    cfg = cfg or FitConfig()
    track = KeypointTrack.load(run.require("keypoints"))
    camera = Camera.load(run.path("camera")) if run.has("camera") else Camera.default_for(track.width, track.height)
    model = BodyModel(backend=backend, device=cfg.device)
    res = fit_sequence(track, camera, model, cfg, progress=progress)
    res.save(run.path("params"))
    run.record("params", config=cfg, body_model=model.backend, frames=len(track),
               failed=int(res.failed.sum()), median_residual_px=float(np.median(res.residual_px)))
    return res


def load_fit(path) -> FitResult:
    """Read ``fit/params.npz`` back with its residuals and failure flags."""
    with np.load(path) as z:
        res, failed = z["meta_residual_px"], z["meta_failed"]
    return FitResult(SMPLXParams.load(path), res, failed.astype(bool), [])

