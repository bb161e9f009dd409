"""One way to configure every stage: typed dataclass configs, named presets, ``key=value`` overrides.

Each stage's settings are a typed dataclass with the paper's values as defaults (the section cited beside each
field): :class:`~s2v.fitting.fit.FitConfig`, :class:`~s2v.pose.lstm.PoseLSTMConfig`,
:class:`~s2v.gan.config.GANConfig`, :class:`~s2v.studio.StudioConfig`, :class:`~s2v.synthesis.speaker.SpeakerConfig`,
:class:`~s2v.evaluation.experiments.EvaluationConfig`.
This module is the one place that chooses and changes them — for the CLI (``--preset``, ``--set key=value``,
``--config file.yaml``), the notebooks, the batch runner, the benchmarks and the tests:

* a **preset** by name (:data:`PRESETS`: ``tiny`` for tests, ``quickstart``/``cpu`` for a laptop, ``paper``/``gpu``
  for the paper's sizes; ``auto`` picks ``gpu`` where CUDA is available, else ``cpu``);
* then **overrides**: ``"gan.size=256"``-style strings (dotted for nested configs: ``generator.ngf=16``) or a
  mapping, merged and type-checked by OmegaConf structured configs (as smplx's ``transfer_model/config``
  does), so a misspelt key or a wrong type is a :class:`ConfigError` that names the key and the closest one;
* then **checks** (:func:`validate`): every float finite (no NaN, no infinity), and fields by what their names
  mean (:data:`POSITIVE`, :data:`NON_NEGATIVE`, :data:`FRACTIONS`): a learning rate, a size, a batch, a step
  budget, an interval are positive, a weight is not negative, a probability lies in [0, 1]. A value that would only
  fail deep inside training (``lr=-1``, ``lr=nan``, ``max_steps=-5``) is a :class:`ConfigError` naming the field.

>>> make("gan", "quickstart", ["size=256", "generator.ngf=32"]).generator.ngf
32
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: kind -> "module:class" of its config dataclass
KINDS = {"fit": "s2v.fitting.fit:FitConfig", "pose": "s2v.pose.lstm:PoseLSTMConfig",
         "flow": "s2v.pose.flow:GestureFlowConfig", "gan": "s2v.gan.config:GANConfig",
         "studio": "s2v.studio.record:StudioConfig", "speaker": "s2v.synthesis.speaker:SpeakerConfig",
         "evaluation": "s2v.evaluation.experiments:EvaluationConfig"}

_TINY_GAN = {"size": 64, "clip": 3, "generator": {"ngf": 8, "n_downsample": 3, "n_blocks": 1}, "ndf": 8,
             "part_crop": 16, "part_ndf": 8}
_QUICKSTART_GAN = {"size": 128, "clip": 4, "generator": {"ngf": 16, "n_downsample": 3, "n_blocks": 3}, "ndf": 16,
                   "part_crop": 32, "part_ndf": 16, "max_steps": 600, "checkpoint_every": 100, "sample_every": 200}
#: The speaker shipped with the kit (issue 16): waist up at 320x384 (face crop 50 px, hand crops 87-96 px), a
#: generator that runs at 1/2 resolution behind a pixel shuffle with 3x3 stems (46 frames/s end to end on the 2-core
#: CPU in bfloat16, 29 in float32), trained on one CPU thread for SHIPPED_STEPS steps (89 min; 94 min with the
#: recording and the LSTM): ``s2v speaker --preset shipped --run ada_shipped --export data/speakers/ada``
#: (benchmarks/RESULTS.md).
SHIPPED_STEPS = 3000
_SHIPPED_GAN = {"size": 320, "clip": 4, "generator": {"ngf": 16, "n_downsample": 3, "n_blocks": 6, "stem_kernel": 3,
                                                      "shuffle": 2},
                "ndf": 32, "part_crop": 48, "part_ndf": 32, "max_steps": SHIPPED_STEPS, "checkpoint_every": 50,
                "sample_every": 250, "seed": 0}
_QUICKSTART_POSE = {"hidden": 128, "batch_size": 32, "window": 2.0, "max_steps": 300, "eval_every": 1000,
                    "checkpoint_every": 100}

#: kind -> preset name -> overrides of the dataclass defaults (nested mappings for nested configs). ``default``
#: is the dataclass as it is.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "fit": {"default": {}},
    "pose": {
        "default": {},
        # section 3.4 as is: batch 100 windows of 4 s, 2000 steps, outputs in SMPL-X scale, raw part weights
        "paper": {"standardize": False, "part_norm": False, "w_var": 0.0, "smooth": 0.0, "key_words": False},
        "gpu": {},                    # the paper's budget with the kit's motion settings
        "cpu": {"batch_size": 32, "max_steps": 300, "eval_every": 25, "checkpoint_every": 25},
        "quickstart": _QUICKSTART_POSE,
        "tiny": {"hidden": 16, "batch_size": 4, "window": 1.0, "max_steps": 6, "eval_every": 3, "checkpoint_every": 3},
    },
    "flow": {   # the gesture flow (s2v.pose.flow), with the LSTM's preset names: `pose --kind flow` takes them
        "default": {},
        "paper": {},                  # the paper has no generative model: the default
        "cpu": {},                    # the dataclass is the 2-core CPU budget (<= 20 min)
        "gpu": {"channels": 256, "batch_size": 64, "max_steps": 10000, "max_minutes": 120.0},
        "quickstart": {"channels": 64, "blocks": 6, "max_steps": 400, "max_minutes": 5.0},
        "tiny": {"channels": 16, "blocks": 2, "window": 1.0, "batch_size": 4, "max_steps": 6, "checkpoint_every": 3,
                 "sample_steps": 4},
    },
    "gan": {
        "default": {},
        "gpu": {},                    # 256 wide, 10 000 steps
        "paper": {"size": 512},
        "cpu": {"size": 128, "checkpoint_every": 25, "sample_every": 25, "max_minutes": 60.0},
        "quickstart": _QUICKSTART_GAN,
        "tiny": _TINY_GAN,
    },
    "studio": {
        "default": {},
        "tiny": {"width": 128, "height": 128, "max_seconds": 3.0, "pose_session": False},
        "small": {"width": 256, "height": 256, "max_seconds": 20.0},
        "demo": {"width": 512, "height": 512, "max_seconds": None, "script": "ALL_ENGLISH"},
        "paper": {"width": 512, "height": 512, "max_seconds": None, "script": "ALL_ENGLISH"},
    },
    "speaker": {
        "default": {},
        "quickstart": {"studio": {"speaker": "ada", "script": "economy", "max_seconds": 25.0, "width": 128,
                                  "height": 128, "fps": 25.0},
                       "pose": _QUICKSTART_POSE, "gan": _QUICKSTART_GAN},
        "paper": {"studio": {"width": 512, "height": 512, "max_seconds": None, "script": "ALL_ENGLISH"},
                  "gan": {"size": 512}},
        "shipped": {"studio": {"speaker": "ada", "script": "ALL_ENGLISH", "framing": "waist", "width": 320,
                               "height": 384, "fps": 25.0, "seed": 0},
                    "pose": {"batch_size": 32, "max_steps": 300, "eval_every": 25, "checkpoint_every": 25},
                    "gan": _SHIPPED_GAN},
    },
    "evaluation": {"default": {}},
}


class ConfigError(ValueError):
    """An unknown preset, a misspelt key, a value of the wrong type or one that makes no sense (:func:`validate`)."""


#: Fields (by name, in every config) that must be > 0: learning rates, sizes and widths, batch sizes, step budgets,
#: intervals (``*_every``: training takes ``step % every``), time budgets and rates (None, where allowed, is "no
#: limit"). Elementwise for a tuple (``sizes``).
POSITIVE = frozenset({
    "lr", "batch_size", "max_steps", "sample_steps", "patience", "max_minutes", "max_seconds",
    "size", "sizes", "width", "height", "fps", "window", "clip", "init_frames",
    "hidden", "layers", "channels", "blocks", "kernel", "ngf", "ndf", "part_ndf", "part_crop", "d_layers",
    "part_layers", "num_d", "max_channels", "label_nc", "output_nc", "stem_kernel", "shuffle",
    "robust_sigma", "max_step", "shoulder_width", "fail_frac"})
POSITIVE_SUFFIXES = ("_every",)
#: Fields that must be >= 0, where 0 is "off" or "none": loss weights (``w_*``, ``lambda_*``, and the values of the
#: ``part_weights``/``joint_prior`` mappings), smoothing, delays and margins in seconds or pixels, counts of extra
#: steps, rounds, blocks or workers.
NON_NEGATIVE = frozenset({
    "part_weights", "joint_prior", "unseen_prior", "weight_decay", "min_val_spread",
    "delay", "smooth", "lead", "tail", "ramp", "hold", "session_hold", "mouth_smoothing", "beat_min_gap",
    "keypose_scale", "edge_margin", "fail_min_px", "min_person_px",
    "steps", "init_steps", "recovery_steps", "recovery_rounds",
    "n_blocks", "n_local", "local_blocks", "n_downsample", "n_prev", "num_workers"})
NON_NEGATIVE_PREFIXES = ("w_", "lambda_")
#: Fields that are probabilities or shares, in [0, 1] (Adam's ``betas``: [0, 1)).
FRACTIONS = frozenset({"dropout", "word_dropout", "cond_dropout", "cold_start", "beat_probability", "ema",
                       "conf_threshold", "betas"})


def validate(cfg, name: str | None = None):
    """``cfg`` (a config dataclass, nested ones included) if its values make sense, else :class:`ConfigError`
    naming the field: every float (in tuples and mappings too) is finite, and the fields of :data:`POSITIVE`,
    :data:`NON_NEGATIVE` and :data:`FRACTIONS` lie in their ranges. A mapping whose default values are numbers
    (``part_weights``) takes numbers only."""
    for key, problem in _problems(cfg, ""):
        raise ConfigError(f"{name or type(cfg).__name__}: {key} {problem}")
    return cfg


def _problems(cfg, prefix: str):
    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            yield from _problems(value, key + ".")
        elif isinstance(value, Mapping):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
            numeric = isinstance(default, Mapping) and default and all(_is_number(v) for v in default.values())
            for k, v in value.items():
                if numeric and not _is_number(v):
                    yield f"{key}.{k}", f"must be a number, got {v!r}"
                elif problem := _problem(f.name, v):
                    yield f"{key}.{k}", problem
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if problem := _problem(f.name, v):
                    yield f"{key}[{i}]", problem
        elif problem := _problem(f.name, value):
            yield key, problem


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _problem(field: str, v) -> str | None:
    """What is wrong with the number ``v`` of the field named ``field`` (None: nothing, or not a number)."""
    if not _is_number(v):
        return None
    if not math.isfinite(v):
        return f"must be a finite number, got {v}"
    if field in POSITIVE or field.endswith(POSITIVE_SUFFIXES):
        return None if v > 0 else f"must be a positive finite number, got {v}"
    if field in NON_NEGATIVE or field.startswith(NON_NEGATIVE_PREFIXES):
        return None if v >= 0 else f"must be a finite number >= 0, got {v}"
    if field == "betas":
        return None if 0 <= v < 1 else f"must lie in [0, 1), got {v}"
    if field in FRACTIONS:
        return None if 0 <= v <= 1 else f"must lie in [0, 1], got {v}"
    return None


def config_class(kind: str) -> type:
    if kind not in KINDS:
        raise ConfigError(f"unknown kind of config {kind!r}; choose from {sorted(KINDS)}")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def presets(kind: str) -> list[str]:
    """The preset names of ``kind`` (``auto`` too where it chooses between ``gpu`` and ``cpu``)."""
    names = list(PRESETS[kind])
    return names + (["auto"] if {"gpu", "cpu"} <= set(names) else [])


def make(kind: str, preset: str | None = "default", overrides: Iterable[str] | Mapping | None = None):
    """The ``kind`` config (:data:`KINDS`): its ``preset`` (:data:`PRESETS`), then ``overrides``."""
    preset = preset or "default"
    if preset == "auto" and "auto" in presets(kind):
        import torch

        preset = "gpu" if torch.cuda.is_available() else "cpu"
    if preset not in PRESETS.get(kind, {}):
        config_class(kind)   # an unknown kind says so first
        raise ConfigError(f"unknown {kind} preset {preset!r}; choose from {presets(kind)}")
    cfg = override(config_class(kind)(), _resolve(PRESETS[kind][preset]))
    return validate(override(cfg, overrides) if overrides else cfg)


def override(cfg, overrides: Iterable[str] | Mapping | None):
    """A copy of the dataclass ``cfg`` with ``overrides``: ``["size=256", "generator.ngf=16"]`` or a mapping
    (``{"generator": {"ngf": 16}}`` or ``{"generator.ngf": 16}``, values as they are). The values of
    ``key=value`` strings are parsed as YAML (``3``, ``0.5``, ``true``, ``null``, ``[face, left_hand]``). Types
    are checked against the dataclass."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not overrides:
        return cfg
    base = OmegaConf.structured(cfg)
    try:
        if isinstance(overrides, Mapping):     # values as given (no parsing: a string stays a string)
            patch = OmegaConf.create(_nest(overrides))
        else:
            items = list(overrides)
            bad = [s for s in items if "=" not in str(s)]
            if bad:
                raise ConfigError(f"overrides are key=value, got {bad}")
            patch = OmegaConf.from_dotlist([str(s) for s in items])
        merged = OmegaConf.merge(base, patch)
        out = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        msg = str(err).splitlines()[0]
        key = getattr(err, "full_key", None)
        raise ConfigError(f"{type(cfg).__name__}: {msg}" + (f" (key {key})" if key else "")
                          + f"; its keys: {sorted(f.name for f in dataclasses.fields(cfg))}") from None
    except (TypeError, ValueError) as err:     # a dataclass's own checks (__post_init__)
        raise ConfigError(f"{type(cfg).__name__}: {err}") from None
    return validate(out)


