"""The speech-to-pose LSTM of section 3.4: loss, delay, checkpoints with exact resume, chunked inference."""
import numpy as np
import pytest
import torch

from s2v.params import ParamLayout
from s2v.pose_lstm import PoseLSTMConfig, Sequence, Trainer, load_model, predict, target_weights

FPS = 25.0


def _synthetic(n_seq=4, T=150, seed=0, lead=5):
    """Targets follow the inputs ``lead`` frames *later* in the input: only a delayed network can see them."""
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(n_seq):
        t = np.arange(T + lead)
        x = np.stack([np.sin(t / (3 + k) + rng.uniform(0, 6)) for k in range(6)], 1).astype(np.float32)
        y = np.zeros((T, 8), np.float32)
        y[:, :6] = x[lead:lead + T] * 0.5
        y[:, 6:] = x[lead:lead + T, :2] ** 2
        seqs.append(Sequence(x[:T], y, FPS, f"s{i}"))
    return seqs


def _cfg(**kw):
    base = dict(hidden=32, layers=2, delay=0.2, batch_size=8, window=2.0, max_steps=60, eval_every=20,
                checkpoint_every=5, patience=50, seed=1, device="cpu")
    base.update(kw)
    return PoseLSTMConfig(**base)


def test_paper_defaults():
    c = PoseLSTMConfig()
    assert (c.hidden, c.layers, c.delay, c.lr, c.batch_size) == (300, 2, 0.2, 1e-3, 100)
    assert c.part_weights == {"body": 1.0, "hands": 4.0, "mouth": 100.0, "face": 100.0}
    w = target_weights("smplx", 106, c)
    np.testing.assert_array_equal(w, ParamLayout().part_weights())
    assert (target_weights("keypoints2d", 274, c) == 1).all()


def test_loss_decreases_and_the_delay_lets_it_see_ahead():
    seqs = _synthetic()
    tr = Trainer(seqs[:3], seqs[3:], _cfg(max_steps=150), target="keypoints2d")
    st = tr.train(progress=False)
    losses = np.array([l for _, l in st.history])
    assert losses[-10:].mean() < 0.3 * losses[:10].mean()
    pred = predict(tr.best_model(), seqs[3].inputs, FPS, delay=0.2)
    assert pred.shape == seqs[3].targets.shape
    r = np.corrcoef(pred[20:, 0], seqs[3].targets[20:, 0])[0, 1]
    assert r > 0.8, r


def test_resume_after_interruption_gives_identical_weights(tmp_path):
    seqs = _synthetic(seed=2)
    straight = Trainer(seqs[:3], seqs[3:], _cfg(max_steps=12), "keypoints2d", checkpoint=tmp_path / "a.pt")
    straight.train(progress=False)
    first = Trainer(seqs[:3], seqs[3:], _cfg(max_steps=12), "keypoints2d", checkpoint=tmp_path / "b.pt")
    first.train(steps=7, progress=False)                 # "interrupted" after step 7 (checkpoint at 7)
    del first
    resumed = Trainer(seqs[:3], seqs[3:], _cfg(max_steps=12), "keypoints2d", checkpoint=tmp_path / "b.pt")
    assert resumed.state.step == 7
    resumed.train(progress=False)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert straight.state.history == resumed.state.history


def test_chunked_inference_equals_one_pass(tmp_path):
    seqs = _synthetic(seed=3, T=300)
    tr = Trainer(seqs[:2], [], _cfg(max_steps=5), "keypoints2d")
    tr.train(progress=False)
    path = tr.export(tmp_path / "model.pt")
    m, meta = load_model(path)
    assert meta["target"] == "keypoints2d" and meta["fps"] == FPS
    whole = predict(m, seqs[0].inputs, FPS, chunk=10_000)
    pieces = predict(m, seqs[0].inputs, FPS, chunk=37)
    np.testing.assert_allclose(pieces, whole, atol=1e-5)
    assert len(whole) == 300


def test_early_stopping_keeps_the_best_weights():
    seqs = _synthetic(seed=4)
    rng = np.random.default_rng(0)
    noise = [Sequence(s.inputs, rng.normal(size=s.targets.shape).astype(np.float32) * 5, FPS) for s in seqs[3:]]
    tr = Trainer(seqs[:3], noise, _cfg(max_steps=400, eval_every=5, patience=3), "keypoints2d")
    st = tr.train(progress=False)
    assert st.stopped_early and st.step < 400
    assert st.best_step <= st.step - 3 * 5
    best = tr.best_model()
    assert best is not tr.model


def test_bad_training_data_is_a_clear_error():
    with pytest.raises(ValueError, match="no training sequences"):
        Trainer([], [], _cfg())
    with pytest.raises(ValueError, match="needs 106 numbers per frame"):
        Trainer(_synthetic()[:1], [], _cfg())


def test_parallel_segments_match_the_exact_pass():
    torch.manual_seed(0)
    from s2v.pose_lstm import PoseLSTM

    m = PoseLSTM(28, 106, hidden=64).eval()
    x = np.random.default_rng(1).normal(size=(3001, 28)).astype(np.float32)   # an odd length
    exact = predict(m, x, 25.0, parallel=False)
    fast = predict(m, x, 25.0, parallel=True, segment=10.0, warmup=3.0)
    assert fast.shape == exact.shape == (3001, 106)
    assert np.abs(fast - exact).max() < 1e-4
    np.testing.assert_array_equal(predict(m, x[:300], 25.0), predict(m, x[:300], 25.0, parallel=False))
