"""The synthetic studio's cast: speakers, scripts and the key poses they strike on key words.

Everything here is written for the kit (no downloaded data). Speakers differ in body shape, voice and
clothing so that train/test splits across speakers mean something; scripts are short texts on
several topics, in English and Mandarin (the paper's two languages), full of the key words of
section 3.1 ("huge, tiny, up, down, me, you, and so on").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from s2v.body.poses import set_joint
from s2v.params import ParamLayout


@dataclass(frozen=True)
class StudioSpeaker:
    name: str
    betas: tuple[float, ...]                 # shape (10) of the free/official model
    voice: str = "en-us"                     # eSpeak NG voice
    pitch: int = 50                          # eSpeak pitch 0-100
    rate: int = 160                          # words per minute
    skin: tuple[float, float, float] = (0.87, 0.69, 0.56)
    shirt: tuple[float, float, float] = (0.20, 0.33, 0.62)
    trousers: tuple[float, float, float] = (0.18, 0.18, 0.22)
    hair: tuple[float, float, float] = (0.18, 0.12, 0.08)
    shoes: tuple[float, float, float] = (0.10, 0.08, 0.07)
    gesture: float = 1.0                     # gesture amplitude
    right_handed: bool = True


SPEAKERS: dict[str, StudioSpeaker] = {
    "ada": StudioSpeaker("ada", (-0.6, 0.8, -0.4, 0.3, 0, 0, 0, 0, 0, 0), voice="en-us+f3", pitch=62, rate=155,
                         skin=(0.90, 0.74, 0.62), shirt=(0.70, 0.16, 0.20), trousers=(0.15, 0.16, 0.25),
                         hair=(0.35, 0.20, 0.10), gesture=1.1),
    "ben": StudioSpeaker("ben", (0.9, -0.6, 0.5, -0.2, 0, 0, 0, 0, 0, 0), voice="en-us", pitch=40, rate=165,
                         skin=(0.72, 0.52, 0.40), shirt=(0.18, 0.45, 0.30), trousers=(0.22, 0.20, 0.18),
                         hair=(0.08, 0.06, 0.05), gesture=0.9, right_handed=False),
    "chen": StudioSpeaker("chen", (0.3, 0.2, -0.8, 0.4, 0, 0, 0, 0, 0, 0), voice="cmn", pitch=45, rate=150,
                          skin=(0.93, 0.78, 0.64), shirt=(0.90, 0.90, 0.88), trousers=(0.10, 0.12, 0.20),
                          hair=(0.05, 0.05, 0.05), gesture=1.0),
}

SCRIPTS: dict[str, tuple[str, str]] = {  # name: (language, text)
    "economy": ("en", "The economy is huge, and every part of it matters to you and me. Prices went up this "
                      "year, while wages stayed low. Small shops felt it first. A tiny change in interest rates "
                      "can lift a whole market high, or bring it down. So I want you to watch the numbers, not "
                      "the noise."),
    "sports": ("en", "What a season it was. The team started low, down in the table, and nobody believed in them. "
                     "Then a tiny player from a small town scored a huge goal. The crowd went up on their feet. "
                     "Me, I was shouting with everyone. You could feel the whole stadium rise."),
    "science": ("en", "Look at the sky tonight. Some stars are huge, far bigger than our sun, and some are tiny. "
                      "Light from a star high above you may be older than the earth. When a giant star runs low "
                      "on fuel, it falls down on itself. You and I are made of what it leaves behind."),
    "weather": ("en", "Good morning. Temperatures will be low at first, then go up by noon. A huge front moves "
                      "in from the west, and you may see a tiny bit of rain. Winds stay high on the coast. Me? "
                      "I would take an umbrella."),
    "history": ("en", "Two hundred years ago, a small village stood here by the river. People worked the low fields "
                      "and carried grain up the hill to the mill. Then the railway came, and the village grew huge "
                      "within a single lifetime. My grandmother remembered the first train. She told me the whole "
                      "town came down to the station to watch it arrive."),
    "health": ("en", "Sleep is not a luxury. When you sleep too little, your blood pressure can go up, and your "
                     "mood goes down. Even a small walk each day makes a big difference. I know it sounds tiny, but "
                     "ten minutes is enough to start. Keep your sugar low, drink water, and let your body rest."),
    "travel": ("en", "From the top of the mountain, the lake below looks tiny, like a coin on the grass. The climb is "
                     "long and the air is thin up high. You will want good boots and a warm coat. Me, I always pack "
                     "too much. The view, though, is huge, and worth every step of the way down."),
    "technology": ("en", "Every phone in your pocket holds a computer that would once have filled a whole room. Chips "
                         "keep getting smaller, and the numbers keep going up. But a tiny flaw in the code can bring "
                         "a large system down. So when you hear that a program is perfect, ask me how it was tested."),
    "city": ("zh", "这座城市很大，人口很多。我每天早上坐地铁上班，你也许也是这样。房价一直在上涨，但是工资涨得很小。"
                   "我们需要更高的目标，也要看到下面的困难。"),
}

#: Every English script, joined as a ``script`` of :class:`~s2v.studio.record.StudioConfig` takes them (the presets'
#: ``"ALL_ENGLISH"``, :mod:`s2v.config`).
ALL_ENGLISH = "+".join(n for n, (lang, _) in SCRIPTS.items() if lang == "en")

#: Key word -> key pose name (English words lower-case; Mandarin by character).
KEYWORDS: dict[str, str] = {
    "huge": "wide", "big": "wide", "bigger": "wide", "giant": "wide", "whole": "wide", "large": "wide",
    "tiny": "pinch", "small": "pinch", "little": "pinch",
    "high": "raise", "up": "raise", "rise": "raise", "lift": "raise",
    "low": "press", "down": "press", "falls": "press", "fall": "press",
    "me": "self", "i": "self", "my": "self",
    "you": "point", "your": "point",
    "大": "wide", "小": "pinch", "高": "raise", "上": "raise", "低": "press", "下": "press",
    "我": "self", "你": "point",
}
#: Probability that a key word is posed when spoken (frequent words like "I" less often; section 3.3).
KEYWORD_PROBABILITY: dict[str, float] = {"i": 0.3, "my": 0.3, "me": 0.8, "you": 0.6, "your": 0.5, "我": 0.4, "上": 0.6}
POSE_SESSION_WORDS = {"en": ("huge", "tiny", "high", "low", "me", "you"), "zh": ("大", "小", "高", "低", "我", "你")}


def _rv(*rots: tuple[str, float]) -> np.ndarray:
    """Compose rotations given as (axis, radians), applied first to last, into one axis-angle."""
    R = Rotation.identity()
    for axis, ang in rots:
        R = Rotation.from_euler(axis, ang) * R
    return R.as_rotvec()


def rest_pose(layout: ParamLayout | None = None, mirror: bool = False) -> np.ndarray:
    """The speaker's neutral standing pose (106-vector): arms relaxed at the sides, elbows soft."""
    lay = layout or ParamLayout()
    v = np.zeros(lay.frame_dim, np.float32)
    bp = np.zeros(63, np.float32)
    set_joint(bp, "left_shoulder", _rv(("z", -1.25), ("x", -0.12)))
    set_joint(bp, "right_shoulder", _rv(("z", 1.25), ("x", -0.12)))
    set_joint(bp, "left_elbow", [0, -0.35, 0])
    set_joint(bp, "right_elbow", [0, 0.35, 0])
    set_joint(bp, "left_wrist", [0, 0, -0.1])
    set_joint(bp, "right_wrist", [0, 0, 0.1])
    v[lay.slices()["body_pose"]] = bp
    return v


