"""Fitting (section 3.2): 2D keypoints of a recording (:mod:`.detect`) and SMPL-X fitted to them (:mod:`.fit`)."""
