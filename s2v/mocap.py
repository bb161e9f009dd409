"""Motion capture in: SMPL-X motion files of the ecosystem as a run the speech-to-pose stage trains on.

The SMPL-X ecosystem's motion files (AMASS, BEAT2, and most tools that export them) hold a sequence as
``poses`` (T, 165) = 55 joints x 3 axis-angle (SMPL-H files: 156, no jaw/eyes), ``trans`` (T, 3), ``betas``
(up to 300), ``expressions`` (up to 100) and the frame rate under one of several keys. Three conventions
differ from the kit's and are converted here, each reported:

* **Frame rate.** Read from ``mocap_frame_rate`` / ``mocap_framerate`` / ``frame_rate`` / ``fps`` (or given),
  and every rotation resampled to the kit's rate by spherical interpolation per joint (60-120 Hz AMASS at
  30 fps would otherwise drift against the audio 2-4x).
* **Fingers.** MoSh++ (AMASS, BEAT2) stores *absolute* finger rotations (``flat_hand_mean=True``); the kit adds
  the model's hand mean (``flat_hand_mean=False``, as ``smplx`` does by default), so the mean is subtracted —
  else every hand becomes a claw. ``hand_mean="auto"`` reads the file's own ``flat_hand_mean`` when it has one
  (the kit's export writes it); else a MoSh++ file (AMASS's ``mocap_framerate``, BEAT2's ``mocap_frame_rate``) is
  absolute, as MoSh++ writes them; else the nearer of the model's relaxed hand (absolute) and zero (relative) to
  the data's average hand decides — and a close call (under ``hand_margin`` apart) is refused with both
  distances, not guessed: a real BEAT2 take was 2.315 vs 2.185 apart, and the guess made every hand a fist. The
  choice and its reason are always in the report's notes.
* **Up axis.** AMASS is z-up, BEAT2 and ``smplx`` y-up (the kit: y up, facing +z); ``up="auto"`` reads it
  from where the body's own up points. The rotation is applied about the pelvis (``transl`` follows).

**Root motion.** The paper fixes global orientation and translation (section 3.2: a speaker standing in
place); so does ``root="fixed"`` (default): the first frame's orientation turned to face the camera, and its
position. A speaker who turns or walks keeps only the body's own motion (arms, hands, head relative to the
pelvis) — the report gives how far they turned and walked, so a user sees what is dropped.
``root="keep"`` keeps the per-frame orientation and translation in the run's parameters (for rendering the
capture itself); the LSTM never predicts them (the 106 numbers exclude them).

**Shape and expression** coefficients are only kept in the space they were made for: a file of the body model
in use (the kit's own export names it under ``body_model``; an SMPL-X file when the official model is in use).
SMPL-X ``betas`` (300) and FLAME ``expressions`` (100) are *not* the free model's bases: poured in, a male
speaker rendered with a female build. With the free model, such a file gets the neutral shape and no
expression (the jaw, a joint rotation, is kept), said in the notes. Beyond the kit's 10, coefficients are cut,
and the report says how much was cut.

**Speech and motion of one take** rarely last exactly as long (BEAT2: 63.53 s of motion, 64.10 s of speech):
within ``max_gap_s`` both are cut to their common span from the start, and the cut is reported; a larger gap is
refused with both durations (another take, or a wrong frame rate). A ``--mocap-fps`` that contradicts the rate
the file names is refused.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from s2v.params import FULL_HAND_DIM, ParamLayout, SMPLXParams

#: keys under which the ecosystem's files store their frame rate (AMASS: mocap_framerate, BEAT2: mocap_frame_rate)
FPS_KEYS = ("mocap_frame_rate", "mocap_framerate", "frame_rate", "framerate", "fps", "meta_fps")


class MocapError(ValueError):
    """A motion file that cannot become a run (unknown layout, no frame rate, speech of another length)."""


@dataclass
class MocapConfig:
    fps: float = 30.0                # the kit's frame rate (the studio's); the motion is resampled to it
    source_fps: float | None = None  # the file's frame rate when it names none (or to override it)
    hand_mean: str = "auto"          # absolute (MoSh++: AMASS, BEAT2) | relative (smplx default) | auto
    up: str = "auto"                 # the file's up axis: y | z | auto
    root: str = "fixed"              # fixed (the paper: orientation and translation of the first frame) | keep
    hands: str = "model"             # hand PCA: the body model's, or the speaker's own from the file's fingers
    hand_margin: float = 0.15        # auto fingers: the two readings' distances must differ by this fraction
    max_gap_s: float = 3.0           # motion and speech lasting up to this much apart are cut to their common span

    def __post_init__(self) -> None:
        for name, allowed in (("hand_mean", ("auto", "absolute", "relative")), ("up", ("auto", "y", "z")),
                              ("hands", ("model", "speaker")),
                              ("root", ("fixed", "keep"))):
            if getattr(self, name) not in allowed:
                raise MocapError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        check_fps(self.fps, "the run's frame rate (--fps)")
        if self.source_fps is not None:
            check_fps(self.source_fps, "--mocap-fps")


@dataclass
class MocapReport:
    """What the conversion did, for the user and the run manifest."""
    source_fps: float
    fps: float
    source_frames: int
    frames: int
    hand_mean: str
    up: str
    root: str
    betas_in_file: int
    betas_cut_norm: float            # norm of the shape coefficients beyond the kit's 10
    expression_in_file: int
    expression_cut_rms: float        # RMS of the expression coefficients beyond the kit's 10
    hand_pca_error_rad: float        # mean per finger joint of what the model's 12 hand components cannot express
    turned_deg: float                # largest heading change over the sequence
    walked_m: float                  # largest distance from the first frame's position (floor plane)
    notes: list[str] = field(default_factory=list)
    hand_basis: dict | None = None   # the speaker's own hand components ({side: (12, 45)}) with --hands speaker

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "hand_basis"}


# ---------------------------------------------------------------------------------------------- reading
def read_mocap(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a motion ``.npz`` (no pickles: files are shared between people)."""
    path = Path(path)
    if not path.exists():
        raise MocapError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as err:
        raise MocapError(f"{path}: not a plain .npz of arrays ({err}); re-save it with numpy.savez") from None
    except Exception as err:  # noqa: BLE001 - zip/format errors of a damaged file
        raise MocapError(f"{path}: not a readable .npz ({type(err).__name__}: {err})") from None


