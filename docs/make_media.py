"""The README's pictures, made by the kit from the shipped speaker (``data/speakers/ada``):

* ``docs/demo.png`` — skeleton | generated frame at three moments of a sentence (key poses among them);
* ``docs/ada.gif`` — the first seconds of the talking video, looping (code hosts play GIFs inline);
* ``docs/samples.png`` — label / real / generated on held-out studio frames (``benchmarks/bench_shipped.py``).

python docs/make_media.py
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

TEXT = "The economy is huge, and it matters to you and me. Prices went up, but the tiny shops are still open."


def main() -> None:
    import cv2

    from s2v.synthesis.speaker import shipped_speaker
    from s2v.synthesis.synthesize import Speaker, SynthesisConfig, synthesize
    from s2v.video import read_video, to_gif

    docs = Path(__file__).resolve().parent
    tmp = docs / "_media"
    sp = Speaker.load(shipped_speaker("ada"))
    res = synthesize(sp, tmp / "sbs.mp4", text=TEXT, cfg=SynthesisConfig(side_by_side=True), progress=False)
    frames, _ = read_video(res.video)
    frames = frames[:res.frames]
    inserted = [r for r in res.insertions if getattr(r, "status", "") == "inserted"]
    at = [r.frame + int(0.15 * res.fps) for r in inserted[:2]] + [int(0.3 * res.frames)]   # in the hold
    pic = np.concatenate([frames[min(t, len(frames) - 1)] for t in sorted(at)], 1)
    cv2.imwrite(str(docs / "demo.png"), cv2.cvtColor(pic, cv2.COLOR_RGB2BGR))
    plain = synthesize(sp, tmp / "plain.mp4", text=TEXT, progress=False)
    to_gif(plain.video, docs / "ada.gif", fps=12.5, seconds=6.0)
    shutil.copyfile(shipped_speaker("ada") / "samples.png", docs / "samples.png")
    shutil.rmtree(tmp)
    for name in ("demo.png", "ada.gif", "samples.png"):
        print(f"{docs / name}: {(docs / name).stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
