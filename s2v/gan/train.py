"""Training of the skeleton-to-video GAN (section 3.5): sequential generator, multi-scale frame discriminator
with feature matching, temporal discriminator, and the paper's part attention (face and hand crops judged by
their own discriminators), on one device or many (``torchrun``, DistributedDataParallel).

One step, for a batch of clips of ``clip`` frames: the first ``n_prev`` real frames condition the generator
(or blank ones, with probability ``cold_start``, as at inference where there is no real frame), which then
makes the remaining frames one after the other, each from the labels of frames t-P..t and the P frames
before it (generated ones detached: truncated back-propagation through time, which bounds memory as vid2vid
does). The discriminators see (label, frame) pairs, the generated run of frames as one stack (temporal),
and the face/hand crops located by colour in the label images; the generator gets the adversarial terms,
feature matching, L1 on the frame and extra L1 on the crops.

Checkpoints (models, optimisers, AMP scalers, step, losses, random states, and the data order: the loader's
generator as it was when the current epoch began, with how many of its batches were trained on) are written
atomically every ``checkpoint_every`` steps and at the end; training resumes from them where it stopped, in the
same data order, so an interrupted and resumed training ends with the same weights, bit for bit on CPUs, as one
that was not interrupted (as the pose LSTM's; CUDA kernels are not bit-reproducible anyway). A checkpoint of an
s2v from before the data order was saved resumes with a new order (a warning says so). Sample grids (label /
real / generated) go to ``gan/samples/``. Launch on several GPUs with
``torchrun --nproc_per_node 8 -m s2v.gan.train --run NAME`` (gloo on CPUs, NCCL on GPUs).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from s2v.gan import losses
from s2v.gan.config import GANConfig  # noqa: F401  (the training's settings, re-exported)
from s2v.gan.data import PARTS, ClipDataset, to_uint8
from s2v.gan.networks import Generator, MultiscaleDiscriminator, crop_boxes
from s2v.io import atomic_path, load_states, load_torch, numpy_rng_state, save_torch, set_numpy_rng_state
from s2v.run import Run


class Discriminators(nn.Module):
    """All discriminators in one module (one optimiser, one DDP wrapper)."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        nc = cfg.generator.label_nc + cfg.generator.output_nc
        self.frame = MultiscaleDiscriminator(nc, cfg.ndf, cfg.d_layers, cfg.num_d)
        self.temporal = MultiscaleDiscriminator(cfg.generator.output_nc * cfg.n_gen, cfg.ndf, cfg.d_layers, 2) \
            if cfg.temporal and cfg.n_gen > 1 else None
        self.parts = nn.ModuleDict({p: MultiscaleDiscriminator(nc, cfg.part_ndf, cfg.part_layers, 1)
                                    for p in cfg.parts})

    def forward(self, labels, frames, seq, crops):
        """labels/frames (N, 3, H, W) pairs; seq (B, n_gen*3, H, W) or None; crops {part: (N, 6, c, c)}."""
        out = {"frame": self.frame(torch.cat([labels, frames], 1))}
        if self.temporal is not None and seq is not None:
            out["temporal"] = self.temporal(seq)
        for p, d in self.parts.items():
            out[p] = d(crops[p])
        return out


# ---------------------------------------------------------------------------------------------- distributed
def init_distributed(device: str | None = None) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under ``torchrun`` (WORLD_SIZE > 1) joins the process group: NCCL with
    one GPU per process when CUDA is available, gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and device != "cpu"
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        rank = dist.get_rank()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        dev = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(dev)
        return rank, world, dev
    return 0, 1, torch.device(device or ("cuda" if cuda else "cpu"))


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if hasattr(m, "module") else m


