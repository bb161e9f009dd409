"""Speech: text-to-speech with timestamps, and (later) recognition, alignment and features."""