def check_fps(fps, what: str = "frame rate") -> float:
    """``fps`` as a float, or :class:`MocapError` unless it is a positive finite number (a NaN or infinite rate
    would reach the resampling as a traceback; zero or negative ones are no rate at all)."""
    try:
        v = float(fps)
    except (TypeError, ValueError):
        raise MocapError(f"{what}: frame rate must be a positive finite number, got {fps!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise MocapError(f"{what}: frame rate must be a positive finite number, got {v:g}")
    return v


def check_finite(name: str, a: np.ndarray, per: str = "frames") -> None:
    """:class:`MocapError` naming the first ``per`` (rows of ``a``) holding NaN or inf (a damaged export, or a
    tool that writes lost markers as NaN): they would poison the resampling and the hand components."""
    a = np.asarray(a, np.float64)
    bad = ~np.isfinite(a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1, 1))
    if bad.any():
        rows = np.flatnonzero(bad.any(1))
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise MocapError(f"{name} contain NaN/inf at {per} {rows[:10].tolist()}{more} (of {len(a)}): a damaged "
                         "export or lost markers; repair or cut those frames")


def mocap_fps(d: dict, given: float | None = None) -> float:
    """The motion's frame rate: the file's own, or ``given`` when it names none. A ``given`` rate that contradicts
    the file's is refused (the motion would stretch against its speech without a word), and so is a rate that is
    not a positive finite number (NaN, inf, 0, negative: the file's or ``given``)."""
    key = next((k for k in FPS_KEYS if k in d), None)
    named = None
    if key is not None:
        raw = np.asarray(d[key]).reshape(-1)
        if raw.size == 0:
            raise MocapError(f"the file's '{key}' is empty: frame rate must be a positive finite number")
        named = check_fps(raw[0], f"the file's '{key}'")
    if given is not None:
        given = check_fps(given, "--mocap-fps")
    if given and named and abs(given - named) > 1e-3 * named:
        raise MocapError(f"--mocap-fps {given:g} contradicts the file's own frame rate ({named:g} Hz): the motion "
                         f"would stretch {100 * abs(named / given - 1):.1f} % against its speech. Leave --mocap-fps "
                         "out")
    if given:
        return float(given)
    if named:
        return named
    raise MocapError(f"the file names no frame rate (none of {', '.join(FPS_KEYS)}); give it (--mocap-fps)")


