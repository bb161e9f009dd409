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
    from s2v.dictionary.build import DictionaryBuilder
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
