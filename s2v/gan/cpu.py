"""The generator on CPUs without bfloat16 hardware: OpenVINO, int8 (issue 29).

On an AVX2-only CPU (most laptops and cloud machines: no AVX512-BF16/AMX) PyTorch runs the shipped 320x384
generator in float32 at ~72 ms a frame on 2 cores: 14 frames/s, where the convolutions are only 31 ms of it
(58 % of the FMA peak) and the rest is layout copies, instance norm and pixel (un)shuffle. Measured side by side
on the 2-core AMD EPYC here (``benchmarks/bench_e2e.py``, RESULTS.md): OpenVINO's CPU plugin, fed the PyTorch
module directly (``openvino.convert_model``: no ONNX, whose ``onnx`` package needs a protobuf MediaPipe refuses),
fuses those into the convolutions: 37 ms in float32 (ONNX Runtime 51 ms); post-training int8 with NNCF (the
OpenVINO project's quantiser: per-channel weights, asymmetric activations calibrated on the speaker's own frames,
fast bias correction; the instance norms' inputs and the last convolution kept in float32) runs the convolutions
on AVX2's 8-bit multiply-adds: ~27 ms, held-out PSNR within 0.02 dB and SSIM within 0.001 of float32's.

The int8 model is an artifact of the run (``gan/generator_int8.ov``: OpenVINO's XML and weights in one zip,
checksummed by the manifest like every artifact), made once by :func:`quantize` — `s2v gan optimize` — from
float32 generations of the speaker's own poses, and valid only for the generator it was made from (its
checksum is recorded and compared on load). OpenVINO and NNCF are optional: without them, or without the
artifact, synthesis runs PyTorch as before.
"""
from __future__ import annotations

import contextlib
import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch


@dataclass(frozen=True)
class QuantizeConfig:
    frames: int = 96            # calibration inputs: (labels, previous frames) pairs, generated in float32
    stretches: int = 6          # ... from this many stretches of the speaker's poses, each from a cold start
    fast_bias_correction: bool = True
    keep_norms: bool = True     # the instance norms' inputs in float32 (held-out SSIM -0.019 when quantised)
    keep_last: bool = True      # the last convolution (to RGB) in float32


def available() -> bool:
    """Whether OpenVINO (runtime) is installed; NNCF is needed only to make an int8 model."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def free_cpus(interval: float = 0.1) -> int:
    """Cores this process may use that other processes leave idle now (/proc/stat sampled over ``interval``
    seconds), at least 1: OpenMP/oneDNN threads that share a busy core stall each other (measured: 5-30x slower
    beside one busy process with every core taken, issue 29), one thread per free core does not."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return max(1, os.cpu_count() or 1)

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)

    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except OSError:
        return allowed
    cpus = os.cpu_count() or allowed
    busy = (1.0 - (i1 - i0) / max(t1 - t0, 1)) * cpus
    return int(max(1, min(allowed, round(allowed - busy + 0.25))))


