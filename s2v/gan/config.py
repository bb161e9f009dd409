"""The skeleton-to-video GAN's settings (section 3.5), shared by training (:mod:`s2v.gan.train`) and inference
(:mod:`s2v.gan.infer`), so loading a generator does not import the training code. Presets and ``key=value``
overrides: :mod:`s2v.config`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from s2v.gan.networks import GeneratorConfig
from s2v.render.skeleton import PART_COLORS

#: The parts judged by their own discriminators (section 3.5), as coloured in the label images.
PARTS = tuple(PART_COLORS)  # face, left_hand, right_hand


@dataclass
class GANConfig:
    size: int = 256                    # training width in pixels (height keeps the aspect ratio; multiples of 32)
    clip: int = 5                      # frames per sample: n_prev conditioning + 3 generated (vid2vid: 3)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    ndf: int = 64                      # pix2pixHD
    d_layers: int = 3
    num_d: int = 2                     # scales of the frame discriminator
    temporal: bool = True              # vid2vid's temporal discriminator on the generated frames
    parts: tuple[str, ...] = PARTS     # part attention (section 3.5); () turns it off
    part_weights: dict = field(default_factory=lambda: {"face": 1.0, "left_hand": 1.0, "right_hand": 1.0})
    part_crop: int = 64                # crops are resized to this
    part_ndf: int = 32
    part_layers: int = 2
    lambda_part_l1: float = 10.0       # extra L1 on each visible part crop
    gan_mode: str = "lsgan"            # lsgan | hinge
    lambda_fm: float = 10.0            # pix2pixHD feature matching
    lambda_l1: float = 10.0            # stands in for pix2pixHD's VGG loss (no ImageNet weights here)
    lambda_temporal: float = 1.0
    lr: float = 2e-4                   # pix2pixHD / vid2vid
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 1                # per process
    max_steps: int = 10000
    max_minutes: float | None = None   # stop after this long (bounded CPU runs)
    checkpoint_every: int = 200
    sample_every: int = 200
    cold_start: float = 0.2            # chance a clip starts from blank previous frames, as inference does
    amp: bool = True                   # mixed precision on CUDA (ignored on CPU)
    hands: bool = True                 # draw the hand skeleton in the labels (off: the section 4.2 ablation)
    seed: int = 0
    device: str | None = None          # default: cuda when available
    num_workers: int = 0

    @classmethod
    def preset(cls, name: str = "auto", **kw) -> "GANConfig":
        """``gpu``: these defaults (256 wide, 10 000 steps). ``cpu``: 128 wide, a checkpoint and a sample grid
        every 25 steps, 60 minutes at most (a GPU's 10 000 steps would take days on a 2-core CPU). ``auto``:
        ``gpu`` where CUDA is available, else ``cpu``. ``quickstart`` (the quickstart speaker's small networks),
        ``tiny`` (tests), ``paper`` (512 wide). The presets live in :data:`s2v.config.PRESETS`; keyword arguments
        (not None) override, dotted for the generator (``**{"generator.ngf": 16}``)."""
        from s2v.config import make

        return make("gan", name, {k: v for k, v in kw.items() if v is not None})

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            self.generator = GeneratorConfig(**self.generator)
        self.parts = tuple(self.parts)
        self.betas = tuple(self.betas)
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
        if self.clip <= self.generator.n_prev:
            raise ValueError(f"clip ({self.clip}) must be longer than n_prev ({self.generator.n_prev})")
        if self.size % 32:
            raise ValueError(f"size {self.size} must be a multiple of 32")

    @property
    def n_gen(self) -> int:
        return self.clip - self.generator.n_prev

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
