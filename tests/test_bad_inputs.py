"""Bad inputs, each with the exact error a user sees: one line `error: <file>:<line>: <reason>`, exit status 2, no
traceback; and the harmless variants (byte-order mark, CRLF, wider TSVs) read as their clean twins."""

import gzip
import json
from pathlib import Path

import pytest

from rankvideo.demo.curriculum import main as curriculum_main
from rankvideo.evaluate.cli import main as evaluate_main
from rankvideo.files.errors import FormatError
from rankvideo.files.qrels import read_qrels
from rankvideo.files.queries import read_queries
from rankvideo.files.training_rows import read_stage1_rows, read_stage2_rows
from rankvideo.rerank.cli import main as rerank_main
from rankvideo.workflow.prefetch import Checkpoint, HubUnreachable, hub_size, prefetch
from tests.conftest import REPO

GOOD_RUN = '{"q1": {"v1": 2.0, "v2": 1.0}}\n'
GOOD_QRELS = "q1 0 v1 1\n"


def files(tmp_path: Path, **contents: str | bytes) -> dict[str, Path]:
    """Write each named file (name__ext as keyword: run__json -> run.json) and return its path."""
    paths = {}
    for key, content in contents.items():
        path = tmp_path / key.replace("__", ".")
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        paths[key] = path
    return paths


def evaluate_args(p: dict[str, Path]) -> list[str]:
    return ["--first-stage", str(p["run__json"]), "--qrels", str(p["qrels__txt"])]


# (case, files, command line builder, expected stderr with {name} standing for each file's path)
EVALUATE_CASES = [
    ("empty TREC run", {"run__json": GOOD_RUN, "qrels__txt": GOOD_QRELS, "empty__trec": ""},
     lambda p: ["--first-stage", str(p["empty__trec"]), "--qrels", str(p["qrels__txt"])],
     "error: {empty__trec}: empty: the file holds no scores; expected lines 'query_id Q0 video_id rank score tag'"),
    ("empty JSON run", {"run__json": "{}", "qrels__txt": GOOD_QRELS}, evaluate_args,
     "error: {run__json}: empty: the file holds no entries; expected {{query_id: {{video_id: score}}}}"),
    ("JSON run of empty queries", {"run__json": '{"q1": {}}', "qrels__txt": GOOD_QRELS}, evaluate_args,
     "error: {run__json}: empty: the file holds no scores: every query's object is empty"),
    ("infinite score", {"run__json": '{"q1": {"v1": Infinity}}', "qrels__txt": GOOD_QRELS}, evaluate_args,
     "error: {run__json}: score is inf, not a finite number; fix the system that wrote it"),
    ("qrels line of 3 fields", {"run__json": GOOD_RUN, "qrels__txt": "q1 0 v1 1\nq1 0 v2\n"}, evaluate_args,
     "error: {qrels__txt}:2: expected 4 whitespace-separated fields, found 3: 'q1 0 v2'"),
    ("qrels relevance not an integer", {"run__json": GOOD_RUN, "qrels__txt": "q1 0 v1 yes\n"}, evaluate_args,
     "error: {qrels__txt}:1: relevance must be an integer, got 'yes'"),
    ("empty qrels", {"run__json": GOOD_RUN, "qrels__txt": "\n\n"}, evaluate_args,
     "error: {qrels__txt}: empty: the file holds no judgments; expected lines 'query_id 0 video_id relevance'"),
    ("empty queries", {"run__json": GOOD_RUN, "qrels__txt": GOOD_QRELS, "q__tsv": ""},
     lambda p: [*evaluate_args(p), "--queries", str(p["q__tsv"])],
     "error: {q__tsv}: empty: the file holds no queries; expected lines 'query_id<TAB>text'"),
    ("queries line without text", {"run__json": GOOD_RUN, "qrels__txt": GOOD_QRELS, "q__tsv": "q1\n"},
     lambda p: [*evaluate_args(p), "--queries", str(p["q__tsv"])],
     "error: {q__tsv}:1: expected at least 2 tab-separated fields, found 1: 'q1'"),
    ("qrels not UTF-8", {"run__json": GOOD_RUN, "qrels__txt": b"q1 0 v1 1\nq\xff 0 v2 1\n"}, evaluate_args,
     "error: {qrels__txt}:2: not valid UTF-8 (invalid start byte at byte 11); re-save the file as UTF-8"),
    ("gzip that is not gzip", {"run__json__gz": b"plain text", "qrels__txt": GOOD_QRELS},
     lambda p: ["--first-stage", str(p["run__json__gz"]), "--qrels", str(p["qrels__txt"])],
     "error: {run__json__gz}: not a readable gzip file (Not a gzipped file (b'pl')); recompress it or drop the .gz suffix"),
    ("JSON syntax error", {"run__json": '{"q1": {"v1": 1.0},\n "q2": }', "qrels__txt": GOOD_QRELS}, evaluate_args,
     "error: {run__json}:2: invalid JSON: Expecting value"),
    ("missing qrels file", {"run__json": GOOD_RUN}, lambda p: ["--first-stage", str(p["run__json"]), "--qrels", str(p["run__json"].parent / "nope.txt")],
     "error: {dir}/nope.txt: file not found"),
]


