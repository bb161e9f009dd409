"""One configuration system (issue 15): presets and key=value overrides over every stage's dataclass config,
the same from Python, files and the CLI."""
import subprocess
import sys

import pytest

from s2v.config import KINDS, ConfigError, config_class, load, make, override, presets


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_preset_is_the_dataclass_and_every_preset_builds(kind):
    assert make(kind) == config_class(kind)()
    for name in presets(kind):
        assert isinstance(make(kind, name), config_class(kind)), name


def test_presets_and_the_class_methods_agree():
    from s2v.gan.train import GANConfig
    from s2v.pose.lstm import PoseLSTMConfig
    from s2v.synthesis.speaker import SpeakerConfig
    from s2v.studio import StudioConfig

    q = SpeakerConfig.preset("quickstart")
    assert (q.gan.size, q.gan.generator.ngf, q.gan.generator.n_blocks, q.pose.hidden, q.studio.width) == \
        (128, 16, 3, 128, 128)
    assert q.gan == make("gan", "quickstart") and q.pose == make("pose", "quickstart")
    p = PoseLSTMConfig.preset("paper", max_steps=None)           # None: not given
    assert p == make("pose", "paper") and (p.standardize, p.key_words, p.max_steps) == (False, False, 2000)
    assert GANConfig.preset("cpu", size=256).size == 256 and GANConfig.preset("cpu").max_minutes == 60.0
    assert StudioConfig.preset("tiny", max_seconds=None).max_seconds is None     # None given: the whole script
    assert make("pose", "auto") in (make("pose", "cpu"), make("pose", "gpu"))


def test_overrides_are_typed_and_misspellings_named():
    g = make("gan", "tiny", ["size=128", "generator.ngf=12", "parts=[face]", "max_minutes=null"])
    assert (g.size, g.generator.ngf, g.parts, g.max_minutes) == (128, 12, ("face",), None)
    assert override(g, {"generator": {"n_blocks": 2}, "ndf": 4}).generator.n_blocks == 2
    assert override(g, {"generator.n_blocks": 3}).generator.n_blocks == 3 and g.generator.n_blocks == 1
    # a mapping's strings are taken as they are (a script text with ": " is not YAML to parse)
    assert make("studio", "tiny", {"text": "Prices: high, then low.", "max_seconds": None}).text == \
        "Prices: high, then low."
    with pytest.raises(ConfigError, match="Did you mean: 'size'"):
        make("gan", "tiny", ["sise=128"])
    with pytest.raises(ConfigError, match="could not be converted to Integer.*key size"):
        make("gan", "tiny", ["size=big"])
    with pytest.raises(ConfigError, match="multiple of 32"):            # the dataclass's own check
        make("gan", "tiny", ["size=65"])
    with pytest.raises(ConfigError, match="key=value"):
        make("gan", "tiny", ["size"])
    with pytest.raises(ConfigError, match="unknown pose preset 'fast'.*quickstart"):
        make("pose", "fast")


def test_config_files_with_a_preset(tmp_path):
    f = tmp_path / "gan.yaml"
    f.write_text("preset: quickstart\nsize: 256\ngenerator:\n  ngf: 24\n")
    g = load("gan", f)
    assert (g.size, g.generator.ngf, g.max_steps) == (256, 24, 600)
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load("gan", tmp_path / "bad.yaml")


def test_the_cli_shows_and_overrides_every_trainable_stage():
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "s2v", *args], capture_output=True, text=True)

    r = cli("gan", "train", "--run", "x", "--preset", "tiny", "--set", "generator.ngf=12", "--size", "96",
            "--show-config")
    assert r.returncode == 0 and "  ngf: 12" in r.stdout and "size: 96" in r.stdout
    r = cli("pose", "--train", "a", "--out", "b", "--preset", "paper", "--steps", "7", "--show-config")
    assert r.returncode == 0 and "max_steps: 7" in r.stdout and "standardize: false" in r.stdout
    r = cli("fit", "--run", "x", "--set", "w_smooth=2.5", "--show-config")
    assert r.returncode == 0 and "w_smooth: 2.5" in r.stdout
    r = cli("speaker", "--run", "x", "--set", "gan.max_steps=5", "--show-config")
    assert r.returncode == 0 and "max_steps: 5" in r.stdout
    r = cli("fit", "--run", "x", "--set", "w_smoth=2.5", "--show-config")
    assert r.returncode == 2 and "Did you mean: 'w_smooth'" in r.stderr and "Traceback" not in r.stderr
