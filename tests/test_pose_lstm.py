"""The speech-to-pose LSTM of section 3.4: loss, delay, checkpoints with exact resume, chunked inference."""
import numpy as np
import pytest
import torch

from s2v.params import ParamLayout
from s2v.pose.lstm import PoseLSTMConfig, Sequence, Trainer, load_model, predict, target_weights

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
    # the kit's motion settings are on by default; the paper preset is section 3.4 exactly
    assert (c.standardize, c.part_norm, c.w_var, c.smooth) == (True, True, 1.0, 0.07)
    p = PoseLSTMConfig.preset("paper")
    assert (p.standardize, p.part_norm, p.smooth, p.w_acc, p.w_var, p.window, p.max_steps) == \
        (False, False, 0.0, 0.0, 0.0, 4.0, 2000)


def test_loss_decreases_and_the_delay_lets_it_see_ahead():
    seqs = _synthetic()
    tr = Trainer(seqs[:3], seqs[3:], _cfg(max_steps=150), target="keypoints2d")
    st = tr.train(progress=False)
    losses = np.array([loss for _, loss in st.history])
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
    # (validation targets of pure noise: no prediction moves like them, so the spread guard is off here)
    tr = Trainer(seqs[:3], noise, _cfg(max_steps=400, eval_every=5, patience=3, min_val_spread=0.0), "keypoints2d")
    st = tr.train(progress=False)
    assert st.stopped_early and st.step < 400
    assert st.best_step <= st.step - 3 * 5
    best = tr.best_model()
    assert any(not torch.equal(a, b) for a, b in zip(best.state_dict().values(), tr.model.state_dict().values()))
    v_last = tr.validation_loss()                     # the weights training ended with
    tr.model.load_state_dict(best.state_dict())
    v_best = tr.validation_loss()                     # the weights best_model() returns: the best step's
    assert v_best == pytest.approx(st.best_val, rel=1e-6) and v_last > v_best


def test_bad_training_data_is_a_clear_error():
    with pytest.raises(ValueError, match="no training sequences"):
        Trainer([], [], _cfg())
    with pytest.raises(ValueError, match="needs 106 numbers per frame"):
        Trainer(_synthetic()[:1], [], _cfg())


def test_parallel_segments_match_the_exact_pass():
    torch.manual_seed(0)
    from s2v.pose.lstm import PoseLSTM

    m = PoseLSTM(28, 106, hidden=64).eval()
    x = np.random.default_rng(1).normal(size=(3001, 28)).astype(np.float32)   # an odd length
    exact = predict(m, x, 25.0, parallel=False)
    fast = predict(m, x, 25.0, parallel=True, segment=10.0, warmup=3.0)
    assert fast.shape == exact.shape == (3001, 106)
    assert np.abs(fast - exact).max() < 1e-4
    np.testing.assert_array_equal(predict(m, x[:300], 25.0), predict(m, x[:300], 25.0, parallel=False))


def _jerk(y):
    return float(np.abs(np.diff(y, 3, axis=0)).mean())


def test_acceleration_loss_and_smoothing_remove_jitter(tmp_path):
    """Targets with frame-to-frame noise: the acceleration penalty makes the prediction smoother than the plain
    loss does, the inference smoothing smoother still, and both follow the signal (correlation)."""
    seqs = _synthetic(seed=3)
    rng = np.random.default_rng(0)
    noisy = [Sequence(s.inputs, s.targets + rng.normal(0, 0.15, s.targets.shape).astype(np.float32), FPS, s.name)
             for s in seqs]
    plain = Trainer(noisy[:3], [], _cfg(max_steps=120, smooth=0.0, w_var=0.0), "keypoints2d")
    plain.train(progress=False)
    acc = Trainer(noisy[:3], [], _cfg(max_steps=120, w_acc=20.0, smooth=0.0, w_var=0.0), "keypoints2d")
    acc.train(progress=False)
    x, clean = seqs[3].inputs, seqs[3].targets
    p0, p1 = predict(plain.best_model(), x, FPS), predict(acc.best_model(), x, FPS)
    assert _jerk(p1) < 0.7 * _jerk(p0), (_jerk(p1), _jerk(p0))
    smooth = acc.best_model()
    smooth.smooth = 0.1
    p2 = predict(smooth, x, FPS)
    assert _jerk(p2) < 0.5 * _jerk(p1)
    for p in (p0, p1, p2):
        assert np.corrcoef(p[20:, 0], clean[20:, 0])[0, 1] > 0.7
    # the smoothing is part of the saved model
    acc.cfg.smooth = 0.1
    acc.export(tmp_path / "m.pt")
    m, _ = load_model(tmp_path / "m.pt")
    assert m.smooth == 0.1 and np.allclose(predict(m, x, FPS), p2, atol=1e-5)