@pytest.mark.parametrize("case, contents, argv, expected", EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_reports_a_bad_input_in_one_line(tmp_path, capsys, case, contents, argv, expected):
    paths = files(tmp_path, **contents)
    assert evaluate_main(argv(paths)) == 2
    err = capsys.readouterr().err
    assert err == expected.format(dir=tmp_path, **paths) + "\n", case


def test_debug_shows_the_traceback(tmp_path):
    paths = files(tmp_path, run__json="{}", qrels__txt=GOOD_QRELS)
    with pytest.raises(FormatError, match="empty"):
        evaluate_main([*evaluate_args(paths), "--debug"])


def test_pred_dir_errors(tmp_path, capsys):
    paths = files(tmp_path, run__json=GOOD_RUN, qrels__txt=GOOD_QRELS)
    assert evaluate_main([*evaluate_args(paths), "--pred-dir", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"error: --pred-dir {tmp_path / 'nope'}: no such folder\n"
    (tmp_path / "preds").mkdir()
    assert evaluate_main([*evaluate_args(paths), "--pred-dir", str(tmp_path / "preds")]) == 2
    assert capsys.readouterr().err == (f"error: --pred-dir {tmp_path / 'preds'} holds no score files (.json/.trec/.run/.txt, optionally .gz, "
                                       "or upstream's <video_id>_reranking_<model>.json)\n")


def rerank_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--model", str(tmp_path / "no-model"), "--video2queries", str(tmp_path / "v2q.json"), "--video-dir", str(tmp_path),
            "--output-dir", str(tmp_path / "out"), *extra]


RERANK_CASES = [
    ("no --query-mapping and none beside", '{"v1": ["q1"]}', None, (),
     "error: no --query-mapping given and {tmp}/queries.tsv does not exist; pass --query-mapping QUERIES.tsv"),
    ("--strict with an unknown query id", '{"v1": ["q1", "qX"]}', "q1\ta dog\n", ("--strict",),
     "error: {tmp}/v2q.json: unknown query id 'qX' (not in the query id list this file is checked against)"),
    ("work list not JSON", "v1: [q1]", "q1\ta dog\n", (), "error: {tmp}/v2q.json:1: invalid JSON: Expecting value"),
    ("empty work list", "{}", "q1\ta dog\n", (),
     "error: {tmp}/v2q.json: empty: the file holds no entries; expected {{video_id: [query_id, ...]}}"),
    ("work list of one string", '{"v1": "q1"}', "q1\ta dog\n", (), "error: {tmp}/v2q.json: video 'v1': expected a list of query id strings"),
    ("missing video folder", '{"v1": ["q1"]}', "q1\ta dog\n", ("--video-dir", "/nonexistent/videos"),
     "error: --video-dir /nonexistent/videos: no such folder"),
]


@pytest.mark.parametrize("case, work, queries, extra, expected", RERANK_CASES, ids=[c[0] for c in RERANK_CASES])
def test_rerank_reports_a_bad_input_before_loading_the_model(tmp_path, capsys, case, work, queries, extra, expected):
    (tmp_path / "v2q.json").write_text(work)
    if queries is not None:
        (tmp_path / "queries.tsv").write_text(queries)
    assert rerank_main(rerank_args(tmp_path, *extra)) == 2
    assert capsys.readouterr().err == expected.format(tmp=tmp_path) + "\n", case


def test_curriculum_reports_bad_config_and_base(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("train:\n  stage2: {lambda_teacher: four}\n")
    (tmp_path / "broken.yaml").write_text("train:\n  stage2: [unclosed\n")
    config = str(REPO / "config.yaml")
    cases = [
        (["--config", config, str(tmp_path / "bad.yaml")],
         f"error: invalid configuration ({config} + {tmp_path / 'bad.yaml'}):\n  train.stage2.lambda_teacher: expected type 'number', got 'four'"),
        (["--config", str(tmp_path / "absent.yaml")], f"error: {tmp_path / 'absent.yaml'}: config file not found"),
        (["--config", str(tmp_path / "broken.yaml")], f"error: {tmp_path / 'broken.yaml'}:3: invalid YAML: expected ',' or ']', but got '<stream end>'"),
        (["--config", config, str(REPO / "config/demo.yaml"), "--base", str(tmp_path)],
         f"error: --base {tmp_path}: not a model folder (no config.json); give a Qwen3-VL folder or leave --base out"),
    ]
    for argv, expected in cases:
        assert curriculum_main(["--out", str(tmp_path / "out"), *argv]) == 2
        assert capsys.readouterr().err == expected + "\n"


def test_unreachable_hub_is_one_line_that_says_where_prefetch_runs(tmp_path, monkeypatch):
    """A real lookup on this offline machine (no network), stopped before any download should the hub answer."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def size_or_stop(checkpoint: Checkpoint) -> int:
        hub_size(checkpoint.name)
        pytest.skip("the hub answered: this machine is online")

    with pytest.raises(HubUnreachable) as info:
        prefetch([Checkpoint("hub", "Qwen/Qwen3-32B")], tmp_path, tmp_path, size_of=size_or_stop)
    message = str(info.value)
    assert message.startswith("the model hub could not be reached (") and "\n" not in message
    assert message.endswith("so run it on a machine with internet access (a login node), then the jobs offline")


# --- what is accepted as it is ------------------------------------------------------------------

def test_bom_crlf_and_gzip_read_as_the_clean_file(tmp_path):
    clean = files(tmp_path, q__tsv="q1\ta dog\nq2\ta cat\n", qrels__txt="q1 0 v1 1\nq2 0 v2 1\n")
    variants = files(tmp_path, qb__tsv="\ufeffq1\ta dog\r\nq2\ta cat\r\n".encode(), qrelsb__txt="\ufeffq1 0 v1 1\r\nq2 0 v2 1\r\n".encode(),
                     qrelsz__txt__gz=gzip.compress(b"q1 0 v1 1\nq2 0 v2 1\n"))
    assert read_queries(variants["qb__tsv"]) == read_queries(clean["q__tsv"]) == {"q1": "a dog", "q2": "a cat"}
    assert read_qrels(variants["qrelsb__txt"]) == read_qrels(variants["qrelsz__txt__gz"]) == read_qrels(clean["qrels__txt"])
    assert set(read_queries(variants["qb__tsv"])) <= set(read_qrels(clean["qrels__txt"]))  # the BOM no longer hides 'q1'


TRAINING_CASES = [
    (read_stage1_rows, {"videos": ["/v.mp4"]}, "1: no caption: expected a non-empty 'caption' or 'evidence.caption'"),
    (read_stage1_rows, {"caption": "x", "videos": []}, "1: expected 'videos': [path, ...] with the video's path first"),
    (read_stage2_rows, {"query_id": "q", "query": "t", "doc_id": "v", "videos": ["/v.mp4"]},
     "1: expected 'true_label' (or 'teacher_label') 0 or 1, got None"),
    (read_stage2_rows, {"query_id": "q", "query": "t", "doc_id": "v", "videos": ["/v.mp4"], "true_label": 1, "teacher_p_yes": 3},
     "1: teacher_p_yes must be a probability in [0, 1], got 3"),
    (read_stage2_rows, {"query": "t", "videos": ["/v.mp4"], "true_label": 1}, "1: missing or non-string ['query_id', 'doc_id']"),
]


@pytest.mark.parametrize("reader, row, expected", TRAINING_CASES)
def test_training_rows_name_the_line_and_the_field(tmp_path, reader, row, expected):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(FormatError) as info:
        reader(path)
    assert str(info.value) == f"{path}:{expected}"
