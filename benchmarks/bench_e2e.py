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
float32; printed); the text path is measured in float32 too, for comparison.

python benchmarks/bench_e2e.py [--runs-dir /tmp/bench_e2e] [--long 10] [--only shipped]
"""
from __future__ import annotations

import argparse
import resource
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default="/tmp/bench_e2e")
    ap.add_argument("--long", type=float, default=0.0, help="also M minutes of speech")
    ap.add_argument("--only", default=None, choices=("shipped", "demo"), help="one of the two models")
    a = ap.parse_args()
    from s2v.gan.infer import inference_dtype

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda: {torch.cuda.is_available()}; "
          f"generator precision auto = {inference_dtype('cuda' if torch.cuda.is_available() else 'cpu')}")
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
        synthesize(sp, out / "warm.mp4", text="Hello.", progress=False)      # warm-up (librosa/numba, torch)
        t = time.perf_counter()
        res = synthesize(sp, out / "text.mp4", text=TEXT, progress=False)
        report(f"{name}: text", res, time.perf_counter() - t)
        t = time.perf_counter()
        res = synthesize(sp, out / "text32.mp4", text=TEXT, cfg=SynthesisConfig(precision="fp32"), progress=False)
        report(f"{name}: text, float32", res, time.perf_counter() - t)
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
