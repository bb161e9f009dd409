"""Capture stage for real recordings: bring a user's video into a run folder, checked and normalised.

The paper recorded 1280x720 at 60 fps with a fixed camera and kept every 5th frame (section 3.1).
:func:`import_video` does the same for any video file: it checks the file (readable, has an audio
track, the audio is not silent, one person in view), re-encodes the video at the chosen resolution and
frame rate (``sample_every=k`` keeps every k-th frame) to ``capture/recording.mp4`` with the audio, and
extracts the speech as 16 kHz mono ``capture/audio.wav``. All through the ffmpeg binary of
``imageio-ffmpeg``.

Everything a later stage needs is written here, so a user's recording goes through the same commands as the
studio: ``capture/camera.json`` (a pinhole for the output size: :meth:`~s2v.camera.Camera.default_for`, or the
focal length the user knows) and ``capture/transcript.json`` (words with times: forced alignment when the
user gives the text they read, else free recognition, English). The frame rate is recorded in the manifest
and travels with every artifact that has frames. Optional: a time range (``start``/``end`` seconds) and a
crop box (``x, y, w, h`` in source pixels). :func:`import_frames` takes a folder of images plus an audio file
(the layout of many data sets) instead of a video.
"""
from __future__ import annotations

import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2v.io import atomic_path
from s2v.run import Run
from s2v.speech.features import SAMPLE_RATE, level_db, no_speech_reason
from s2v.video import ffmpeg_exe



class CaptureError(ValueError):
    """The input recording cannot be used (and the message says why)."""


@dataclass
class MediaInfo:
    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool
    audio_rate: int | None


def probe(path: str | Path) -> MediaInfo:
    """Stream information from ffmpeg's own report (no ffprobe in the wheel)."""
    path = Path(path)
    if not path.exists():
        raise CaptureError(f"{path}: no such file")
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    video = re.search(r"Stream #.*Video: .*?(\d{2,5})x(\d{2,5}).*?(\d+(?:\.\d+)?) (?:fps|tbr)", err)
    if not video:
        raise CaptureError(f"{path}: not a readable video "
                           f"(ffmpeg: {err.strip().splitlines()[-1] if err.strip() else '?'})")
    still = re.search(r"Input #0, (\w+_pipe|image2)\b", err)     # ffmpeg's demuxers of still images
    if still and not re.search(r"Stream #.*Audio:", err):
        raise CaptureError(f"{path}: an image ({still.group(1).removesuffix('_pipe')}), not a video; give a "
                           "recording with its speech (--video), or a folder of frames with --frames, --audio, --fps")
    dur = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    seconds = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    audio = re.search(r"Stream #.*Audio: .*?(\d+) Hz", err)
    return MediaInfo(int(video.group(1)), int(video.group(2)), float(video.group(3)), seconds, audio is not None,
                     int(audio.group(1)) if audio else None)


def _run_ffmpeg(args: list[str], what: str) -> str:
    """Run ffmpeg; a failure is a :class:`CaptureError`; returns what it reported at level "error" while
    succeeding (decode errors of a damaged file: it conceals or drops the broken frames and goes on)."""
    r = subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise CaptureError(f"{what} failed: {r.stderr.strip()[-500:]}")
    return r.stderr.strip()


def count_people(frame: np.ndarray, min_height: float = 0.3) -> int:
    """People in an RGB frame by OpenCV's built-in HOG pedestrian detector (no model download).

    Only detections at least ``min_height`` of the image tall count (bystanders far away are ignored).
    """
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    h = frame.shape[0]
    scale = 400.0 / h  # the detection window is 64x128: small frames are upsampled (OpenCV crashes on tiny ones)
    img = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1.0 else frame
    rects, weights = hog.detectMultiScale(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), winStride=(8, 8), padding=(8, 8),
                                          scale=1.05)
    if len(rects) == 0:
        return 0
    keep = cv2.dnn.NMSBoxes([list(map(int, r)) for r in rects], [float(w) for w in np.ravel(weights)], 0.5, 0.3)
    boxes = [rects[i] for i in np.ravel(keep)]  # by decreasing score
    boxes = [b for b in boxes if b[3] >= min_height * img.shape[0]]
    # a window on a limb or the torso of a person already found is not a second person: drop boxes that
    # lie mostly (>= 70 %) inside a larger one (NMS keeps them, their IoU with the whole body is small)
    people = []
    for b in sorted(boxes, key=lambda r: -r[2] * r[3]):
        if all(_inside(b, p) < 0.7 for p in people):
            people.append(b)
    return len(people)