def load(kind: str, path: str | Path, preset: str | None = None):
    """A config from a YAML or JSON file: its ``preset`` key (else ``preset``), then the fields it sets."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not a readable YAML/JSON config ({err})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a config file is a mapping of fields, not {type(doc).__name__}")
    doc = dict(doc)
    try:
        return make(kind, doc.pop("preset", None) or preset, doc)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def resolve(kind: str, preset: str | None = "default", path: str | Path | None = None,
            flags: Mapping | None = None, sets: Iterable[str] = ()):
    """What a command line asks for, in order: the ``preset`` (or the ``path`` file's own, with its fields), the
    command's own ``flags`` that were given (None: not given), then the ``--set key=value`` strings ``sets``."""
    cfg = load(kind, path, preset) if path else make(kind, preset)
    cfg = override(cfg, {k: v for k, v in (flags or {}).items() if v is not None})
    return override(cfg, list(sets))


def as_dict(cfg) -> dict:
    """The config as plain data (nested dicts, lists), e.g. for a manifest or ``--show-config``."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.structured(cfg))


def _nest(overrides: Mapping) -> dict:
    """``{"generator.ngf": 16, "gan": {"size": 64}}`` -> nested dicts (tuples become lists, as OmegaConf keeps)."""
    out: dict = {}
    for k, v in overrides.items():
        *path, last = str(k).split(".")
        node = out
        for p in path:
            node = node.setdefault(p, {})
        node[last] = _nest(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v
    return out


def _resolve(preset: dict) -> dict:
    """Named constants a preset refers to (``ALL_ENGLISH``: every English studio script)."""
    out = {}
    for k, v in preset.items():
        if isinstance(v, dict):
            out[k] = _resolve(v)
        elif v == "ALL_ENGLISH":
            from s2v.studio.cast import ALL_ENGLISH     # not record: record's presets come from here

            out[k] = ALL_ENGLISH
        else:
            out[k] = v
    return out
