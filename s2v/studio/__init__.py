"""The synthetic studio: a free speaker recording with exact ground truth (the kit's embedded default data)."""
from s2v.studio.cast import KEY_POSE_NAMES, SCRIPTS, SPEAKERS, StudioSpeaker, key_pose, rest_pose
from s2v.studio.record import Recording, StudioConfig, record

__all__ = ["KEY_POSE_NAMES", "SCRIPTS", "SPEAKERS", "Recording", "StudioConfig", "StudioSpeaker", "key_pose", "record",
           "rest_pose"]
