"""Training one speaker end to end: recording -> LSTM -> key-pose dictionary -> GAN, in one run folder.

Each stage is skipped when its artifact exists and the GAN resumes from its checkpoint, so an interrupted
preparation picks up where it stopped. The result is what :mod:`s2v.synthesis.synthesize` loads as a speaker.
Presets: ``quickstart`` (a few minutes on a CPU: 128², small networks, a short training — the video shows
the method, not the quality a week on 8 GPUs gives) and ``paper`` (the paper's sizes, for a GPU machine).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from s2v.gan.config import GANConfig
from s2v.pose.lstm import PoseLSTMConfig
from s2v.run import Run
from s2v.studio import StudioConfig


@dataclass
class SpeakerConfig:
    studio: StudioConfig = field(default_factory=lambda: StudioConfig(speaker="ada", script="economy+sports"))
    inputs: str = "audio"                       # the LSTM's input: audio | text (section 3.4)
    pose: PoseLSTMConfig = field(default_factory=PoseLSTMConfig)
    dictionary: str | None = "studio"           # studio (the posed key words) | suggested | None
    gan: GANConfig = field(default_factory=GANConfig)

    @classmethod
    def preset(cls, name: str, **kw) -> "SpeakerConfig":
        """``quickstart`` (minutes on a CPU) or ``paper`` (the paper's sizes); ``kw`` override (:mod:`s2v.config`)."""
        from s2v.config import make

        return make("speaker", name, kw)


def prepare_speaker(run: Run | str, cfg: SpeakerConfig | None = None, runs_dir: str | Path = "runs",
                    progress: bool = True) -> dict[str, str]:
    """Make ``run`` a speaker: record the studio (if it has no recording), build the dictionary, train the LSTM,
    train the GAN — each only if its artifact is missing. Returns {stage: "done in N s" | "present"}."""
    from s2v.dictionary.build import DictionaryBuilder, with_translations
    from s2v.gan.train import train_gan
    from s2v.pose.stage import train_pose
    from s2v.studio import record

    cfg = cfg or SpeakerConfig()
    run = run if isinstance(run, Run) else Run.create(str(run), runs_dir)
    report: dict[str, str] = {}

    def stage(name, artifact, fn):
        if run.has(artifact):
            report[name] = "present"
            return
        t = time.perf_counter()
        fn()
        report[name] = f"done in {time.perf_counter() - t:.0f} s"

    stage("recording", "recording", lambda: record(cfg.studio, run, progress=progress))
    if not (run.has("params") or run.has("truth_params")):
        raise FileNotFoundError(f"run {run.name!r} has a recording but no SMPL-X parameters: run `s2v detect` and "
                                "`s2v fit` on it first")
    def dictionary():
        b = DictionaryBuilder.from_run(run, load_existing=False)
        if cfg.dictionary == "studio" and run.has("truth_keyposes"):
            b.add_studio(json.loads(run.path("truth_keyposes").read_text()))
            # the posed gestures also under the cast's words of the other language (大 for "huge"): an English
            # recording's speaker then gestures at key words of Mandarin speech too
            b.dictionary = with_translations(b.dictionary)
        else:
            for c in b.suggest():
                b.add_candidate(c)
        if len(b.dictionary):
            b.save(run)

    if cfg.dictionary:
        stage("dictionary", "dictionary", dictionary)
    # after the dictionary: the LSTM leaves the body and hands at its key words to it (PoseLSTMConfig.key_words)
    stage("pose LSTM", "pose_model", lambda: train_pose([run], [], run, cfg.pose, inputs=cfg.inputs, progress=progress))
    stage("GAN", "gan", lambda: train_gan([run], run, cfg.gan, progress=progress))
    return report


#: The speaker shipped with the kit (``data/speakers/ada``), made by ``s2v speaker --preset shipped --run
#: ada_shipped --export data/speakers/ada`` (see data/README.md).
SHIPPED = "ada"


def shipped_speakers_dir() -> Path:
    from s2v.body.model import data_dir

    return data_dir() / "speakers"


def shipped_speaker(name: str = SHIPPED) -> Path | None:
    """The folder of the speaker ``name`` shipped with the kit, or None."""
    p = shipped_speakers_dir() / name
    return p if (p / "manifest.json").exists() else None


def shipped_fallback(run: Run) -> Run:
    """``run``; when its folder does not exist, the speaker of the same name shipped with the kit, if there is one."""
    shipped = None if run.root.is_dir() else shipped_speaker(run.root.name)
    return Run(shipped) if shipped is not None else run


def speaker_card(speaker) -> dict:
    """What a notebook shows about a loaded :class:`~s2v.synthesis.synthesize.Speaker`: a one-line ``summary``,
    the PNG of ``samples`` (a shipped speaker's ``samples.png``: label / real / generated on held-out frames; a
    trained run's latest GAN sample grid; None) and its held-out image ``quality`` (a shipped speaker's
    ``quality.json``, written by ``benchmarks/bench_shipped.py``; {} otherwise)."""
    import json

    root = speaker.run.root
    exported = speaker.run.manifest.get("exported")
    grids = sorted((root / "gan" / "samples").glob("step_*.png"))
    samples = root / "samples.png" if (root / "samples.png").exists() else (grids[-1] if grids else None)
    quality = json.loads((root / "quality.json").read_text()) if (root / "quality.json").exists() else {}
    g = speaker.gan_config
    words = ", ".join(speaker.dictionary.words) if speaker.dictionary else "none"
    renderers = ([f"GAN {g['size']} px wide, trained {g.get('max_steps')} steps"] if g else []) + (
        [f"portrait at {speaker.portrait.size[0]}x{speaker.portrait.size[1]}"] if speaker.portrait is not None else [])
    summary = (f"{speaker.run.name}: {'shipped with the kit' if exported else 'a run'} ({root}); "
               f"{speaker.camera.width}x{speaker.camera.height} at {speaker.fps:g} fps; LSTM input {speaker.inputs}; "
               f"{'; '.join(renderers)}; key words: {words}")
    return {"summary": summary, "samples": samples, "quality": quality}


def export_speaker(run: Run | str | Path, out: str | Path, half: bool = True, frames: int = 10,
                   keypoint_every: int = 25) -> Run:
    """A compact copy of a prepared speaker, for shipping (``data/speakers/``): what :class:`~s2v.synthesis.
    synthesize.Speaker` loads and nothing else — the LSTM and the generator with their floating-point weights
    in half precision (``half``; loading widens them back to float32), the dictionary, the camera, the first
    ``frames`` frames of the pose sequence (the speaker's shape and placement are their median, section 3.2)
    and every ``keypoint_every``-th frame of the keypoints the recording showed (which points to draw). Each file
    is checksummed in the new run's manifest, as every stage records its artifacts, so a damaged or swapped
    file is refused when the speaker is loaded. Returns the new run."""
    import shutil

    import numpy as np
    import torch

    from s2v.fitting.fit import run_poses
    from s2v.io import save_torch
    from s2v.keypoints import KeypointTrack
    from s2v.params import SMPLXParams

    src = run if isinstance(run, Run) else Run(Path(run))
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    dst = Run.create(out.name, out.parent)
    made = {"exported_from": src.name, "half": half}

    def shrink(st):
        if isinstance(st, dict):
            return {k: shrink(v) for k, v in st.items()}
        if isinstance(st, torch.Tensor) and st.is_floating_point() and half:
            return st.half()
        return st

    for art, weights in (("pose_model", "model"), ("gan", "generator")):
        st = torch.load(src.require(art), map_location="cpu", weights_only=True)
        st[weights] = shrink(st[weights])
        save_torch(dst.path(art), st)
        dst.record(art, src.manifest["artifacts"].get(art, {}).get("config"), **made)
    shutil.copyfile(src.require("camera"), dst.path("camera"))
    dst.record("camera", **made)
    if src.has("dictionary"):
        from s2v.dictionary.store import KeyPoseDictionary

        KeyPoseDictionary.load(src.require("dictionary")).save(dst.path("dictionary"))
        dst.record("dictionary", **made)
    p, fps, source, _ = run_poses(src)
    arrays = {k: (v[:frames] if np.ndim(v) and len(v) == len(p.body_pose) and k != "betas" else v)
              for k, v in p.as_dict().items()}
    from s2v.body.hands import basis_meta, load_hand_basis

    basis = load_hand_basis(src.path(source))   # a speaker's own hand PCA (fit --hands speaker) goes along
    SMPLXParams.from_mapping(arrays).save(dst.path("truth_params"), fps=fps, **(basis_meta(basis) if basis else {}))
    dst.record("truth_params", frames=frames, **made)
    if src.has("truth_keypoints"):
        tr = KeypointTrack.load(src.require("truth_keypoints"))
        KeypointTrack(tr.points[::keypoint_every], tr.width, tr.height, tr.fps / keypoint_every).save(
            dst.path("truth_keypoints"))
        dst.record("truth_keypoints", every=keypoint_every, **made)
    from s2v.body import resolve_backend
    from s2v.io import save_json

    m = dst.manifest   # the recording's settings (voice, framing, size) without the recording itself
    rec_cfg = src.manifest.get("artifacts", {}).get("recording", {}).get("config") or {}
    m["exported"] = {"from": src.name, "body_model": resolve_backend(rec_cfg.get("backend", "auto"))[0],
                     "recording_config": rec_cfg, "frames": frames, "keypoint_every": keypoint_every, "half": half}
    save_json(dst.root / "manifest.json", m)
    return dst
