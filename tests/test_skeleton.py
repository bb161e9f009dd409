"""Colourised skeleton images (section 3.5, figure 7) and the colour-based part boxes."""
import numpy as np
import torch

from s2v.camera import Camera
from s2v.keypoints import SLICES, KeypointTrack, from_coco18, from_smplx, smplx_to_openpose_index
from s2v.render.skeleton import (FACE_COLOR, FINGER_COLORS, LEFT_HAND_COLOR, LIMB_COLORS, RIGHT_HAND_COLOR,
                                 part_boxes, render_skeleton)


def _inside(points, box, tol=1.0):
    x0, y0, x1, y1 = box
    return ((points[:, 0] >= x0 - tol) & (points[:, 0] <= x1 + tol)
            & (points[:, 1] >= y0 - tol) & (points[:, 1] <= y1 + tol))


def test_reserved_part_colours_appear_nowhere_else():
    others = {tuple(c) for c in LIMB_COLORS} | {tuple(c) for c in FINGER_COLORS}
    reserved = [tuple(FACE_COLOR), tuple(LEFT_HAND_COLOR), tuple(RIGHT_HAND_COLOR)]
    assert len(set(reserved)) == 3 and not (set(reserved) & others)
    assert len({tuple(c) for c in LIMB_COLORS}) == len(LIMB_COLORS)


def test_coco18_to_body25():
    rng = np.random.default_rng(0)
    body = rng.uniform(0, 100, (3, 18, 2))
    score = np.ones((3, 18))
    score[1, 11] = 0.0  # a hip missing in frame 1
    b25 = from_coco18(body, score)
    np.testing.assert_allclose(b25[:, 8, :2], (body[:, 8] + body[:, 11]) / 2)
    assert b25[1, 8, 2] == 0.0 and b25[0, 8, 2] == 1.0
    np.testing.assert_allclose(b25[:, 12, :2], body[:, 11])   # LHip
    assert (b25[:, 19:, 2] == 0).all()                         # no feet in COCO-18


def test_smplx_to_openpose_mapping_names():
    idx = smplx_to_openpose_index(True)
    assert (idx >= 0).all() and len(idx) == 137
    assert (smplx_to_openpose_index(False)[67:84] == -1).all()  # no contour without use_face_contour


def _model_frame(body_model, size=512):
    from s2v.body.poses import named_pose

    p = named_pose("talking")
    p.left_hand_pose[0] = np.random.default_rng(2).normal(size=12)
    with torch.no_grad():
        out = body_model(p)
    cam = Camera.framing(out.vertices[0].numpy(), size, size)
    return from_smplx(cam.project(out.keypoints.numpy()))[0]


def test_body_model_skeleton_boxes_contain_the_parts(body_model):
    kp = _model_frame(body_model, 512)
    img = render_skeleton(kp, 512, 512)
    for color in (FACE_COLOR, LEFT_HAND_COLOR, RIGHT_HAND_COLOR, *LIMB_COLORS[:3]):
        assert np.all(img == color, axis=-1).any(), f"colour {color} drawn exactly"
    boxes = part_boxes(img)
    assert _inside(kp[SLICES["face"]], boxes["face"]).all()
    assert _inside(kp[SLICES["left_hand"]], boxes["left_hand"]).all()
    assert _inside(kp[SLICES["right_hand"]], boxes["right_hand"]).all()
    # a box is a zoom on the part, not the whole image
    for name, b in boxes.items():
        assert (b[2] - b[0]) < 512 / 3, name


def test_missing_hand_gives_no_box_and_any_resolution(body_model):
    kp = _model_frame(body_model, 512)
    kp[SLICES["right_hand"], 2] = 0.0
    for size in (64, 256, 1024):
        img = render_skeleton(kp, size, size, src_size=(512, 512))
        assert img.shape == (size, size, 3)
        boxes = part_boxes(img)
        assert boxes["right_hand"] is None and boxes["left_hand"] is not None


def test_real_dwpose_track_renders_with_boxes_around_face_and_hands(shared_data):
    track = KeypointTrack.from_dwpose_npz(shared_data / "keypoints_halfbody" / "echomimic_pose01.npz")
    assert track.points.shape == (336, 137, 3) and track.width == 768
    # hands[0] is the left hand: its wrist is the body's left wrist
    lw_body, lw_hand = track.points[:, 7, :2], track.points[:, 25, :2]
    assert np.median(np.linalg.norm(lw_body - lw_hand, axis=1)) < 15
    hits = {"face": [], "left_hand": [], "right_hand": []}
    for t in range(0, 336, 12):
        kp = track.points[t]
        img = render_skeleton(kp, 512, 512, src_size=(768, 768))
        boxes = part_boxes(img)
        for part in hits:
            pts = kp[SLICES[part]]
            pts = pts[pts[:, 2] >= 0.3, :2] * (512 / 768)
            if len(pts) and boxes[part] is not None:
                hits[part].append(_inside(pts, boxes[part], tol=2).mean())
    for part, h in hits.items():
        assert len(h) >= 20 and np.mean(h) > 0.97, (part, np.mean(h) if h else None)