def state_digest(module: nn.Module) -> str:
    """A checksum of a module's parameters (to check that data-parallel replicas are identical)."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(_unwrap(module).state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- trainer
class GANTrainer:
    """Trains on a :class:`ClipDataset`; ``out`` is the folder for checkpoints and samples (``<run>/gan``)."""

    def __init__(self, cfg: GANConfig, train: ClipDataset, out: str | Path, test: ClipDataset | None = None):
        self.cfg = cfg
        self.rank, self.world, self.device = init_distributed(cfg.device)
        self.out = Path(out)
        self.train_data, self.test_data = train, test
        torch.manual_seed(cfg.seed)  # identical initial weights on every replica (DDP also broadcasts them)
        self.G = Generator(cfg.generator).to(self.device)
        self.D = Discriminators(cfg).to(self.device)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step = 0
        self.history: list[dict] = []
        self.samples: list[Path] = []
        self.rng = random.Random(cfg.seed + 1000 * self.rank)
        self.data_state: dict | None = None     # where the data order stands (see _loader); None until it starts
        self.checkpoint = self.out / "checkpoint.pt"
        if self.checkpoint.exists():
            self._load(self.checkpoint)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G = DDP(self.G, device_ids=ids)
            self.D = DDP(self.D, device_ids=ids)

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict:
        return {"G": _unwrap(self.G).state_dict(), "D": _unwrap(self.D).state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
                "step": self.step, "history": self.history, "config": self.cfg.to_dict(),
                "rng": {"torch": torch.get_rng_state(), "numpy": numpy_rng_state(), "python": self.rng.getstate()},
                "data": self.data_state}

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        save_torch(self.checkpoint, self._state())

    def _load(self, path: Path) -> None:
        st = load_torch(path, "GAN training checkpoint", ("G", "D", "opt_g", "opt_d", "step", "config"),
                        f"rm {path} (restarts the training)", device=self.device)
        load_states(path, {"G": _unwrap(self.G), "D": _unwrap(self.D), "opt_g": self.opt_g, "opt_d": self.opt_d}, st,
                    st["config"], self.cfg.to_dict())
        self.scaler_g.load_state_dict(st["scaler_g"])
        self.scaler_d.load_state_dict(st["scaler_d"])
        self.step, self.history = st["step"], st["history"]
        torch.set_rng_state(st["rng"]["torch"].cpu())
        set_numpy_rng_state(st["rng"]["numpy"])
        py = st["rng"]["python"]
        self.rng.setstate((py[0], tuple(py[1]), py[2]))
        self.data_state = st.get("data")     # absent from the checkpoints of an older s2v

    def export(self, path: str | Path, meta: dict | None = None) -> Path:
        """The generator alone (what inference needs), with its config."""
        if self.rank == 0:
            save_torch(path, {"generator": _unwrap(self.G).state_dict(), "config": self.cfg.to_dict(),
                              "step": self.step, "meta": meta or {}})
        return Path(path)

    # ------------------------------------------------------------------ one step
    def generate_clip(self, labels: torch.Tensor, frames: torch.Tensor, cold: torch.Tensor) -> torch.Tensor:
        """Sequential generation of frames P..L-1 of each clip; ``cold`` (B,) starts from blank frames."""
        P = self.cfg.generator.n_prev
        history = [torch.where(cold[:, None, None, None], torch.zeros_like(frames[:, t]), frames[:, t])
                   for t in range(P)]
        fakes = []
        for t in range(P, labels.shape[1]):
            lab = labels[:, t - P:t + 1].flatten(1, 2)
            prev = torch.cat(history[-P:], 1) if P else None
            fake = self.G(lab, prev)
            fakes.append(fake)
            history.append(fake.detach())
        return torch.stack(fakes, 1)

    def _crops(self, labels, images, boxes):
        c = self.cfg.part_crop
        return {p: torch.cat([crop_boxes(labels, boxes[:, PARTS.index(p)], c),
                              crop_boxes(images, boxes[:, PARTS.index(p)], c)], 1) for p in self.cfg.parts}

    def _weighting(self, name: str, valid: torch.Tensor) -> tuple[float, torch.Tensor | None]:
        """A discriminator's loss scale (frame 1, temporal ``lambda_temporal``, a part its ``part_weights``) and its
        per-sample weights (a part crop counts only where the part was seen; None for frame and temporal)."""
        cfg = self.cfg
        if name in ("frame", "temporal"):
            return (1.0 if name == "frame" else cfg.lambda_temporal), None
        return cfg.part_weights.get(name, 1.0), valid[:, PARTS.index(name)]

    def train_step(self, batch: dict) -> dict:
        cfg = self.cfg
        dev = self.device
        labels, frames = batch["labels"].to(dev), batch["frames"].to(dev)
        boxes, valid = batch["boxes"].to(dev), batch["valid"].to(dev)
        B, L = labels.shape[:2]
        P = cfg.generator.n_prev
        cold = torch.tensor([self.rng.random() < cfg.cold_start for _ in range(B)], device=dev)
        ac = torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)

        with ac:
            fakes = self.generate_clip(labels, frames, cold)                       # (B, n, 3, H, W)
        lab = labels[:, P:].flatten(0, 1)
        real = frames[:, P:].flatten(0, 1)
        fake = fakes.flatten(0, 1)
        bx = boxes[:, P:].flatten(0, 1)
        vd = valid[:, P:].flatten(0, 1).float()
        seq_real = frames[:, P:].flatten(1, 2)
        seq_fake = fakes.flatten(1, 2)
        N = lab.shape[0]

        # --- discriminators: real and (detached) fake in one batch
        with ac:
            crops = self._crops(torch.cat([lab, lab]), torch.cat([real, fake.detach()]), torch.cat([bx, bx]))
            d = self.D(torch.cat([lab, lab]), torch.cat([real, fake.detach()]),
                       torch.cat([seq_real, seq_fake.detach()]), crops)
        split = _half
        logs = {}
        loss_d = 0.0
        for name, outs in d.items():
            scale, w = self._weighting(name, vd)
            lr_ = losses.adversarial(split(outs, 0), True, cfg.gan_mode, True, w)
            lf_ = losses.adversarial(split(outs, 1), False, cfg.gan_mode, True, w)
            loss_d = loss_d + scale * 0.5 * (lr_ + lf_)
            logs[f"d_{name}"] = _f(0.5 * (lr_ + lf_))
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss_d).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()

        # --- generator (discriminator gradients of this pass are local and discarded)
        sync = self.D.no_sync() if self.world > 1 else _nullcontext()
        with sync:
            with ac:
                crops = self._crops(torch.cat([lab, lab]), torch.cat([real, fake]), torch.cat([bx, bx]))
                d = self.D(torch.cat([lab, lab]), torch.cat([real, fake]), torch.cat([seq_real, seq_fake]), crops)
            loss_g = 0.0
            for name, outs in d.items():
                scale, w = self._weighting(name, vd)
                adv = losses.adversarial(split(outs, 1), True, cfg.gan_mode, False, w)
                fm = losses.feature_matching(split(outs, 1), split(outs, 0), w)
                loss_g = loss_g + scale * (adv + cfg.lambda_fm * fm)
                logs[f"g_{name}"] = _f(adv)
                logs[f"fm_{name}"] = _f(fm)
            l1 = losses.l1(fake, real)
            loss_g = loss_g + cfg.lambda_l1 * l1
            logs["l1"] = _f(l1)
            for p in cfg.parts:  # extra L1 on the part crops (the image half of the crop)
                c = crops[p]
                lp = losses.l1(c[N:, 3:], c[:N, 3:], vd[:, PARTS.index(p)])
                loss_g = loss_g + cfg.lambda_part_l1 * lp
                logs[f"l1_{p}"] = _f(lp)
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler_g.scale(loss_g).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self.opt_d.zero_grad(set_to_none=True)
        logs.update(loss_d=_f(loss_d), loss_g=_f(loss_g), fake_min=_f(fake.min()), fake_max=_f(fake.max()))
        return logs

    # ------------------------------------------------------------------ loop
    def _loader(self):
        """Batches, epoch after epoch, in an order that a resumed training continues exactly: every epoch's order
        comes from one generator (seeded once with ``seed``; under DDP the sampler's own ``seed + epoch``), whose
        state when the epoch began is kept in :attr:`data_state` with that epoch's first step; a resumed training
        sets the generator back to it and skips the batches already trained on (their indices, not their data)."""
        from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

        g = torch.Generator().manual_seed(self.cfg.seed)
        base = DistributedSampler(self.train_data, self.world, self.rank, shuffle=True, seed=self.cfg.seed) \
            if self.world > 1 else RandomSampler(self.train_data, generator=g)
        sampler = _SkipSampler(base)
        loader = DataLoader(self.train_data, batch_size=self.cfg.batch_size, sampler=sampler,
                            num_workers=self.cfg.num_workers, drop_last=True, generator=g)
        per_epoch = max(1, len(loader))
        saved = self.data_state
        if saved is not None and saved.get("batches") == per_epoch and 0 <= self.step - saved["start"] <= per_epoch:
            g.set_state(saved["rng"].cpu())
            epoch, start = int(saved["epoch"]), int(saved["start"])
        else:
            epoch, start = self.step // per_epoch, self.step
            if self.step:
                g.manual_seed(self.cfg.seed + self.step)
                why = "its data had another number of batches" if saved is not None else \
                    "it was written by an s2v that did not save the data order"
                warnings.warn(f"{self.checkpoint}: resuming at step {self.step} with a new data order ({why}): the "
                              "result will differ from an uninterrupted training's", stacklevel=2)
        skip = self.step - start
        while True:
            if self.world > 1:
                base.set_epoch(epoch)
            self.data_state = {"rng": g.get_state(), "epoch": epoch, "start": start, "batches": per_epoch}
            sampler.skip = skip * self.cfg.batch_size
            yield from loader
            epoch, start, skip = epoch + 1, start + per_epoch, 0

    def _stop_now(self, t0: float) -> bool:
        stop = self.cfg.max_minutes is not None and (time.time() - t0) / 60 >= self.cfg.max_minutes
        if self.world > 1:  # rank 0 decides, so every replica stops at the same step
            flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        return stop

    def train(self, progress: bool = True) -> list[dict]:
        from tqdm.auto import tqdm

        cfg = self.cfg
        t0 = time.time()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc="gan", unit="step", disable=not progress or self.rank)
        start = self.step
        self.G.train()
        self.D.train()
        for batch in self._loader():
            if self.step >= cfg.max_steps or self._stop_now(t0):
                break
            logs = self.train_step(batch)
            self.step += 1
            logs["step"] = self.step
            self.history.append(logs)
            if cfg.max_minutes is not None:  # an honest ETA: the steps that fit in the time left at this pace
                done = self.step - start
                left = max(0.0, cfg.max_minutes * 60 - (time.time() - t0))
                bar.total = min(cfg.max_steps, self.step + int(left / ((time.time() - t0) / done)))
            bar.update()
            bar.set_postfix(g=f"{logs['loss_g']:.3f}", d=f"{logs['loss_d']:.3f}", l1=f"{logs['l1']:.3f}")
            if self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
            if self.step % cfg.sample_every == 0 and self.rank == 0:
                self.sample_grid()
        bar.close()
        self.save_checkpoint()
        if self.rank == 0 and (not self.samples or not self.samples[-1].name.endswith(f"{self.step:06d}.png")):
            self.sample_grid()
        return self.history

    @torch.no_grad()
    def sample_grid(self, index: int = 0) -> Path:
        """Rows label / real / generated for one held-out clip (training clip if none), saved as PNG."""
        import cv2

        data = self.test_data if self.test_data is not None else self.train_data
        b = data[index % len(data)]
        G = _unwrap(self.G)
        G.eval()
        fakes = self.generate_clip(b["labels"][None].to(self.device), b["frames"][None].to(self.device),
                                   torch.tensor([False], device=self.device))[0]
        G.train()
        P = self.cfg.generator.n_prev
        rows = [to_uint8(b["labels"][P:]), to_uint8(b["frames"][P:]), to_uint8(fakes)]
        grid = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
        path = self.out / "samples" / f"step_{self.step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, ".png") as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        self.samples.append(path)
        return path


def _f(x) -> float:
    return float(x.detach()) if torch.is_tensor(x) else float(x)


def _half(outputs: list[list[torch.Tensor]], k: int) -> list[list[torch.Tensor]]:
    """The real (k=0) or fake (k=1) half of discriminator outputs computed on [real; fake]."""
    return [[f[k * (len(f) // 2):(k + 1) * (len(f) // 2)] for f in feats] for feats in outputs]


class _SkipSampler(torch.utils.data.Sampler):
    """A sampler whose next pass leaves out its first ``skip`` indices (a resumed epoch: the batches trained on)."""

    def __init__(self, base):
        super().__init__()
        self.base, self.skip = base, 0

    def __len__(self) -> int:
        return len(self.base)

    def __iter__(self):
        skip, self.skip = self.skip, 0
        return itertools.islice(iter(self.base), skip, None)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------------------------- run level
def train_gan(runs: list[Run], out: Run, cfg: GANConfig | None = None, progress: bool = True,
              backend: str = "auto") -> GANTrainer:
    """Train on ``runs`` (their recordings and parameters) and write ``out``'s ``gan/generator.pt``; checkpoints
    in ``gan/checkpoint.pt`` make an interrupted training resume."""
    cfg = cfg or GANConfig()
    import contextlib

    lead = int(os.environ.get("RANK", "0")) == 0        # under torchrun, the first process holds the run's lock
    with out.lock("gan train") if lead else contextlib.nullcontext():
        return _train_gan(runs, out, cfg, progress, backend)


def _train_gan(runs: list[Run], out: Run, cfg: GANConfig, progress: bool, backend: str) -> GANTrainer:
    train = ClipDataset(runs, cfg.size, cfg.clip, "train", backend=backend, hands=cfg.hands, progress=progress)
    try:
        test = ClipDataset(runs, cfg.size, cfg.clip, "test", backend=backend, hands=cfg.hands)
    except ValueError:
        test = None
    tr = GANTrainer(cfg, train, out.root / "gan", test)
    tr.train(progress)
    tr.export(out.path("gan"), {"train_runs": [r.name for r in runs]})
    if tr.rank == 0:
        out.record("gan", config=cfg.to_dict(), steps=tr.step, train_runs=[r.name for r in runs])
    return tr


def main(argv: list[str] | None = None) -> int:
    """``python -m s2v.gan.train`` / ``torchrun --nproc_per_node N -m s2v.gan.train``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", nargs="+", required=True, help="runs with a recording and SMPL-X parameters")
    p.add_argument("--out", default=None, help="run receiving gan/generator.pt (default: the first --run)")
    p.add_argument("--runs-dir", default=None, help="folder of the runs (default: s2v.run.runs_root())")
    p.add_argument("--preset", default="default", help="a GAN preset of s2v.config.PRESETS (default: GANConfig's)")
    p.add_argument("--config", default=None, help="YAML or JSON file of GANConfig fields (s2v.config.load)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--digest", default=None, help="write each replica's weight checksums to DIR/rank<R>.json")
    a = p.parse_args(argv)
    from s2v.config import resolve
    from s2v.run import runs_root

    cfg = resolve("gan", a.preset, a.config, dict(size=a.size, max_steps=a.steps, max_minutes=a.minutes,
                                                  device=a.device), a.set)
    root = runs_root(a.runs_dir)
    runs = [Run.open(n, root) for n in a.run]
    out = Run.create(a.out or a.run[0], root)
    tr = train_gan(runs, out, cfg)
    if a.digest:
        Path(a.digest).mkdir(parents=True, exist_ok=True)
        Path(a.digest, f"rank{tr.rank}.json").write_text(json.dumps(
            {"G": state_digest(tr.G), "D": state_digest(tr.D), "step": tr.step, "world": tr.world,
             "loss_g": [h["loss_g"] for h in tr.history]}))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
