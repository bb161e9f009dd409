"""Speech to pose: the paper's 2-layer LSTM (section 3.4), its training and chunked inference.

* **Network**: a 2-layer unidirectional LSTM with a 300-dimensional cell and a linear read-out; the input
  is normalised by its mean and variance, the output is kept in SMPL-X parameter scale ("in order to keep
  the relative scale of different SMPL-X parameters").
* **Delay**: the output is shifted by 200 ms, so the pose at time t is predicted from speech up to
  t + 200 ms ("looking in the future of speaking").
* **Loss**: L2 on the 106 numbers weighted per part, body/hands/mouth/face = 1/4/100/100, plus a
  difference loss on consecutive poses. The paper only says it enforces smoothness "by adding a difference
  loss between 2 consecutive poses"; here the predicted frame-to-frame differences are matched to the
  target's, which smooths as much as the data is smooth without pulling the output towards stillness.
* **Motion that looks human (the kit's defaults, not the paper's; ``preset("paper")`` turns them off).**
  Measured on held-out studio speech (``benchmarks/bench_motion.py``, ``benchmarks/RESULTS.md``): the paper's
  setting gives jerk 10.7x the truth's, a third of its diversity (L1div 0.31x), and body/hand errors 1.2x the
  mean pose's. ``standardize`` (the read-out predicts per-dimension z-scores) and ``part_norm`` (each part's
  weight divided by its spread: with raw 1/4/100/100 the face coefficients, which vary most, are ~all of the
  loss) lower the errors (mouth 0.51 -> 0.28x the mean pose's); ``w_var`` (each window's spread over time
  matched to the target's: L2 alone pays for unpredictable gestures by predicting their average, stillness)
  takes diversity to 0.69-0.71x and FD_g from 0.90 to 0.67; ``smooth`` (a 0.07 s Gaussian over body and hands
  at inference; the jaw follows phonemes and is left alone) takes jerk to 1.0x. Measured and not taken: an
  acceleration loss (smooth, but diversity 0.17x), dropout (no change), smoothing the jaw (mouth error 0.28 ->
  0.45x). ``key_words`` (with a dictionary, :func:`s2v.pose.stage.key_word_mask`): the body and hands at the
  dictionary's key words are left out of the loss, since synthesis inserts the key poses there (section 3.3);
  LSTM + key poses then scores body/hand errors 0.62/0.59x the mean pose's (1.02/0.86x learning every frame;
  a second performance of the same speech by the studio speaker scores 0.60/0.55x), jerk 1.3x, L1div 0.97x.
* **Training**: Adam, lr 0.001, batch 100 windows; checkpoints written atomically every N steps hold the
  model, optimiser, data-order RNG and history, so an interrupted run resumes with identical results;
  early stopping on a validation split keeps the best weights.
* **Baseline**: ``target="keypoints2d"`` trains the same network on 2D keypoints, the paper's first attempt
  (figure 4), for the evaluation of what the 3D skeleton buys.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from s2v.io import load_state, load_states, load_torch, save_torch
from s2v.run import remake_advice
from s2v.params import PAPER_PART_WEIGHTS, ParamLayout


@dataclass
class PoseLSTMConfig:
    hidden: int = 300                 # section 3.4
    layers: int = 2                   # section 3.4
    delay: float = 0.2                # seconds (section 3.4)
    lr: float = 1e-3                  # section 3.4
    batch_size: int = 100             # section 3.4
    window: float = 4.0               # seconds per training window
    part_weights: dict = field(default_factory=lambda: dict(PAPER_PART_WEIGHTS))  # section 3.4
    w_diff: float = 1.0               # difference loss on consecutive poses
    standardize: bool = True          # predict per-dimension z-scores of the targets (the paper: False)
    part_norm: bool = True            # divide each part's weight by its spread in the data (the paper: False)
    w_acc: float = 0.0                # penalty on the predicted acceleration (second difference): jitter
    w_var: float = 1.0                # match each window's spread over time to the target's (the paper: 0)
    dropout: float = 0.0              # between the LSTM layers
    smooth: float = 0.07              # Gaussian smoothing of body and hands at inference (sigma s; the paper: 0)
    key_words: bool = True            # leave body and hands at the dictionary's key words to it (the paper: False)
    max_steps: int = 2000
    eval_every: int = 100             # steps between validation checks
    patience: int = 5                 # validation checks without improvement before stopping
    # a validation loss prefers the mean pose early on (a real take early-stopped at step 25 with a frozen model):
    # a check whose prediction moves less than this share of the truth's spread is never kept as the best, and
    # does not count towards stopping; if no check moved enough, the last weights are kept, with a warning
    min_val_spread: float = 0.5
    checkpoint_every: int = 100
    seed: int = 0
    device: str | None = None

    @classmethod
    def preset(cls, name: str = "auto", **kw) -> "PoseLSTMConfig":
        """``paper``: section 3.4 as is (batch 100 windows of 4 s, 2000 steps, outputs in SMPL-X scale, raw
        part weights, no smoothing; minutes on a GPU, 9-13 s a step on a 2-core CPU). ``gpu``: the paper's
        budget with the kit's motion settings (the defaults). ``cpu``: those with a budget a laptop finishes
        (batch 32 windows of 4 s, 300 steps, validation and an atomic checkpoint every 25 steps; 2 s windows
        measured 0.52x the truth's diversity against 0.69x). ``quickstart``, ``tiny``: smaller still. ``auto``:
        ``gpu`` where CUDA is available, else ``cpu``. The presets live in :data:`s2v.config.PRESETS`; keyword
        arguments (not None) override."""
        from s2v.config import make

        return make("pose", name, {k: v for k, v in kw.items() if v is not None})


class PoseLSTM(nn.Module):
    """``out_scale`` is 1 in the paper's setting (outputs in SMPL-X scale around the training mean
    ``out_init``) and each dimension's spread with ``standardize`` (the read-out predicts z-scores);
    ``smooth`` (seconds) is the inference smoothing :func:`predict` applies to the output dimensions
    ``smooth_dims`` (body and hands for SMPL-X targets: the jaw follows phonemes faster than any gesture)."""

    def __init__(self, input_dim: int, output_dim: int, hidden: int = 300, layers: int = 2, dropout: float = 0.0,
                 smooth: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden, output_dim)
        self.register_buffer("in_mean", torch.zeros(input_dim))
        self.register_buffer("in_std", torch.ones(input_dim))
        self.register_buffer("out_init", torch.zeros(output_dim))
        self.register_buffer("out_scale", torch.ones(output_dim))
        self.smooth = smooth
        self.smooth_dims: list[int] | None = None     # None: all

    def forward(self, x: torch.Tensor, state=None):
        h, state = self.lstm((x - self.in_mean) / self.in_std, state)
        return self.out(h) * self.out_scale + self.out_init, state


@dataclass
class Sequence:
    """One training sequence: per-frame inputs (T, D_in) and targets (T, D_out) at ``fps``."""

    inputs: np.ndarray
    targets: np.ndarray
    fps: float
    name: str = ""
    mask: np.ndarray | None = None    # (T,) 0 where body and hands are not learned (key-word windows), else 1


def _shift(targets: np.ndarray, d: int) -> np.ndarray:
    """Target for input frame t is the pose at t - d (the network answers 200 ms late)."""
    if d <= 0:
        return targets
    return np.concatenate([np.repeat(targets[:1], d, 0), targets[:-d]])


class _Windows:
    """Random windows from the training sequences, in an order fixed by a saved RNG."""

    def __init__(self, seqs: list[Sequence], length: int, d: int, rng: np.random.Generator):
        self.x = [s.inputs.astype(np.float32) for s in seqs]
        self.y = [_shift(s.targets, d).astype(np.float32) for s in seqs]
        self.m = [_shift(_mask(s), d) for s in seqs]
        self.len = length
        self.rng = rng
        lens = np.array([len(x) for x in self.x], float)
        self.p = lens / lens.sum()

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, ms = [], [], []
        for s in self.rng.choice(len(self.x), size=n, p=self.p):
            T = len(self.x[s])
            L = min(self.len, T)
            a = int(self.rng.integers(0, T - L + 1))
            x, y, m = self.x[s][a:a + L], self.y[s][a:a + L], self.m[s][a:a + L]
            if L < self.len:  # pad short sequences by repeating the last frame
                x = np.concatenate([x, np.repeat(x[-1:], self.len - L, 0)])
                y = np.concatenate([y, np.repeat(y[-1:], self.len - L, 0)])
                m = np.concatenate([m, np.repeat(m[-1:], self.len - L, 0)])
            xs.append(x)
            ys.append(y)
            ms.append(m)
        return np.stack(xs), np.stack(ys), np.stack(ms)


def _mask(s: Sequence) -> np.ndarray:
    return np.ones(len(s.targets), np.float32) if s.mask is None else np.asarray(s.mask, np.float32)


def target_weights(target: str, dim: int, cfg: PoseLSTMConfig, layout: ParamLayout | None = None) -> np.ndarray:
    if target == "smplx":
        return (layout or ParamLayout()).part_weights(cfg.part_weights)
    return np.ones(dim, np.float32)


def loss_fn(pred: torch.Tensor, y: torch.Tensor, w: torch.Tensor, w_diff: float, w_acc: float = 0.0,
            w_var: float = 0.0, m: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted L2, the difference loss (predicted frame-to-frame differences against the target's) and,
    with ``w_acc``, a penalty on the predicted second difference (what a viewer sees as jitter); with
    ``w_var``, each window's standard deviation over time matched to the target's (L2 alone pays for
    unpredictable motion by predicting its average: stillness). ``m`` (B, T, D) weighs each frame's numbers
    (0: not learned there; the spread is then taken over the learned frames only)."""
    wm = w if m is None else w * m
    l2 = ((pred - y) ** 2 * wm).sum(-1).mean()
    if w_diff and pred.shape[1] > 1:
        dp, dy = pred[:, 1:] - pred[:, :-1], y[:, 1:] - y[:, :-1]
        wd = w if m is None else w * m[:, 1:] * m[:, :-1]
        l2 = l2 + w_diff * ((dp - dy) ** 2 * wd).sum(-1).mean()
    if w_acc and pred.shape[1] > 2:
        acc = pred[:, 2:] - 2 * pred[:, 1:-1] + pred[:, :-2]
        l2 = l2 + w_acc * (acc ** 2 * w).sum(-1).mean()
    if w_var and pred.shape[1] > 2:
        l2 = l2 + w_var * ((_spread(pred, m) - _spread(y, m)) ** 2 * w).sum(-1).mean()
    return l2


