"""Body models: the official SMPL-X files when present, the kit's free compatible model otherwise."""
from s2v.body.joints import JOINT_NAMES, PARENTS, bone_lengths, keypoint_names
from s2v.body.model import (BodyModel, BodyModelNotFound, BodyOutput, default_device, free_model_path,
                            official_model_path, resolve_backend)

__all__ = ["BodyModel", "BodyModelNotFound", "BodyOutput", "JOINT_NAMES", "PARENTS", "bone_lengths",
           "default_device", "free_model_path", "keypoint_names", "official_model_path", "resolve_backend"]
