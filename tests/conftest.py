import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def needs_media_tools() -> None:
    missing = [t for t in ("ffmpeg", "espeak-ng") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{missing} missing: run `make test`, which installs them")


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    """The full demo corpus, generated once per test session."""
    from rankvideo.demo.corpus import generate_demo_corpus

    needs_media_tools()
    out = tmp_path_factory.mktemp("demo") / "corpus"
    generate_demo_corpus(out, seed=13)
    return out