def full_poses(d: dict) -> np.ndarray:
    """(T, 165) axis-angle of the 55 SMPL-X joints from ``poses`` (165, or SMPL-H's 156: no jaw/eyes, zeroed)
    or from per-part keys (``global_orient``, ``body_pose``, ... with full 45-D hands)."""
    if "poses" in d:
        p = np.asarray(d["poses"], np.float32)
        p = p.reshape(len(p), -1)
        if p.shape[1] == 156:                  # SMPL-H (AMASS): root + 21 body + 2 x 15 hand joints
            p = np.concatenate([p[:, :66], np.zeros((len(p), 9), np.float32), p[:, 66:]], 1)
        if p.shape[1] != 165:
            raise MocapError(f"'poses' has {p.shape[1]} numbers per frame; expected 165 (SMPL-X) or 156 (SMPL-H)")
        return p
    if "body_pose" in d:
        T = len(np.atleast_2d(d["body_pose"]))

        def get(k, n):
            a = np.asarray(d.get(k, np.zeros((T, n))), np.float32).reshape(T, -1)
            if a.shape[1] != n:
                raise MocapError(f"'{k}' has {a.shape[1]} numbers per frame; expected {n} (full hands, not PCA)")
            return a

        return np.concatenate([get("global_orient", 3), get("body_pose", 63), get("jaw_pose", 3),
                               get("leye_pose", 3), get("reye_pose", 3), get("left_hand_pose", 45),
                               get("right_hand_pose", 45)], 1)
    raise MocapError(f"no 'poses' or 'body_pose' key; keys are {sorted(d)}")


