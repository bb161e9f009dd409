"""2D keypoints in the layout the field exchanges: OpenPose BODY_25 + 2 x 21 hand + 70 face points.

One array per sequence, ``(T, 137, 3)`` with ``(x, y, confidence)`` in pixels; confidence 0 means
"not detected" (never garbage coordinates). :data:`SLICES` names the parts. Conversions here:

* from the SMPL-X keypoints of :class:`s2v.body.BodyModel` (projected by a camera),
* from OpenPose COCO-18 bodies (e.g. DWPose output, as in ``shared/data/keypoints_halfbody``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2v.body.joints import keypoint_names

BODY25_NAMES = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
                "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
                "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
                "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
#: BODY_25 limbs (OpenPose's pairs).
BODY25_LIMBS = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
                (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20),
                (14, 21), (11, 22), (22, 23), (11, 24))
#: OpenPose COCO-18 order (also DWPose's body output) as BODY_25 indices.
COCO18_TO_BODY25 = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18])
HAND_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
#: Hand bones: wrist (0) to each finger's 4 points (1-4 thumb, 5-8 index, ... 17-20 pinky).
HAND_BONES = tuple((0 if k == 0 else 1 + 4 * f + k - 1, 1 + 4 * f + k) for f in range(5) for k in range(4))

#: Where the development checkout keeps real keypoint data (``../shared/data`` beside the repository; absent in
#: a user's clone): the DWPose half-body track of a real speaker.
REAL_HALFBODY_TRACK = (Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints_halfbody"
                       / "echomimic_pose01.npz")

SLICES = {"body": slice(0, 25), "left_hand": slice(25, 46), "right_hand": slice(46, 67), "face": slice(67, 137)}
NUM_KEYPOINTS = 137


def _smplx_source_names() -> list[str]:
    """For each of the 137 OpenPose points, the SMPL-X keypoint name it comes from (None: derived)."""
    # "neck" is replaced by the shoulder midpoint in from_smplx (OpenPose's convention)
    body = ["nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
            "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
            "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
            "left_heel", "right_big_toe", "right_small_toe", "right_heel"]
    hands = []
    for side in ("left", "right"):
        hands.append(f"{side}_wrist")
        for f in HAND_FINGERS:
            hands += [f"{side}_{f}1", f"{side}_{f}2", f"{side}_{f}3", f"{side}_{f}"]
    face = [f"face{i}" for i in range(68)] + ["right_eye", "left_eye"]  # 68, 69: pupils
    return body + hands + face


def smplx_to_openpose_index(use_face_contour: bool = True) -> np.ndarray:
    """Indices into the body model's keypoints giving the 137 OpenPose points (-1 where absent)."""
    names = keypoint_names(use_face_contour)
    pos = {n: i for i, n in enumerate(names)}
    return np.array([pos.get(n, -1) for n in _smplx_source_names()], dtype=np.int64)


def from_smplx(points_2d: np.ndarray, use_face_contour: bool = True) -> np.ndarray:
    """SMPL-X keypoints projected to pixels (T, K, 2) -> OpenPose (T, 137, 3), confidence 1."""
    pts = np.asarray(points_2d, dtype=np.float32)
    idx = smplx_to_openpose_index(use_face_contour)
    out = np.zeros(pts.shape[:-2] + (NUM_KEYPOINTS, 3), np.float32)
    ok = idx >= 0
    out[..., ok, :2] = pts[..., idx[ok], :]
    out[..., ok, 2] = 1.0
    # OpenPose's neck is the midpoint of the shoulders (as detectors report it), not SMPL-X's neck joint
    out[..., 1, :2] = (out[..., 2, :2] + out[..., 5, :2]) / 2
    return out


def project_model(model, params, camera, chunk: int = 256) -> np.ndarray:
    """(T, 137, 3) OpenPose-layout pixels of a body model's keypoints for ``params`` seen by ``camera``
    (confidence 1), computed in chunks with the keypoint-only forward."""
    import torch

    out = []
    with torch.no_grad():
        for a in range(0, len(params), chunk):
            k = model.keypoints(params.frames(slice(a, a + chunk))).cpu().numpy()
            out.append(from_smplx(camera.project(k), model.use_face_contour))
    return np.concatenate(out)


def from_coco18(body: np.ndarray, body_score: np.ndarray | None = None) -> np.ndarray:
    """OpenPose COCO-18 bodies (T, 18, 2) -> BODY_25 (T, 25, 3); mid-hip from the hips, no feet."""
    body = np.asarray(body, np.float32)
    T = body.shape[0]
    score = np.ones(body.shape[:2], np.float32) if body_score is None else np.asarray(body_score, np.float32)
    out = np.zeros((T, 25, 3), np.float32)
    out[:, COCO18_TO_BODY25, :2] = body
    out[:, COCO18_TO_BODY25, 2] = score
    hips = out[:, [9, 12]]
    both = np.minimum(hips[:, 0, 2], hips[:, 1, 2])
    out[:, 8, :2] = hips[:, :, :2].mean(1)
    out[:, 8, 2] = both
    return out


