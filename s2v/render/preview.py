"""Previews of a body model: mesh render and colourised skeleton side by side, and a pose explorer."""
from __future__ import annotations

import numpy as np
import torch

from s2v.camera import Camera
from s2v.keypoints import from_smplx
from s2v.params import SMPLXParams
from s2v.render.skeleton import render_skeleton


def frontal_camera(model, size: int = 512, params: SMPLXParams | None = None) -> Camera:
    """A camera framing the whole body of ``params`` (T-pose if None) from the front."""
    from s2v.body.poses import named_pose

    p = params if params is not None else named_pose("t_pose", model.layout)
    with torch.no_grad():
        v = model(p).vertices[0].cpu().numpy()
    return Camera.framing(v, size, size)


def body_views(model, params: SMPLXParams, camera: Camera, renderer=None) -> tuple[np.ndarray, np.ndarray]:
    """(mesh image, skeleton label image) of the first frame of ``params``."""
    from s2v.render.mesh import MeshRenderer

    with torch.no_grad():
        out = model(params.frames(slice(0, 1)))
    verts = out.vertices[0].cpu().numpy()
    kp = from_smplx(camera.project(out.keypoints[0].cpu().numpy()), model.use_face_contour)
    skel = render_skeleton(kp, camera.width, camera.height)
    own = renderer is None
    renderer = renderer or MeshRenderer(camera)
    try:
        mesh, _ = renderer.render(verts, model.faces)
    finally:
        if own:
            renderer.close()
    return mesh, skel


#: Sliders of the pose explorer: label -> (field, index in that field, min, max, sign). The left and right
#: limbs of SMPL-X turn about mirrored axes, so a slider that means the same on both sides ("down", "bend")
#: multiplies its value by ``sign`` (-1 on the left) before it goes into the parameters.
EXPLORER_SLIDERS = {
    "left shoulder (down)": ("body_pose", 3 * 15 + 2, -1.0, 1.6, -1.0),
    "right shoulder (down)": ("body_pose", 3 * 16 + 2, -1.0, 1.6, 1.0),
    "left elbow (bend)": ("body_pose", 3 * 17 + 1, -0.2, 2.4, -1.0),
    "right elbow (bend)": ("body_pose", 3 * 18 + 1, -0.2, 2.4, 1.0),
    "head nod": ("body_pose", 3 * 14 + 0, -0.6, 0.6, 1.0),
    "jaw open": ("jaw_pose", 0, 0.0, 0.5, 1.0),
    "expression 1": ("expression", 0, -3.0, 3.0, 1.0),
    "left hand PCA 1": ("left_hand_pose", 0, -3.0, 3.0, 1.0),
}


def params_from_sliders(values: dict[str, float], layout=None) -> SMPLXParams:
    """One frame of parameters from explorer slider values (pure; the widget calls this)."""
    p = SMPLXParams.zeros(1, layout)
    for label, v in values.items():
        field, idx, _, _, sign = EXPLORER_SLIDERS[label]
        getattr(p, field)[0, idx] = sign * v
    return p


def pose_explorer(model, size: int = 384):
    """An ipywidgets UI: sliders for a few joints, the mesh and the skeleton image side by side."""
    import ipywidgets as w

    from s2v.render.mesh import MeshRenderer

    camera = frontal_camera(model, size)
    renderer = MeshRenderer(camera)
    sliders = {k: w.FloatSlider(value=0.0, min=lo, max=hi, step=0.05, description=k,
                                style={"description_width": "150px"}, continuous_update=False)
               for k, (_, _, lo, hi, _) in EXPLORER_SLIDERS.items()}
    image = w.Image(format="png")

    def update(_=None):
        import cv2

        p = params_from_sliders({k: s.value for k, s in sliders.items()}, model.layout)
        mesh, skel = body_views(model, p, camera, renderer)
        ok, png = cv2.imencode(".png", cv2.cvtColor(np.concatenate([mesh, skel], 1), cv2.COLOR_RGB2BGR))
        image.value = png.tobytes()

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    box = w.HBox([w.VBox(list(sliders.values())), image])
    box.sliders, box.image, box.update = sliders, image, update  # handles for tests and notebooks
    return box
