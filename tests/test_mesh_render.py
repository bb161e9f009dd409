"""Headless pyrender (EGL/llvmpipe here) renders the body where the camera projects it."""
import numpy as np
import torch

from s2v.body.poses import named_pose
from s2v.render.preview import body_views, frontal_camera, params_from_sliders


def test_mesh_silhouette_matches_projected_vertices(body_model):
    cam = frontal_camera(body_model, 256)
    p = named_pose("arms_down")
    mesh, skel = body_views(body_model, p, cam)
    fg = np.any(mesh < 250, axis=-1)
    ys, xs = np.nonzero(fg)
    with torch.no_grad():
        uv = cam.project(body_model(p).vertices[0].numpy())
    assert abs(xs.min() - uv[:, 0].min()) < 3 and abs(xs.max() - uv[:, 0].max()) < 3
    assert abs(ys.min() - uv[:, 1].min()) < 3 and abs(ys.max() - uv[:, 1].max()) < 3
    assert skel.shape == mesh.shape and skel.any()


def test_explorer_sliders_map_to_parameters(body_model):
    p = params_from_sliders({"jaw open": 0.3, "left elbow (bend)": 1.0})
    assert p.jaw_pose[0, 0] == np.float32(0.3)
    assert p.body_pose[0, 3 * 17 + 1] == np.float32(-1.0)   # left elbow is body joint 18 -> index 17, mirrored


def test_explorer_sliders_mean_the_same_on_both_sides(body_model):
    """"left shoulder (down)" lowers the left wrist as much as "right shoulder (down)" lowers the right one (it
    lifted it 0.42 m), and "bend" bends both elbows towards the body."""
    names = body_model.keypoint_names
    lw, rw = names.index("left_wrist"), names.index("right_wrist")

    def wrists(**sliders):
        with torch.no_grad():
            k = body_model.keypoints(params_from_sliders(sliders, body_model.layout))[0].numpy()
        return k[lw], k[rw]

    l0, r0 = wrists()
    l1, _ = wrists(**{"left shoulder (down)": 1.0})
    _, r1 = wrists(**{"right shoulder (down)": 1.0})
    assert l1[1] < l0[1] - 0.3 and r1[1] < r0[1] - 0.3                    # both wrists go down
    assert abs((l0[1] - l1[1]) - (r0[1] - r1[1])) < 0.02                 # by the same amount (mirror images)
    l2, _ = wrists(**{"left elbow (bend)": 1.5})
    _, r2 = wrists(**{"right elbow (bend)": 1.5})
    assert abs(l2[0] - l0[0]) > 0.1 and abs(abs(l2[0]) - abs(r2[0])) < 0.02
    assert abs(l2[1] - r2[1]) < 0.02 and abs(l2[2] - r2[2]) < 0.02


def test_pose_explorer_widget_updates_the_image(body_model):
    from s2v.render.preview import pose_explorer

    box = pose_explorer(body_model, size=128)
    before = bytes(box.image.value)
    box.sliders["left shoulder (down)"].value = -1.2
    assert bytes(box.image.value) != before
