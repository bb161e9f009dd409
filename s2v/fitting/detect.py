"""2D keypoints of body, hands and face per frame (the paper used OpenPose; section 3.2).

The detector is MediaPipe's Holistic solution, whose models ship inside the ``mediapipe`` 0.10.x wheel
(no download; ``pip install -e .[detect]``). Its landmarks are mapped to the OpenPose layout the field
exchanges (BODY_25 + 2 x 21 hands + 70 face, :mod:`s2v.keypoints`), each with a confidence; a missed
part gets confidence 0, never stale coordinates. OpenPose/DWPose output can be brought instead through
:func:`s2v.keypoints.load_openpose_json` / :meth:`~s2v.keypoints.KeypointTrack.from_dwpose_npz`.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from dataclasses import dataclass

import numpy as np

from s2v.keypoints import NUM_KEYPOINTS, SLICES, KeypointTrack

# BODY_25 index <- MediaPipe Pose (33 landmarks) index.
_BODY25_FROM_MP_POSE = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 9: 24, 10: 26, 11: 28, 12: 23, 13: 25,
                      14: 27, 15: 5, 16: 2, 17: 8, 18: 7, 19: 31, 21: 29, 22: 32, 24: 30}
# BODY_25 index: MediaPipe index. Neck (1) and mid-hip (8) are midpoints; small toes (20, 23) are absent.

#: MediaPipe Face Mesh (468) vertices that correspond to the 68 iBUG points, in iBUG order.
MP_FACE_TO_68 = np.array([
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,   # contour
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,                                        # brows
    168, 197, 5, 4, 75, 97, 2, 326, 305,                                                  # nose
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,                            # eyes
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,                                  # outer lip
    78, 82, 13, 312, 308, 317, 14, 87])                                                   # inner lip
#: Iris centres (with ``refine_face_landmarks``): right 468, left 473.
MP_IRIS = (468, 473)


class KeypointImportError(ValueError):
    """The user's own keypoints (an OpenPose folder) do not fit the run's recording."""


class DetectorUnavailable(ImportError):
    """MediaPipe is not installed."""


@dataclass
class DetectorConfig:
    model_complexity: int = 1      # only 1 is bundled in the wheel (0 and 2 would be downloaded)
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    refine_face: bool = True       # iris landmarks for the pupils (face points 68, 69)
    static_image_mode: bool = False


#: What MediaPipe 0.10 writes to stderr while its graph starts (construction and first frame): TF Lite's "Created
#: TensorFlow Lite XNNPACK delegate", absl's "All log messages before absl::InitializeLog()" and an absl WARNING
#: per model ("Feedback manager requires a model with a single signature"): 9-10 lines on every run. absl INFO and
#: WARNING lines in general; its ERROR (E...) and FATAL (F...) lines are not noise.
NATIVE_NOISE = re.compile(r"^(INFO: Created TensorFlow Lite \S+ delegate"
                          r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                          r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")


@contextlib.contextmanager
def quiet_native_logs(noise: re.Pattern = NATIVE_NOISE):
    """Drop MediaPipe's start-up chatter (:data:`NATIVE_NOISE`) while passing everything else through.

    The lines come from C++ straight to file descriptor 2, where nothing in Python reaches them: mediapipe 0.10
    logs with absl (not glog: ``GLOG_minloglevel`` has no effect, and ``absl::SetMinLogLevel`` is not exported),
    TF Lite with its own logger, and neither reads ``TF_CPP_MIN_LOG_LEVEL``. So fd 2 is a pipe inside the block, and
    a thread forwards every line that is not noise to the real stderr as it comes: absl errors (``E...``), fatal
    messages (``F...``) and anything unknown still show.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):   # no fd 2 (an embedded interpreter): nothing to filter
        yield
        return
    r, w = os.pipe()

    def forward():   # line by line, each kept with its own ending (a progress bar's "\r" stays as it is)
        buf = b""
        while chunk := os.read(r, 65536):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not noise.search(line.decode("utf-8", "replace")):
                    os.write(saved, line + b"\n")
        if buf and not noise.search(buf.decode("utf-8", "replace")):
            os.write(saved, buf)

    reader = threading.Thread(target=forward, name="s2v-native-stderr", daemon=True)
    reader.start()
    os.dup2(w, 2)
    os.close(w)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)      # the pipe's last writer closes: the reader sees the end
        reader.join(timeout=5)
        os.close(r)
        os.close(saved)


def _visibility(lms) -> np.ndarray:
    return np.array([getattr(p, "visibility", 1.0) or 0.0 for p in lms.landmark], np.float32)


def holistic_to_openpose(result, width: int, height: int) -> np.ndarray:
    """One MediaPipe Holistic result -> (137, 3) OpenPose-layout keypoints in pixels."""
    out = np.zeros((NUM_KEYPOINTS, 3), np.float32)

    def xy(lms):
        return np.array([[p.x * width, p.y * height] for p in lms.landmark], np.float32)

    if result.pose_landmarks is not None:
        p = xy(result.pose_landmarks)
        vis = _visibility(result.pose_landmarks)
        body = out[SLICES["body"]]
        for b25, mp_i in _BODY25_FROM_MP_POSE.items():
            body[b25, :2], body[b25, 2] = p[mp_i], vis[mp_i]
        for b25, (a, b) in ((1, (11, 12)), (8, (23, 24))):
            body[b25, :2] = (p[a] + p[b]) / 2
            body[b25, 2] = min(vis[a], vis[b])
    for side, lms in (("left_hand", result.left_hand_landmarks), ("right_hand", result.right_hand_landmarks)):
        if lms is not None:
            out[SLICES[side], :2] = xy(lms)
            out[SLICES[side], 2] = 1.0
    if result.face_landmarks is not None:
        f = xy(result.face_landmarks)
        face = out[SLICES["face"]]
        face[:68, :2] = f[MP_FACE_TO_68]
        face[:68, 2] = 1.0
        if len(f) > max(MP_IRIS):
            face[68, :2], face[69, :2] = f[MP_IRIS[0]], f[MP_IRIS[1]]
            face[68:70, 2] = 1.0
    return out


