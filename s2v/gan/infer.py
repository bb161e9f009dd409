"""Inference: skeleton label images -> video frames -> MP4 with the speech (section 3.5).

Generation is sequential (each frame conditions on the previous generated ones), so frames stream: labels
are drawn, generated and handed to the encoder one at a time, and memory stays bounded for any length. The
first frames start from blank previous frames (training sees such cold starts too).

Precision (``precision="auto"``): half precision on CUDA (autocast float16); on a CPU that computes bfloat16
natively (x86 AVX512-BF16 or AMX-BF16: Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4 and later) a
bfloat16 copy of the generator; on other CPUs the speaker's int8 OpenVINO model where it has one
(:mod:`s2v.gan.cpu`, issue 29), else float32. Measured on the 2-core CPU here (Sapphire Rapids, AMX) with the
shipped 320x384 generator: 14.3 ms a frame in bfloat16 against 29.2 in float32 (autocast: 17.7), frames 51-56 dB
PSNR from the float32 ones, held-out figures within 0.02 dB (``benchmarks/RESULTS.md``). Evaluation defaults to
float32, so its figures are the same on every machine.
"""
from __future__ import annotations

import copy
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from s2v.gan.data import PARTS, boxes_of, to_tensor, to_uint8
from s2v.gan.networks import Generator, GeneratorConfig
from s2v.io import ArtifactError, load_state, load_torch
from s2v.run import remake_advice


def load_generator(path: str | Path, device: str | torch.device | None = None) -> tuple[Generator, dict]:
    """A trained generator (``gan/generator.pt``) in eval mode, and its training config."""
    from s2v.gan.config import GANConfig

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    st = load_torch(path, "trained generator (gan/generator.pt)", ("generator", "config"),
                    remake_advice(path, "gan", "python -m s2v gan train --run <speaker>"), device=device)
    try:
        cfg = GANConfig(**st["config"]).to_dict()
    except TypeError as e:
        raise ArtifactError(f"{path}: its config does not fit this s2v ({e}); retrain the GAN") from None
    G = Generator(GeneratorConfig(**cfg["generator"])).to(device).eval()
    load_state(G, st["generator"], path)
    G.train_size = int(cfg["size"])  # training width: the default output size
    return G, cfg


PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
PRECISION_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "int8": "int8"}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:   # not Linux: no flags known, float32
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def cpu_has_native_bf16(flags: frozenset[str] | set[str] | None = None) -> bool:
    """Whether the CPU (``flags`` as in /proc/cpuinfo; default: this one) has bfloat16 arithmetic in hardware.
    Without it PyTorch emulates bfloat16, slower than float32."""
    flags = _cpu_flags() if flags is None else flags
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(device: str | torch.device, precision: str = "auto", int8_model: bool = False,
                      flags: frozenset[str] | set[str] | None = None) -> str:
    """The arithmetic generation runs in, one of fp32/bf16/fp16/int8, for ``precision`` one of
    :data:`PRECISIONS`. ``auto``: float16 on CUDA; bfloat16 on a CPU with it in hardware
    (:func:`cpu_has_native_bf16`); else int8 through OpenVINO where the speaker has an int8 model
    (``int8_model``; :mod:`s2v.gan.cpu`) and OpenVINO is installed; else float32."""
    from s2v.gan import cpu

    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        if device.type == "cpu" and cpu_has_native_bf16(flags):
            return "bf16"
        return "int8" if device.type == "cpu" and int8_model and cpu.available() else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("precision fp16 needs a CUDA device; on a CPU use bf16, int8 (or auto)")
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16(flags):
        import warnings

        warnings.warn("precision bf16 on a CPU without bfloat16 hardware (no avx512_bf16/amx_bf16): PyTorch emulates "
                      "it, ~10x slower than float32; precision auto picks the fastest this CPU has", stacklevel=2)
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError("precision int8 runs on a CPU (OpenVINO); on CUDA use fp16 (or auto)")
        if not cpu.available():
            raise ValueError("precision int8 needs OpenVINO: pip install openvino")
        if not int8_model:
            raise ValueError("this speaker has no int8 CPU generator at this size: make it with "
                             "python -m s2v gan optimize --run <speaker>")
    return precision