def _inside(a, b) -> float:
    """Fraction of box ``a``'s area (x, y, w, h) that lies inside box ``b``."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, a[2] * a[3])


def import_video(src: str | Path, run: Run, width: int | None = None, height: int | None = None,
                 fps: float | None = None, sample_every: int = 1, silence_db: float = -50.0,
                 people: str = "error", check_frames: int = 16, start: float | None = None,
                 end: float | None = None, crop: tuple[int, int, int, int] | None = None,
                 focal_px: float | None = None, transcript: str | None = None,
                 recognize_speech: bool = True) -> MediaInfo:
    """Normalise ``src`` into ``run``'s capture artifacts; returns the output's media info.

    ``people``: ``"error"`` refuses a video where several people are seen in at least a quarter of the
    checked frames, ``"ignore"`` skips the check (the keypoint stage then keeps the largest person).
    The HOG detector misses people often (on two studio speakers side by side it sees both in ~60 % of
    frames) but almost never sees two in one (0 of 24 frames of one speaker), hence the quarter.
    ``focal_px`` is the focal length in *source* pixels when known (scaled with the video).
    """
    info = probe(src)
    if not info.has_audio:
        raise CaptureError(f"{src}: the video has no audio track; Speech2Video needs the speech that goes with "
                           "the motion (record with sound, or mux a separate recording with ffmpeg)")
    if info.fps <= 0:
        raise CaptureError(f"{src}: unknown frame rate")
    out_fps = (fps or info.fps) / max(1, int(sample_every))
    sw, sh = (crop[2], crop[3]) if crop else (info.width, info.height)
    if crop and (crop[0] < 0 or crop[1] < 0 or crop[0] + crop[2] > info.width or crop[1] + crop[3] > info.height
                 or crop[2] < 16 or crop[3] < 16):
        raise CaptureError(f"crop box {crop} (x, y, w, h) is not inside the {info.width}x{info.height} video")
    w = width or sw
    h = height or (sh if width is None else int(round(sh * w / sw)))
    w, h = w - w % 2, h - h % 2
    trim = _trim_args(start, end, info.duration, src)
    audio, level = _extract_audio(run, [*trim, "-i", str(src)], src, silence_db)
    vf = (f"crop={crop[2]}:{crop[3]}:{crop[0]}:{crop[1]}," if crop else "") + f"fps={out_fps},scale={w}:{h}:flags=area"
    with atomic_path(run.path("recording"), ".mp4") as tmp:
        errors = _run_ffmpeg([*trim, "-i", str(src), "-vf", vf, "-c:v", "libx264", "-crf", "18", "-pix_fmt",
                              "yuv420p", "-c:a", "aac", str(tmp)], "video normalisation").splitlines()
        if errors:   # a damaged file: said, and recorded in the manifest (frames may be smeared or missing)
            warnings.warn(f"{src}: ffmpeg met {len(errors)} decode error(s) (damaged frames were concealed or "
                          f"dropped; first: {errors[0][:160]}); look at the recording before fitting it",
                          stacklevel=2)
        _check_length(tmp, out_fps, len(audio) / SAMPLE_RATE, src)
        if people != "ignore":
            _check_people(tmp, check_frames, str(src))
    out = probe(run.path("recording"))
    cfg = {"source": str(src), "width": w, "height": h, "fps": out_fps, "sample_every": sample_every,
           "source_fps": info.fps, "start": start, "end": end, "crop": list(crop) if crop else None,
           "audio_level_db": round(level, 1), "decode_errors": len(errors)}
    _finish(run, cfg, audio, w, h, None if focal_px is None else focal_px * w / sw, transcript, recognize_speech)
    return out


def import_frames(folder: str | Path, audio_file: str | Path, run: Run, fps: float, width: int | None = None,
                  pattern: str = "*", silence_db: float = -50.0, focal_px: float | None = None,
                  transcript: str | None = None, recognize_speech: bool = True) -> MediaInfo:
    """A folder of frames (png/jpg, sorted by name; ``pattern`` filters, e.g. ``"sent01_*.png"``) played at
    ``fps`` plus their speech in ``audio_file`` -> the same capture artifacts as :func:`import_video`."""
    folder = Path(folder)
    files = sorted(f for f in folder.glob(pattern) if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if not files:
        raise CaptureError(f"{folder}: no image files matching {pattern!r}")
    if fps <= 0:
        raise CaptureError("give the frame rate of the frames (fps > 0)")
    import cv2

    first = cv2.imread(str(files[0]))
    if first is None:
        raise CaptureError(f"{files[0]}: not a readable image")
    sh, sw = first.shape[:2]
    w = width or sw
    h = int(round(sh * w / sw))
    w, h = w - w % 2, h - h % 2
    audio, level = _extract_audio(run, ["-i", str(audio_file)], audio_file, silence_db)
    lst = run.root / "capture" / ".frames.txt"
    lst.write_text("".join(f"file '{f.resolve()}'\nduration {1 / fps:.9f}\n" for f in files))
    try:
        with atomic_path(run.path("recording"), ".mp4") as tmp:
            _run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(lst), "-i", str(run.path("audio")),
                         "-vf", f"fps={fps},scale={w}:{h}:flags=area", "-c:v", "libx264", "-crf", "18",
                         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(tmp)], "frames to video")
            _check_length(tmp, fps, len(audio) / SAMPLE_RATE, folder)
    finally:
        lst.unlink(missing_ok=True)
    out = probe(run.path("recording"))
    cfg = {"source": str(folder), "pattern": pattern, "frames": len(files), "audio_source": str(audio_file),
           "width": w, "height": h, "fps": fps, "audio_level_db": round(level, 1)}
    _finish(run, cfg, audio, w, h, None if focal_px is None else focal_px * w / sw, transcript, recognize_speech)
    return out


def _trim_args(start, end, duration, src) -> list[str]:
    if start is None and end is None:
        return []
    a, b = start or 0.0, end if end is not None else duration
    if a < 0 or b <= a or (duration and a >= duration):
        raise CaptureError(f"{src}: time range {a:g}-{b:g} s is empty or outside the {duration:.1f} s recording")
    return ["-ss", f"{a:.3f}", "-t", f"{b - a:.3f}"]


def _extract_audio(run: Run, inputs: list[str], src, silence_db: float) -> tuple[np.ndarray, float]:
    """``capture/audio.wav`` (16 kHz mono) from the ffmpeg ``inputs``, checked (long enough, not silent) before
    it is written; returns the samples and their level (dBFS)."""
    import soundfile as sf

    with atomic_path(run.path("audio"), ".wav") as tmp:
        _run_ffmpeg([*inputs, "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", str(tmp)],
                    "audio extraction")
        audio, _ = sf.read(tmp, dtype="float32")
        if len(audio) < SAMPLE_RATE * 0.5:
            raise CaptureError(f"{src}: the audio is shorter than 0.5 s")
        level = level_db(audio)
        if level < silence_db:
            raise CaptureError(f"{src}: the audio track is silent ({level:.0f} dBFS RMS, below {silence_db:.0f})")
        why = no_speech_reason(audio, SAMPLE_RATE)
        if why:
            raise CaptureError(f"{src}: the audio track has no speech: {why}")
    return audio, level


def _check_length(video: Path, fps: float, audio_seconds: float, src, tolerance: float = 0.25) -> None:
    """Video and speech must cover the same time: a 2-frame video with 3 s of audio is not a recording."""
    from s2v.video import count_frames

    seconds = count_frames(video) / fps
    if abs(seconds - audio_seconds) > max(0.5, tolerance * audio_seconds):
        raise CaptureError(f"{src}: the video lasts {seconds:.2f} s but its audio {audio_seconds:.2f} s; "
                           "the motion and the speech would not match (damaged file, or a frame folder that "
                           "does not belong to this audio?)")


def _finish(run: Run, cfg: dict, audio: np.ndarray, w: int, h: int, focal_px: float | None,
            transcript: str | None, recognize_speech: bool) -> None:
    """Camera, transcript and the manifest records shared by both importers."""
    from s2v.camera import Camera

    cam = Camera.default_for(w, h)
    if focal_px:
        cam = Camera(focal_px, focal_px, cam.cx, cam.cy, w, h)
    cam.save(run.path("camera"))
    for a in ("audio", "recording", "camera"):
        run.record(a, config=cfg, fps=cfg["fps"])
    write_transcript(run, audio, transcript, recognize_speech, cfg, offset=float(cfg.get("start") or 0.0))


def write_transcript(run: Run, audio: np.ndarray, transcript: str | None, recognize_speech: bool, cfg: dict,
                     offset: float = 0.0) -> None:
    """``capture/transcript.json``: the words of ``transcript`` aligned to the speech (English or Mandarin), or
    recognised in it (pocketsphinx, English); nothing when neither is asked for. A Praat TextGrid's word times
    are kept as given (no re-alignment: they are the best the user has), moved by ``offset`` seconds (the start
    of the part of the take kept) and cut to the speech."""
    from s2v.io import save_json

    if transcript is None and not recognize_speech:
        return
    from s2v.speech import stt
    from s2v.speech.align import is_textgrid, read_textgrid

    if transcript is not None and is_textgrid(transcript):
        import tempfile

        from s2v.speech.tts import Word

        with tempfile.TemporaryDirectory() as tmp:   # praatio reads files
            p = Path(tmp) / "words.TextGrid"
            p.write_text(transcript, encoding="utf-8")
            try:
                given = read_textgrid(p)
            except ValueError as e:
                raise CaptureError(f"--transcript: {str(e).replace(str(p), 'the TextGrid')}") from None
        end = len(audio) / SAMPLE_RATE
        words = [Word(w.text, w.start - offset, w.end - offset) for w in given
                 if w.start - offset >= -1e-6 and w.end - offset <= end + 1e-6]
        save_json(run.path("transcript"), {"text": " ".join(w.text for w in words), "language": None,
                                           "source": f"Praat TextGrid (word times as given, {len(given)} words; "
                                                     f"{len(words)} in the speech kept)",
                                           "words": [wd.to_dict() for wd in words]})
        run.record("transcript", config=cfg)
        return
    if transcript is not None:   # English: pocketsphinx; Mandarin: eSpeak NG + DTW (s2v.speech.align)
        from s2v.speech.align import align_transcript

        words, lang, source = align_transcript(audio, SAMPLE_RATE, transcript)
    else:
        words, lang, source = stt.recognize(audio, SAMPLE_RATE), "en", "recognition (pocketsphinx, en-US)"
    save_json(run.path("transcript"), {"text": transcript, "language": lang, "source": source,
                                       "words": [wd.to_dict() for wd in words]})
    run.record("transcript", config=cfg)


def _check_people(video: Path, n: int, name: str) -> None:
    from s2v.video import read_video

    frames, _ = read_video(video)
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)
    counts = [count_people(frames[i]) for i in idx]
    if sum(c >= 2 for c in counts) >= len(counts) / 4:
        raise CaptureError(f"{name}: several people are in view in {sum(c >= 2 for c in counts)} of {len(counts)} "
                           "checked frames; Speech2Video learns one speaker from a fixed camera. Crop the video to "
                           "the speaker, or allow it (people='ignore', or --allow-several-people) to let the keypoint "
                           "stage keep the largest person")