def key_pose(name: str, layout: ParamLayout | None = None, right_handed: bool = True) -> np.ndarray:
    """A still key pose (106-vector) by name: wide, pinch, raise, press, self, point."""
    lay = layout or ParamLayout()
    v = rest_pose(lay)
    bp = v[lay.slices()["body_pose"]].copy()
    D = "right" if right_handed else "left"  # dominant side
    s = 1.0 if D == "right" else -1.0  # mirror factor: right side rotations about z/y flip sign

    def arm(side, down, fwd, elbow, twist=0.0):
        # twist: internal rotation about the upper arm (same sign on both sides: SMPL-X mirrors
        # axis-angle across the body as (x, y, z) -> (x, -y, -z)); brings the hand towards the midline
        sg = 1.0 if side == "right" else -1.0
        set_joint(bp, f"{side}_shoulder", _rv(("x", twist), ("z", sg * down), ("x", -fwd)))
        set_joint(bp, f"{side}_elbow", [0, sg * elbow, 0])

    hands = {}
    if name == "wide":        # both arms open wide: "huge"
        arm("left", 0.45, 0.35, 0.25)
        arm("right", 0.45, 0.35, 0.25)
        hands = {"left": -1.5, "right": -1.5}
    elif name == "pinch":     # both hands close together in front of the chest: "tiny"
        arm("left", 1.0, 0.85, 1.6, twist=1.25)
        arm("right", 1.0, 0.85, 1.6, twist=1.25)
        hands = {"left": 1.0, "right": 1.0}
    elif name == "raise":     # dominant arm up: "high"
        arm(D, -0.9, 0.35, 0.3)
        hands = {D: -1.0}
    elif name == "press":     # dominant hand pushes down in front: "low"
        arm(D, 0.95, 0.7, 0.6)
        set_joint(bp, f"{D}_wrist", [0, 0, -s * 0.6])
        hands = {D: -1.2}
    elif name == "self":      # dominant hand on the chest: "me"
        arm(D, 1.05, 0.5, 2.2, twist=1.3)
        hands = {D: -0.8}
    elif name == "point":     # dominant arm points at the listener: "you"
        arm(D, 1.05, 1.35, 0.15)
        hands = {D: 1.2}
    else:
        raise ValueError(f"unknown key pose {name!r}")
    v[lay.slices()["body_pose"]] = bp
    for side, c in hands.items():
        v[lay.slices()[f"{side}_hand_pose"].start] = c
    return v


KEY_POSE_NAMES = ("wide", "pinch", "raise", "press", "self", "point")


@dataclass
class KeyPoseEvent:
    word: str
    pose: str
    start: float
    end: float
    frame: int
    hold_frames: int
    ramp_frames: int
    session: bool = False  # struck during the posing session at the end (section 3.1)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Script:
    name: str
    language: str
    text: str
    pose_session: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def named(cls, name: str, pose_session: bool = True) -> "Script":
        """A script by name; several joined with ``+`` (same language) read one after the other."""
        names = name.split("+")
        unknown = [n for n in names if n not in SCRIPTS]
        if unknown:
            raise KeyError(f"unknown script {unknown[0]!r}; choose from {sorted(SCRIPTS)} or pass your own text")
        langs = {SCRIPTS[n][0] for n in names}
        if len(langs) > 1:
            raise ValueError(f"scripts {names} mix languages {sorted(langs)}")
        lang = langs.pop()
        text = (" " if lang == "en" else "").join(SCRIPTS[n][1] for n in names)
        return cls(name, lang, text, POSE_SESSION_WORDS[lang] if pose_session else ())