def test_standardised_outputs_and_part_weights_by_spread():
    from s2v.pose.lstm import part_spread

    lay = ParamLayout()
    rng = np.random.default_rng(0)
    y = np.zeros((500, lay.frame_dim), np.float32)
    for part, sd in {"body": 0.05, "hands": 0.2, "mouth": 0.01, "face": 1.0}.items():
        y[:, lay.part_index(part)] = rng.normal(0, sd, (500, len(lay.part_index(part))))
    spread = part_spread(y, lay)
    for part, sd in {"body": 0.05, "hands": 0.2, "mouth": 0.01, "face": 1.0}.items():
        assert np.allclose(spread[lay.part_index(part)], sd ** 2, rtol=0.15), part
    # the paper's raw weights: the face is ~all of the loss of predicting the mean; by spread: each part its weight
    w = lay.part_weights()
    share = {p: float((w * y.var(0))[lay.part_index(p)].sum()) for p in lay.part_fields()}
    assert share["face"] / sum(share.values()) > 0.9 and share["mouth"] / sum(share.values()) < 0.01
    x = rng.normal(size=(500, 4)).astype(np.float32)
    tr = Trainer([Sequence(x, y, FPS)], [], _cfg(standardize=True, part_norm=True, max_steps=1))
    assert np.allclose(tr.model.out_scale.numpy(), y.std(0) + 1e-4, rtol=1e-4)
    wn = tr.w.numpy()
    normed = {p: float((wn * y.var(0))[lay.part_index(p)].mean()) for p in lay.part_fields()}
    assert normed["face"] / normed["mouth"] == pytest.approx(1.0, rel=0.2)   # both weight 100, spread removed
    # the inference smoothing of an SMPL-X model touches body and hands, never the jaw or the face
    m = tr.best_model()
    m.smooth = 0.1
    smoothed = predict(m, x[:100], FPS)
    m.smooth = 0.0
    raw = predict(m, x[:100], FPS)
    keep = np.r_[lay.part_index("mouth"), lay.part_index("face")]
    assert np.array_equal(smoothed[:, keep], raw[:, keep]) and not np.allclose(smoothed, raw)


def test_masked_frames_teach_the_mouth_but_not_the_body_and_hands():
    """Key-word frames (mask 0) leave body and hands to the dictionary: the loss is blind to their targets there,
    still sees the mouth, and the spread matching measures only the learned frames."""
    from s2v.pose.lstm import _spread, loss_fn

    lay = ParamLayout()
    rng = np.random.default_rng(3)
    B, T, D = 2, 40, lay.frame_dim
    pred = torch.as_tensor(rng.normal(size=(B, T, D)), dtype=torch.float32)
    y = torch.as_tensor(rng.normal(size=(B, T, D)), dtype=torch.float32)
    mask = np.ones((B, T), np.float32)
    mask[:, 10:25] = 0
    x = rng.normal(size=(T, 4)).astype(np.float32)
    tr = Trainer([Sequence(x, y[0].numpy(), FPS, mask=mask[0])], [], _cfg(max_steps=1))
    assert tr.masked == 15
    m = tr._frame_weights(mask)
    body_hands = np.r_[lay.part_index("body"), lay.part_index("hands")]
    assert float(m[0, 12, body_hands].max()) == 0 and float(m[0, 12, lay.part_index("mouth")].min()) == 1
    assert float(m[0, 5].min()) == 1
    before = float(loss_fn(pred, y, tr.w, 1.0, 0.0, 1.0, m))
    y2 = y.clone()
    y2[:, 10:25][..., body_hands] += 5.0                       # a key pose the LSTM is not asked to guess
    assert float(loss_fn(pred, y2, tr.w, 1.0, 0.0, 1.0, m)) == pytest.approx(before, rel=1e-6)
    y3 = y.clone()
    y3[:, 10:25][..., lay.part_index("mouth")] += 0.5          # the mouth is still taught there
    assert float(loss_fn(pred, y3, tr.w, 1.0, 0.0, 1.0, m)) > before + 5.0
    unmasked = float(loss_fn(pred, y, tr.w, 1.0, 0.0, 1.0))
    assert float(loss_fn(pred, y2, tr.w, 1.0, 0.0, 1.0)) > unmasked * 1.1   # without the mask it would count
    # spread over the learned frames only: a constant signal with an outlier in the masked frames has none
    sig = torch.zeros(1, T, 1)
    sig[0, 10:25] = 3.0
    assert float(_spread(sig, torch.as_tensor(mask[:1, :, None]))[0, 0]) == pytest.approx(0.0, abs=1e-5)
    assert float(_spread(sig, None)[0, 0]) > 1.0
    # windows carry the mask with the targets (shifted by the same delay)
    xb, yb, mb = tr.windows.batch(3)
    d = tr.delay_frames
    assert mb.shape == xb.shape[:2] and set(np.unique(mb)) <= {0.0, 1.0}
    assert (tr.windows.m[0] == np.r_[np.ones(d), mask[0][:-d]]).all()