# ---------------------------------------------------------------------------------------------- maths
def resample_rotations(aa: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """(T, J, 3) axis-angle at ``fps_in`` -> (T', J, 3) at ``fps_out`` by spherical interpolation per joint
    (scipy's Slerp); T' covers the same duration. Samples that fall on input frames are those frames."""
    from scipy.spatial.transform import Rotation, Slerp

    T, J, _ = aa.shape
    n = max(1, int(round((T - 1) * fps_out / fps_in)) + 1)
    if T == 1 or fps_in == fps_out:
        return aa.copy() if T == n else aa[np.clip(np.round(np.arange(n) * fps_in / fps_out).astype(int), 0, T - 1)]
    t_in = np.arange(T) / fps_in
    t_out = np.minimum(np.arange(n) / fps_out, t_in[-1])
    out = np.empty((n, J, 3), np.float64)
    for j in range(J):
        out[:, j] = Slerp(t_in, Rotation.from_rotvec(aa[:, j].astype(np.float64)))(t_out).as_rotvec()
    return out.astype(np.float32)


def resample_linear(x: np.ndarray, fps_in: float, fps_out: float, n: int) -> np.ndarray:
    """(T, D) values at ``fps_in`` -> ``n`` frames at ``fps_out`` (linear per column)."""
    t_in = np.arange(len(x)) / fps_in
    t_out = np.minimum(np.arange(n) / fps_out, t_in[-1])
    return np.stack([np.interp(t_out, t_in, c) for c in np.asarray(x, np.float64).T], 1).astype(np.float32)


def _rotmat(aa: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(aa, np.float64).reshape(-1, 3)).as_matrix()


def _rotvec(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_rotvec().astype(np.float32)


#: z-up (AMASS) -> y-up (the kit): a -90 degree turn about x
Z_TO_Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def up_axis(orient: np.ndarray) -> str:
    """``"y"`` or ``"z"``: where the body's own up (+y of the pelvis frame) points on average."""
    up = (_rotmat(orient) @ np.array([0.0, 1.0, 0.0])).mean(0)
    return "z" if abs(up[2]) > abs(up[1]) else "y"


def heading(R: np.ndarray) -> np.ndarray:
    """(T,) heading (radians about +y) of the body's forward (+z of the pelvis frame), y-up world."""
    f = R @ np.array([0.0, 0.0, 1.0])
    return np.arctan2(f[:, 0], f[:, 2])


def rotate_root(orient: np.ndarray, transl: np.ndarray, Q: np.ndarray, pelvis: np.ndarray):
    """A world rotation ``Q`` applied to a posed body: ``smplx`` turns the body about its rest pelvis
    ``pelvis`` (J0), so the translation becomes Q (J0 + t) - J0."""
    R = Q @ _rotmat(orient)
    t = (Q @ (pelvis + np.asarray(transl, np.float64)).T).T - pelvis
    return _rotvec(R), t.astype(np.float32)


def model_hand_mean(model) -> np.ndarray:
    """(90,) the body model's hand mean (left, right) that ``smplx`` adds to the hand pose (zeros for a model
    built with ``flat_hand_mean=True``: ``smplx`` stores zeros then)."""
    return np.concatenate([model.smplx.left_hand_mean.cpu().numpy(), model.smplx.right_hand_mean.cpu().numpy()])


def read_hand_convention(d: dict, hands: np.ndarray, mean: np.ndarray, margin: float = 0.15) -> tuple[str, str]:
    """(convention, why) for ``hand_mean="auto"``: the file's ``flat_hand_mean``; else MoSh++'s (absolute) for a
    file with MoSh++'s frame-rate key; else the nearer reading of the data, refused when the two are within
    ``margin`` of each other (module docstring)."""
    if "flat_hand_mean" in d:
        flat = bool(np.asarray(d["flat_hand_mean"]).reshape(-1)[0])
        return ("absolute" if flat else "relative"), f"the file says flat_hand_mean={flat}"
    key = next((k for k in ("mocap_frame_rate", "mocap_framerate") if k in d), None)
    if key:
        return "absolute", f"a MoSh++ file (AMASS/BEAT2: '{key}'), which stores absolute fingers"
    avg = hands.mean(0)
    d_abs, d_rel = float(np.linalg.norm(avg - mean)), float(np.linalg.norm(avg))
    if abs(d_abs - d_rel) < margin * max(d_abs, d_rel):
        raise MocapError(f"cannot tell the finger convention: the data's average hand is {d_abs:.3f} from the "
                         f"model's relaxed hand (absolute) and {d_rel:.3f} from the flat hand (relative), too close "
                         "to call; say it: --hand-mean absolute (MoSh++: AMASS, BEAT2) or relative (smplx default)")
    conv = "absolute" if d_abs < d_rel else "relative"
    return conv, (f"the data's average hand is {min(d_abs, d_rel):.3f} from the {conv} reading, "
                  f"{max(d_abs, d_rel):.3f} from the other")


def same_space(d: dict, model) -> bool:
    """Whether the file's shape/expression coefficients are in ``model``'s bases: the kit's own export names its
    body model (``body_model``); any other SMPL-X file is in the official model's."""
    named = str(np.asarray(d["body_model"]).reshape(-1)[0]) if "body_model" in d else "smplx"
    return named == getattr(model, "backend", "free")


# ---------------------------------------------------------------------------------------------- conversion
def to_kit(d: dict, model, cfg: MocapConfig | None = None) -> tuple[SMPLXParams, MocapReport]:
    """A motion file's arrays -> the kit's parameters (12 hand PCA components, 10 betas/expressions, at
    ``cfg.fps``) and what the conversion did."""
    cfg = cfg or MocapConfig()
    lay = model.layout if model.layout.use_pca else ParamLayout(num_hand_comps=FULL_HAND_DIM)
    try:
        poses = full_poses(d)
    except (ValueError, TypeError) as e:   # arrays of text, or of a size no layout has
        raise MocapError(f"the motion's poses are not arrays of rotations ({e})") from None
    check_finite("poses", poses)
    T0 = len(poses)
    if T0 < 2:
        raise MocapError(f"the motion has {T0} frame(s); nothing to learn from")
    fps_in = mocap_fps(d, cfg.source_fps)
    rot = resample_rotations(poses.reshape(T0, 55, 3), fps_in, cfg.fps)
    T = len(rot)
    poses = rot.reshape(T, 165)
    trans = np.zeros((T0, 3), np.float32) if "trans" not in d and "transl" not in d else \
        np.asarray(d.get("trans", d.get("transl")), np.float32).reshape(T0, 3)
    check_finite("trans", trans)
    trans = resample_linear(trans, fps_in, cfg.fps, T)
    notes = []

    betas_all = np.asarray(d.get("betas", np.zeros(10)), np.float32)
    betas_all = betas_all.reshape(-1, betas_all.shape[-1])[0] if betas_all.ndim > 1 else betas_all.reshape(-1)
    ek = next((k for k in ("expressions", "expression", "exp") if k in d), None)
    space = same_space(d, model)
    if not space and (np.abs(betas_all).max(initial=0) > 0 or ek is not None):
        notes.append(f"shape and expression: the file's {len(betas_all)} shape and "
                     f"{0 if ek is None else np.asarray(d[ek]).reshape(T0, -1).shape[1]} expression coefficients are "
                     f"SMPL-X/FLAME's, not the free body model's bases: the neutral shape and no expression are used "
                     "(the jaw is kept); put the official SMPL-X model in place to keep them")
        betas_all = np.zeros(len(betas_all), np.float32)
        ek = None
    check_finite("betas", betas_all, "coefficients")
    betas = np.zeros(lay.num_betas, np.float32)
    betas[:min(len(betas_all), lay.num_betas)] = betas_all[:lay.num_betas]
    cut_b = float(np.linalg.norm(betas_all[lay.num_betas:]))
    expr_all = np.zeros((T0, 10), np.float32) if ek is None else np.asarray(d[ek], np.float32).reshape(T0, -1)
    check_finite(ek or "expressions", expr_all)
    expr = np.zeros((T, lay.num_expression), np.float32)
    nx = min(expr_all.shape[1], lay.num_expression)
    expr[:, :nx] = resample_linear(expr_all[:, :nx], fps_in, cfg.fps, T)
    cut_x = float(np.sqrt((expr_all[:, lay.num_expression:] ** 2).mean())) if expr_all.shape[1] > nx else 0.0
    if cut_b > 0 or cut_x > 0:
        notes.append(f"shape: {len(betas_all)} coefficients in the file, {lay.num_betas} kept (cut norm "
                     f"{cut_b:.3f}); expression: {expr_all.shape[1]}, {lay.num_expression} kept (cut RMS {cut_x:.3f})")

    mean = model_hand_mean(model)
    hands = poses[:, 75:165]
    if cfg.hand_mean == "auto":
        conv, why = read_hand_convention(d, hands, mean, cfg.hand_margin)
    else:
        conv, why = cfg.hand_mean, "as given"
    if conv == "absolute":
        hands = hands - mean
        notes.append(f"fingers: absolute (flat_hand_mean=True; {why}): the model's hand mean subtracted")
    else:
        notes.append(f"fingers: relative to the model's hand mean (smplx's default; {why})")

    up = up_axis(poses[:, :3]) if cfg.up == "auto" else cfg.up
    pelvis = model.rest_joints(betas)[0].astype(np.float64)
    orient, transl = poses[:, :3], trans
    if up == "z":
        orient, transl = rotate_root(orient, transl, Z_TO_Y, pelvis)
        notes.append("up axis: z (AMASS): turned to the kit's y-up")
    R = _rotmat(orient)
    head = np.unwrap(heading(R))
    turned = float(np.degrees(np.abs(head - head[0]).max()))
    walked = float(np.linalg.norm((transl - transl[0])[:, [0, 2]], axis=1).max())
    if cfg.root == "fixed":
        c, s = np.cos(-head[0]), np.sin(-head[0])
        face = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])      # turn the first frame to face +z
        o0, t0 = rotate_root(orient[:1], transl[:1], face, pelvis)
        orient, transl = np.repeat(o0, T, 0), np.repeat(t0, T, 0)
        if turned > 30 or walked > 0.5:
            notes.append(f"root fixed (the paper): the speaker turns {turned:.0f} degrees and walks {walked:.2f} m "
                         "in the file; only the body's motion relative to the pelvis is kept (root='keep' keeps it)")

    basis = None
    if lay.use_pca and cfg.hands == "speaker":   # the speaker's own 12 components (s2v.body.hands)
        from s2v.body.hands import hand_basis_from

        basis, share = hand_basis_from({"left": hands[:, :45], "right": hands[:, 45:]}, lay.num_hand_comps)
        lh, rh = hands[:, :45] @ basis["left"].T, hands[:, 45:] @ basis["right"].T
        back = np.concatenate([lh @ basis["left"], rh @ basis["right"]], 1)
        pca_err = float(np.linalg.norm((back - hands).reshape(T, 30, 3), axis=-1).mean())
        notes.append(f"fingers: the speaker's own {lay.num_hand_comps} hand components (from this file's fingers: "
                     f"{100 * share['left']:.1f} / {100 * share['right']:.1f} % of left / right expressed, "
                     f"{pca_err:.3f} rad per finger joint missed)")
    elif lay.use_pca:
        import torch

        full = torch.as_tensor(hands)
        lh = model.hand_full_to_pca(full[:, :45], "left")
        rh = model.hand_full_to_pca(full[:, 45:], "right")
        back = torch.cat([model.hand_pca_to_full(lh, "left"), model.hand_pca_to_full(rh, "right")], 1)
        pca_err = float((back - full).reshape(T, 30, 3).norm(dim=-1).mean())
        lh, rh = lh.cpu().numpy(), rh.cpu().numpy()
        if pca_err > 0.05:
            notes.append(f"fingers: the model's {lay.num_hand_comps} hand components miss {pca_err:.2f} rad per "
                         "finger joint of this motion (--hands speaker builds the speaker's own)")
    else:
        lh, rh, pca_err = hands[:, :45], hands[:, 45:], 0.0
    p = SMPLXParams(body_pose=poses[:, 3:66], jaw_pose=poses[:, 66:69], leye_pose=poses[:, 69:72],
                    reye_pose=poses[:, 72:75], left_hand_pose=lh, right_hand_pose=rh, expression=expr, betas=betas,
                    global_orient=orient, transl=transl, layout=lay)
    rep = MocapReport(fps_in, cfg.fps, T0, T, conv, up, cfg.root, len(betas_all), cut_b, expr_all.shape[1], cut_x,
                      pca_err, turned, walked, notes, basis)
    return p, rep


