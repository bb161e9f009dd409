"""Synthetic studio: seconds of recording generated per second of CPU time at 256^2 and 512^2, and
(when ``mediapipe`` is installed) how often a real 2D detector finds the rendered speaker.

python benchmarks/bench_studio.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from s2v.studio import StudioConfig, record


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg encodes in a child process)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def detection_rate(video: Path) -> dict[str, float] | None:
    try:
        import mediapipe as mp
    except ImportError:
        return None
    from s2v.video import read_video

    frames, _ = read_video(video)
    found = {"pose": 0, "face": 0, "left_hand": 0, "right_hand": 0}
    t0 = time.perf_counter()
    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1) as hol:
        for f in frames:
            r = hol.process(f)
            found["pose"] += r.pose_landmarks is not None
            found["face"] += r.face_landmarks is not None
            found["left_hand"] += r.left_hand_landmarks is not None
            found["right_hand"] += r.right_hand_landmarks is not None
    out = {k: v / len(frames) for k, v in found.items()}
    out["ms_per_frame"] = (time.perf_counter() - t0) / len(frames) * 1000
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        record(StudioConfig.preset("tiny", max_seconds=1.0), Path(tmp) / "warmup", progress=False)
        print(f"{'size':>6s} {'recorded s':>10s} {'CPU s':>7s} {'wall s':>7s} {'rec s / CPU s':>14s}")
        for size in (256, 512):
            cfg = StudioConfig(width=size, height=size, max_seconds=a.seconds, pose_session=True)
            c0, w0 = cpu_seconds(), time.perf_counter()
            rec = record(cfg, Path(tmp) / f"s{size}", progress=False)
            cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
            print(f"{size:>5d}² {rec.duration:10.1f} {cpu:7.1f} {wall:7.1f} {rec.duration / cpu:14.3f}")
            det = detection_rate(rec.run.path("recording"))
            if det is None:
                print("        (mediapipe not installed: no detection rate)")
            else:
                print("        MediaPipe Holistic found: " + ", ".join(f"{k} {v:.1%}" for k, v in det.items()
                                                                       if k != "ms_per_frame")
                      + f" ({det['ms_per_frame']:.0f} ms/frame)")


if __name__ == "__main__":
    main()
