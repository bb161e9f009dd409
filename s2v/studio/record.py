"""Record a synthetic studio session into a run folder (the kit's embedded default data).

It produces what the capture stage produces for a real recording — ``recording.mp4`` (H.264 + AAC
speech), ``audio.wav`` (16 kHz mono), ``transcript.json`` (words with start/end seconds), ``camera.json``
— plus the ground truth a real studio never has: ``truth/params.npz`` (SMPL-X per frame),
``truth/keypoints_2d.npz`` (projected keypoints, OpenPose layout) and ``truth/keyposes.json``.

As in the paper's studio (section 3.1): a fixed camera, one person standing, reading a script, and at the
end posing for the key words ("huge, tiny, up, down, me, you").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from s2v.body import BodyModel
from s2v.camera import Camera
from s2v.io import save_json
from s2v.keypoints import KeypointTrack, from_smplx, project_model
from s2v.params import SMPLXParams
from s2v.run import Run
from s2v.speech.tts import ESpeak, Phoneme, Word, resample
from s2v.speech.features import SAMPLE_RATE
from s2v.studio.cast import ALL_ENGLISH, SCRIPTS, SPEAKERS, Script, rest_pose  # noqa: F401  (re-exported)
from s2v.studio.motion import MotionConfig, perform


@dataclass
class StudioConfig:
    speaker: str = "ada"
    script: str = "economy"          # a name from s2v.studio.cast.SCRIPTS, or several joined by "+"
    text: str | None = None          # or your own text (then ``language`` says which)
    language: str = "en"
    max_seconds: float | None = None  # cut the script to about this long (whole sentences)
    width: int = 256
    height: int = 256
    fps: float = 30.0
    framing: str = "full"            # "full" body, "upper" (knees up), "waist" (hips up), "head_shoulders" (webcam),
                                     # "seated" (behind a desk that hides the legs; forearms resting forward)
    offset_x: float = 0.0            # the speaker this fraction of the image width right of centre (off-centre)
    pose_session: bool = True        # pose for the key words at the end (section 3.1)
    seed: int = 0
    lead: float = 0.5                # seconds of silence before the speech
    tail: float = 0.6
    noise_db: float = -55.0          # room noise (dBFS RMS): real recordings are never silent
    background: tuple[float, float, float] = (0.80, 0.82, 0.85)
    backend: str = "auto"            # body model
    render: bool = True              # False: audio, transcript and ground truth only (fast training data)
    motion: MotionConfig = field(default_factory=MotionConfig)

    @classmethod
    def preset(cls, name: str, **kw) -> "StudioConfig":
        """``tiny`` (a few seconds, 128^2, for tests), ``small`` (~20 s, 256^2), ``demo`` (all English scripts,
        about 2.5 minutes with the posing session, 512^2, 30 fps); ``kw`` override (:mod:`s2v.config`)."""
        from s2v.config import make

        return make("studio", name, kw)


@dataclass
class Recording:
    run: Run
    duration: float
    num_frames: int
    words: list[Word]
    keyposes: list
    camera: Camera


def _cut_text(text: str, language: str, max_seconds: float | None, rate_wpm: int) -> str:
    """Whole sentences up to about ``max_seconds`` of speech."""
    if max_seconds is None:
        return text
    import re

    sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]
    per_unit = 60.0 / rate_wpm if language == "en" else 60.0 / (rate_wpm * 1.6)
    out, total = [], 0.0
    for s in sentences:
        units = len(s.split()) if language == "en" else len(s)
        if out and total + units * per_unit > max_seconds:
            break
        out.append(s)
        total += units * per_unit
    text = " ".join(out) if language == "en" else "".join(out)
    if language == "en" and total > max_seconds * 1.3:  # one long sentence: cut by words
        n = max(1, int(max_seconds / per_unit))
        text = " ".join(text.split()[:n]).rstrip(",;") + "."
    return text


def speak(script: Script, speaker, cfg: StudioConfig) -> tuple[np.ndarray, list[Word], list[Phoneme], set[int]]:
    """Synthesise the script (and the posing session) at 16 kHz with lead/tail silence and room noise."""
    tts = ESpeak()
    parts = [tts.synthesize(_cut_text(script.text, script.language, cfg.max_seconds, speaker.rate),
                            voice=speaker.voice, rate=speaker.rate, pitch=speaker.pitch)]
    for w in script.pose_session:
        parts.append(tts.synthesize(w, voice=speaker.voice, rate=speaker.rate, pitch=speaker.pitch))
    sr = parts[0].sample_rate
    audio, words, phonemes, session = [np.zeros(int(cfg.lead * sr), np.float32)], [], [], set()
    t = cfg.lead
    for k, sp in enumerate(parts):
        # posing session: room for each key pose's ramps and hold before the next word (every word is posed)
        gap = 0.0 if k == 0 else cfg.motion.session_hold + 2 * cfg.motion.ramp + 0.2
        audio.append(np.zeros(int(gap * sr), np.float32))
        t += gap
        for w in sp.words:
            if k > 0:
                session.add(len(words))
            words.append(Word(w.text, w.start + t, w.end + t))
        base = len(words) - len(sp.words)
        phonemes += [Phoneme(p.symbol, p.start + t, p.end + t, -1 if p.word < 0 else p.word + base)
                     for p in sp.phonemes]
        audio.append(sp.audio)
        t += sp.duration
    audio.append(np.zeros(int(cfg.tail * sr), np.float32))
    y = resample(np.concatenate(audio), sr, SAMPLE_RATE)
    rng = np.random.default_rng(cfg.seed + 7)
    y = y + rng.normal(scale=10 ** (cfg.noise_db / 20), size=len(y)).astype(np.float32)
    return np.clip(y, -1, 1).astype(np.float32), words, phonemes, session


#: Seated at a desk (``framing="seated"``): hips and knees bent 90 degrees, forearms forward onto the desk.
SEATED_OFFSETS = {"left_hip": [-np.pi / 2, 0, 0], "right_hip": [-np.pi / 2, 0, 0], "left_knee": [np.pi / 2, 0, 0],
                  "right_knee": [np.pi / 2, 0, 0], "left_elbow": [0, -1.2, 0], "right_elbow": [0, 1.2, 0]}
DESK_COLOR = (0.45, 0.32, 0.22)


def seat(vec: np.ndarray, layout) -> np.ndarray:
    """A performance (T, D) moved onto a chair behind a desk: :data:`SEATED_OFFSETS` added to the body pose
    (the legs are set, the forearms bent forward on top of the arm gestures)."""
    from s2v.body.joints import JOINT_NAMES

    out = vec.copy()
    b0 = layout.slices()["body_pose"].start
    for name, aa in SEATED_OFFSETS.items():
        j = b0 + 3 * (JOINT_NAMES.index(name) - 1)
        if "hip" in name or "knee" in name:
            out[:, j:j + 3] = aa
        else:
            out[:, j:j + 3] += np.asarray(aa, np.float32)
    return out


def desk_mesh(model: BodyModel, params: SMPLXParams) -> tuple[np.ndarray, np.ndarray]:
    """A desk box (vertices (8, 3), faces (12, 3)) in front of the seated speaker of ``params``' first frame:
    its top just under the elbows, from the belly forwards, wide enough to hide both knees."""
    import trimesh

    with torch.no_grad():
        j = model.keypoints(params.frames(slice(0, 1)))[0, :22].cpu().numpy()
    pelvis, elbows = j[0], j[[18, 19]]
    top = elbows[:, 1].min() - 0.06
    front = pelvis[2] + 0.10
    box = trimesh.creation.box(extents=[1.6, top - (pelvis[1] - 0.9), 0.7])
    box.apply_translation([pelvis[0], (top + pelvis[1] - 0.9) / 2, front + 0.35])
    return np.asarray(box.vertices, np.float32), np.asarray(box.faces)


def studio_camera(model: BodyModel, betas, cfg: StudioConfig) -> Camera:
    """A fixed frontal camera framing the speaker in the rest pose (with room for gestures): the whole
    standing body, from the knees up, head and shoulders (a webcam), or seated behind a desk (waist up)."""
    vec = rest_pose(model.layout)[None]
    if cfg.framing == "seated":
        vec = seat(vec, model.layout)
    p = SMPLXParams.from_vector(vec, model.layout, betas=betas)
    with torch.no_grad():
        v = model(p).vertices[0].cpu().numpy()
        j = model.keypoints(p)[0, :22].cpu().numpy()
    height = v[:, 1].max() - v[:, 1].min()
    if cfg.framing == "upper":
        v = v[v[:, 1] > v[:, 1].min() + 0.3 * height]
    elif cfg.framing == "head_shoulders":
        v = v[v[:, 1] > j[9, 1] - 0.05]                      # from mid-chest (spine3) up
    elif cfg.framing == "seated":
        v = v[v[:, 1] > j[0, 1] - 0.05]                      # from the seat up (the desk hides the rest)
    elif cfg.framing == "waist":
        v = v[v[:, 1] > j[0, 1] - 0.12]                      # standing, from the hips up (hands at rest cut)
    elif cfg.framing != "full":
        raise ValueError(f"framing {cfg.framing!r}: choose full, upper, waist, head_shoulders or seated")
    lo, hi = v.min(0), v.max(0)
    h = hi[1] - lo[1]
    side = {"full": 0.5, "upper": 0.9, "waist": 0.3, "head_shoulders": 0.35, "seated": 0.6}[cfg.framing] * 0.35 * h
    head_room = {"upper": 0.25, "waist": 0.08, "seated": 0.35}.get(cfg.framing, 0.0) * h  # room for a raised arm
    box = np.array([lo - [side, 0, 0], hi + [side, head_room, 0]])
    cam = Camera.framing(box, cfg.width, cfg.height, fov_y_deg=25.0, margin=0.04)
    if cfg.offset_x:  # move the principal point: the speaker lands off-centre, the view stays frontal
        cam = Camera(cam.fx, cam.fy, cam.cx + cfg.offset_x * cfg.width, cam.cy, cam.width, cam.height, cam.R, cam.t)
    return cam


def _cast(cfg: StudioConfig):
    """The script ``cfg`` asks for, and its speaker with a Mandarin eSpeak voice for a Mandarin script."""
    speaker = SPEAKERS[cfg.speaker] if isinstance(cfg.speaker, str) else cfg.speaker
    script = Script("custom", cfg.language, cfg.text) if cfg.text is not None else \
        Script.named(cfg.script, cfg.pose_session)
    if script.language == "zh" and not speaker.voice.startswith("cmn"):
        speaker = type(speaker)(**{**asdict(speaker), "voice": "cmn"})
    return script, speaker


def retakes(cfg: StudioConfig, seeds, frames: int | None = None) -> np.ndarray:
    """(len(seeds), T, D): the script of ``cfg`` performed again by its speaker with other motion seeds — the
    same speech (eSpeak is seeded, so the same audio, words and phonemes as ``record(cfg)``), other beats,
    sways, face drift and key-pose draws. With ``seeds=[cfg.seed]`` it is ``record(cfg)``'s truth; with others,
    what a perfect generative model of this speaker could produce for this speech (a reference for motion
    metrics, ``benchmarks/bench_fd_ceiling.py``). ``frames`` cuts or pads to a recorded length."""
    script, speaker = _cast(cfg)
    audio, words, phonemes, session = speak(script, speaker, cfg)
    T = frames or int(np.floor(len(audio) / SAMPLE_RATE * cfg.fps))
    layout = BodyModel(backend=cfg.backend, device="cpu").layout
    out = []
    for seed in seeds:
        vec = perform(words, phonemes, audio, SAMPLE_RATE, T, cfg.fps, speaker, int(seed), layout, cfg.motion,
                      session)[0]
        out.append(seat(vec, layout) if cfg.framing == "seated" else vec)
    return np.stack(out).astype(np.float32)


def record(cfg: StudioConfig, run: Run | str | Path, progress: bool = True) -> Recording:
    """Generate a studio session into ``run`` (a :class:`Run` or a folder)."""
    from tqdm.auto import tqdm

    from s2v.render.mesh import MeshRenderer
    from s2v.studio.appearance import vertex_colors, vertex_regions
    from s2v.video import write_video

    run = run if isinstance(run, Run) else Run.create(Path(run).name, Path(run).parent)
    script, speaker = _cast(cfg)

    audio, words, phonemes, session = speak(script, speaker, cfg)
    duration = len(audio) / SAMPLE_RATE
    T = int(np.floor(duration * cfg.fps))
    model = BodyModel(backend=cfg.backend, device="cpu")
    vec, events = perform(words, phonemes, audio, SAMPLE_RATE, T, cfg.fps, speaker, cfg.seed, model.layout,
                          cfg.motion, session)
    if cfg.framing == "seated":
        vec = seat(vec, model.layout)
    betas = np.asarray(speaker.betas, np.float32)[:model.layout.num_betas]
    params = SMPLXParams.from_vector(vec, model.layout, betas=betas)
    camera = studio_camera(model, betas, cfg)

    import soundfile as sf

    from s2v.io import atomic_path

    with atomic_path(run.path("audio"), ".wav") as tmp:
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16")
    save_json(run.path("transcript"), {"text": script.text if cfg.max_seconds is None else None,
                                       "language": script.language, "source": "eSpeak NG (studio TTS)",
                                       "words": [w.to_dict() for w in words]})
    camera.save(run.path("camera"))
    params.save(run.path("truth_params"), fps=cfg.fps, speaker=speaker.name)
    save_json(run.path("truth_keyposes"), {"fps": cfg.fps, "events": [e.to_dict() for e in events]})

    regions = vertex_regions(model)
    colors = vertex_colors(regions, speaker)
    faces = model.faces
    desk = desk_mesh(model, params) if cfg.framing == "seated" else None
    if desk is not None:  # one mesh: the body, then the desk
        faces = np.concatenate([faces, desk[1] + model.num_vertices])
        colors = np.concatenate([colors, np.tile(np.asarray(DESK_COLOR, colors.dtype)
                                                 * (255 if colors.max() > 1 else 1), (len(desk[0]), 1))])
    kps = np.zeros((T, 137, 3), np.float32)
    chunk = 32

    def frames():
        with MeshRenderer(camera, bg_color=cfg.background) as renderer:
            bar = tqdm(total=T, desc=f"studio {speaker.name}", unit="frame", disable=not progress)
            for a in range(0, T, chunk):
                with torch.no_grad():
                    out = model(params.frames(slice(a, min(T, a + chunk))))
                verts = out.vertices.cpu().numpy()
                kps[a:a + len(verts)] = from_smplx(camera.project(out.keypoints.cpu().numpy()), model.use_face_contour)
                for v in verts:
                    if desk is not None:
                        v = np.concatenate([v, desk[0]])
                    img, _ = renderer.render(v, faces, vertex_colors=colors, smooth=desk is None)
                    yield img
                    bar.update()
            bar.close()

    if cfg.render:
        write_video(frames(), run.path("recording"), cfg.fps, audio=run.path("audio"))
    else:  # keypoints only, no pixels
        kps[:] = project_model(model, params, camera)
    KeypointTrack(hide_unseen(kps, cfg), cfg.width, cfg.height, cfg.fps).save(run.path("truth_keypoints"))
    conf = {"studio": _plain(cfg), "speaker": asdict(speaker), "script": script.name, "body_model": model.backend}
    for a in ("recording", "audio", "transcript", "camera", "truth_params", "truth_keypoints", "truth_keyposes"):
        if run.has(a):
            run.record(a, config=conf)
    return Recording(run, duration, T, words, events, camera)


def hide_unseen(kps: np.ndarray, cfg: StudioConfig) -> np.ndarray:
    """Ground-truth keypoints as a perfect detector reports them: confidence 0 outside the image and, seated,
    for the hips and legs behind the desk (the coordinates stay: they are the truth)."""
    out = kps.copy()
    outside = (out[..., 0] < 0) | (out[..., 0] > cfg.width - 1) | (out[..., 1] < 0) | (out[..., 1] > cfg.height - 1)
    out[..., 2] = np.where(outside, 0.0, out[..., 2])
    if cfg.framing == "seated":
        out[:, [8, 9, 10, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24], 2] = 0.0
    return out


def _plain(cfg: StudioConfig) -> dict:
    d = asdict(cfg)
    d["background"] = list(d["background"])
    return d


def perform_text(text: str, speaker: str = "ada", fps: float = 30.0, seed: int = 0, key_poses: bool = False,
                 layout=None, lead: float = 0.6, tail: float = 0.6) -> tuple[np.ndarray, list[dict], np.ndarray, int]:
    """Speak ``text`` with a studio speaker's voice and perform it (jaw from the phonemes, breathing, sway,
    beat gestures; the studio's own key poses only if ``key_poses``): a talking pose sequence with exact
    word times, for previews of key-pose insertion before an LSTM is trained; ``lead``/``tail`` seconds of
    silence around the speech leave room for ramps. Returns (sequence (T, D), words, audio, sample rate)."""
    from s2v.speech.text import language_of
    from s2v.params import ParamLayout

    sp = SPEAKERS[speaker]
    voice = "cmn" if language_of(text) == "zh" else sp.voice
    s = ESpeak().synthesize(text, voice=voice, rate=sp.rate, pitch=sp.pitch)
    sr = s.sample_rate
    audio = np.concatenate([np.zeros(int(lead * sr), np.float32), s.audio, np.zeros(int(tail * sr), np.float32)])
    words = [Word(w.text, w.start + lead, w.end + lead) for w in s.words]
    phonemes = [Phoneme(p.symbol, p.start + lead, p.end + lead, p.word) for p in s.phonemes]
    T = max(1, int(np.floor(len(audio) / sr * fps)))
    cfg = MotionConfig(keypose_scale=1.0 if key_poses else 0.0)
    vec, _ = perform(words, phonemes, audio, sr, T, fps, sp, seed, layout or ParamLayout(), cfg)
    return vec, [w.to_dict() for w in words], audio, sr