@dataclass
class KeypointTrack:
    """A keypoint sequence with its canvas size and frame rate."""

    points: np.ndarray  # (T, 137, 3) x, y in pixels, confidence
    width: int
    height: int
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, np.float32)
        if self.points.ndim != 3 or self.points.shape[1:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints have shape {self.points.shape}; expected (T, {NUM_KEYPOINTS}, 3)")
        bad = ~np.isfinite(self.points)
        if bad.any():  # undetected points must carry confidence 0, never NaN coordinates
            self.points[bad.any(-1)] = 0.0

    def __len__(self) -> int:
        return len(self.points)

    def part(self, name: str) -> np.ndarray:
        return self.points[:, SLICES[name]]

    def save(self, path: str | Path) -> Path:
        from s2v.io import save_npz

        return save_npz(path, points=self.points, width=self.width, height=self.height, fps=self.fps,
                        layout=np.array("openpose_body25_hand21x2_face70"))

    @classmethod
    def load(cls, path: str | Path) -> "KeypointTrack":
        with np.load(path) as z:
            return cls(z["points"], int(z["width"]), int(z["height"]), float(z["fps"]))

    @classmethod
    def from_dwpose_npz(cls, path: str | Path, size: int = 768, fps: float = 25.0) -> "KeypointTrack":
        """Import a DWPose track stored as normalised coordinates (``body`` (T,18,2) COCO-18, ``hands``
        (T,2,21,2) left then right, ``face`` (T,68,2), each with ``*_score``) on a ``size`` canvas."""
        with np.load(path) as z:
            body = from_coco18(z["body"] * size, z["body_score"])
            hands = np.concatenate([z["hands"] * size, z["hands_score"][..., None]], -1).astype(np.float32)
            face = np.concatenate([z["face"] * size, z["face_score"][..., None]], -1).astype(np.float32)
        T = len(body)
        face70 = np.zeros((T, 70, 3), np.float32)
        face70[:, :68] = face
        pts = np.concatenate([body, hands[:, 0], hands[:, 1], face70], 1)
        return cls(pts, size, size, fps)


def save_openpose_json(track: KeypointTrack, folder: str | Path) -> Path:
    """Write one OpenPose-format JSON per frame (``<folder>/000000_keypoints.json``), as OpenPose does."""
    import json

    from s2v.io import save_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, kp in enumerate(track.points):
        person = {"person_id": [-1],
                  "pose_keypoints_2d": kp[SLICES["body"]].reshape(-1).tolist(),
                  "face_keypoints_2d": kp[SLICES["face"]].reshape(-1).tolist(),
                  "hand_left_keypoints_2d": kp[SLICES["left_hand"]].reshape(-1).tolist(),
                  "hand_right_keypoints_2d": kp[SLICES["right_hand"]].reshape(-1).tolist()}
        people = [person] if kp[:, 2].any() else []
        save_bytes(folder / f"{t:06d}_keypoints.json", json.dumps({"version": 1.3, "people": people}).encode())
    return folder


def load_openpose_json(folder: str | Path, width: int, height: int, fps: float,
                       person: str = "largest", pattern: str | None = None) -> KeypointTrack:
    """Read OpenPose per-frame JSON files (BODY_25 or COCO-18 bodies; hands and face when present).

    ``fps`` is the frame rate of the frames the files describe (no default: a wrong one would put the
    motion out of step with the speech). ``pattern`` picks one recording's files from a folder holding
    several (``"sent01_*_keypoints.json"``). Frames without a person get confidence 0. With several people,
    ``person="largest"`` keeps the one with the largest body box; ``"error"`` refuses the frame set.
    """
    import json

    folder = Path(folder)
    files = (sorted(folder.glob(pattern)) if pattern else
             sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json")))
    if not files:
        raise FileNotFoundError(f"no OpenPose JSON files in {folder}" + (f" matching {pattern!r}" if pattern else ""))
    pts = np.zeros((len(files), NUM_KEYPOINTS, 3), np.float32)
    for t, f in enumerate(files):
        people = json.loads(Path(f).read_text()).get("people", [])
        if not people:
            continue
        if len(people) > 1 and person == "error":
            raise ValueError(f"{f}: {len(people)} people; pass person='largest' to keep the biggest")

        def body_of(p):
            b = np.asarray(p.get("pose_keypoints_2d", []), np.float32).reshape(-1, 3)
            return from_coco18(b[None, :, :2], b[None, :, 2])[0] if len(b) == 18 else b

        def extent(p):
            b = body_of(p)
            ok = b[:, 2] > 0.1
            return float(np.ptp(b[ok, 0]) * np.ptp(b[ok, 1])) if ok.sum() >= 2 else 0.0

        p = max(people, key=extent)
        pts[t, SLICES["body"]] = body_of(p)[:25]
        for key, part in (("hand_left_keypoints_2d", "left_hand"), ("hand_right_keypoints_2d", "right_hand")):
            a = np.asarray(p.get(key, []), np.float32).reshape(-1, 3)
            if len(a) == 21:
                pts[t, SLICES[part]] = a
        face = np.asarray(p.get("face_keypoints_2d", []), np.float32).reshape(-1, 3)
        if len(face) in (68, 70):
            pts[t, 67:67 + len(face)] = face
    return KeypointTrack(pts, width, height, fps)
