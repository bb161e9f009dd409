"""The portrait renderer: a real speaker at the recording's own resolution, the face first.

Stage 5 beside the part-aware GAN (:mod:`s2v.gan`): where the GAN paints a whole frame at its training width,
this cuts the face from the recording at its own size, warps a retrieved reference face of the same person
onto the target pose by the keypoints and lets a small network correct the warp and paint what the reference
lacks (:mod:`~s2v.portrait.network`); the frame comes from reference frames of the recording. Modules:
:mod:`~s2v.portrait.regions` (boxes, crops, pastes), :mod:`~s2v.portrait.look` (one exposure for clips of a
sitting), :mod:`~s2v.portrait.data`, :mod:`~s2v.portrait.train`, :mod:`~s2v.portrait.render`,
:mod:`~s2v.portrait.evaluate` (issue 27's figures) and :mod:`~s2v.portrait.stage` (on run folders).
"""
