"""End to end (figure 2): speech or text in, a talking video of the trained speaker out.

    audio ──STT──> word times ─┐                    ┌─ dictionary (section 3.3)
    text ──TTS──> audio + word times ──> features ──> 2-layer LSTM ──> poses ──> key poses ──> skeleton
    images ──> GAN (section 3.5) ──> MP4 with the speech

A *speaker* is a run folder holding the trained stages of one person: ``pose/model.pt`` (the LSTM),
``gan/generator.pt`` (the GAN), optionally ``dictionary/dictionary.json``, and the recording's camera and
SMPL-X parameters, from which the fixed shape, global orientation and placement are taken (the paper fixes
them after the first frames, section 3.2).

A *recorded* speaker (``s2v speaker --video``: one's own clips) has the portrait renderer (``portrait/``,
:mod:`s2v.portrait`) in place of, or beside, the GAN: the predicted poses are projected by the recording's camera
and the renderer draws the person at the recording's own resolution, the face from real reference faces moved
by the keypoints (``SynthesisConfig.renderer``). It needs a portrait that learned from the *fitted* body
(``labels`` fit), since a predicted pose is a body-model pose.

The model's input kind decides the path: an audio model hears the given speech, or the TTS voice for text
input (with the paper's noise in pauses, section 4.2); a text model reads the text, or the words that
speech recognition hears in the given audio. Memory is bounded for any length: recognition runs on pieces
cut at pauses, the LSTM carries its state across chunks, and frames are drawn, generated and encoded one at
a time; only per-frame numbers (features, poses, keypoints: ~2 KB per frame) are held.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from s2v.dictionary.insertion import InsertionConfig
from s2v.io import folder_lock, temp_path
from s2v.run import Run
from s2v.speech.features import SAMPLE_RATE



class SynthesisError(ValueError):
    """Input or speaker that synthesis cannot use; the message says why and what to do."""


@dataclass
class SynthesisConfig:
    key_poses: bool = True            # insert the dictionary's key poses at key words (section 3.3)
    seed: int = 0                     # the motion sample (gesture flow) and the key-pose draws: same seed, same video
    motion: str = "auto"              # auto (the gesture flow when the speaker has one, else the LSTM) | lstm | flow
    insertion: InsertionConfig = field(default_factory=InsertionConfig)   # 0.6 s ramps, 0.3 s hold (figure 6)
    size: int | None = None           # output width (a multiple of 32); default: the GAN's training width
    pause_noise_db: float | None = -50.0   # section 4.2: noise added to TTS audio before the audio LSTM
    voice: str | None = None          # studio voice for text input (default: the speaker run's, else ada)
    min_seconds: float = 0.5          # shorter speech is refused
    max_seconds: float = 1800.0       # longer speech is refused before it is decoded whole (30 min: 115 MB)
    silence_db: float = -50.0         # quieter speech (dBFS RMS) is refused as silent
    stt_piece: float = 30.0           # recognition works on pieces of at most this many seconds
    side_by_side: bool = False        # write skeleton | generated
    device: str | None = None         # default: CUDA when available
    stream: bool = False              # a fragmented MP4 that plays while it is written; keypoints a second at a time
    stream_piece: float = 5.0         # streamed audio: recognised in pieces of at most this many seconds
    stream_lead: float = 0.25         # streamed recognised speech: no frame waits for the words past this many
                                      # seconds after the start plus its own time (a key word recognised later is
                                      # left out, "late"): the first frame's wait, and the viewer's buffer
    renderer: str = "auto"            # auto (the portrait when the speaker has one, else the GAN) | gan | portrait
    precision: str = "auto"           # generator arithmetic: auto (CUDA float16; bfloat16 on a CPU that has it in
                                      # hardware: 2x the frames/s, 51 dB from float32; else int8 through OpenVINO
                                      # where the speaker has its int8 model: 2.7x), fp32, bf16, fp16 (CUDA), int8
    mark: bool | None = None          # the visible "SYNTHETIC" corner mark; None: on for speakers learned from real
                                      # recordings, off for studio speakers (the metadata says it on every video)


# ---------------------------------------------------------------------------------------------- speaker
@dataclass
class Speaker:
    """The trained stages of one speaker, loaded from a run folder (see :meth:`load`)."""

    run: Run
    pose_model: object
    pose_meta: dict
    generator: object
    gan_config: dict
    dictionary: object | None
    camera: object
    betas: np.ndarray
    global_orient: np.ndarray
    transl: np.ndarray
    voice: str
    seen: np.ndarray = field(default_factory=lambda: np.ones(137, bool))  # keypoints the recording showed
    hand_basis: dict | None = None    # the speaker's own hand PCA (fit --hands speaker), else the model's
    backend: str = "auto"             # body model: a shipped speaker keeps the one it was trained with
    portrait: object | None = None    # s2v.portrait.render.PortraitRenderer of a recorded speaker (else None)
    flow: object | None = None        # s2v.pose.flow.GestureFlow (pose/flow.pt) when the speaker has one
    flow_meta: dict | None = None
    cpu_model: bytes | None = None    # the int8 OpenVINO generator (gan/generator_int8.ov) made from this generator
    cpu_model_size: tuple | None = None   # ... for (W, H) frames
    _body: object = field(default=None, init=False, repr=False, compare=False)

    def body_model(self):
        """The speaker's body model on the CPU, built on first use and kept (0.15 s to build: a stream asks for
        it every second of video)."""
        if self._body is None:
            from s2v.body import BodyModel

            self._body = BodyModel(backend=self.backend, device="cpu", hand_basis=self.hand_basis)
        return self._body

    @property
    def fps(self) -> float:
        return float(self.pose_meta.get("fps", 30.0))

    @property
    def inputs(self) -> str:
        return self.pose_meta.get("meta", {}).get("inputs", "audio")

    @classmethod
    def load(cls, run: Run | str | Path, runs_dir: str | Path = "runs", device: str | None = None) -> "Speaker":
        import torch

        from s2v.camera import Camera
        from s2v.gan.infer import load_generator
        from s2v.pose.lstm import load_model
        from s2v.run import ARTIFACTS

        if not isinstance(run, Run):
            from s2v.synthesis.speaker import shipped_fallback

            if (Path(run) / "manifest.json").exists():
                run = Run(Path(run))
            else:   # a run of that name, else the speaker shipped with the kit (data/speakers/<name>)
                run = shipped_fallback(Run(Path(runs_dir) / str(run)))
        if not run.root.is_dir():
            raise SynthesisError(f"no run folder {run.root}: train a speaker first (notebook 00_quickstart, or "
                                 "`s2v capture`, `s2v pose`, `s2v gan train`), or use the shipped speaker 'ada'")
        portrait = run.has("portrait") and run.has("portrait_frame")
        needs = [("pose_model", "the speech-to-pose LSTM", f"s2v pose --train {run.name} --out {run.name}"),
                 ("camera", "the recording's camera", f"s2v capture --run {run.name} ...")]
        if not portrait:
            needs.insert(1, ("gan", "the skeleton-to-video GAN (or a portrait renderer)",
                             f"s2v gan train --run {run.name}"))
        for art, what, cmd in needs:
            if not run.has(art):
                raise SynthesisError(f"run {run.name!r} lacks {what} ({run.root / ARTIFACTS[art].relpath}); "
                                     f"train it first: {cmd}")
        if not (run.has("params") or run.has("truth_params")):
            raise SynthesisError(f"run {run.name!r} has no SMPL-X parameters (fit/params.npz) to take the speaker's "
                                 f"shape and placement from; run `s2v detect` and `s2v fit` on its recording")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, ck = load_model(run.require("pose_model"), device)
        if ck.get("target", "smplx") != "smplx":
            raise SynthesisError(f"{run.path('pose_model')} predicts {ck.get('target')!r}, not SMPL-X parameters: "
                                 "only a 3D model can drive the skeleton images")
        G, gcfg = load_generator(run.require("gan"), device) if run.has("gan") else (None, {})
        renderer = None
        if portrait:
            from s2v.portrait.render import PortraitRenderer

            labels = (run.manifest["artifacts"].get("portrait", {}).get("config") or {}).get("labels")
            renderer = PortraitRenderer.load(run.require("portrait").parent, device)
            if (labels or renderer.face.cfg.labels) == "keypoints":
                if G is None:
                    raise SynthesisError(
                        f"run {run.name!r}: its portrait learned from the detected keypoints (the body fit had "
                        "failed), and a predicted pose is a body-model pose: fit the clips again (s2v fit --run CLIP "
                        "--framing ...), then train the portrait with --labels fit")
                renderer = None
        dictionary = None
        if run.has("dictionary"):
            from s2v.dictionary.store import KeyPoseDictionary

            dictionary = KeyPoseDictionary.load(run.require("dictionary"))
        from s2v.fitting.fit import FitQualityError, run_poses

        try:
            p, _, source, seen = run_poses(run)
        except FitQualityError as err:
            raise SynthesisError(str(err)) from None
        n = min(len(p), 10)  # the paper fixes shape and global orientation after the first frames
        voice = "ada"
        man = run.manifest
        rec_cfg = (man.get("artifacts", {}).get("recording", {}).get("config")
                   or man.get("exported", {}).get("recording_config") or {})   # a shipped (exported) speaker
        studio = rec_cfg.get("speaker", {})
        if isinstance(studio, dict) and studio.get("name"):
            voice = studio["name"]
        elif isinstance(studio, str) and studio:    # StudioConfig.speaker given by name
            voice = studio
        from s2v.body.hands import load_hand_basis

        basis = load_hand_basis(run.path(source))   # the speaker's own hand PCA, if the fit made one
        backend = man.get("exported", {}).get("body_model", "auto")   # a shipped speaker's own body model
        flow, flow_meta = None, None
        if run.has("pose_flow"):
            from s2v.pose.flow import load_flow

            flow, flow_meta = load_flow(run.require("pose_flow"), device)
        from s2v.gan.cpu import run_cpu_model

        cpu_model = run_cpu_model(run) if G is not None and device == "cpu" else None
        cpu_size = tuple(man["artifacts"]["gan_int8"]["size"]) if cpu_model is not None else None
        return cls(run, model, ck, G, gcfg, dictionary, Camera.load(run.require("camera")), np.asarray(p.betas),
                   np.median(p.global_orient[:n], 0), np.median(p.transl[:n], 0), voice, seen, basis, backend,
                   renderer, flow, flow_meta, cpu_model, cpu_size)

    def uses_flow(self, motion: str = "auto") -> bool:
        """Whether ``motion`` (auto | lstm | flow) samples the gesture flow; ``flow`` without one is an error."""
        if motion not in ("auto", "lstm", "flow"):
            raise SynthesisError(f"motion must be auto, lstm or flow, got {motion!r}")
        if motion == "flow" and self.flow is None:
            raise SynthesisError(f"speaker {self.run.name!r} has no gesture flow (pose/flow.pt); train one: "
                                 f"s2v pose --kind flow --train {self.run.name} --out {self.run.name}")
        return self.flow is not None and motion != "lstm"


# ---------------------------------------------------------------------------------------------- speech in
@dataclass
class Utterance:
    """Speech to synthesise from: its audio and word times (recognised, or reported by the TTS engine)."""

    audio: np.ndarray               # 16 kHz mono float32
    words: list[dict]               # {"word", "start", "end"} seconds
    source: str                     # "audio" or "tts"
    language: str = "en"

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def load_audio(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """Any audio (or video) file ffmpeg reads -> 16 kHz mono float32; a clear error for missing/corrupt files
    and, with ``max_seconds``, for longer ones (only that much plus a little is decoded)."""
    from s2v.video import ffmpeg_exe

    path = Path(path)
    if not path.exists():
        raise SynthesisError(f"{path}: no such file")
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1:.3f}"]
    r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), *limit, "-vn", "-ac",
                        "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"], capture_output=True)
    if r.returncode != 0 or not r.stdout:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        raise SynthesisError(f"{path}: not a readable audio file (ffmpeg: {msg[-1] if msg else 'no audio stream'})")
    y = np.frombuffer(r.stdout, np.float32).copy()
    if max_seconds is not None and len(y) > max_seconds * SAMPLE_RATE:
        raise SynthesisError(f"{path}: longer than {max_seconds / 60:g} min; synthesise it in parts (or raise "
                             "SynthesisConfig.max_seconds)")
    return y


def check_speech(audio: np.ndarray, name: str, cfg: SynthesisConfig) -> None:
    from s2v.speech.features import level_db, no_speech_reason

    dur = len(audio) / SAMPLE_RATE
    if dur < cfg.min_seconds:
        raise SynthesisError(f"{name}: {dur * 1000:.0f} ms of audio is too short (at least {cfg.min_seconds:g} s)")
    if not np.isfinite(audio).all():
        raise SynthesisError(f"{name}: the audio contains NaN/inf samples")
    level = level_db(audio)
    if level < cfg.silence_db:
        raise SynthesisError(f"{name}: the audio is silent ({level:.0f} dBFS RMS, below {cfg.silence_db:.0f}); "
                             "nothing to speak")
    why = no_speech_reason(audio, SAMPLE_RATE)
    if why:
        raise SynthesisError(f"{name}: {why}")


def pieces_at_pauses(audio: np.ndarray, sr: int, max_seconds: float = 30.0,
                     search: float = 5.0) -> list[tuple[int, int]]:
    """Cut long audio into pieces of at most ``max_seconds``, each cut at the quietest 20 ms of the last
    ``search`` seconds before the limit (a pause, where no word is split; at most half a piece)."""
    search = min(search, max_seconds / 2)
    n, step = len(audio), int(max_seconds * sr)
    if n <= step:
        return [(0, n)]
    win = int(0.02 * sr)
    out, a = [], 0
    while n - a > step:
        lo = a + step - int(search * sr)
        seg = audio[lo:a + step]
        e = np.convolve(seg.astype(np.float64) ** 2, np.ones(win), "valid")
        cut = lo + int(np.argmin(e)) + win // 2
        out.append((a, cut))
        a = cut
    out.append((a, n))
    return out


def recognize_long(audio: np.ndarray, cfg: SynthesisConfig, progress: bool = False) -> list[dict]:
    """English word times by pocketsphinx, piece by piece (bounded memory for any length)."""
    from tqdm.auto import tqdm

    from s2v.speech.stt import recognize

    words = []
    for a, b in tqdm(pieces_at_pauses(audio, SAMPLE_RATE, cfg.stt_piece), desc="speech recognition",
                     disable=not progress):
        for w in recognize(audio[a:b], SAMPLE_RATE):
            words.append({"word": w.text, "start": round(w.start + a / SAMPLE_RATE, 4),
                          "end": round(w.end + a / SAMPLE_RATE, 4)})
    return words


#: seconds of speech per character of text, measured with the studio voices (English: 5 000 characters are 397 s;
#: Mandarin: ~0.25 s a character), to refuse a text longer than ``max_seconds`` before eSpeak NG speaks it
SECONDS_PER_CHAR = {"en": 0.08, "zh": 0.25}


def speech_from_text(text: str, voice: str = "ada", lang: str | None = None, lead: float = 0.3,
                     tail: float = 0.5, max_seconds: float | None = None) -> Utterance:
    """The text spoken by a studio voice (eSpeak NG), with exact word times; Mandarin by ``lang="zh"`` or
    detected from the characters. With ``max_seconds`` (:attr:`SynthesisConfig.max_seconds`, as for audio), a
    text whose speech would be longer is refused before it is spoken (its length in characters estimates it)."""
    from s2v.speech.text import language_of
    from s2v.speech.tts import ESpeak, resample
    from s2v.studio.cast import SPEAKERS

    if not text or not text.strip():
        raise SynthesisError("the text is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:   # bytes that were not UTF-8 reach Python as lone surrogates
        raise SynthesisError("the text is not valid UTF-8 "
                             "(save it as UTF-8, or check the terminal's encoding)") from None
    if not any(ch.isalnum() for ch in text):
        raise SynthesisError(f"the text {text[:40]!r} has nothing to speak (no letters, digits or characters)")
    lang = lang or language_of(text)
    if lang not in ("en", "zh"):
        raise SynthesisError(f"language must be 'en' or 'zh', got {lang!r}")
    if voice not in SPEAKERS:
        raise SynthesisError(f"unknown voice {voice!r}: choose one of {', '.join(sorted(SPEAKERS))}")
    estimate = len(text.strip()) * SECONDS_PER_CHAR[lang]
    if max_seconds is not None and estimate > max_seconds:
        raise SynthesisError(f"the text has {len(text.strip())} characters, about {estimate / 60:.0f} min of speech: "
                             f"longer than {max_seconds / 60:g} min; synthesise it in parts (or raise "
                             "SynthesisConfig.max_seconds)")
    sp = SPEAKERS[voice]
    s = ESpeak().synthesize(text, voice="cmn" if lang == "zh" else sp.voice, rate=sp.rate, pitch=sp.pitch)
    y = resample(s.audio, s.sample_rate, SAMPLE_RATE)
    y = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), y,
                        np.zeros(int(tail * SAMPLE_RATE), np.float32)])
    words = [{"word": w.text, "start": round(w.start + lead, 4), "end": round(w.end + lead, 4)} for w in s.words]
    return Utterance(y.astype(np.float32), words, "tts", lang)


def speech_input(audio: str | Path | np.ndarray | None = None, text: str | None = None, lang: str | None = None,
                 cfg: SynthesisConfig | None = None, voice: str = "ada", need_words: bool = True,
                 progress: bool = False, transcript: str | None = None) -> Utterance:
    """Speech with word times from an audio file/array (recognised, English; or its ``transcript`` aligned,
    English or Mandarin: :func:`s2v.speech.align.align_transcript`) or from text (spoken by TTS)."""
    cfg = cfg or SynthesisConfig()
    if (audio is None) == (text is None):
        raise SynthesisError("give either audio or text")
    if text is not None:
        sp = speech_from_text(text, voice, lang, max_seconds=cfg.max_seconds)
        check_speech(sp.audio, "the TTS audio", cfg)
        return sp
    name = str(audio) if not isinstance(audio, np.ndarray) else "the audio"
    y = np.asarray(audio, np.float32) if isinstance(audio, np.ndarray) else load_audio(audio, cfg.max_seconds)
    check_speech(y, name, cfg)
    if transcript is not None and transcript.strip():
        from s2v.speech.align import align_transcript
        from s2v.speech.text import language_of

        lang = lang or language_of(transcript)
        words = align_transcript(y, SAMPLE_RATE, transcript, lang)[0] if need_words else []
        return Utterance(y, [w.to_dict() for w in words], "audio", lang)
    lang = lang or "en"
    words = recognize_long(y, cfg, progress) if need_words and lang == "en" else []
    return Utterance(y, words, "audio", lang)


# ---------------------------------------------------------------------------------------------- poses
def speech_to_poses(speaker: Speaker, speech: Utterance, cfg: SynthesisConfig | None = None,
                    num_frames: int | None = None) -> tuple[np.ndarray, list]:
    """(T, 106) poses for the speech: features -> LSTM (or a sample of the gesture flow, ``cfg.motion``, seed
    ``cfg.seed``), then key poses at key words. Returns (poses, the insertion records)."""
    from s2v.pose.lstm import predict
    from s2v.speech.features import add_pause_noise, align_to_frames, audio_features
    from s2v.speech.text import text_features

    cfg = cfg or SynthesisConfig()
    fps = speaker.fps
    T = num_frames or max(1, int(np.floor(speech.duration * fps)))
    flow = speaker.uses_flow(cfg.motion)
    if speaker.inputs == "text" and not flow:
        if not speech.words:
            raise SynthesisError("this speaker's LSTM reads text, but no words were recognised in the audio "
                                 "(speech recognition is English only: give --text instead)")
        x = text_features(speech.words, T, fps)
    else:
        y = speech.audio
        if speech.source == "tts" and cfg.pause_noise_db is not None:
            y = add_pause_noise(y, SAMPLE_RATE, cfg.pause_noise_db, seed=cfg.seed)
        x = align_to_frames(audio_features(y, SAMPLE_RATE), T, fps)
    if flow:   # the gesture flow hears the audio features and the words
        from s2v.pose.flow import sample, word_channels

        fc = speaker.flow_meta["config"]
        poses = sample(speaker.flow, np.concatenate([x, word_channels(speech.words, T, fps)], 1), seed=cfg.seed,
                       steps=int(fc["sample_steps"]), guidance=float(fc["guidance"]), words=bool(speech.words))
    else:
        poses = predict(speaker.pose_model, x, fps, delay=float(speaker.pose_meta["config"].get("delay", 0.2)))
    records: list = []
    if cfg.key_poses and speaker.dictionary is not None and speech.words:
        from s2v.dictionary.insertion import apply_dictionary

        poses, records = apply_dictionary(poses, speech.words, speaker.dictionary, fps, cfg.insertion, cfg.seed)
    return poses.astype(np.float32), records


def speaker_params(speaker: Speaker, poses: np.ndarray):
    """:class:`~s2v.params.SMPLXParams` of (T, 106) ``poses`` with the speaker's fixed shape, orientation and
    placement."""
    from s2v.params import SMPLXParams

    return SMPLXParams.from_vector(poses, betas=speaker.betas, global_orient=speaker.global_orient,
                                   transl=speaker.transl)


def poses_to_keypoints(speaker: Speaker, params, W: int, H: int) -> np.ndarray:
    """(T, 137, 3) keypoints in output pixels: the speaker's body in ``params`` seen by the recording camera
    (projected in chunks by :func:`~s2v.keypoints.project_model`)."""
    from s2v.gan.data import scale_points
    from s2v.keypoints import project_model

    cam = speaker.camera
    pts = project_model(speaker.body_model(), params, cam)
    pts[:, ~speaker.seen, 2] = 0.0  # only what the recording showed
    return scale_points(pts, cam.width, cam.height, W, H)


class RecognitionStream:
    """Key poses for recognised speech while the video is made: iterating yields the (n, 106) poses of the frames
    that are final, as a child process (:class:`~s2v.speech.stt.BackgroundRecognizer`) recognises the speech
    piece by piece (``cfg.stream_piece`` seconds at most, cut at pauses).

    The audio LSTM's ``poses`` (no words needed) are known for the whole speech; as each piece's words arrive the
    key poses are inserted again for every word so far (:func:`~s2v.dictionary.insertion.apply_dictionary` draws
    in word order, so earlier draws do not change). Released frames never change afterwards. Two policies:

    * ``late=False`` (a file): the frames before a piece's end minus ``margin`` are released once the piece is
      recognised: a key word heard later can reach back at most its ramp in, plus the ramp out and hold of a key
      pose it chains from (section 3.3's 0.6 s ramps, 0.3 s hold). The result is the whole speech's.
    * ``late=True`` (streaming, issue 29): frames go out as above while recognition keeps ahead, but no frame
      waits for it past the moment a viewer needs it (``lead`` seconds after the stream starts, plus the frame's
      time in the speech), ``step`` frames at a time: the first frame is out within ``lead``; the first piece is
      short (``first`` seconds). A key word whose insertion would change frames already out is left out,
      recorded with status ``"late"``.

    What the whole speech gave: ``poses``, ``records``, ``words`` after the last chunk."""

    def __init__(self, speaker: Speaker, speech: Utterance, poses: np.ndarray, cfg: SynthesisConfig,
                 late: bool = False, step: int | None = None, first: float = 2.0, lead: float = 0.25):
        self.speaker, self.speech, self.base, self.cfg = speaker, speech, poses, cfg
        self.poses, self.records, self.words = poses, [], []
        self.late, self.first, self.lead = late, first, lead
        self.step = step or max(1, int(round(speaker.fps / 5)))
        self.kept: list[dict] = []   # the words whose key poses may go in
        self.late_records: list = []
        ins = cfg.insertion
        self.margin = 2 * ins.ramp + ins.hold + 0.2
        self.recognizer = None

    def start(self) -> "RecognitionStream":
        """Start recognising now (before the generator is set up); the ``lead`` counts from here."""
        from s2v.speech.stt import BackgroundRecognizer

        if self.recognizer is None:
            self.recognizer = BackgroundRecognizer(self.speech.audio, self.cuts())
            self.t0 = time.perf_counter()
        return self

    def close(self) -> None:
        if self.recognizer is not None:
            self.recognizer.close()

    def cuts(self) -> list[tuple[int, int]]:
        y, piece = self.speech.audio, self.cfg.stream_piece
        if len(y) <= self.first * SAMPLE_RATE:
            return pieces_at_pauses(y, SAMPLE_RATE, piece)
        a = pieces_at_pauses(y, SAMPLE_RATE, self.first)[0][1]   # a short first piece: early words in time
        return [(0, a)] + [(a + u, a + v) for u, v in pieces_at_pauses(y[a:], SAMPLE_RATE, piece)]

    def _insert(self, words: list[dict]):
        from s2v.dictionary.insertion import apply_dictionary

        return apply_dictionary(self.base, words, self.speaker.dictionary, self.speaker.fps, self.cfg.insertion,
                                self.cfg.seed)

    def _add(self, words: list, done: int) -> None:
        """Take a piece's words; with ``done`` frames released, a key word that would change them stays out."""
        from dataclasses import replace as replace_record

        new = [{"word": w.text, "start": w.start, "end": w.end} for w in words]
        self.words += new
        poses, records = self._insert(self.kept + new)
        if done and not np.array_equal(poses[:done], self.poses[:done]):   # one word at a time, then
            for rec in new:
                poses, records = self._insert(self.kept + [rec])
                if np.array_equal(poses[:done], self.poses[:done]):
                    self.kept.append(rec)
                    self.poses = poses
                else:
                    self.late_records += [replace_record(r, span=(0, 0), status="late") for r in records
                                          if r.start == rec["start"]]
            poses, records = self._insert(self.kept)
        else:
            self.kept += new
        self.poses = poses
        self.records = sorted(list(records) + self.late_records, key=lambda r: r.start)

    def __iter__(self):
        fps, T, done = self.speaker.fps, len(self.base), 0
        rec = self.start().recognizer
        cuts, t0 = rec.cuts, self.t0
        with rec:
            if self.late:
                got = 0
                while done < T:
                    final = T if got == len(cuts) else (
                        min(T, int((cuts[got - 1][1] / SAMPLE_RATE - self.margin) * fps)) if got else 0)
                    if final <= done and got < len(cuts):   # recognition is behind: wait until a viewer needs it
                        words = rec.get(got, timeout=t0 + self.lead + done / fps - time.perf_counter())
                        if words is not None:
                            self._add(words, done)
                            got += 1
                            continue
                    final = min(T, done + self.step, final if final > done else T)
                    yield self.poses[done:final].astype(np.float32)
                    done = final
                    while got < len(cuts) and (words := rec.get(got, block=False)) is not None:
                        self._add(words, done)
                        got += 1
                while got < len(cuts):   # the words of the end, for the side files
                    self._add(rec.get(got), done)
                    got += 1
                return
            for i, (a, b) in enumerate(cuts):
                self._add(rec.get(i), 0)
                final = T if i == len(cuts) - 1 else min(T, int((b / SAMPLE_RATE - self.margin) * fps))
                if final > done:
                    yield self.poses[done:final].astype(np.float32)
                    done = final


# ---------------------------------------------------------------------------------------------- all
@dataclass
class SynthesisResult:
    video: Path
    frames: int
    fps: float
    duration: float
    words: list[dict]
    insertions: list
    timings: dict[str, float]
    precision: str = "float32"        # the generator's arithmetic (SynthesisConfig.precision resolved)

    def summary(self) -> str:
        n = sum(1 for r in self.insertions if getattr(r, "status", "") == "inserted")
        t = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        rate = (f" ({self.frames / self.timings['video']:.0f} frames/s drawn, generated in {self.precision} and "
                f"encoded)" if self.timings.get("video") else "")
        return (f"{self.video}: {self.frames} frames ({self.duration:.1f} s at {self.fps:g} fps), "
                f"{len(self.words)} words, {n} key poses inserted; {t}{rate}")


def output_paths(out: str | Path, overwrite: bool = True, sides: bool = True) -> tuple[Path, Path, Path]:
    """(video, metadata JSON, poses) for ``out``, or a :class:`SynthesisError` when writing them could destroy
    something: ``out`` must be an ``.mp4``; inside a run folder (one with a ``manifest.json``) only under its
    ``videos/``; none of the three may be a symbolic link (a stream would write through it into what it points
    to, a run's generator say) or a folder; and without ``overwrite`` none may exist. Temporary files that a
    killed synthesis left in the output folder are removed (:func:`s2v.io.sweep_orphans`): every writer of
    videos (synthesize, gan render, portrait render) comes through here."""
    from s2v.io import sweep_orphans

    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise SynthesisError(f"--out {out}: the output is an MP4 video; name a file ending in .mp4 (its word "
                             "times and poses go beside it as .json and .poses.npz)")
    paths = (out, out.with_suffix(".json"), out.with_suffix(".poses.npz"))
    checked = paths if sides else paths[:1]
    res = out.parent.resolve()
    for folder in (res, *res.parents):
        if (folder / "manifest.json").exists():
            if res != folder / "videos" and folder / "videos" not in res.parents:
                raise SynthesisError(f"--out {out} lies among the artifacts of the run {folder}; write videos to "
                                     f"{folder / 'videos'} or outside the run")
            break
    for p in checked:
        if p.is_symlink():
            raise SynthesisError(f"{p} is a symbolic link (to {os.readlink(p)}); s2v writes its outputs as plain "
                                 "files only, never through a link: remove the link or choose another --out")
        if p.is_dir():
            raise SynthesisError(f"{p} is a folder; name a file for --out")
    if not overwrite:
        there = [str(p) for p in checked if p.exists()]
        if there:
            raise SynthesisError(f"{', '.join(there)} exist{'s' if len(there) == 1 else ''}; choose another --out, "
                                 "or add --force to replace")
    sweep_orphans(out.parent)
    return paths


def choose_renderer(sp: Speaker, cfg: SynthesisConfig) -> str:
    """``gan`` or ``portrait`` for ``cfg.renderer`` (auto: the portrait when the speaker has one)."""
    if cfg.renderer not in ("auto", "gan", "portrait"):
        raise SynthesisError(f"renderer {cfg.renderer!r}: choose auto, gan or portrait")
    if cfg.renderer == "portrait" and sp.portrait is None:
        raise SynthesisError(f"speaker {sp.run.name!r} has no portrait renderer that poses can drive (portrait/ "
                             "trained with labels fit): make one with `s2v speaker --video ...` or "
                             "`s2v portrait train`")
    if cfg.renderer == "gan" and sp.generator is None:
        raise SynthesisError(f"speaker {sp.run.name!r} has no GAN (gan/generator.pt): train one with "
                             f"`s2v gan train --run {sp.run.name}`, or use --renderer portrait")
    if cfg.renderer == "auto":
        return "portrait" if sp.portrait is not None else "gan"
    return cfg.renderer


def render_portrait(renderer, points, out: Path, fps: float, audio=None, side_by_side: bool = False,
                    progress: bool = True, stream: bool = False, on_frame=None, provenance=None) -> Path:
    """Source-pixel keypoints (an array, or an iterable of chunks) -> MP4 by a
    :class:`~s2v.portrait.render.PortraitRenderer`. The renderer chooses its reference frames with hysteresis
    over the whole sequence, so chunks are gathered first (keypoints are ~2 KB a frame); frames are then made
    and encoded one at a time. ``side_by_side``: the skeleton drawn at the source's size | the frame;
    ``provenance``: :class:`~s2v.provenance.Provenance` for the metadata (and the visible mark when ``marked``)."""
    from tqdm.auto import tqdm

    from s2v.provenance import mark_frame

    from s2v.render.skeleton import render_skeleton
    from s2v.video import stream_video, write_video

    pts = points if isinstance(points, np.ndarray) else np.concatenate(list(points), 0)

    def frames():
        W, H = renderer.size
        for i, f in enumerate(tqdm(renderer.frames(pts), total=len(pts), desc="portrait", unit="frame",
                                   disable=not progress)):
            f = mark_frame(f) if provenance is not None and provenance.marked else f
            yield np.concatenate([render_skeleton(pts[i], W, H), f], 1) if side_by_side else f
            if on_frame is not None:
                on_frame(i)

    return (stream_video if stream else write_video)(frames(), out, fps, audio=audio,
                                                     metadata=provenance.tags() if provenance else None)


def synthesize(speaker: Speaker | Run | str, out: str | Path, audio: str | Path | np.ndarray | None = None,
               text: str | None = None, lang: str | None = None, cfg: SynthesisConfig | None = None,
               runs_dir: str | Path = "runs", progress: bool = True, overwrite: bool = True,
               transcript: str | None = None) -> SynthesisResult:
    """Speech (an audio file or array at 16 kHz) or text in, ``out`` (MP4 with the speech) out. With audio, a
    ``transcript`` of it gives the key words' times by alignment instead of recognition (Mandarin too).

    Besides the video, ``<out>.json`` keeps the word times, the key-pose insertions and the stage timings,
    and ``<out>.poses.npz`` the SMPL-X parameters that drove it (all written atomically, the speech through
    a temporary file of this process's own). :func:`output_paths` refuses outputs that are not ``.mp4``,
    that would land among a run's artifacts, or (``overwrite=False``, the CLI without ``--force``) that
    exist."""
    import soundfile as sf

    from s2v.gan.data import frame_size
    from s2v.gan.cpu import free_cpus
    from s2v.gan.infer import PRECISION_NAMES, render_video, resolve_precision
    from s2v.io import save_json

    t_call = time.perf_counter()
    cfg = cfg or SynthesisConfig()
    out, side_json, side_poses = output_paths(out, overwrite)
    timings: dict[str, float] = {}
    if cfg.size is not None and (cfg.size <= 0 or cfg.size % 32):
        raise SynthesisError(f"size {cfg.size} must be a positive multiple of 32")
    t = time.perf_counter()
    sp = speaker if isinstance(speaker, Speaker) else Speaker.load(speaker, runs_dir, cfg.device)
    portrait = choose_renderer(sp, cfg) == "portrait"
    if portrait:   # the recording's own resolution
        W, H = sp.portrait.size
    else:
        W, H = frame_size(sp.camera.width, sp.camera.height, cfg.size or int(sp.gan_config["size"]))
    cpu_model = sp.cpu_model if sp.cpu_model_size == (W, H) else None
    try:
        dtype = "float32" if portrait else PRECISION_NAMES[
            resolve_precision(next(sp.generator.parameters()).device, cfg.precision, cpu_model is not None)]
    except ValueError as e:   # an unknown precision, fp16 on a CPU, int8 without its model
        raise SynthesisError(str(e)) from None
    timings["load"] = time.perf_counter() - t
    out.parent.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    need_words = cfg.key_poses or sp.inputs == "text" or sp.uses_flow(cfg.motion)   # the flow reads word timing
    # recognised speech: the audio LSTM needs no words, so a child process recognises the words piece by piece
    # while the frames whose key poses they can no longer change are generated (RecognitionStream); streaming
    # does not wait for it at all (late key words are left out)
    live = (audio is not None and need_words and sp.inputs == "audio" and transcript is None
            and (lang or "en") == "en" and cfg.key_poses and sp.dictionary is not None and not sp.uses_flow(cfg.motion))
    threads = free_cpus() if not portrait and next(sp.generator.parameters()).device.type == "cpu" else None
    speech = speech_input(audio, text, lang, cfg, cfg.voice or sp.voice, need_words=need_words and not live,
                          progress=progress, transcript=transcript)
    timings["speech"] = time.perf_counter() - t
    from s2v.provenance import Provenance, learned_from_real_recordings

    prov = Provenance.make(sp.run.name, "text" if text is not None else "audio",   # the file, read: it exists
                           text if text is not None else audio if isinstance(audio, np.ndarray) else Path(audio),
                           marked=learned_from_real_recordings(sp.run) if cfg.mark is None else bool(cfg.mark))

    t = time.perf_counter()
    poses, records = speech_to_poses(sp, speech, cfg if not live else replace(cfg, key_poses=False))
    timings["poses"] = time.perf_counter() - t

    t = time.perf_counter()
    if live:
        stream = RecognitionStream(sp, speech, poses, cfg, late=cfg.stream, lead=cfg.stream_lead).start()
        threads = threads and max(1, threads - 1)   # a core for the recognition
        points = (poses_to_keypoints(sp, speaker_params(sp, chunk), W, H) for chunk in stream)
    elif cfg.stream:   # a second of keypoints at a time, as the generator needs them
        params = speaker_params(sp, poses)
        step = max(1, int(round(sp.fps)))
        points = (poses_to_keypoints(sp, params.frames(slice(a, a + step)), W, H) for a in range(0, len(poses), step))
    else:
        params = speaker_params(sp, poses)
        points = poses_to_keypoints(sp, params, W, H)
        timings["keypoints"] = time.perf_counter() - t

    def first_frame(i):
        if i == 0:   # latency: from the call to the first frame in the encoder
            timings["first frame"] = time.perf_counter() - t_call

    try:
        t = time.perf_counter()
        with temp_path(out.with_name(out.stem + ".speech"), ".wav") as wav:   # a name of this process's own
            sf.write(wav, speech.audio, SAMPLE_RATE)
            with folder_lock(out.parent):   # another synthesis into the same folder writes its three files after ours
                output_paths(out, overwrite)  # ... and, without overwrite, one that finished meanwhile is not replaced
                if portrait:
                    render_portrait(sp.portrait, points, out, sp.fps, audio=wav, side_by_side=cfg.side_by_side,
                                    progress=progress, stream=cfg.stream, on_frame=first_frame, provenance=prov)
                else:
                    render_video(sp.generator, points, (W, H), out, sp.fps, audio=wav, size=(W, H),
                                 side_by_side=cfg.side_by_side, progress=progress, stream=cfg.stream,
                                 on_frame=first_frame, precision=cfg.precision, cpu_model=cpu_model, threads=threads,
                                 provenance=prov)
                timings["video"] = time.perf_counter() - t
                if live:   # what the stream recognised and inserted, for the side files
                    poses, records, speech = stream.poses, stream.records, replace(speech, words=stream.words)
                    params = speaker_params(sp, poses)
                params.save(side_poses, fps=sp.fps)
                save_json(side_json, {
                    "speaker": sp.run.name, "source": speech.source, "language": speech.language, "fps": sp.fps,
                    "frames": len(poses), "words": speech.words, "timings": timings, "precision": dtype,
                    "renderer": "portrait" if portrait else "gan",
                    "motion": f"gesture flow, seed {cfg.seed}" if sp.uses_flow(cfg.motion) else "LSTM",
                    "insertions": [asdict(r) for r in records], "config": asdict(cfg),
                    "provenance": prov.to_dict()})
    finally:
        if live:   # the recognition's child process ends with the call, also on an error or Ctrl-C
            stream.close()
    res = SynthesisResult(out, len(poses), sp.fps, speech.duration, speech.words, records, timings, dtype)
    return res
