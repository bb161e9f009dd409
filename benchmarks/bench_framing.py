"""How large the face and hands are in the studio's frames, per framing and frame size (issue 16's face >= 48 px):
a short studio clip of one speaker per setting, the face and hand crop heights found in its drawn skeletons
(:func:`s2v.gan.data.boxes_of`, the boxes the part discriminators crop), on every 5th frame.

python benchmarks/bench_framing.py [--speaker ada] [--seconds 3] [--sizes waist:256x288 waist:320x384 upper:256x288]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    from s2v.gan.data import ClipDataset, boxes_of
    from s2v.run import Run
    from s2v.studio import StudioConfig
    from s2v.studio.record import record

    ap = argparse.ArgumentParser()
    ap.add_argument("--speaker", default="ada")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--sizes", nargs="+", default=["waist:256x288", "waist:288x352", "waist:320x384", "upper:256x288"])
    a = ap.parse_args()
    print("| framing | size | face crop px | hand crop px | pixels vs 256x288 |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for spec in a.sizes:
            framing, wh = spec.split(":")
            W, H = (int(x) for x in wh.split("x"))
            run = Run.create(f"{framing}{W}x{H}", Path(d))
            record(StudioConfig(speaker=a.speaker, script="economy", max_seconds=a.seconds, width=W, height=H,
                                fps=25.0, framing=framing), run, progress=False)
            data = ClipDataset([run], W, 1, "all")
            face, hands = [], []
            for s, t in data.index[::5]:
                b, v = boxes_of(data.label(s, t))
                face += [b[0, 3] - b[0, 1]] if v[0] else []
                hands += [b[i, 3] - b[i, 1] for i in (1, 2) if v[i]]
            print(f"| {framing} | {W}x{H} | {np.mean(face):.1f} | {np.mean(hands):.1f} | {W * H / (256 * 288):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