def inference_dtype(device: str | torch.device, precision: str = "auto",
                    flags: frozenset[str] | set[str] | None = None) -> torch.dtype:
    """The PyTorch dtype generation runs in (see :func:`resolve_precision`; without an int8 model)."""
    return _DTYPES[resolve_precision(device, precision, False, flags)]


class FrameGenerator:
    """Stateful sequential generation: call with each label image (H, W, 3) uint8, get the frame back.
    ``precision``: see :func:`resolve_precision` (on a CPU a reduced precision runs a converted copy of ``G``;
    on CUDA, autocast; int8 runs ``cpu_model``, the packed OpenVINO model of :mod:`s2v.gan.cpu`, with
    ``threads`` threads, default the cores free now). ``precision_used`` says which ran; ``last_inputs`` are
    the (labels, previous frames) of the last call."""

    def __init__(self, G: Generator, precision: str = "auto", cpu_model: bytes | None = None,
                 threads: int | None = None):
        self.G = G
        self.device = next(G.parameters()).device
        self.precision_used = resolve_precision(self.device, precision, cpu_model is not None)
        self.dtype = _DTYPES[self.precision_used]
        self.autocast = self.device.type == "cuda" and self.dtype != torch.float32
        if self.precision_used == "int8":
            from s2v.gan.cpu import OpenVINOGenerator

            self.net = OpenVINOGenerator(cpu_model, threads)
        else:   # a CPU computes reduced precision fastest with converted weights (14.3 ms against autocast's 17.7)
            self.net = (copy.deepcopy(G).to(self.dtype) if self.device.type != "cuda" and self.dtype != torch.float32
                        else G)
        self.in_dtype = self.dtype if self.device.type != "cuda" else torch.float32
        P = G.cfg.n_prev
        self.labels: deque = deque(maxlen=P + 1)
        self.frames: deque = deque(maxlen=max(P, 1))
        self.last_inputs: tuple = ()

    @torch.no_grad()
    def __call__(self, label: np.ndarray) -> np.ndarray:
        P = self.G.cfg.n_prev
        lab = to_tensor(label[None]).to(self.device, self.in_dtype)
        if not self.labels:  # cold start: the label repeated, blank previous frames
            self.labels.extend([lab] * P)
            self.frames.extend([torch.zeros_like(lab)] * P)
        self.labels.append(lab)
        prev = torch.cat(list(self.frames)[-P:], 1) if P else None
        x = torch.cat(list(self.labels), 1)
        self.last_inputs = (x, prev)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.autocast):
            out = self.net(x, prev).to(self.in_dtype)
        self.frames.append(out)
        return to_uint8(out.float())[0]


def generate(G: Generator, labels: Iterable[np.ndarray], precision: str = "auto",
             cpu_model: bytes | None = None) -> Iterator[np.ndarray]:
    """Frames for a stream of label images (uint8 RGB), one at a time (``precision``, ``cpu_model``:
    :class:`FrameGenerator`)."""
    fg = FrameGenerator(G, precision, cpu_model)
    for lab in labels:
        yield fg(lab)


