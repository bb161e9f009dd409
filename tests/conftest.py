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
