"""Speech in, a real person out (issue 27): a speaker made by ``s2v speaker --video`` from real clips says the
held-out clip's own speech, and its video is compared with what the person really did while saying it.

The speaker is made first (its training is the slow part), e.g. on the real talking head of
``../shared/data/real_video_obama`` (clips 01-03 train, 04 held out; the MANIFEST: measurement only, nothing of
him is published or shipped)::

    python -m s2v speaker --run obama --runs-dir /tmp/obama/runs --video .../clip01.mp4 ... --video .../clip04.mp4
    python benchmarks/bench_recorded_speaker.py --run obama --runs-dir /tmp/obama/runs

Figures, on every frame of the held-out sentence (inner-lip opening found by the kit's detector, MediaPipe):

* ``lips_lstm``: correlation of the mouth opening of the LSTM's predicted poses (projected) with the true one:
  how much the speech decides the mouth, before any rendering;
* ``lips_render``: correlation of the output video's detected opening with the predicted poses': how faithfully
  the portrait draws the pose it is given;
* ``lips_end``: output video against the truth, end to end;
* ``identity``: median dlib face-descriptor distance, output frame to true frame (every third frame);
* ``sharpness``: variance of the Laplacian of the face box, output / truth; frames/s of the whole synthesis;
* ``room_jump``: the largest median grey change of the room (the speaker left out) between consecutive frames,
  output and truth (a static camera: a few levels of noise; a spike where the room jumps), and how many
  frame pairs change by more than 5 levels.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="the speaker (made by s2v speaker --video)")
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("--out", default=None, help="JSON of the figures (default: RUN/bench_recorded_speaker.json)")
    a = ap.parse_args()

    from bench_portrait import cpu_name
    from s2v.fitting.detect import detect_frames
    from s2v.params import SMPLXParams
    from s2v.portrait.evaluate import Identity, _corr, sharpness
    from s2v.portrait.framing import room_jumps
    from s2v.portrait.regions import cut_box, face_boxes, lip_opening
    from s2v.run import Run
    from s2v.synthesis.synthesize import Speaker, SynthesisConfig, poses_to_keypoints, synthesize
    from s2v.video import probe_size, read_video

    speaker = Run.open(a.run, a.runs_dir)
    report = json.loads((speaker.root / "report.json").read_text())
    held = Run.open(report["held_out"], a.runs_dir)
    truth, fps = read_video(held.require("recording"))
    sp = Speaker.load(speaker)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "said.mp4"
        t0 = time.perf_counter()
        res = synthesize(sp, out, audio=str(held.require("audio")), cfg=SynthesisConfig(key_poses=False),
                         progress=False)
        seconds = time.perf_counter() - t0
        video, _ = read_video(out)
        size = probe_size(out)
        side = json.loads(out.with_suffix(".json").read_text())
        params = SMPLXParams.load(out.with_suffix(".poses.npz"))
    n = min(len(video), len(truth))
    video, truth = list(video[:n]), list(truth[:n])
    pred = poses_to_keypoints(sp, params, *sp.portrait.size)[:n]          # what the LSTM asked for
    seen_out = detect_frames(video, progress=False, fps=fps).points          # what the video shows
    seen_true = detect_frames(truth, progress=False, fps=fps).points         # what he did
    lip_pred, lip_out, lip_true = lip_opening(pred), lip_opening(seen_out), lip_opening(seen_true)
    side_px = sp.portrait.face.side
    sharp = np.median([sharpness(cut_box(o, b)) for o, b in zip(video, face_boxes(pred, side_px))])
    sharp_true = np.median([sharpness(cut_box(t, b)) for t, b in zip(truth, face_boxes(seen_true, side_px))])
    jumps = room_jumps(video, pred, size[0])
    jumps_true = room_jumps(truth, seen_true, size[0])
    ident, dist = Identity.available(), None
    if ident is not None:
        d = [np.linalg.norm(x - y) for o, t in zip(video[::3], truth[::3])
             if (x := ident.descriptor(o)) is not None and (y := ident.descriptor(t)) is not None]
        dist = float(np.median(d)) if d else None
    fig = {"cpu": cpu_name(), "speaker": speaker.name, "held_out": held.name, "frames": n, "size": list(size),
           "renderer": side["renderer"], "lips_lstm": _corr(lip_pred, lip_true),
           "lips_render": _corr(lip_out, lip_pred),
           "lips_end": _corr(lip_out, lip_true), "identity": dist, "sharpness": float(sharp / sharp_true),
           "synthesis_s": seconds, "frames_per_s": res.frames / seconds, "timings": side["timings"],
           "mouth_sd_px": {"predicted": float(np.nanstd(lip_pred)), "output": float(np.nanstd(lip_out)),
                           "truth": float(np.nanstd(lip_true))},
           "room_jump": {"output_max": float(jumps.max()), "output_p99": float(np.percentile(jumps, 99)),
                         "truth_max": float(jumps_true.max()), "over_5": int((jumps > 5).sum())}}
    print(json.dumps(fig, indent=1))
    Path(a.out or speaker.root / "bench_recorded_speaker.json").write_text(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