def labels_from_keypoints(points: np.ndarray, size: tuple[int, int], src_size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Stream label images at ``size`` (W, H) from (T, 137, 3) keypoints on a ``src_size`` (W, H) canvas
    (mapped as the training frames were: :func:`~s2v.gan.data.scale_points`, aspect ratio kept)."""
    from s2v.gan.data import scale_points
    from s2v.render.skeleton import render_skeleton

    for kp in points:
        yield render_skeleton(scale_points(kp, *src_size, *size), size[0], size[1])


def render_video(G: Generator, points, src_size: tuple[int, int], path: str | Path, fps: float,
                 audio: str | Path | None = None, size: tuple[int, int] | None = None, side_by_side: bool = False,
                 progress: bool = True, stream: bool = False, on_frame=None, precision: str = "auto",
                 cpu_model: bytes | None = None, threads: int | None = None, provenance=None) -> Path:
    """Keypoints (T, 137, 3) -> generated MP4 (with ``audio`` muxed), streamed frame by frame.
    ``points`` may also be an iterable of (n, 137, 3) chunks, computed as they are needed. ``side_by_side``
    writes label | generated; ``stream`` writes a fragmented MP4 while generating
    (:func:`~s2v.video.stream_video`); ``on_frame(i)`` is called as frame i goes to the encoder; ``precision``:
    :class:`FrameGenerator` (``cpu_model``: the speaker's int8 CPU model, used where ``precision`` picks it);
    ``threads``: CPU threads for the generator (default: the cores other processes leave free now,
    :func:`~s2v.gan.cpu.free_cpus`); ``provenance``: the :class:`~s2v.provenance.Provenance` the video's
    metadata carries (and, when it says ``marked``, the visible mark on every generated frame)."""
    from tqdm.auto import tqdm

    from s2v.gan.cpu import free_cpus, torch_threads
    from s2v.provenance import mark_frame
    from s2v.video import stream_video, write_video

    if size is None:  # the training width, the source's aspect ratio
        from s2v.gan.data import frame_size

        size = frame_size(src_size[0], src_size[1], getattr(G, "train_size", 256))
    threads = free_cpus() if next(G.parameters()).device.type == "cpu" and threads is None else threads
    fg = FrameGenerator(G, precision, cpu_model, threads)
    chunks = [points] if isinstance(points, np.ndarray) else points
    total = len(points) if isinstance(points, np.ndarray) else None

    def frames():
        labels = (lab for c in chunks for lab in labels_from_keypoints(c, size, src_size))
        for i, lab in enumerate(tqdm(labels, total=total, desc="generate", unit="frame", disable=not progress)):
            f = fg(lab)
            if provenance is not None and provenance.marked:
                f = mark_frame(f)
            yield np.concatenate([lab, f], 1) if side_by_side else f
            if on_frame is not None:
                on_frame(i)

    # the int8 model computes in OpenVINO's threads; PyTorch only converts inputs and outputs
    with torch_threads((1 if fg.precision_used == "int8" else threads) or torch.get_num_threads()):
        return (stream_video if stream else write_video)(frames(), path, fps, audio=audio,
                                                         metadata=provenance.tags() if provenance else None)


def image_metrics(fake: np.ndarray, real: np.ndarray, label: np.ndarray | None = None, crop: int = 64) -> dict:
    """PSNR (dB) and SSIM of one generated frame against the real one (uint8 RGB), on the whole frame and on
    the face and hand boxes found by colour in ``label`` (resized to ``crop``; NaN where a part is absent)."""
    import cv2
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim

    out = {"psnr": psnr(real, fake, data_range=255), "ssim": ssim(real, fake, channel_axis=-1, data_range=255)}
    if label is not None:
        boxes, valid = boxes_of(label)
        for p, b, v in zip(PARTS, boxes, valid):
            if not v or b[2] - b[0] < 2 or b[3] - b[1] < 2:
                out[f"psnr_{p}"] = out[f"ssim_{p}"] = float("nan")
                continue
            x0, y0, x1, y1 = (int(round(x)) for x in b)
            a = cv2.resize(real[y0:y1, x0:x1], (crop, crop), interpolation=cv2.INTER_AREA)
            f = cv2.resize(fake[y0:y1, x0:x1], (crop, crop), interpolation=cv2.INTER_AREA)
            out[f"psnr_{p}"] = psnr(a, f, data_range=255)
            out[f"ssim_{p}"] = ssim(a, f, channel_axis=-1, data_range=255)
    return {k: float(v) for k, v in out.items()}


def evaluate(G: Generator, data, max_frames: int | None = None, progress: bool = False,
             precision: str = "fp32", cpu_model: bytes | None = None) -> dict:
    """Generate the held-out frames of ``data`` (a :class:`~s2v.gan.data.ClipDataset`, ``part="test"``)
    sequentially from a cold start, per source, and average :func:`image_metrics` (``inf`` PSNR excluded).
    ``precision`` float32 by default (the same figures on every machine); ``"auto"``: as synthesis runs."""
    from tqdm.auto import tqdm

    rows = []
    firsts: dict[int, list[int]] = {}
    for s, t in data.index:
        firsts.setdefault(s, []).append(t)
    for s, ts in firsts.items():
        t0, t1 = min(ts), max(ts) + data.clip
        if max_frames:
            t1 = min(t1, t0 + max_frames)
        fg = FrameGenerator(G, precision, cpu_model)
        for t in tqdm(range(t0, t1), desc=f"evaluate {data.sources[s].name}", disable=not progress):
            lab = data.label(s, t)
            rows.append(image_metrics(fg(lab), np.asarray(data.sources[s].frames[t]), lab))
    keys = rows[0].keys()
    return ({k: float(np.nanmean([r[k] for r in rows if np.isfinite(r[k])] or [np.nan])) for k in keys}
            | {"frames": len(rows)})


__all__ = ["PRECISIONS", "PRECISION_NAMES", "FrameGenerator", "cpu_has_native_bf16", "evaluate", "generate",
           "image_metrics", "inference_dtype", "labels_from_keypoints", "load_generator", "render_video",
           "resolve_precision", "to_tensor"]


def render_run(G: Generator, run, path: str | Path, first: int = 0, last: int | None = None, size: int | None = None,
               side_by_side: bool = True, progress: bool = True, precision: str = "auto") -> Path:
    """Frames ``first..last-1`` of a run's poses generated as a video, with the matching slice of its speech
    (``side_by_side``: label | generated | real; ``precision``: :func:`inference_dtype`). The video says in its
    metadata that it is synthetic (:mod:`s2v.provenance`; the real frames beside it are the recording's)."""
    import soundfile as sf
    from tqdm.auto import tqdm

    from s2v.camera import Camera
    from s2v.gan.data import frame_size, run_frames, run_keypoints
    from s2v.io import atomic_path
    from s2v.video import probe_fps, write_video

    cam = Camera.load(run.require("camera"))
    W, H = frame_size(cam.width, cam.height, size or getattr(G, "train_size", 256))
    pts = run_keypoints(run, W, H)
    last = len(pts) if last is None else min(last, len(pts))
    fps = probe_fps(run.require("recording")) if run.has("recording") else 30.0
    real = run_frames(run, W, H) if side_by_side and run.has("recording") else None
    audio = None
    if run.has("audio"):
        y, sr = sf.read(run.require("audio"), dtype="float32")
        audio = Path(path).with_suffix(".wav")
        with atomic_path(audio, ".wav") as tmp:
            sf.write(tmp, y[int(first / fps * sr):int(last / fps * sr)], sr)
    fg = FrameGenerator(G, precision)
    from s2v.provenance import Provenance

    prov = Provenance.make(run.name, "poses", pts[first:last], tool="gan render_run")

    def frames():
        for t, lab in enumerate(tqdm(labels_from_keypoints(pts[first:last], (W, H), (W, H)), total=last - first,
                                     desc="generate", unit="frame", disable=not progress)):
            f = fg(lab)
            if side_by_side:
                f = np.concatenate([lab, f] + ([np.asarray(real[first + t])] if real is not None else []), 1)
            yield f

    try:
        return write_video(frames(), path, fps, audio=audio, metadata=prov.tags())
    finally:
        if audio is not None:
            audio.unlink(missing_ok=True)
