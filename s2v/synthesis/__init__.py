"""Synthesis: a trained speaker (:mod:`.speaker`) speaks new audio or text (:mod:`.synthesize`)."""
