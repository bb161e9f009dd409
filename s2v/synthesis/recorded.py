"""One's own speaker from one's own recordings, in one call: capture -> keypoints -> fit -> key-pose
suggestions -> LSTM -> portrait, resumable, with a report at the end.

``prepare_recorded_speaker("me", ["a.mp4", "b.mp4", "c.mp4"])`` makes one run per clip (``me.clip01`` ...,
the last clip held out) and the speaker's run ``me``, which receives the LSTM (``pose/model.pt``, when the
body fit allows it), the portrait renderer (``portrait/``) and ``report.json``:

* the fit quality per clip (median residual, failed frames, framing) — a failed fit is reported with what
  to try, not hidden: the portrait then learns from the detected keypoints instead;
* the key-pose suggestions of the training clips, or why there are none;
* the speaker's camera and fitted body (from the first training clip), so that ``s2v synthesize --run NAME``
  drives the portrait with the LSTM's poses (:mod:`s2v.synthesis.synthesize`);
* the held-out clip judged on *all* its frames at the source's resolution (:mod:`s2v.portrait.evaluate`:
  face PSNR/SSIM, identity, mouth, sharpness, steadiness) and a strip of truth | output | difference.

Every stage is skipped when its artifact exists, and the trainings resume from their checkpoints, so an
interrupted call picks up where it stopped.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from s2v.run import Run

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def expand_videos(videos) -> list[Path]:
    """Files and folders (their videos, sorted by name) -> the clips of one sitting, in order."""
    out: list[Path] = []
    for v in videos:
        p = Path(v)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{p}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such video file or folder")
    return out


def prepare_recorded_speaker(name: str, videos, transcripts=None, runs_dir: str | Path = "runs",
                             portrait_minutes: float = 25.0, portrait_steps: int = 100000,
                             pose_steps: int | None = None,
                             framing: str | None = None, allow_several_people: bool = False,
                             progress: bool = True, log=print) -> dict:
    """See the module docstring. ``transcripts``: one text file per video (or None). Returns the report."""
    from s2v.capture import import_video
    from s2v.fitting.detect import detect_run
    from s2v.fitting.fit import FitConfig, check_fit, fit_run, framing_advice, load_fit

    clips = expand_videos(videos)
    if len(clips) < 2:
        raise ValueError("give at least two clips of the speaker (one sitting): the last one is held out to judge "
                         "the result")
    transcripts = list(transcripts or [])
    if transcripts and len(transcripts) != len(clips):
        raise ValueError(f"{len(transcripts)} transcripts for {len(clips)} clips: give one per clip, or none")
    speaker = Run.create(name, runs_dir)
    report: dict = {"speaker": name, "clips": [], "stages": {}}
    runs = []
    t_all = time.perf_counter()

    def stage(label, fn):
        t = time.perf_counter()
        log(f"[{label}]")
        out = fn()
        report["stages"][label] = round(time.perf_counter() - t, 1)
        return out

    for i, src in enumerate(clips, 1):
        run = Run.create(f"{name}.clip{i:02d}", runs_dir)
        runs.append(run)
        if not run.has("recording"):
            text = Path(transcripts[i - 1]).read_text() if transcripts else None
            stage(f"capture {run.name}", lambda: import_video(
                src, run, transcript=text, recognize_speech=text is None,
                people="ignore" if allow_several_people else "error"))
        if not run.has("keypoints"):
            stage(f"keypoints {run.name}", lambda: detect_run(run, progress=progress))
        if not run.has("params"):
            cfg = FitConfig(framing=framing) if framing else FitConfig()
            stage(f"fit {run.name}", lambda: fit_run(run, cfg, progress=progress))
        fit = load_fit(run.path("params"))
        q = fit.quality()
        entry = {"run": run.name, "video": str(src),
                 **{k: q[k] for k in ("frames", "failed", "failed_fraction", "framing")}}
        if not framing and (note := framing_advice(q["framing"], fit.seen)):
            entry["note"] = note
            log(f"  note: {note}")
        try:
            check_fit(run)
            entry["fit"] = "ok"
        except ValueError as e:
            entry["fit"] = f"failed: {e}"
        report["clips"].append(entry)
        log(f"  {run.name}: {q['frames']} frames, fit {entry['fit'][:90]}")
    train, held = runs[:-1], runs[-1]
    fits_ok = all(c["fit"] == "ok" for c in report["clips"])
    report["held_out"] = held.name

    # key-pose suggestions (the dictionary is built by the user: notebook 03 or `dictionary build --span`)
    suggestions = []
    for run in train:
        if not fits_ok or not run.has("transcript"):
            break
        from s2v.dictionary.build import DictionaryBuilder

        b = DictionaryBuilder.from_run(run, load_existing=False)
        found = b.suggest()
        suggestions += [{"run": run.name, **c.to_dict()} for c in found]
        if not found:
            report.setdefault("no_suggestion", {})[run.name] = b.why_no_suggestion()
    report["suggestions"] = suggestions if fits_ok else "skipped: the body fit failed (see clips)"

    # the speaker's camera and fitted body (shape, orientation, placement: section 3.2) come from the first
    # training clip, so that `s2v synthesize --run NAME` can project predicted poses for the portrait
    if fits_ok:
        import shutil

        for art in ("camera", "params"):
            if not speaker.has(art):
                shutil.copyfile(train[0].require(art), speaker.path(art))
                speaker.record(art, config={"from": train[0].name})
    if fits_ok and not speaker.has("pose_model"):
        from s2v.pose.lstm import PoseLSTMConfig
        from s2v.pose.stage import train_pose

        pcfg = PoseLSTMConfig.preset("cpu", **({} if pose_steps is None else {"max_steps": pose_steps}))
        stage("pose LSTM", lambda: train_pose(train, [], speaker, pcfg, progress=progress))
    report["pose"] = "present" if speaker.has("pose_model") else (
        "skipped: the body fit failed on a clip; fix the fit (try --framing seated or half), then run this again")

    # the portrait: the face at the source's resolution (from the fit when it worked, else the detections)
    from s2v.portrait.data import PortraitConfig
    from s2v.portrait.stage import evaluate_heldout, frame_config, train_portrait

    labels = "fit" if fits_ok else "keypoints"
    face = PortraitConfig(labels=labels, max_minutes=portrait_minutes, steps=portrait_steps)
    if not (speaker.has("portrait") and speaker.has("portrait_frame")):
        rep = stage("portrait", lambda: train_portrait(train, speaker.root / "portrait", face, frame_config(face),
                                                       progress=progress))
        speaker.record("portrait", config=rep["face"] | {"runs": [r.name for r in train], "labels": labels})
        speaker.record("portrait_frame", config=rep["frame"])

    def judge():
        import cv2
        import torch

        from s2v.portrait.evaluate import strip

        res, output, truth, pts = evaluate_heldout(speaker.root / "portrait", held, background="recording",
                                                   progress=progress)
        side = torch.load(speaker.path("portrait"), weights_only=True)["side"]
        path = speaker.root / "portrait" / f"heldout_{held.name}.png"
        cv2.imwrite(str(path), strip(output, truth, pts, side)[..., ::-1])
        return res, path

    res, strip_path = stage("held-out figures", judge)
    report["held_out_figures"] = res
    report["strip"] = str(strip_path)
    if fits_ok and speaker.has("pose_model"):
        report["synthesize"] = f"python -m s2v synthesize --run {name} --text '...' (or --audio speech.wav)"
    report["minutes"] = round((time.perf_counter() - t_all) / 60, 1)
    (speaker.root / "report.json").write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    return report