def detect_frames(frames, config: DetectorConfig | None = None, progress: bool = True, fps: float = 30.0
                  ) -> KeypointTrack:
    """Run Holistic over RGB frames (an array or any iterable of (H, W, 3) uint8). MediaPipe's start-up chatter
    on stderr is dropped (:func:`quiet_native_logs`); its errors still show."""
    os.environ.setdefault("GLOG_minloglevel", "2")   # a glog build of MediaPipe honours these; 0.10's absl logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # and TF Lite's logger do not (quiet_native_logs does that)
    try:
        import mediapipe as mp
    except ImportError as e:
        raise DetectorUnavailable("2D keypoint detection needs MediaPipe: pip install -e '.[detect]' "
                                  "(or bring OpenPose/DWPose keypoints)") from e
    import warnings

    from tqdm.auto import tqdm

    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf noise inside mediapipe
    cfg = config or DetectorConfig()
    frames = iter(tqdm(frames, desc="keypoints", unit="frame", disable=not progress))
    first = next(frames, None)     # read before stderr is filtered: a reader's own process (ffmpeg) keeps it
    if first is None:
        raise ValueError("no frames to detect keypoints in")
    size = (first.shape[1], first.shape[0])
    # the graph starts on construction and its models load (each saying so on stderr) by the first frame
    with quiet_native_logs():
        hol = mp.solutions.holistic.Holistic(static_image_mode=cfg.static_image_mode,
                                             model_complexity=cfg.model_complexity,
                                             refine_face_landmarks=cfg.refine_face,
                                             min_detection_confidence=cfg.min_detection_confidence,
                                             min_tracking_confidence=cfg.min_tracking_confidence)
        try:
            pts = [holistic_to_openpose(hol.process(np.ascontiguousarray(first)), *size)]
        except BaseException:
            hol.close()
            raise
    with hol:
        for f in frames:
            size = (f.shape[1], f.shape[0])
            pts.append(holistic_to_openpose(hol.process(np.ascontiguousarray(f)), *size))
    return KeypointTrack(np.stack(pts), size[0], size[1], fps)


def detect_run(run, config: DetectorConfig | None = None, source: str = "video", noise_px: float = 0.0,
               seed: int = 0, progress: bool = True, openpose: str | None = None,
               pattern: str | None = None) -> KeypointTrack:
    """The keypoint stage of a run: ``capture/recording.mp4`` -> ``keypoints/keypoints.npz``.

    ``source="truth"`` takes a studio run's ground-truth keypoints instead of the detector, with Gaussian
    noise of ``noise_px`` (to measure the fitter alone). ``source="openpose"`` reads the user's own
    detector output, an OpenPose JSON folder ``openpose`` (one file per frame of the run's recording; size
    and frame rate from the recording), so MediaPipe can be skipped. The run's ``detect`` lock is held from the
    start (a writer of what detection reads, or a second detection, is refused before minutes of work)."""
    with run.lock("detect"):
        return _detect_run(run, config, source, noise_px, seed, progress, openpose, pattern)


def _detect_run(run, config, source, noise_px, seed, progress, openpose, pattern) -> KeypointTrack:
    from s2v.video import count_frames, iter_frames, probe_fps

    if source == "truth":
        track = KeypointTrack.load(run.require("truth_keypoints"))
        rng = np.random.default_rng(seed)
        pts = track.points.copy()
        pts[..., :2] += rng.normal(scale=noise_px, size=pts[..., :2].shape).astype(np.float32) * (pts[..., 2:] > 0)
        track = KeypointTrack(pts, track.width, track.height, track.fps)
    elif source == "video":
        video = run.require("recording")
        frames = iter_frames(video)
        if progress:
            from tqdm.auto import tqdm

            frames = tqdm(frames, total=count_frames(video), desc="keypoints", unit="frame")
        track = detect_frames(frames, config, progress=False, fps=probe_fps(video))
    elif source == "openpose":
        from s2v.keypoints import load_openpose_json
        from s2v.video import probe_size

        if not openpose:
            raise KeypointImportError("source='openpose' needs the folder of OpenPose JSON files")
        video = run.require("recording")
        n = count_frames(video)
        try:
            track = load_openpose_json(openpose, *probe_size(video), fps=probe_fps(video), pattern=pattern)
        except (OSError, ValueError) as e:   # a missing folder, unreadable JSON, several people
            raise KeypointImportError(f"{openpose}: {e}") from None
        if len(track) != n:
            raise KeypointImportError(f"{openpose}: {len(track)} keypoint files for the {n} frames of {video}; a "
                                      "folder "
                             "holding several recordings needs --pattern (e.g. 'sent01_*_keypoints.json'), and "
                             "the files must come from the same frames as the capture (same fps, no trim)")
    else:
        raise ValueError(f"source must be 'video', 'truth' or 'openpose', got {source!r}")
    track.save(run.path("keypoints"))
    run.record("keypoints", fps=track.fps, config={
        "source": source, "noise_px": noise_px, "openpose": openpose, "pattern": pattern,
        "detector": vars(config or DetectorConfig()) if source == "video" else None})
    return track