def _spread(x: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """(B, D) standard deviation over time, over the frames where ``m`` > 0 (all frames without ``m``)."""
    if m is None:
        return x.std(1)
    n = m.sum(1).clamp_min(1.0)
    mu = (x * m).sum(1, keepdim=True) / n[:, None]
    return (((x - mu) ** 2 * m).sum(1) / n + 1e-12).sqrt()


@dataclass
class TrainState:
    step: int = 0
    best_val: float = float("inf")
    best_step: int = 0
    bad_checks: int = 0
    history: list = field(default_factory=list)   # (step, train_loss)
    val_history: list = field(default_factory=list)  # (step, val_loss)
    stopped_early: bool = False
    val_spread: list = field(default_factory=list)   # (step, predicted / true spread over time on validation)
    best_spread: float = float("nan")                # that ratio at the best step


class Trainer:
    """Trains a :class:`PoseLSTM` on sequences, with atomic checkpoints and exact resume."""

    def __init__(self, train: list[Sequence], val: list[Sequence], cfg: PoseLSTMConfig | None = None,
                 target: str = "smplx", checkpoint: str | Path | None = None, layout: ParamLayout | None = None):
        if not train:
            raise ValueError("no training sequences")
        self.cfg = cfg or PoseLSTMConfig()
        self.target = target
        self.fps = train[0].fps
        self.delay_frames = int(round(self.cfg.delay * self.fps))
        self.device = torch.device(self.cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch.manual_seed(self.cfg.seed)
        din, dout = train[0].inputs.shape[1], train[0].targets.shape[1]
        if target == "smplx" and dout != (layout or ParamLayout()).frame_dim:
            raise ValueError(f"target 'smplx' needs {(layout or ParamLayout()).frame_dim} numbers per frame, the "
                             f"sequences have {dout} (use target='keypoints2d' for other targets)")
        if target not in ("smplx", "keypoints2d"):
            raise ValueError(f"target must be 'smplx' or 'keypoints2d', got {target!r}")
        self.model = PoseLSTM(din, dout, self.cfg.hidden, self.cfg.layers, self.cfg.dropout,
                              self.cfg.smooth).to(self.device)
        if target == "smplx":
            lay = layout or ParamLayout()
            self.model.smooth_dims = np.r_[lay.part_index("body"), lay.part_index("hands")].tolist()
        allx = np.concatenate([s.inputs for s in train])
        ally = np.concatenate([s.targets for s in train])
        self.model.in_mean.copy_(torch.as_tensor(allx.mean(0)))
        self.model.in_std.copy_(torch.as_tensor(allx.std(0) + 1e-5))
        self.model.out_init.copy_(torch.as_tensor(ally.mean(0)))
        if self.cfg.standardize:
            self.model.out_scale.copy_(torch.as_tensor(ally.std(0) + 1e-4))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        self.rng = np.random.default_rng(self.cfg.seed)
        self.windows = _Windows(train, max(2, int(round(self.cfg.window * self.fps))), self.delay_frames, self.rng)
        self.val = val
        w = target_weights(target, dout, self.cfg, layout)
        if self.cfg.part_norm and target == "smplx":
            w = w / part_spread(ally, layout)
        self.w = torch.as_tensor(w, device=self.device)
        gate = np.zeros(dout, np.float32)   # the numbers a frame mask switches off: body and hands
        if target == "smplx":
            gate[self.model.smooth_dims] = 1.0
        self.gate = torch.as_tensor(gate, device=self.device)
        self.masked = sum(int((_mask(q) < 1).sum()) for q in train)   # frames whose body and hands are not learned
        self.state = TrainState()
        self.best = copy.deepcopy(self.model.state_dict())
        self.checkpoint = Path(checkpoint) if checkpoint else None
        if self.checkpoint and self.checkpoint.exists():
            self._load(self.checkpoint)

    # ------------------------------------------------------------------ checkpoints
    def _payload(self) -> dict:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "best": self.best,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "state": asdict(self.state), "config": asdict(self.cfg), "target": self.target, "fps": self.fps,
                "input_dim": self.model.lstm.input_size, "output_dim": self.model.out.out_features}

    def save(self, path: str | Path | None = None) -> Path:
        return save_torch(path or self.checkpoint, self._payload())

    def _load(self, path: Path) -> None:
        ck = load_torch(path, "pose LSTM training checkpoint", ("model", "opt", "best", "state", "config"),
                        f"rm {path} (restarts the training)", device=self.device)
        load_states(path, {"model": self.model, "opt": self.opt}, ck,
                    {**ck["config"], "input_dim": ck.get("input_dim"), "output_dim": ck.get("output_dim")},
                    {**asdict(self.cfg), "input_dim": self.model.lstm.input_size,
                     "output_dim": self.model.out.out_features})
        self.best = ck["best"]
        self.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"].cpu())
        self.state = TrainState(**ck["state"])

    # ------------------------------------------------------------------ training
    def validation_loss(self) -> float:
        return self.validate()[0]

    def validate(self) -> tuple[float, float]:
        """(validation loss, spread ratio): the ratio is the weighted mean over output dimensions of the
        prediction's standard deviation over time divided by the truth's (1: moves as much as the speaker;
        0: a frozen pose)."""
        if not self.val:
            return float("nan"), float("nan")
        self.model.eval()
        tot, n, sp, st = 0.0, 0, 0.0, 0.0
        with torch.no_grad():
            for s in self.val:
                x = torch.as_tensor(s.inputs[None], dtype=torch.float32, device=self.device)
                y = torch.as_tensor(_shift(s.targets, self.delay_frames)[None], dtype=torch.float32, device=self.device)
                m = self._frame_weights(_shift(_mask(s), self.delay_frames)[None]) if s.mask is not None else None
                pred, _ = self.model(x)
                tot += float(loss_fn(pred, y, self.w, self.cfg.w_diff, self.cfg.w_acc, self.cfg.w_var, m)
                             ) * len(s.inputs)
                n += len(s.inputs)
                w = self.w.reshape(-1)
                sp += float((pred[0].std(0) * w).sum()) * len(s.inputs)
                st += float((y[0].std(0) * w).sum()) * len(s.inputs)
        self.model.train()
        return tot / max(n, 1), sp / max(st, 1e-12)

    def _frame_weights(self, mask: np.ndarray) -> torch.Tensor | None:
        """(B, T) frame mask -> (B, T, D) weights: masked frames keep the mouth and face, drop body and hands."""
        if self.masked == 0:
            return None
        mk = torch.as_tensor(mask, dtype=torch.float32, device=self.device)
        return 1.0 - (1.0 - mk)[..., None] * self.gate

    def train(self, steps: int | None = None, progress: bool = True) -> TrainState:
        """Train up to ``cfg.max_steps`` (or ``steps`` more); stops early when validation stalls."""
        from tqdm.auto import tqdm

        cfg, st = self.cfg, self.state
        end = cfg.max_steps if steps is None else min(cfg.max_steps, st.step + steps)
        bar = tqdm(total=end - st.step, desc=f"pose LSTM ({self.target})", unit="step", disable=not progress)
        self.model.train()
        while st.step < end and not st.stopped_early:
            x, y, m = self.windows.batch(cfg.batch_size)
            x = torch.as_tensor(x, device=self.device)
            y = torch.as_tensor(y, device=self.device)
            pred, _ = self.model(x)
            loss = loss_fn(pred, y, self.w, cfg.w_diff, cfg.w_acc, cfg.w_var, self._frame_weights(m))
            self.opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.opt.step()
            st.step += 1
            st.history.append((st.step, float(loss.detach())))
            bar.update()
            bar.set_postfix(loss=f"{st.history[-1][1]:.4g}")
            if st.step % cfg.eval_every == 0 and self.val:
                v, spread = self.validate()
                st.val_history.append((st.step, v))
                st.val_spread.append((st.step, spread))
                if spread < cfg.min_val_spread:
                    pass                     # a frozen prediction: neither the best nor a reason to stop
                elif v < st.best_val:
                    st.best_val, st.best_step, st.bad_checks, st.best_spread = v, st.step, 0, spread
                    self.best = copy.deepcopy(self.model.state_dict())
                else:
                    st.bad_checks += 1
                    st.stopped_early = st.bad_checks >= cfg.patience
            if self.checkpoint and (st.step % cfg.checkpoint_every == 0 or st.step == end or st.stopped_early):
                self.save()
        bar.close()
        return st

    def best_model(self) -> PoseLSTM:
        m = copy.deepcopy(self.model)
        if self.val and self.state.best_val < float("inf"):
            m.load_state_dict(self.best)
        return m.eval()

    def export(self, path: str | Path, meta: dict | None = None) -> Path:
        """The trained network (best weights) for inference: ``pose/model.pt``."""
        m = self.best_model()
        return save_torch(path, {"model": m.state_dict(), "config": asdict(self.cfg), "target": self.target,
                                 "fps": self.fps, "input_dim": m.lstm.input_size, "output_dim": m.out.out_features,
                                 "meta": meta or {}, "smooth_dims": m.smooth_dims})


def load_model(path: str | Path, device=None) -> tuple[PoseLSTM, dict]:
    ck = load_torch(path, "trained pose LSTM (pose/model.pt)", ("model", "config", "input_dim", "output_dim"),
                    remake_advice(path, "pose_model", "python -m s2v pose --train <run> --out <speaker>"),
                    device=device or "cpu")
    cfg = ck["config"]
    m = PoseLSTM(ck["input_dim"], ck["output_dim"], cfg["hidden"], cfg["layers"], smooth=cfg.get("smooth", 0.0))
    state = dict(ck["model"])
    state.setdefault("out_scale", torch.ones(ck["output_dim"]))     # models saved before standardisation
    load_state(m, state, path)
    m.smooth_dims = ck.get("smooth_dims")
    return m.eval().to(device or "cpu"), ck


def part_spread(targets: np.ndarray, layout: ParamLayout | None = None) -> np.ndarray:
    """(D,) the mean variance of the part (body, hands, mouth, face) each dimension belongs to, so that
    ``weights / part_spread`` makes each part's loss relative to how much it moves: with the paper's raw
    1/4/100/100 the face's coefficients, which vary most, dominate the loss and the jaw and body hardly count."""
    lay = layout or ParamLayout()
    var = targets.var(0) + 1e-8
    out = np.ones_like(var)
    for part in lay.part_fields():
        idx = lay.part_index(part)
        out[idx] = var[idx].mean()
    return out.astype(np.float32)


@torch.no_grad()
def predict(model: PoseLSTM, inputs: np.ndarray, fps: float, delay: float = 0.2, chunk: int = 2048,
            parallel: bool | None = None, segment: float = 30.0, warmup: float = 5.0) -> np.ndarray:
    """Poses (T, D_out) for inputs (T, D_in) of any length. The 200 ms delay is undone: inputs are padded
    at the end and the first ``delay`` frames of output dropped.

    ``parallel=False``: one pass in chunks carrying the LSTM state (bounded memory, exact).
    ``parallel=True``: the input is cut into ``segment``-second pieces run side by side as one batch, each
    primed with the ``warmup`` seconds before it; an LSTM is sequential in time, so on a CPU this is many
    times faster for long speech, and after a few seconds of context the state has forgotten where it
    started (tests bound the difference). ``None`` chooses parallel for inputs over 3 segments.
    """
    d = int(round(delay * fps))
    dev = next(model.parameters()).device
    x = np.concatenate([inputs, np.repeat(inputs[-1:], d, 0)]).astype(np.float32) if d else inputs.astype(np.float32)
    seg, warm = max(1, int(segment * fps)), int(warmup * fps)
    if parallel is None:
        parallel = len(x) > 3 * seg
    if not parallel:
        outs, state = [], None
        for a in range(0, len(x), chunk):
            y, state = model(torch.as_tensor(x[None, a:a + chunk], device=dev), state)
            outs.append(y[0].cpu().numpy())
        return _smoothed(np.concatenate(outs)[d:], model, fps)
    warm = min(warm, seg)
    first, state = model(torch.as_tensor(x[None, :seg], device=dev))   # the first segment: exact
    out = np.zeros((len(x), model.out.out_features), np.float32)
    out[:seg] = first[0].cpu().numpy()
    starts = list(range(seg, len(x), seg))
    L = warm + seg
    for b in range(0, len(starts), 64):  # bounded memory: 64 segments at a time
        group = starts[b:b + 64]
        batch = np.zeros((len(group), L, x.shape[1]), np.float32)  # end padding never affects earlier steps
        for i, s0 in enumerate(group):
            piece = x[s0 - warm:s0 + seg]
            batch[i, :len(piece)] = piece
        y, _ = model(torch.as_tensor(batch, device=dev))
        y = y.cpu().numpy()
        for i, s0 in enumerate(group):
            n = min(seg, len(x) - s0)
            out[s0:s0 + n] = y[i, warm:warm + n]
    return _smoothed(out[d:], model, fps)


def _smoothed(poses: np.ndarray, model: PoseLSTM, fps: float) -> np.ndarray:
    """Gaussian smoothing along time (scipy) of the model's ``smooth_dims``, edges held: removes the
    frame-to-frame jitter that audio features put into the LSTM's gestures (sigma ``model.smooth`` seconds)."""
    sigma = model.smooth * fps
    if sigma <= 0:
        return poses
    from scipy.ndimage import gaussian_filter1d

    out = poses.copy()
    idx = slice(None) if model.smooth_dims is None else np.asarray(model.smooth_dims)
    out[:, idx] = gaussian_filter1d(poses[:, idx], sigma, axis=0, mode="nearest")
    return out
