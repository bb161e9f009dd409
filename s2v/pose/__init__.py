"""Speech to pose (section 3.4): the LSTM (:mod:`.lstm`) and its training over run folders (:mod:`.stage`)."""