def to_mocap(params: SMPLXParams, model, fps: float, out_fps: float | None = None, hand_mean: str = "absolute",
             up: str = "y") -> dict[str, np.ndarray]:
    """The kit's parameters -> the ecosystem's layout (``poses`` (T, 165) with full hands, ``trans``,
    ``betas``, ``expressions``, ``mocap_frame_rate``), for other SMPL-X tools (and the import's tests);
    ``hand_mean="absolute"`` writes MoSh++'s absolute fingers, ``up="z"`` AMASS's z-up world."""
    import torch

    T = len(params)
    if params.layout.use_pca:
        with torch.no_grad():
            lh = model.hand_pca_to_full(torch.as_tensor(params.left_hand_pose), "left").cpu().numpy()
            rh = model.hand_pca_to_full(torch.as_tensor(params.right_hand_pose), "right").cpu().numpy()
    else:
        lh, rh = params.left_hand_pose, params.right_hand_pose
    hands = np.concatenate([lh, rh], 1)
    if hand_mean == "absolute":
        hands = hands + model_hand_mean(model)
    orient, transl = params.global_orient, params.transl
    if up == "z":
        orient, transl = rotate_root(orient, transl, Z_TO_Y.T, model.rest_joints(params.betas)[0].astype(np.float64))
    poses = np.concatenate([orient, params.body_pose, params.jaw_pose, params.leye_pose, params.reye_pose, hands], 1)
    trans = np.asarray(transl, np.float32)
    expr = params.expression
    if out_fps and out_fps != fps:
        rot = resample_rotations(poses.reshape(T, 55, 3), fps, out_fps)
        n = len(rot)
        poses, trans = rot.reshape(n, 165), resample_linear(trans, fps, out_fps, n)
        expr = resample_linear(expr, fps, out_fps, n)
        fps = out_fps
    return {"poses": poses.astype(np.float32), "trans": trans, "betas": params.betas.copy(),
            "expressions": expr.astype(np.float32), "mocap_frame_rate": np.array(fps),
            "gender": np.array("neutral"), "model": np.array("smplx"),
            "flat_hand_mean": np.array(hand_mean == "absolute"), "body_model": np.array(model.backend)}


