"""Speech to gesture, generatively: a conditional flow-matching model of pose sequences (issue 28).

The paper's LSTM (:mod:`s2v.pose.lstm`, kept as the baseline) regresses one pose per frame. Trained with L2, a
regression pays for what the speech does not decide — which hand, how wide, whether this stressed syllable gets
a beat at all — by predicting the average of the possibilities: stillness, or one gesture smeared over many. A
generative model instead *samples* a motion that the speaker might have made with this speech, and another
seed samples another one.

**Why flow matching** (chosen after the field: VQ codebooks + autoregressive transformers as TalkSHOW/EMAGE,
diffusion as DiffGesture and its successors, mixture-density RNNs). Conditional flow matching (Lipman et al.
2023; rectified flow, Liu et al. 2023) learns to carry a noise sample to a data sample along a straight line —
one regression loss, no codebook to fit first (VQ needs two trainings, and a codebook collapses on minutes of
data), no noise schedule to tune (diffusion), and sampling in 8-16 Euler steps rather than diffusion's hundreds,
which on a 2-core CPU decides whether a sample costs a fraction of a second or a minute. An MDN-RNN samples frame
by frame and drifts or jitters on long speech; a flow samples the whole sequence at once. The network predicts
the clean motion rather than the velocity (as MDM, Tevet et al. 2023, does for motion diffusion), so a loss on
its frame-to-frame differences applies, and the last step lands on a smooth motion.

**Network.** A 1-D temporal convolution network over the whole sequence (no attention, no recurrence): the
noisy poses (z-scores of the 106 numbers) and the speech features — the paper's 28-D MFCC spec, plus the words
when their times are known: timing (inside a word, word onset) and the paper's text features (the spelling over
each word's span, :mod:`s2v.speech.text`) — enter per frame; residual blocks with dilations 1..16 see ±4 s; the
flow time enters by FiLM. It is fully convolutional, so a minute of speech is sampled in one pass, with no
windows to stitch (training uses 4 s windows; normalisation is per frame so the length does not matter). The
words are dropped from a share of training windows so the model also runs on speech without a transcript; all
conditioning from a smaller share, so classifier-free guidance (``guidance`` > 1) can push samples towards the
speech.

**Seeds.** A sample is a deterministic function of its starting noise: ``sample(..., seed=s)`` draws that noise
from a generator seeded with ``s``, so the same seed gives the same motion and another seed other motion.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from s2v.io import load_state, load_states, load_torch, save_torch
from s2v.run import remake_advice
from s2v.params import ParamLayout
from s2v.pose.lstm import Sequence, _Windows

#: word channels appended to the audio features: word timing (:func:`word_timing`, 2) and the text features of
#: :mod:`s2v.speech.text` (the words' spelling over their time spans, 56)
WORD_CHANNELS = 2 + 56


@dataclass
class GestureFlowConfig:
    channels: int = 128               # width of the temporal convolutions
    blocks: int = 10                  # residual blocks, dilations 1, 2, 4, 8, 16, 1, ... (receptive field ±4 s)
    kernel: int = 3
    window: float = 4.0               # seconds per training window
    batch_size: int = 16
    lr: float = 5e-4                  # AdamW
    weight_decay: float = 1e-4
    max_steps: int = 1200
    max_minutes: float = 20.0         # training budget on the clock (issue 28: <= 20 min on a 2-core CPU)
    ema: float = 0.999                # exponential moving average of the weights, which sampling uses
    word_dropout: float = 0.3         # share of windows trained without their word channels
    cond_dropout: float = 0.1         # share trained with no speech at all (classifier-free guidance)
    sample_steps: int = 16            # Euler steps from noise to motion
    guidance: float = 1.0             # classifier-free guidance scale (1: none)
    smooth: float = 0.03              # Gaussian smoothing of body and hands after sampling (sigma s; the LSTM: 0.07)
    part_balance: bool = True         # body, hands, mouth and face weigh the same in the loss, whatever their size
    w_vel: float = 1.0                # loss on the predicted motion's frame-to-frame differences (in their z-scores)
    checkpoint_every: int = 100
    seed: int = 0
    device: str | None = None

    @classmethod
    def preset(cls, name: str = "default", **kw) -> "GestureFlowConfig":
        """``default``/``cpu``: the budget measured on the studio speaker (benchmarks/RESULTS.md, issue 28);
        ``gpu``: wider and longer; ``quickstart``, ``tiny``: smaller. The presets live in
        :data:`s2v.config.PRESETS` (kind ``flow``); keyword arguments (not None) override."""
        from s2v.config import make

        return make("flow", name, {k: v for k, v in kw.items() if v is not None})


def word_channels(words: list[dict], num_frames: int, fps: float) -> np.ndarray:
    """(T, :data:`WORD_CHANNELS`) what the words add to the audio: their timing and their spelling (zeros
    without words)."""
    from s2v.speech.text import text_features

    return np.concatenate([word_timing(words, num_frames, fps), text_features(words, num_frames, fps)], 1)


def word_timing(words: list[dict], num_frames: int, fps: float, onset_sigma: float = 0.05) -> np.ndarray:
    """(T, 2) per-frame word timing: 1 inside a word (0 in pauses), and a Gaussian pulse (σ ``onset_sigma`` s)
    at each word's start — where a speaker places a beat, which audio features show only as a change."""
    t = (np.arange(num_frames) + 0.5) / fps
    out = np.zeros((num_frames, 2), np.float32)
    for w in words:
        a, b = float(w["start"]), float(w["end"])
        out[(t >= a) & (t < b), 0] = 1.0
        out[:, 1] = np.maximum(out[:, 1], np.exp(-0.5 * ((t - a) / onset_sigma) ** 2))
    return out


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    a = t[:, None].float() * 1000.0 * freqs[None]
    return torch.cat([a.sin(), a.cos()], -1)


