"""config.yaml is the paper's configuration; any wrong key or type fails naming the key."""

import copy

import pytest
import yaml

from rankvideo.config import ConfigError, load_config, validate_config
from tests.conftest import REPO


@pytest.fixture
def config():
    return load_config(REPO / "config.yaml")


def test_paper_values(config):
    s2 = config["train"]["stage2"]
    assert (s2["tau_pair"], s2["lambda_teacher"], s2["lambda_pt"], s2["negatives"]) == (10.0, 5.0, 0.5, 2)
    assert (s2["soft_negative_target"], s2["negative_weight"]) == (0.1, 0.5)
    assert (config["judge"]["alpha1"], config["judge"]["alpha2"]) == (-6.0, -8.0)
    assert (config["first_stage"]["depth"], config["rerank"]["depth"]) == (1000, 100)
    assert config["evaluation"]["cutoffs"] == [10, 20, 50, 100]
    assert (config["video"]["fps"], config["video"]["max_frames_stage1"], config["video"]["max_frames_stage2"]) == (2, 32, 24)
    for stage, batch, epochs in (("stage1", 16, 1), ("stage2", 3, 2)):
        optim = config["train"][stage]
        assert (optim["lr"], optim["scheduler"], optim["warmup_ratio"], optim["optimizer"]) == (1e-5, "cosine", 0.03, "adamw")
        assert (optim["batch_size"], optim["epochs"]) == (batch, epochs)


def test_every_setting_cites_its_source():
    """Each leaf value line in config.yaml carries a comment (its source) or sits under a commented block."""
    uncited = []
    parent_commented = False
    for line in (REPO / "config.yaml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition(":")
        if not value.strip() or value.strip().startswith("#"):  # a section header
            parent_commented = "#" in value
            continue
        if "#" not in value and not parent_commented:
            uncited.append(line.strip())
    assert uncited == []


def test_demo_overlay_validates():
    demo = load_config(REPO / "config.yaml", REPO / "config" / "demo.yaml")
    assert demo["first_stage"]["backend"] == "sentence-transformers"
    assert demo["train"]["stage2"]["tau_pair"] == 10.0  # paper settings untouched by the overlay


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["judge"].update(alfa1=-6), "judge: Additional properties are not allowed ('alfa1' was unexpected); allowed keys here: ['alpha1', 'alpha2', 'backend', 'max_reasoning_tokens', 'min_trusted_negatives', 'mode', 'seed', 'yes_threshold']"),
    (lambda c: c["train"]["stage2"].update(lr="fast"), "train.stage2.lr: expected type 'number', got 'fast'"),
    (lambda c: c["train"]["stage2"].update(tau_pairr=3), "train.stage2: Unevaluated properties are not allowed ('tau_pairr' was unexpected)"),
    (lambda c: c["train"]["stage1"].update(negatives=2), "train.stage1: Unevaluated properties are not allowed ('negatives' was unexpected)"),
    (lambda c: c["rerank"].pop("depth"), "rerank: 'depth' is a required property"),
    (lambda c: c["first_stage"].update(backend="bm25"), "first_stage.backend: expected one of ['precomputed', 'sentence-transformers'], got 'bm25'"),
    (lambda c: c["evaluation"].update(cutoffs=[10, 0]), "evaluation.cutoffs.1: expected >= 1, got 0"),
    (lambda c: c["rerank"].update(depth=2000), "rerank.depth: 2000 exceeds first_stage.depth 1000"),
    (lambda c: c["first_stage"].update(run=None), "first_stage.run: the 'precomputed' backend needs the path"),
    (lambda c: c["video"].update(min_pixels=10**6), "video.min_pixels: 1000000 exceeds video.max_pixels"),
])
def test_errors_name_the_key(config, mutate, expected):
    bad = copy.deepcopy(config)
    mutate(bad)
    with pytest.raises(ConfigError) as info:
        validate_config(bad)
    assert expected in str(info.value)


def test_load_config_names_the_files(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(yaml.safe_dump({"video": {"fps": "two"}}))
    with pytest.raises(ConfigError, match=r"config.yaml \+ .*bad.yaml\):\n  video.fps: expected type 'number', got 'two'"):
        load_config(REPO / "config.yaml", overlay)
