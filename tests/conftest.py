from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout (``../shared/data``); tests skip where it is absent."""
    if not (SHARED / "MANIFEST.md").exists():
        pytest.skip(f"real data not available ({SHARED} missing; a user's clone has no shared/)")
    return SHARED


@pytest.fixture(scope="session")
def body_model():
    from s2v.body import BodyModel

    return BodyModel(backend="free", device="cpu")


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory):
    """One tiny studio recording (3 s of script + the posing session, 128^2, 25 fps) shared by the tests."""
    from s2v.studio import StudioConfig, record

    cfg = StudioConfig.preset("tiny", script="economy", max_seconds=3.0, pose_session=True, fps=25.0)
    rec = record(cfg, tmp_path_factory.mktemp("runs") / "tiny", progress=False)
    return rec, cfg
