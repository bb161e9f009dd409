"""End to end (issues 8 and 16): frames per second and seconds per 10 s of speech, each stage's share, peak
memory, and the streaming latency (speech in -> first frame in the encoder), for the shipped speaker
(``data/speakers/ada``: 320x384, a generator at half resolution behind a pixel shuffle) beside the old demo model,
in one run. Issue 16's bar: >= 25 frames/s end to end (skeleton + GAN + encoding) at the shipped size.

The demo model: the quickstart speaker's networks (LSTM 2 x 128; GAN ngf 16, 3 downsamplings, 3 residual
blocks) at 256², trained briefly (speed does not depend on how well it is trained). Text input: eSpeak NG
speaks it and gives the word times. Audio input: the real JFK clip (11 s, when ../shared/data is present) with
pocketsphinx recognition for the key words. ``--long M``: M minutes of speech (key poses off, so no
recognition) to show that memory stays bounded.

The generator runs in the precision synthesis picks (``auto``: bfloat16 on a CPU with bfloat16 in hardware, else
the speaker's int8 OpenVINO model where it has one, else float32; printed); the text path is measured in PyTorch
float32 too, for comparison. Issue 29: the CPU's model and flags are printed first; ``--runtimes`` times the
shipped generator alone in each runtime (PyTorch float32, OpenVINO float32, OpenVINO int8, PyTorch bfloat16
where the CPU has it) side by side; ``--busy`` repeats the text path beside one other busy 2-thread process
(a matrix-multiplying child) and prints the ratio to the idle figure.

python benchmarks/bench_e2e.py [--runs-dir /tmp/bench_e2e] [--long 10] [--only shipped] [--runtimes] [--busy]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from s2v.synthesis.speaker import SpeakerConfig, prepare_speaker
from s2v.synthesis.synthesize import SAMPLE_RATE, Speaker, SynthesisConfig, speech_from_text, synthesize

TEXT = ("The economy is huge, and every part of it matters to you and me. Prices went up this year, "
        "while wages stayed low.")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, res, wall: float) -> None:
    shares = ", ".join(f"{k} {v:.1f} s ({v / wall:.0%})" for k, v in res.timings.items())
    print(f"{name}: {res.duration:.1f} s of speech -> {res.frames} frames in {wall:.1f} s "
          f"({wall / res.duration:.2f} s per second of speech, {res.frames / wall:.1f} frames/s); {shares}; "
          f"peak RSS {peak_mb():.0f} MB")


def cpu_line() -> str:
    from bench_portrait import cpu_name

    from s2v.gan.cpu import free_cpus
    from s2v.gan.infer import _cpu_flags

    flags = _cpu_flags()
    shown = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")) or "vnni" in f)
    return f"CPU: {cpu_name()}; flags {' '.join(shown)}; {free_cpus()} of {len(os.sched_getaffinity(0))} cores free"


def time_runtimes(sp, frames: int = 40) -> None:
    """The shipped generator alone, ms a frame in sequence (each frame feeding the next), per runtime."""
    from s2v.gan import cpu
    from s2v.gan.infer import FrameGenerator, cpu_has_native_bf16, labels_from_keypoints
    from s2v.gan.data import run_keypoints

    W, H = sp.cpu_model_size or (320, 384)
    labels = list(labels_from_keypoints(run_keypoints(sp.run, W, H, backend=sp.backend), (W, H), (W, H)))
    labels = (labels * (frames // len(labels) + 1))[:frames]
    threads = cpu.free_cpus()

    def timed(name, fg):
        for lab in labels[:3]:
            fg(lab)
        t = time.perf_counter()
        for lab in labels:
            fg(lab)
        ms = (time.perf_counter() - t) / len(labels) * 1000
        print(f"    generator alone, {name}: {ms:.1f} ms a frame ({1000 / ms:.1f} frames/s)")
        return ms

    torch.set_num_threads(threads)
    base = timed(f"PyTorch float32, {threads} threads", FrameGenerator(sp.generator, "fp32"))
    if cpu_has_native_bf16():
        timed("PyTorch bfloat16", FrameGenerator(sp.generator, "bf16"))
    fp32 = cpu._pack(cpu.convert(sp.generator, (W, H)))
    for th in sorted({1, threads}):
        fg = FrameGenerator(sp.generator, "fp32")
        fg.net = cpu.OpenVINOGenerator(fp32, th)
        ms = timed(f"OpenVINO float32, {th} thread(s)", fg)
        if sp.cpu_model is not None:
            ms8 = timed(f"OpenVINO int8, {th} thread(s)", FrameGenerator(sp.generator, "int8", sp.cpu_model, th))
            print(f"      -> int8 {base / ms8:.2f}x PyTorch float32's speed, OpenVINO float32 {base / ms:.2f}x")


def busy_child() -> subprocess.Popen:
    """One other busy process with two threads (matrix products), as a second job on the machine would be."""
    code = ("import torch, time\ntorch.set_num_threads(2)\na = torch.randn(1024, 1024)\n"
            "t = time.time()\nwhile time.time() - t < 600:\n    a @ a\n")
    return subprocess.Popen([sys.executable, "-c", code])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default="/tmp/bench_e2e")
    ap.add_argument("--long", type=float, default=0.0, help="also M minutes of speech")
    ap.add_argument("--only", default=None, choices=("shipped", "demo"), help="one of the two models")
    ap.add_argument("--runtimes", action="store_true", help="also time the generator alone in each runtime")
    ap.add_argument("--busy", action="store_true", help="also the text path beside one other busy process")
    a = ap.parse_args()
    import openvino

    print(cpu_line())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda: {torch.cuda.is_available()}; "
          f"OpenVINO {openvino.__version__}")
    out = Path(a.runs_dir) / "out"
    speakers = {}
    if a.only in (None, "demo"):
        cfg = SpeakerConfig.preset("quickstart", **{"studio.max_seconds": 10.0, "studio.width": 256,
                                                    "studio.height": 256, "pose.max_steps": 50, "gan.size": 256,
                                                    "gan.max_steps": 10, "gan.sample_every": 100})
        t = time.perf_counter()
        print("speaker:", prepare_speaker("demo256", cfg, a.runs_dir, progress=False),
              f"({time.perf_counter() - t:.0f} s)")
        speakers["demo model (quickstart networks), 256²"] = Speaker.load(Path(a.runs_dir) / "demo256")
    if a.only in (None, "shipped"):
        sp = Speaker.load("ada", a.runs_dir)
        speakers[f"shipped speaker ada, {sp.camera.width}x{sp.camera.height}"] = sp
    jfk = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech_en" / "jfk.flac"
    for name, sp in speakers.items():
        if a.runtimes:
            time_runtimes(sp)
        synthesize(sp, out / "warm.mp4", text="Hello.", progress=False)      # warm-up (librosa/numba, torch)
        t = time.perf_counter()
        res = synthesize(sp, out / "text.mp4", text=TEXT, progress=False)
        report(f"{name}: text (precision auto = {res.precision})", res, time.perf_counter() - t)
        idle = res.frames / (time.perf_counter() - t)
        if a.busy:
            child = busy_child()
            try:
                time.sleep(2.0)
                t = time.perf_counter()
                res = synthesize(sp, out / "busy.mp4", text=TEXT, progress=False)
                wall = time.perf_counter() - t
            finally:
                child.kill()
                child.wait()
            report(f"{name}: text beside a busy 2-thread process ({res.precision})", res, wall)
            print(f"    busy / idle: {res.frames / wall / idle:.2f}x")
        t = time.perf_counter()
        res = synthesize(sp, out / "text32.mp4", text=TEXT, cfg=SynthesisConfig(precision="fp32"), progress=False)
        report(f"{name}: text, PyTorch float32", res, time.perf_counter() - t)
        t = time.perf_counter()
        res = synthesize(sp, out / "stream.mp4", text=TEXT, cfg=SynthesisConfig(stream=True), progress=False)
        report(f"{name}: text, --stream", res, time.perf_counter() - t)
        print(f"    streaming latency (text in -> first frame in the encoder): {res.timings['first frame']:.2f} s")
        if jfk.exists():
            for stream in (False, True):
                t = time.perf_counter()
                res = synthesize(sp, out / "jfk.mp4", audio=jfk, cfg=SynthesisConfig(stream=stream), progress=False)
                report(f"{name}: audio (JFK, with recognition){', --stream' if stream else ''}", res,
                       time.perf_counter() - t)
                print(f"    latency (speech in -> first frame in the encoder): {res.timings['first frame']:.2f} s")
            res = synthesize(sp, out / "jfk.mp4", audio=jfk, cfg=SynthesisConfig(stream=True, key_poses=False),
                             progress=False)   # no recognition: the LSTM hears the speech, nothing waits for words
            print(f"    --stream --no-key-poses latency (speech in -> first frame): {res.timings['first frame']:.2f} s")

    if a.long:
        one = speech_from_text(TEXT, sp.voice).audio
        y = np.tile(one, int(np.ceil(a.long * 60 * SAMPLE_RATE / len(one))))[:int(a.long * 60 * SAMPLE_RATE)]
        t = time.perf_counter()
        res = synthesize(sp, out / "long.mp4", audio=y, cfg=SynthesisConfig(key_poses=False), progress=False)
        report(f"{a.long:g} minutes of audio (key poses off), 256²", res, time.perf_counter() - t)


if __name__ == "__main__":
    main()
