"""The generative gesture model (s2v.pose.flow, issue 28): samples that follow the speech, differ by seed, and the
stage around it (training into a run, resume, `pose evaluate`, synthesis with --seed)."""
import shutil

import numpy as np
import pytest
import torch

from s2v.params import ParamLayout
from s2v.pose.flow import (WORD_CHANNELS, FlowTrainer, GestureFlowConfig, load_flow, part_balance, sample,
                           word_timing)
from s2v.pose.lstm import Sequence
from s2v.run import Run


def toy(T: int, rng, fps: float = 20.0):
    """Speech with a pulse about every second; the 'speaker' answers each pulse with a bump of dim 1 (always up)
    and a bump of dim 0 whose sign is a coin flip: what the speech decides and what it does not."""
    x = np.zeros((T, 1 + WORD_CHANNELS), np.float32)
    y = np.zeros((T, 2), np.float32)
    t = np.arange(T)
    pulses = np.arange(10, T - 10, 20)
    pulses = pulses + rng.integers(-4, 5, len(pulses))
    for p in pulses:
        x[:, 0] += np.exp(-0.5 * ((t - p) / 1.5) ** 2)
        bump = np.exp(-0.5 * ((t - p) / 3.0) ** 2)
        y[:, 0] += rng.choice([-1, 1]) * bump
        y[:, 1] += bump
    return Sequence(x, y, fps, "toy"), pulses


TOY = GestureFlowConfig(channels=32, blocks=4, window=3.0, batch_size=16, max_steps=400, lr=2e-3, ema=0.99,
                        word_dropout=0.0, cond_dropout=0.0, sample_steps=8, device="cpu")


def test_word_timing_marks_words_and_their_onsets():
    w = word_timing([{"word": "a", "start": 0.5, "end": 1.0}, {"word": "b", "start": 1.2, "end": 1.5}], 20, 10.0)
    assert w.shape == (20, 2)
    assert np.flatnonzero(w[:, 0]).tolist() == [5, 6, 7, 8, 9, 12, 13, 14]
    assert w[4, 1] == pytest.approx(np.exp(-0.5), abs=1e-6) and w[5, 1] == pytest.approx(np.exp(-0.5), abs=1e-6)
    assert w[8, 1] < 1e-6 and w[17, 1] < 1e-6


def test_each_part_weighs_the_same_in_the_loss():
    lay = ParamLayout()
    w = part_balance(lay)
    assert w.mean() == pytest.approx(1.0)
    sums = [w[lay.part_index(p)].sum() for p in lay.part_fields()]
    assert np.allclose(sums, 106 / 4)
    assert np.array_equal(part_balance(lay, 7), np.ones(7, np.float32))


def test_samples_take_both_answers_the_speech_leaves_open_and_follow_what_it_decides():
    """Regression on this data predicts dim 0 = 0 at every pulse (the average of +1 and -1): stillness. The flow's
    samples make a full bump at each pulse, up in some seeds and down in others, keep the decided bump of dim 1,
    and stay still between pulses."""
    torch.manual_seed(0)
    tr = FlowTrainer([toy(2000, np.random.default_rng(0))[0]], TOY)
    tr.train(progress=False)
    test, pulses = toy(200, np.random.default_rng(5))
    S = np.stack([sample(tr.ema, test.inputs, seed=k, steps=8) for k in range(8)])
    at = S[:, pulses]
    assert np.abs(at[..., 0]).mean() > 0.6                            # a full gesture, not the average (0)
    assert np.abs(at[..., 0].mean(0)).mean() < 0.5 * np.abs(at[..., 0]).mean()   # ... whose side the seed picks
    both = [(s > 0).any() and (s < 0).any() for s in np.sign(at[..., 0]).T]
    assert np.mean(both) >= 0.6
    assert np.abs(at[..., 1] - 1.0).mean() < 0.3                       # what the speech decides, every seed
    far = np.ones(len(test.targets), bool)
    for p in pulses:
        far[max(0, p - 6):p + 7] = False
    assert far.sum() > 40 and np.abs(S[:, far]).mean() < 0.2           # still between pulses
    assert np.array_equal(S[0], sample(tr.ema, test.inputs, seed=0, steps=8))   # same seed, same motion
    odd = sample(tr.ema, test.inputs[:37], seed=0, steps=8)           # any length: fully convolutional
    assert odd.shape == (37, 2) and np.isfinite(odd).all()


def test_an_interrupted_training_resumes_exactly(tmp_path):
    seqs = [toy(300, np.random.default_rng(1))[0]]
    cfg = GestureFlowConfig.preset("tiny", device="cpu")
    whole = FlowTrainer(seqs, cfg)
    whole.train(progress=False)
    ck = tmp_path / "flow_checkpoint.pt"
    first = FlowTrainer(seqs, cfg, checkpoint=ck)
    first.train(steps=3, progress=False)
    assert ck.exists() and first.state.step == 3
    again = FlowTrainer(seqs, cfg, checkpoint=ck)
    assert again.state.step == 3
    again.train(progress=False)
    for a, b in zip(whole.ema.state_dict().values(), again.ema.state_dict().values()):
        assert torch.equal(a, b)
    again.export(tmp_path / "flow.pt")
    m, meta = load_flow(tmp_path / "flow.pt")
    assert meta["kind"] == "flow" and np.array_equal(sample(m, seqs[0].inputs, seed=2, steps=4),
                                                     sample(again.ema, seqs[0].inputs, seed=2, steps=4))


def test_flow_into_a_run_evaluated_and_sampled_by_seed(tiny_recording, tmp_path, capsys):
    """`s2v pose --kind flow` writes pose/flow.pt; `pose evaluate` puts two seeds' samples in the table with how
    far apart they are; the flow without word times (speech with no transcript) still samples."""
    from s2v.cli import main
    from s2v.evaluation.heldout import evaluate_span
    from s2v.pose.stage import RunSpan, run_sequence

    rec, cfg = tiny_recording
    shutil.copytree(rec.run.root, tmp_path / "r")
    run = Run(tmp_path / "r")
    secs = rec.num_frames / cfg.fps
    assert main(["pose", "--kind", "flow", "--preset", "tiny", "--train", f"r:0-{secs - 2.5:g}", "--out", "r",
                 "--runs-dir", str(tmp_path), "--device", "cpu"]) == 0
    assert run.has("pose_flow") and (tmp_path / "r" / "pose" / "flow_checkpoint.pt").exists()
    assert run.manifest["artifacts"]["pose_flow"]["steps"] == 6
    res = evaluate_span(None, RunSpan(run, secs - 2.5, None), flow_path=run.path("pose_flow"), seed=4)
    a, b = res.rows["flow (seed 4)"], res.rows["flow (seed 5)"]
    assert a["seeds apart (cm)"] == b["seeds apart (cm)"] > 0 and "prediction" not in res.rows
    assert np.isnan(res.rows["truth"]["seeds apart (cm)"]) and res.pred.shape == (res.frames, 106)
    assert main(["pose", "evaluate", "--run", "r", "--test", f"{secs - 2.5:g}-", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "flow (seed 0)" in out and "flow (seed 1)" in out and "seeds apart" in out
    flow, _ = load_flow(run.path("pose_flow"))
    x = run_sequence(run, "audio+words").inputs
    assert x.shape[1] == 28 + WORD_CHANNELS and x[:, 28].max() == 1.0   # inside a word
    assert np.isfinite(sample(flow, x, seed=0, steps=4, words=False)).all()
    assert not np.array_equal(sample(flow, x, seed=0, steps=4, guidance=2.0), sample(flow, x, seed=0, steps=4))
