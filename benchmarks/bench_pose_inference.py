"""Speech-to-pose inference speed on 10 minutes of speech (target >= 1000x real time on one CPU).

python benchmarks/bench_pose_inference.py
"""
import time

import numpy as np
import torch

from s2v.pose.lstm import PoseLSTM, predict
from s2v.speech.features import align_to_frames, audio_features


def main():
    torch.manual_seed(0)
    m = PoseLSTM(28, 106).eval()                      # the paper's size; speed does not depend on the weights
    seconds, fps = 600, 30.0
    x = np.random.default_rng(0).normal(size=(int(seconds * fps), 28)).astype(np.float32)
    predict(m, x[:300], fps)                          # warm-up
    t0 = time.perf_counter()
    exact = predict(m, x, fps, parallel=False)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = predict(m, x, fps, parallel=True)
    t_fast = time.perf_counter() - t0
    audio = np.random.default_rng(1).normal(scale=0.1, size=seconds * 16000).astype(np.float32)
    audio_features(audio[:16000], 16000)            # warm-up (librosa compiles with numba on first use)
    t0 = time.perf_counter()
    align_to_frames(audio_features(audio, 16000), len(x), fps)
    t_feat = time.perf_counter() - t0
    print(f"10 min of speech, torch threads {torch.get_num_threads()}:")
    print(f"  LSTM exact pass     {t_exact:6.2f} s  {seconds / t_exact:6.0f}x real time")
    print(f"  LSTM parallel segs  {t_fast:6.2f} s  {seconds / t_fast:6.0f}x real time "
          f"(max deviation from exact {np.abs(fast - exact).max():.1e})")
    print(f"  features            {t_feat:6.2f} s  {seconds / t_feat:6.0f}x real time")
    print(f"  features + LSTM     {seconds / (t_feat + t_fast):6.0f}x real time")


if __name__ == "__main__":
    main()