# ---------------------------------------------------------------------------------------------- the run
def import_mocap(path: str | Path, run, audio_file: str | Path, cfg: MocapConfig | None = None, model=None,
                 transcript: str | None = None, recognize_speech: bool = True, silence_db: float = -50.0,
                 start: float | None = None, end: float | None = None) -> MocapReport:
    """A motion file + its speech -> a run: ``capture/mocap.npz`` (the kit's layout at ``cfg.fps``, fps in
    the file), ``capture/audio.wav`` (16 kHz mono) and the transcript (forced alignment of ``transcript``, or
    recognition). Motion and speech lasting up to ``cfg.max_gap_s`` apart are cut to their common span (said in
    the notes); a larger gap is refused. ``start``/``end`` (seconds) then keep that part of the take, both."""
    import soundfile as sf

    from s2v.capture import _extract_audio, write_transcript
    from s2v.speech.features import SAMPLE_RATE

    cfg = cfg or MocapConfig()
    if model is None:
        from s2v.body import BodyModel

        model = BodyModel(device="cpu")
    params, rep = to_kit(read_mocap(path), model, cfg)
    audio, level = _extract_audio(run, ["-i", str(audio_file)], audio_file, silence_db)
    seconds, speech = len(params) / cfg.fps, len(audio) / SAMPLE_RATE
    n_audio = len(audio)
    if abs(seconds - speech) > cfg.max_gap_s:
        run.path("audio").unlink(missing_ok=True)
        raise MocapError(f"{path}: the motion lasts {seconds:.2f} s but the speech {speech:.2f} s, "
                         f"{abs(seconds - speech):.2f} s apart (at most {cfg.max_gap_s:g} s are cut to the common "
                         "span): another take, or a wrong frame rate (--mocap-fps for a file that names none)")
    if seconds > speech + 0.5 / cfg.fps:      # cut the motion to the speech
        n = max(2, int(np.floor(speech * cfg.fps + 1e-6)))
        params = params.frames(slice(0, n))
        rep.notes.append(f"span: the motion lasts {seconds:.2f} s, the speech {speech:.2f} s: the motion's last "
                         f"{seconds - n / cfg.fps:.2f} s cut")
    elif speech > seconds + 0.5 / cfg.fps:    # cut the speech to the motion
        audio = audio[:int(round(seconds * SAMPLE_RATE))]
        rep.notes.append(f"span: the speech lasts {speech:.2f} s, the motion {seconds:.2f} s: the speech's last "
                         f"{speech - seconds:.2f} s cut")
    offset = 0.0
    if start is not None or end is not None:
        a = 0.0 if start is None else float(start)
        b = len(params) / cfg.fps if end is None else min(float(end), len(params) / cfg.fps)
        if not 0 <= a < b - 1.0 / cfg.fps:
            run.path("audio").unlink(missing_ok=True)
            raise MocapError(f"--start {a:g} / --end {b:g}: not a span inside the take ({len(params) / cfg.fps:.2f} s)")
        i, j = int(round(a * cfg.fps)), int(round(b * cfg.fps))
        params, offset = params.frames(slice(i, j)), i / cfg.fps
        audio = audio[int(round(i / cfg.fps * SAMPLE_RATE)):int(round(j / cfg.fps * SAMPLE_RATE))]
        rep.notes.append(f"span: {i / cfg.fps:.2f}-{j / cfg.fps:.2f} s of the take kept (--start/--end)")
    rep.frames = len(params)
    if len(audio) != n_audio:   # the speech was cut (common span, --start/--end): written once, cut
        sf.write(run.path("audio"), audio, SAMPLE_RATE, subtype="PCM_16")
    from s2v.body.hands import basis_meta

    params.save(run.path("mocap"), fps=cfg.fps, source=str(path),
                **(basis_meta(rep.hand_basis) if rep.hand_basis is not None else {}))
    conf = {"source": str(path), "audio_source": str(audio_file), "fps": cfg.fps, "audio_level_db": round(level, 1),
            **{k: v for k, v in rep.to_dict().items() if k != "notes"}}
    run.record("mocap", config=conf, fps=cfg.fps, notes=rep.notes)
    run.record("audio", config=conf)
    write_transcript(run, audio, transcript, recognize_speech, conf, offset=offset)
    return rep