@contextlib.contextmanager
def torch_threads(n: int):
    """PyTorch's intra-op threads set to ``n`` inside the block, restored after (the caller's setting is theirs):
    beside a busy process the OpenMP threads of even small ops (the generator's input and output conversions)
    wait on each other: 110 ms a frame against 60 with one thread (issue 29)."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _pack(model) -> bytes:
    import tempfile

    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="s2v_ov_") as d:   # OpenVINO writes its XML and weights to files
        tmp = Path(d)
        ov.save_model(model, tmp / "g.xml", compress_to_fp16=False)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.write(tmp / "g.xml", "generator.xml")
            z.write(tmp / "g.bin", "generator.bin")
        return buf.getvalue()


def _unpack(data: bytes):
    import openvino as ov

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        if sorted(z.namelist()) != ["generator.bin", "generator.xml"]:
            raise ValueError("not an s2v OpenVINO generator (expected generator.xml and generator.bin)")
        xml, weights = z.read("generator.xml").decode(), z.read("generator.bin")
    return ov.Core().read_model(model=xml, weights=ov.Tensor(np.frombuffer(weights, np.uint8).copy()))


def convert(G, size: tuple[int, int]):
    """The float32 generator as an OpenVINO model for (W, H) frames (static shapes: fastest on a CPU)."""
    import openvino as ov

    W, H = size
    P, c = G.cfg.n_prev, G.cfg.label_nc
    ex = (torch.zeros(1, c * (P + 1), H, W), torch.zeros(1, G.cfg.output_nc * P, H, W))
    with torch.no_grad():
        return ov.convert_model(G.eval().cpu(), example_input=ex, input=[tuple(t.shape) for t in ex])


def calibration_inputs(G, label_stretches: Iterable[Iterable[np.ndarray]], limit: int) -> list[list[np.ndarray]]:
    """(labels, previous frames) inputs the generator meets in synthesis: each stretch of label images run
    through the float32 generator from a cold start, as synthesis does (:class:`~s2v.gan.infer.FrameGenerator`)."""
    from s2v.gan.infer import FrameGenerator

    out = []
    for labels in label_stretches:
        fg = FrameGenerator(G, "fp32")
        for lab in labels:
            fg(lab)
            out.append([t.numpy().copy() for t in fg.last_inputs if t is not None])
            if len(out) >= limit:
                return out
    return out


def quantize(G, size: tuple[int, int], calib: list[list[np.ndarray]], cfg: QuantizeConfig | None = None) -> bytes:
    """The int8 model of ``G`` for (W, H) frames, calibrated on ``calib`` (:func:`calibration_inputs`), packed."""
    try:
        import nncf
    except ImportError as e:
        raise ImportError("making the int8 CPU generator needs NNCF: pip install nncf openvino") from e
    cfg = cfg or QuantizeConfig()
    model = convert(G, size)
    convs = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    # the instance norms' inputs stay float: quantised, a low-contrast channel loses what the norm amplifies
    # (whole-frame SSIM 0.869 against float32's 0.887 on the shipped speaker's held-out frames; 0.886 kept);
    # the last convolution too (its error is the pixels')
    ignored = nncf.IgnoredScope(names=convs[-1:] if cfg.keep_last else [], types=["MVN"] if cfg.keep_norms else [])
    q = nncf.quantize(model, nncf.Dataset(calib), subset_size=len(calib), preset=nncf.QuantizationPreset.MIXED,
                      fast_bias_correction=cfg.fast_bias_correction, ignored_scope=ignored)
    return _pack(q)


def fidelity(G, data: bytes, label_stretches: Iterable[Iterable[np.ndarray]]) -> float:
    """PSNR (dB) of the int8 model's frames against the float32 generator's, each run sequentially over the
    label stretches from a cold start (errors compound through the previous frames, as in synthesis)."""
    from s2v.gan.infer import FrameGenerator

    err, n = 0.0, 0
    for labels in label_stretches:
        f32, i8 = FrameGenerator(G, "fp32"), FrameGenerator(G, "int8", data)
        for lab in labels:
            a, b = f32(lab).astype(np.float64), i8(lab).astype(np.float64)
            err, n = err + float(((a - b) ** 2).mean()), n + 1
    return float(10 * np.log10(255.0 ** 2 / max(err / max(n, 1), 1e-12)))


def optimize_run(run, cfg: QuantizeConfig | None = None, source=None, backend: str | None = None) -> dict:
    """Make the run's int8 CPU generator (artifact ``gan_int8``) from its trained generator, calibrated on the
    speaker's own poses (its fit, or the studio truth; ``source``: another run of the speaker, e.g. the
    recording a shipped speaker was trained on) at the generator's training size; the manifest records the
    generator's checksum, the size and the PSNR against float32 on other stretches of the poses."""
    from s2v.camera import Camera
    from s2v.gan.data import frame_size, run_keypoints
    from s2v.gan.infer import labels_from_keypoints, load_generator
    from s2v.io import save_bytes

    cfg = cfg or QuantizeConfig()
    G, gcfg = load_generator(run.require("gan"), "cpu")
    cam = Camera.load(run.require("camera"))
    W, H = frame_size(cam.width, cam.height, int(gcfg["size"]))
    backend = backend or run.manifest.get("exported", {}).get("body_model", "auto")
    pts = run_keypoints(source or run, W, H, backend=backend)
    per = max(2, cfg.frames // cfg.stretches)
    if len(pts) < 4 * per:
        raise ValueError(f"run '{(source or run).name}' has {len(pts)} frames of poses; calibration needs "
                         f"{4 * per}: give the recording the speaker was trained on as the source")
    starts = np.linspace(0, max(len(pts) - 2 * per, 0), 2 * cfg.stretches).astype(int)

    def stretches(which):
        return [labels_from_keypoints(pts[s:s + per], (W, H), (W, H)) for s in starts[which::2]]

    t = time.perf_counter()
    data = quantize(G, (W, H), calibration_inputs(G, stretches(0), cfg.frames), cfg)
    psnr = fidelity(G, data, stretches(1))   # stretches the calibration did not see
    save_bytes(run.path("gan_int8"), data)
    gen = run.manifest["artifacts"].get("gan", {}).get("sha256")
    return run.record("gan_int8", cfg, generator_sha256=gen, size=[W, H], psnr_vs_fp32=round(psnr, 2),
                      calibrated_on=(source or run).name,
                      seconds=round(time.perf_counter() - t, 1))


def run_cpu_model(run, size: tuple[int, int] | None = None) -> bytes | None:
    """The run's int8 CPU model if it has one made from its current generator (and, given ``size``, for
    (W, H) frames), else None."""
    if not run.has("gan_int8"):
        return None
    arts = run.manifest.get("artifacts", {})
    rec, gen = arts.get("gan_int8", {}), arts.get("gan", {})
    if rec.get("generator_sha256") != gen.get("sha256") or (size is not None and list(size) != rec.get("size")):
        return None
    return run.require("gan_int8").read_bytes()


class OpenVINOGenerator:
    """A packed OpenVINO generator compiled for this CPU, called like the PyTorch one on float32 tensors:
    ``net(labels, prev) -> frame``. ``threads``: inference threads (default :func:`free_cpus`)."""

    def __init__(self, data: bytes, threads: int | None = None):
        import openvino as ov

        self.threads = threads or free_cpus()
        model = _unpack(data)
        self.compiled = ov.Core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                               "INFERENCE_NUM_THREADS": self.threads,
                                                               "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()
        self.size = tuple(int(d) for d in reversed(list(model.inputs[0].get_shape())[2:]))   # (W, H)

    def __call__(self, labels: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        feed = [labels.numpy()] + ([prev.numpy()] if prev is not None else [])
        self.request.infer(feed)
        return torch.from_numpy(self.request.get_output_tensor(0).data.copy())


__all__ = ["OpenVINOGenerator", "QuantizeConfig", "available", "calibration_inputs", "convert", "fidelity",
           "free_cpus", "optimize_run", "quantize", "run_cpu_model", "torch_threads"]
