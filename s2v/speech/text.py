"""Text features for the speech-to-pose LSTM (section 3.4, "Text to Pose").

The paper feeds the words themselves, spread over each word's time span, with zeros in the pauses; for
Chinese it first converts each character to pinyin, so that "2 characters have the same spelling if they
have the same pronunciations".

The encoding here is **character-level over the spelling** rather than a word vocabulary, because the
paper's own argument is that spelling carries pronunciation (and recognition errors are "words with
similar pronunciations ... likely to have similar spelling too"), and because a fixed vocabulary cannot
represent words that were never in the training scripts. Per video frame inside a word:

* one-hot of the letter being spoken (the word's letters spread evenly over its span), 27 dims
  (a-z and "other");
* the word's bag of letters (counts / length), 27 dims, so the whole word is visible at every frame;
* progress through the word (0..1) and the word length / 10: 2 dims.

That is :data:`TEXT_DIM` = 56; frames in pauses are all zeros. Mandarin words become toneless pinyin
(``pypinyin``), so homophones get identical features.
"""
from __future__ import annotations

import re

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"
TEXT_DIM = 56


#: CJK ideographs (Mandarin text).
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """``"zh"`` if the text has a CJK character, else ``"en"``."""
    return "zh" if CJK.search(text) else "en"


def spelling(word: str) -> str:
    """Lower-case letters of a word; CJK characters become their toneless pinyin."""
    if any("\u4e00" <= c <= "\u9fff" for c in word):
        from pypinyin import lazy_pinyin

        word = "".join(lazy_pinyin(word))
    return re.sub(r"[^a-z]", "", word.lower())


def _letter_index(c: str) -> int:
    i = LETTERS.find(c)
    return i if i >= 0 else 26


def text_features(words: list[dict], num_frames: int, fps: float) -> np.ndarray:
    """(num_frames, 56) features from ``[{"word", "start", "end"}, ...]`` (seconds)."""
    out = np.zeros((num_frames, TEXT_DIM), np.float32)
    centres = (np.arange(num_frames) + 0.5) / fps
    for w in words:
        s = spelling(w["word"])
        if not s:
            continue
        inside = np.nonzero((centres >= w["start"]) & (centres < w["end"]))[0]
        if len(inside) == 0:  # a word shorter than a frame still marks its nearest frame
            k = int(np.clip(round((w["start"] + w["end"]) / 2 * fps - 0.5), 0, num_frames - 1))
            inside = np.array([k])
        bag = np.zeros(27, np.float32)
        for c in s:
            bag[_letter_index(c)] += 1.0 / len(s)
        prog = (centres[inside] - w["start"]) / max(w["end"] - w["start"], 1e-6)
        prog = np.clip(prog, 0, 1 - 1e-6)
        letters = np.array([_letter_index(s[int(p * len(s))]) for p in prog])
        out[inside, letters] = 1.0
        out[inside, 27:54] = bag
        out[inside, 54] = prog
        out[inside, 55] = len(s) / 10.0
    return out