def _channel_norm(h: torch.Tensor) -> torch.Tensor:
    """Layer norm over the channels of each frame (B, C, T): statistics that do not depend on the length, so a
    network trained on 4 s windows samples a minute the same way."""
    return F.layer_norm(h.transpose(1, 2), (h.shape[1],)).transpose(1, 2)


class _Block(nn.Module):
    def __init__(self, c: int, cond: int, dilation: int, kernel: int):
        super().__init__()
        self.film = nn.Linear(c, 2 * c)
        self.cond = nn.Conv1d(cond, c, 1)
        self.conv1 = nn.Conv1d(c, c, kernel, padding=dilation * (kernel // 2), dilation=dilation,
                               padding_mode="replicate")
        self.conv2 = nn.Conv1d(c, c, 1)

    def forward(self, h, c, emb):
        s, b = self.film(emb)[:, :, None].chunk(2, 1)
        y = _channel_norm(h + self.cond(c)) * (1 + s) + b
        return h + self.conv2(F.silu(self.conv1(F.silu(y))))


class GestureFlow(nn.Module):
    """The clean motion x̂1(x_t, t | speech) predicted from a noisy one, over (B, T, D) pose z-scores (the flow's
    velocity is (x̂1 - x_t) / (1 - t)); buffers hold the normalisation."""

    def __init__(self, input_dim: int, output_dim: int, channels: int = 128, blocks: int = 10, kernel: int = 3):
        super().__init__()
        self.inp = nn.Conv1d(output_dim + input_dim, channels, kernel, padding=kernel // 2, padding_mode="replicate")
        self.temb = nn.Sequential(nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, channels))
        self.blocks = nn.ModuleList(_Block(channels, input_dim, 2 ** (i % 5), kernel) for i in range(blocks))
        self.out = nn.Conv1d(channels, output_dim, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        for name, dim in (("in_mean", input_dim), ("out_mean", output_dim)):
            self.register_buffer(name, torch.zeros(dim))
        for name, dim in (("in_std", input_dim), ("out_std", output_dim)):
            self.register_buffer(name, torch.ones(dim))
        self.input_dim, self.output_dim, self.channels = input_dim, output_dim, channels
        self.smooth, self.fps = 0.0, 30.0           # set from the config by load_flow / FlowTrainer

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, T, D) noisy z-scores at flow time t (B,), cond (B, T, D_in) normalised speech features."""
        x, c = x.transpose(1, 2), cond.transpose(1, 2)
        h = self.inp(torch.cat([x, c], 1))
        emb = self.temb(_timestep_embedding(t, self.channels))
        for blk in self.blocks:
            h = blk(h, c, emb)
        return self.out(F.silu(_channel_norm(h))).transpose(1, 2)

    def normalise(self, inputs: torch.Tensor) -> torch.Tensor:
        return (inputs - self.in_mean) / self.in_std

    def without_words(self, cond: torch.Tensor) -> torch.Tensor:
        """Normalised features ``cond`` (B, T, D_in) with the word channels set to those of speech with no word
        times (raw zeros); a model without word channels gets ``cond`` back."""
        if self.input_dim <= WORD_CHANNELS:
            return cond
        k = slice(self.input_dim - WORD_CHANNELS, self.input_dim)
        none = (-(self.in_mean / self.in_std)[k]).expand_as(cond[..., k])
        return torch.cat([cond[..., :k.start], none], -1)


def part_balance(layout: ParamLayout | None = None, dim: int = 106) -> np.ndarray:
    """(D,) loss weights under which each part (body 63, hands 24, mouth 3, face 16 numbers) counts the same; the
    mean weight is 1. Without it the body's 63 numbers are 60 % of the loss and the jaw's 3 are 3 %."""
    lay = layout or ParamLayout()
    if dim != lay.frame_dim:
        return np.ones(dim, np.float32)
    w = np.zeros(dim, np.float32)
    parts = lay.part_fields()
    for p in parts:
        idx = lay.part_index(p)
        w[idx] = dim / (len(parts) * len(idx))
    return w


@dataclass
class FlowState:
    step: int = 0
    seconds: float = 0.0
    history: list = field(default_factory=list)      # (step, loss)
    stopped_by_budget: bool = False


class FlowTrainer:
    """Trains a :class:`GestureFlow` on sequences (inputs: audio features + word channels), with atomic
    checkpoints (model, EMA, optimiser, data-order RNG) so an interrupted training resumes where it stopped."""

    def __init__(self, train: list[Sequence], cfg: GestureFlowConfig | None = None,
                 checkpoint: str | Path | None = None, layout: ParamLayout | None = None):
        if not train:
            raise ValueError("no training sequences")
        self.cfg = cfg = cfg or GestureFlowConfig()
        self.fps = train[0].fps
        self.device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch.manual_seed(cfg.seed)
        din, dout = train[0].inputs.shape[1], train[0].targets.shape[1]
        self.model = GestureFlow(din, dout, cfg.channels, cfg.blocks, cfg.kernel).to(self.device)
        allx = np.concatenate([s.inputs for s in train])
        ally = np.concatenate([s.targets for s in train])
        self.model.in_mean.copy_(torch.as_tensor(allx.mean(0)))
        self.model.in_std.copy_(torch.as_tensor(allx.std(0) + 1e-4))
        mu, sd = ally.mean(0), ally.std(0) + 1e-4
        self.model.out_mean.copy_(torch.as_tensor(mu))
        self.model.out_std.copy_(torch.as_tensor(sd))
        self.model.smooth, self.model.fps = cfg.smooth, self.fps
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.rng = np.random.default_rng(cfg.seed)
        self.windows = _Windows(train, max(4, int(round(cfg.window * self.fps))), 0, self.rng)
        w = part_balance(layout, dout) if cfg.part_balance else np.ones(dout, np.float32)
        self.w = torch.as_tensor(w, device=self.device)
        dvar = np.concatenate([np.diff((q.targets - mu) / sd, axis=0) for q in train]).var(0)
        self.dw = torch.as_tensor(w / (dvar + 1e-4), device=self.device)   # velocity loss in velocity z-scores
        self.state = FlowState()
        self.checkpoint = Path(checkpoint) if checkpoint else None
        if self.checkpoint and self.checkpoint.exists():
            self._load(self.checkpoint)

    # ------------------------------------------------------------------ checkpoints
    def _payload(self) -> dict:
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "state": asdict(self.state), "config": asdict(self.cfg), "fps": self.fps,
                "input_dim": self.model.input_dim, "output_dim": self.model.output_dim}

    def save(self, path: str | Path | None = None) -> Path:
        return save_torch(path or self.checkpoint, self._payload())

    def _load(self, path: Path) -> None:
        ck = load_torch(path, "gesture-flow training checkpoint", ("model", "ema", "opt", "state", "config"),
                        f"rm {path} (restarts the training)", device=self.device)
        load_states(path, {"model": self.model, "ema": self.ema, "opt": self.opt}, ck,
                    {**ck["config"], "input_dim": ck.get("input_dim"), "output_dim": ck.get("output_dim")},
                    {**asdict(self.cfg), "input_dim": self.model.input_dim, "output_dim": self.model.output_dim})
        self.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"].cpu())
        self.state = FlowState(**ck["state"])

    # ------------------------------------------------------------------ training
    def loss(self, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        """Flow-matching loss of one batch: noise x0, data x1 (z-scores), x_t on the straight line between them
        at a uniform t; the network predicts x1 itself (as MDM, Tevet et al. 2023, for motion), scored by L2
        per part and by L2 on its frame-to-frame differences (``w_vel``). Measured on the studio speaker: the
        usual velocity target (x1 - x0) left samples with 180-210x the truth's jerk after 1435 steps — what
        noise the last steps did not remove stays in the motion — where a predicted clean motion with a
        velocity loss is smooth by construction at the last step."""
        cfg, m = self.cfg, self.model
        cond = m.normalise(torch.as_tensor(x, device=self.device))
        B = cond.shape[0]
        drop = torch.as_tensor(self.rng.random(B) < cfg.cond_dropout, device=self.device)
        cond = torch.where(drop[:, None, None], torch.zeros_like(cond), cond)
        if m.input_dim > WORD_CHANNELS:
            wd = torch.as_tensor(self.rng.random(B) < cfg.word_dropout, device=self.device)
            cond = torch.where(wd[:, None, None], m.without_words(cond), cond)
        x1 = (torch.as_tensor(y, device=self.device) - m.out_mean) / m.out_std
        x0 = torch.randn_like(x1)
        t = torch.rand(B, device=self.device)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        x1h = m(xt, t, cond)
        loss = (((x1h - x1) ** 2) * self.w).mean()
        if cfg.w_vel and x1.shape[1] > 1:
            dh, d1 = x1h[:, 1:] - x1h[:, :-1], x1[:, 1:] - x1[:, :-1]
            loss = loss + cfg.w_vel * (((dh - d1) ** 2) * self.dw).mean()
        return loss

    def train(self, steps: int | None = None, progress: bool = True) -> FlowState:
        """Train up to ``cfg.max_steps`` (or ``steps`` more), or until ``cfg.max_minutes`` of training."""
        from tqdm.auto import tqdm

        cfg, st = self.cfg, self.state
        end = cfg.max_steps if steps is None else min(cfg.max_steps, st.step + steps)
        bar = tqdm(total=end - st.step, desc="gesture flow", unit="step", disable=not progress)
        self.model.train()
        t0, s0 = time.perf_counter(), st.seconds
        while st.step < end:
            x, y, _ = self.windows.batch(cfg.batch_size)
            loss = self.loss(x, y)
            self.opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            st.step += 1
            decay = min(cfg.ema, (1 + st.step) / (10 + st.step))
            with torch.no_grad():
                for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                    pe.lerp_(pm, 1 - decay)
            st.history.append((st.step, float(loss.detach())))
            st.seconds = s0 + time.perf_counter() - t0
            bar.update()
            bar.set_postfix(loss=f"{st.history[-1][1]:.3f}")
            over = st.seconds > cfg.max_minutes * 60
            if self.checkpoint and (st.step % cfg.checkpoint_every == 0 or st.step == end or over):
                self.save()
            if over:
                st.stopped_by_budget = True
                break
        bar.close()
        return st

    def export(self, path: str | Path, meta: dict | None = None) -> Path:
        """The EMA network for sampling: ``pose/flow.pt``."""
        return save_torch(path, {"kind": "flow", "model": self.ema.state_dict(), "config": asdict(self.cfg),
                                 "fps": self.fps, "input_dim": self.model.input_dim,
                                 "output_dim": self.model.output_dim, "target": "smplx", "meta": meta or {}})


def load_flow(path: str | Path, device=None) -> tuple[GestureFlow, dict]:
    ck = load_torch(path, "trained gesture flow (pose/flow.pt)", ("model", "config", "input_dim", "output_dim"),
                    remake_advice(path, "pose_flow", "python -m s2v pose --kind flow --train <run> --out <speaker>"),
                    device=device or "cpu")
    cfg = ck["config"]
    m = GestureFlow(ck["input_dim"], ck["output_dim"], cfg["channels"], cfg["blocks"], cfg["kernel"])
    load_state(m, ck["model"], path)
    m.smooth, m.fps = float(cfg.get("smooth", 0.0)), float(ck["fps"])
    return m.eval().to(device or "cpu"), ck


@torch.no_grad()
def sample(model: GestureFlow, inputs: np.ndarray, seed: int = 0, steps: int = 16, guidance: float = 1.0,
           words: bool = True) -> np.ndarray:
    """(T, D) poses sampled for (T, D_in) speech features (audio features, then the word channels when the
    model has them). ``seed`` fixes the starting noise (same seed, same motion); ``steps`` Euler steps of the
    flow from t = 0 (noise) to 1 (motion), the velocity at each being (x̂1 - x_t) / (1 - t), so the last step
    lands on the network's clean motion; ``guidance`` > 1 extrapolates away from the unconditional prediction;
    ``words=False``: the word channels are set to "no word times" (speech without a transcript)."""
    dev = next(model.parameters()).device
    x = model.normalise(torch.as_tensor(np.asarray(inputs, np.float32)[None], device=dev))
    if not words:
        x = model.without_words(x)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    z = torch.randn((1, len(inputs), model.output_dim), generator=g).to(dev)
    null = torch.zeros_like(x)
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((1,), i * dt, device=dev)
        x1 = model(z, t, x)
        if guidance != 1.0:
            u = model(z, t, null)
            x1 = u + guidance * (x1 - u)
        z = z + (x1 - z) / (steps - i)          # dt * (x1 - z) / (1 - t), with 1 - t = (steps - i) * dt
    poses = (z[0] * model.out_std + model.out_mean).cpu().numpy()
    if model.smooth > 0 and model.output_dim == ParamLayout().frame_dim:
        from scipy.ndimage import gaussian_filter1d

        lay = ParamLayout()
        idx = np.r_[lay.part_index("body"), lay.part_index("hands")]
        poses[:, idx] = gaussian_filter1d(poses[:, idx], model.smooth * model.fps, axis=0, mode="nearest")
    return poses
