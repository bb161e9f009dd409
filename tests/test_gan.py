"""The skeleton-to-video GAN (section 3.5): networks, part crops, losses, data, training, DDP, inference."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from s2v.gan import losses
from s2v.gan.networks import Generator, GeneratorConfig, MultiscaleDiscriminator, crop_boxes, warp

TINY_G = GeneratorConfig(ngf=8, n_downsample=3, n_blocks=1)


def tiny_cfg(**kw):
    from s2v.gan.train import GANConfig

    base = dict(size=64, clip=4, generator=TINY_G, ndf=8, part_crop=16, part_ndf=8, max_steps=4,
                sample_every=1000, checkpoint_every=1000, device="cpu")
    return GANConfig(**{**base, **kw})


@pytest.mark.parametrize("cfg", [TINY_G, GeneratorConfig(ngf=8, n_downsample=3, n_blocks=1, flow=True),
                                 GeneratorConfig(ngf=8, n_downsample=2, n_blocks=1, n_local=1, flow=True),
                                 GeneratorConfig(ngf=8, n_downsample=3, n_blocks=1, n_prev=0),
                                 GeneratorConfig(ngf=8, n_downsample=2, n_blocks=1, stem_kernel=3, shuffle=2)],
                         ids=["plain", "flow", "coarse-to-fine", "no-previous", "pixel-shuffle"])
def test_generator_shapes_and_range(cfg):
    torch.manual_seed(0)
    G = Generator(cfg)
    labels = torch.rand(2, 3 * (cfg.n_prev + 1), 64, 96) * 2 - 1
    prev = torch.rand(2, 3 * cfg.n_prev, 64, 96) * 2 - 1 if cfg.n_prev else None
    y = G(labels, prev)
    assert y.shape == (2, 3, 64, 96) and torch.isfinite(y).all()
    assert y.min() >= -1 and y.max() <= 1     # tanh, or a convex blend of it with a warped frame in [-1, 1]
    y.mean().backward()
    assert all(p.grad is not None for p in G.parameters())


def test_sizes_must_be_multiples_of_the_stride():
    G = Generator(GeneratorConfig(ngf=8, n_downsample=4, n_blocks=1, n_local=1))
    with pytest.raises(ValueError, match="multiples of 32"):
        G(torch.zeros(1, 9, 48, 64))


def test_crops_are_exact_and_differentiable():
    img = torch.arange(64.0).view(1, 1, 8, 8).repeat(2, 1, 1, 1).requires_grad_(True)
    c = crop_boxes(img, torch.tensor([[2.0, 2, 6, 6], [0, 0, 8, 8]]), 4)
    np.testing.assert_allclose(c[0, 0].detach().numpy(), img[0, 0, 2:6, 2:6].detach().numpy(), atol=1e-4)
    c.sum().backward()
    assert img.grad[0, 0, 2:6, 2:6].sum() > 0 and img.grad[0, 0, 0, 0] == 0


def test_warp_by_flow():
    img = torch.arange(25.0).view(1, 1, 5, 5)
    assert torch.allclose(warp(img, torch.zeros(1, 2, 5, 5)), img)
    shifted = warp(img, torch.ones(1, 2, 5, 5) * torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
    assert torch.allclose(shifted[0, 0, :, :4], img[0, 0, :, 1:])   # each pixel takes its right neighbour


def test_losses():
    D = MultiscaleDiscriminator(6, 8, 2, 2)
    out = D(torch.randn(3, 6, 32, 32))
    ones = [[f.detach() * 0 + 1 for f in s] for s in out]
    assert losses.adversarial(ones, True, "lsgan").item() == 0
    assert losses.adversarial(ones, False, "lsgan").item() == pytest.approx(1.0)
    assert losses.adversarial(ones, True, "hinge").item() == 0                # relu(1 - 1)
    assert losses.adversarial(ones, True, "hinge", discriminator=False).item() == pytest.approx(-1.0)
    assert losses.feature_matching(out, out).item() == 0
    # a zero weight removes a sample from the mean
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    b[1] = 5
    assert losses.l1(a, b, torch.tensor([1.0, 0.0])).item() == 0
    assert losses.l1(a, b, torch.tensor([0.0, 1.0])).item() == 5
    with pytest.raises(ValueError, match="lsgan"):
        losses.adversarial(ones, True, "wgan")


def test_clip_dataset(tiny_recording):
    from s2v.gan.data import ClipDataset, run_frames
    from s2v.keypoints import KeypointTrack

    rec, _ = tiny_recording
    train = ClipDataset([rec.run], 64, 4, "train")
    test = ClipDataset([rec.run], 64, 4, "test")
    T = rec.num_frames
    assert train.size == (64, 64)
    assert max(t for _, t in train.index) + 4 <= int(0.85 * T) < min(t for _, t in test.index)   # no overlap
    b = train[len(train) // 2]
    assert b["labels"].shape == b["frames"].shape == (4, 3, 64, 64)
    assert b["labels"].min() >= -1 and b["frames"].max() <= 1 and b["frames"].std() > 0.05
    assert b["valid"].all() and (b["boxes"][..., 2:] <= 64).all() and (b["boxes"][..., :2] >= 0).all()
    # the labels are drawn from the parameters: the face box sits on the true face keypoints
    kp = KeypointTrack.load(rec.run.path("truth_keypoints")).points[train.index[len(train) // 2][1], 70:, :2] / 2
    x0, y0, x1, y1 = b["boxes"][0, 0].tolist()
    inside = (kp[:, 0] >= x0 - 1) & (kp[:, 0] <= x1 + 1) & (kp[:, 1] >= y0 - 1) & (kp[:, 1] <= y1 + 1)
    assert inside.mean() > 0.95
    cache = rec.run.root / "gan" / "cache" / "frames_64x64.npy"
    mtime = cache.stat().st_mtime
    run_frames(rec.run, 64, 64)
    assert cache.stat().st_mtime == mtime                   # decoded once
    no_hands = ClipDataset([rec.run], 64, 4, "train", hands=False)[len(train) // 2]
    assert not no_hands["valid"][:, 1:].any() and no_hands["valid"][:, 0].all()


def test_training_moves_the_losses_and_resumes(tiny_recording, tmp_path):
    from s2v.gan.data import ClipDataset
    from s2v.gan.train import GANTrainer

    rec, _ = tiny_recording
    train = ClipDataset([rec.run], 64, 4, "train")
    test = ClipDataset([rec.run], 64, 4, "test")
    torch.manual_seed(0)
    tr = GANTrainer(tiny_cfg(max_steps=25, checkpoint_every=10, sample_every=10), train, tmp_path / "gan", test)
    h = tr.train(progress=False)
    assert len(h) == 25
    first, last = np.mean([x["l1"] for x in h[:5]]), np.mean([x["l1"] for x in h[-5:]])
    assert last < 0.8 * first, (first, last)
    assert np.mean([x["loss_g"] for x in h[-5:]]) < np.mean([x["loss_g"] for x in h[:5]])
    for k in ("d_face", "d_left_hand", "d_right_hand", "l1_face", "d_temporal", "fm_frame"):
        assert all(np.isfinite(x[k]) for x in h), k
    assert all(-1 <= x["fake_min"] <= x["fake_max"] <= 1 for x in h)
    assert [p.name for p in tr.samples] == ["step_000010.png", "step_000020.png", "step_000025.png"]
    # interrupted after 25 steps: a new trainer picks up the checkpoint and goes on to 30
    again = GANTrainer(tiny_cfg(max_steps=30, checkpoint_every=10, sample_every=100), train, tmp_path / "gan", test)
    assert again.step == 25
    for a, b in zip(tr.G.state_dict().values(), again.G.state_dict().values()):
        assert torch.equal(a, b)
    again.train(progress=False)
    assert again.step == 30 and len(again.history) == 30


def test_same_seed_same_generator(tiny_recording, tmp_path):
    """What makes the shipped speaker reproducible by its command: training with the same seed gives the same
    weights, bit for bit (one thread, as the shipped preset trains), with the shipped generator's design (3x3 stems
    behind a pixel shuffle); another seed gives others."""
    from s2v.gan.data import ClipDataset
    from s2v.gan.train import GANTrainer, state_digest

    rec, _ = tiny_recording
    train = ClipDataset([rec.run], 64, 4, "train")
    g = GeneratorConfig(ngf=8, n_downsample=2, n_blocks=2, stem_kernel=3, shuffle=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        digests = [state_digest(GANTrainer(tiny_cfg(generator=g, seed=seed), train, tmp_path / f"g{i}").G)
                   for i, seed in enumerate((0, 0, 1))]
        trained = []
        for i, seed in enumerate((0, 0)):
            tr = GANTrainer(tiny_cfg(generator=g, seed=seed, max_steps=3), train, tmp_path / f"t{i}")
            tr.train(progress=False)
            trained.append(state_digest(tr.G))
    finally:
        torch.set_num_threads(threads)
    assert digests[0] == digests[1] != digests[2]
    assert trained[0] == trained[1] != digests[0]


def test_part_discriminators_can_be_switched_off(tiny_recording, tmp_path):
    from s2v.gan.data import ClipDataset
    from s2v.gan.train import Discriminators, GANTrainer

    rec, _ = tiny_recording
    cfg = tiny_cfg(parts=(), max_steps=2)
    assert len(Discriminators(cfg).parts) == 0 and len(Discriminators(tiny_cfg()).parts) == 3
    tr = GANTrainer(cfg, ClipDataset([rec.run], 64, 4, "train"), tmp_path / "gan")
    h = tr.train(progress=False)
    assert "d_face" not in h[-1] and "l1_face" not in h[-1] and "d_frame" in h[-1]
    with pytest.raises(ValueError, match="unknown parts"):
        tiny_cfg(parts=("tail",))
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_cfg(size=100)


def test_ddp_on_two_cpu_processes_keeps_replicas_identical(tiny_recording, tmp_path):
    """torchrun, 2 processes, gloo: each rank trains on its own shard; the weights stay identical."""
    import shutil

    rec, _ = tiny_recording
    runs = tmp_path / "runs"
    shutil.copytree(rec.run.root, runs / "tiny", ignore=shutil.ignore_patterns("gan"))
    (tmp_path / "cfg.json").write_text(json.dumps({**tiny_cfg().to_dict(), "max_steps": 4}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "s2v.gan.train", "--", "--run", "tiny", "--runs-dir", str(runs), "--config", str(tmp_path / "cfg.json"),
           "--digest", str(tmp_path / "digest")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / "digest" / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["step"] == r1["step"] == 4
    assert r0["G"] == r1["G"] and r0["D"] == r1["D"]               # replicas identical after 4 updates
    assert r0["loss_g"] != r1["loss_g"]                             # on different data
    from s2v.gan.train import state_digest

    torch.manual_seed(0)
    assert state_digest(Generator(TINY_G)) != r0["G"]               # and they did train
    assert (runs / "tiny" / "gan" / "generator.pt").exists()


def test_inference_streams_a_video_with_audio_and_evaluates(tiny_recording, tmp_path):
    from s2v.gan.data import ClipDataset, run_keypoints
    from s2v.gan.infer import evaluate, image_metrics, load_generator, render_video
    from s2v.gan.train import GANTrainer
    from s2v.video import count_frames

    rec, _ = tiny_recording
    tr = GANTrainer(tiny_cfg(max_steps=3), ClipDataset([rec.run], 64, 4, "train"), tmp_path / "gan")
    tr.train(progress=False)
    path = tr.export(tmp_path / "generator.pt")
    G, cfg = load_generator(path, "cpu")
    assert cfg["size"] == 64 and G.train_size == 64
    pts = run_keypoints(rec.run, 64, 64)[:40]
    out = render_video(G, pts, (64, 64), tmp_path / "out.mp4", 25.0, audio=rec.run.path("audio"), progress=False)
    assert count_frames(out) == 40
    probe = subprocess.run([__import__("s2v.video", fromlist=["ffmpeg_exe"]).ffmpeg_exe(), "-i", str(out)],
                           capture_output=True, text=True)
    assert "Audio:" in probe.stderr
    m = evaluate(G, ClipDataset([rec.run], 64, 4, "test"), max_frames=10)
    assert m["frames"] == 10 and 5 < m["psnr"] < 40 and 0 <= m["ssim"] <= 1 and np.isfinite(m["psnr_face"])
    a = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    same = image_metrics(a, a)
    assert same["ssim"] == pytest.approx(1.0) and same["psnr"] == np.inf
    noisy = np.clip(a + np.random.default_rng(1).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    assert 15 < image_metrics(noisy, a)["psnr"] < 30


def test_inference_precision_is_chosen_by_the_hardware():
    from s2v.cli import PRECISION_CHOICES
    from s2v.gan.infer import PRECISIONS, inference_dtype

    assert PRECISION_CHOICES == PRECISIONS                                             # the CLI offers them all
    assert inference_dtype("cpu", "auto", {"avx2", "amx_bf16"}) == torch.bfloat16       # Sapphire Rapids
    assert inference_dtype("cpu", "auto", {"avx512f", "avx512_bf16"}) == torch.bfloat16  # Cooper Lake, Zen 4
    assert inference_dtype("cpu", "auto", {"avx2", "avx512f"}) == torch.float32          # emulated: slower
    assert inference_dtype("cpu", "auto", set()) == torch.float32                        # no /proc/cpuinfo
    assert inference_dtype("cuda", "auto", set()) == torch.float16
    assert inference_dtype("cpu", "bf16", set()) == torch.bfloat16
    assert inference_dtype("cpu", "fp32", {"amx_bf16"}) == torch.float32
    with pytest.raises(ValueError, match="CUDA"):
        inference_dtype("cpu", "fp16")
    with pytest.raises(ValueError, match="one of auto"):
        inference_dtype("cpu", "int4")
    from s2v.gan.cpu import available
    from s2v.gan.infer import resolve_precision

    with pytest.raises(ValueError, match="no int8 CPU generator"):   # int8 needs the speaker's int8 model
        inference_dtype("cpu", "int8")
    avx2 = {"avx2", "fma"}
    assert resolve_precision("cpu", "auto", True, avx2) == ("int8" if available() else "fp32")   # issue 29
    assert resolve_precision("cpu", "auto", False, avx2) == "fp32"
    assert resolve_precision("cpu", "auto", True, {"avx2", "amx_bf16"}) == "bf16"   # today's AMX path kept
    assert resolve_precision("cuda", "auto", True, avx2) == "fp16"
    with pytest.raises(ValueError, match="CPU"):
        resolve_precision("cuda", "int8", True)


def test_bfloat16_frames_match_float32_and_leave_the_generator_alone():
    """The shipped generator (320x384) on a drawn skeleton, 6 frames in sequence (each feeding the next):
    bfloat16 frames stay within 1/255-level differences of float32 ones; the caller's generator stays float32."""
    from s2v.gan.infer import FrameGenerator, labels_from_keypoints
    from s2v.params import SMPLXParams
    from s2v.synthesis.synthesize import Speaker, poses_to_keypoints

    sp = Speaker.load("ada", Path("/nonexistent/runs"), device="cpu")
    G = sp.generator
    W, H = sp.camera.width, sp.camera.height
    pts = poses_to_keypoints(sp, SMPLXParams.load(sp.run.require("truth_params")).frames(slice(0, 1)), W, H)
    moving = np.concatenate([pts + [3.0 * i, -2.0 * i, 0] for i in range(6)])     # the body drifts a few px a frame
    labels = list(labels_from_keypoints(moving, (W, H), (W, H)))
    full, half = FrameGenerator(G, "fp32"), FrameGenerator(G, "bf16")
    assert half.net is not G and next(half.net.parameters()).dtype == torch.bfloat16
    for lab in labels:
        a, b = full(lab).astype(float), half(lab).astype(float)
        assert a.shape == (H, W, 3)
        psnr = 10 * np.log10(255 ** 2 / np.mean((a - b) ** 2))
        assert psnr > 45 and np.abs(a - b).max() <= 16, psnr
    assert all(p.dtype == torch.float32 for p in G.parameters())
    assert np.array_equal(FrameGenerator(G, "fp32")(labels[0]), FrameGenerator(G, "fp32")(labels[0]))


def test_threads_follow_the_free_cores_and_are_restored():
    """Issue 29: the generator's threads come from the cores other processes leave free (at least one, at most
    this process's), and the PyTorch setting of the caller is restored after synthesis changes it."""
    import os

    from s2v.gan.cpu import free_cpus, torch_threads

    n = free_cpus(0.05)
    assert 1 <= n <= len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
