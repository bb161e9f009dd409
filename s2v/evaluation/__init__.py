"""Evaluation (section 4): the field's motion metrics (:mod:`.motion`) and the paper's experiments on held-out
studio data (:mod:`.experiments`)."""
