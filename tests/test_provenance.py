"""Say what is synthetic (issue 31): the visible mark and the metadata, below the synthesis that uses them."""
import numpy as np
import pytest

from s2v.provenance import MARK, Provenance, describe, learned_from_real_recordings, mark_frame, mark_region


@pytest.mark.parametrize("shape", [(128, 128), (384, 320), (720, 1280)])
def test_the_mark_sits_in_the_lower_right_corner_at_the_frames_scale(shape):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    before = frame.copy()
    out = mark_frame(frame)
    assert np.array_equal(frame, before)                              # the input is untouched
    rows, cols = mark_region(shape)
    h, w = shape
    assert rows.stop >= h - h // 20 and cols.stop >= w - w // 20       # at the corner ...
    assert (rows.stop - rows.start) <= max(h / 10, 16) and (cols.stop - cols.start) < w / 2   # ... and small,
    assert 0.02 < (rows.stop - rows.start) / h < 0.12                  # scaled with the frame (legible at 128 px)
    outside = np.ones(shape, bool)
    outside[rows, cols] = False
    assert np.array_equal(out[outside], frame[outside])               # nothing else changes
    box = out[rows, cols].astype(int)
    white = (box.min(-1) > 200).mean()
    assert 0.05 < white < 0.6                                         # letters, readable: white on darkened ground
    assert box[box.min(-1) <= 200].mean() < frame[rows, cols].mean()   # the ground darkened


def test_metadata_round_trip_and_what_a_file_without_it_says(tmp_path):
    from s2v.video import stream_video, write_video

    prov = Provenance.make("someone", "audio", b"\x00\x01", tool="gan render", marked=True)
    frames = [np.full((32, 48, 3), i * 20, np.uint8) for i in range(6)]
    for fn, name in ((write_video, "w.mp4"), (stream_video, "s.mp4")):
        fn(iter(frames), tmp_path / name, 25, metadata=prov.tags())
        d = describe(tmp_path / name)
        assert d["synthetic"] is True and d["s2v"]["tool"] == "gan render" and d["s2v"]["marked"] == "true"
        assert d["s2v"]["source_sha256"] == prov.source_sha256 and d["tags"]["comment"] == prov.sentence()
    write_video(iter(frames), tmp_path / "plain.mp4", 25)
    assert describe(tmp_path / "plain.mp4")["synthetic"] is None
    assert MARK == "SYNTHETIC"


def test_speakers_learned_from_real_recordings_are_marked_by_default(tiny_recording, tmp_path):
    import json
    import shutil

    from s2v.run import Run
    from s2v.synthesis.speaker import shipped_speaker

    rec, _ = tiny_recording
    assert not learned_from_real_recordings(rec.run)                  # the studio
    assert not learned_from_real_recordings(Run(shipped_speaker()))    # the shipped studio speaker
    shutil.copytree(rec.run.root, tmp_path / "real")
    run = Run(tmp_path / "real")
    m = json.loads((run.root / "manifest.json").read_text())
    m["artifacts"]["camera"]["config"] = {"source": "/videos/me.mp4", "fps": 25.0}
    (run.root / "manifest.json").write_text(json.dumps(m))
    assert learned_from_real_recordings(run)
