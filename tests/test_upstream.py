"""Upstream's settings and files as users have them: each upstream layout, built here, loads and gives the same
scores and metrics as the equivalent files in our formats (../shared/UPSTREAM.md)."""

import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from rankvideo.evaluate.cli import main as evaluate_main
from rankvideo.files.predictions import read_predictions, upstream_model_name, write_prediction
from rankvideo.files.queries import read_queries
from rankvideo.files.runs import read_json_run, read_run, write_json_run
from rankvideo.files.training_rows import read_stage1_rows, read_stage2_rows
from rankvideo.files.video import (
    PAPER_MAX_FRAMES,
    UPSTREAM_FPS,
    UPSTREAM_FRAME_PIXELS,
    UPSTREAM_IMAGE_PATCH_SIZE,
    UPSTREAM_MAX_FRAMES,
    UPSTREAM_VIDEO,
    video_for_format,
)
from rankvideo.files.video2queries import split_unknown_queries, write_video2queries
from rankvideo.rerank.cli import main as rerank_main
from rankvideo.rerank.cli import multivent_path, resolve_video_paths
from rankvideo.rerank.reranker import format_video, scored
from tests.test_video import encode_gray_ramp

# --- frames: the `upstream` format is upstream's inference in every setting ---------------------

def test_upstream_constants_are_upstreams():
    # tskow99/RANKVIDEO-Reasoning-Reranker rankvideo/inference.py @992a44a: DEFAULT_FPS = 2.0, DEFAULT_MAX_FRAMES = 32,
    # MIN_/MAX_TOKENS_PER_FRAME = 128 (x 32 x 32 pixels), process_vision_info(..., image_patch_size=16).
    assert (UPSTREAM_FPS, UPSTREAM_MAX_FRAMES, UPSTREAM_FRAME_PIXELS, UPSTREAM_IMAGE_PATCH_SIZE) == (2.0, 32, 128 * 32 * 32, 16)
    assert PAPER_MAX_FRAMES == 24  # paper Table 6, Stage 2
    assert UPSTREAM_VIDEO.max_frames * UPSTREAM_VIDEO.max_pixels == 32 * 128 * 32 * 32  # inference.py total_pixels


def test_each_format_takes_its_frames_and_explicit_settings_win():
    configured = format_video("paper")
    assert format_video("upstream") == UPSTREAM_VIDEO
    assert (configured.max_frames, configured.fps) == (24, 2.0)
    assert format_video("upstream", max_frames=8).max_frames == 8
    assert video_for_format("upstream", configured) == UPSTREAM_VIDEO and video_for_format("paper", configured) == configured


@pytest.fixture(scope="module")
def twenty_seconds(tmp_path_factory) -> Path:
    return encode_gray_ramp(tmp_path_factory.mktemp("v") / "ramp20.mp4", n_frames=200, fps=10, width=320, height=180)


def test_upstream_format_samples_32_frames_of_a_20s_video(twenty_seconds):
    assert len(format_video("upstream").sample(twenty_seconds).indices) == 32
    assert len(format_video("paper").sample(twenty_seconds).indices) == 24


def test_qwen_vl_utils_fetch_video_with_upstreams_arguments_gives_the_same_frames(twenty_seconds, monkeypatch):
    """Upstream's PromptBuilder element and process_vision_info call, read by decord as upstream installs it."""
    monkeypatch.setenv("FORCE_QWENVL_VIDEO_READER", "decord")
    from qwen_vl_utils import vision_process

    element = {"type": "video", "video": str(twenty_seconds), "fps": 2.0, "max_frames": 32, "min_pixels": 128 * 32 * 32,
               "max_pixels": 128 * 32 * 32, "total_pixels": 32 * 128 * 32 * 32}
    video, metadata = vision_process.fetch_video(element, image_patch_size=16, return_video_metadata=True)
    assert metadata["video_backend"] == "decord"
    ours = UPSTREAM_VIDEO.sample(twenty_seconds)
    assert ours.indices == metadata["frames_indices"]
    assert ours.frames.shape == tuple(video.permute(0, 2, 3, 1).shape)
    difference = np.abs(ours.frames.astype(int) - video.permute(0, 2, 3, 1).numpy().round().astype(int))
    assert difference.max() <= 1  # the same decoded frames, resized by the same bicubic kernel


def test_a_model_scored_upstream_sees_32_frames(tiny_model):
    from rankvideo.rerank.reranker import VLMReranker

    assert VLMReranker(str(tiny_model), prompt_format="upstream").backend.video == UPSTREAM_VIDEO
    assert VLMReranker(str(tiny_model), prompt_format="paper").backend.video.max_frames == 24


# --- upstream's files -------------------------------------------------------------------------

def test_multivent_layout_is_found_as_upstream_builds_it(tmp_path):
    assert multivent_path(tmp_path, "12345") == tmp_path / "000124" / "12345.mp4"
    assert multivent_path(tmp_path, "99") == tmp_path / "000001" / "99.mp4"
    assert multivent_path(tmp_path, "abc") is None
    for vid in ("12345", "99"):
        multivent_path(tmp_path, vid).parent.mkdir(exist_ok=True)
        multivent_path(tmp_path, vid).write_bytes(b"x")
    (tmp_path / "flat.webm").write_bytes(b"x")
    ids = ["12345", "99", "flat", "404"]
    assert resolve_video_paths(ids, str(tmp_path)) == {"12345": tmp_path / "000124" / "12345.mp4", "99": tmp_path / "000001" / "99.mp4",
                                                       "flat": tmp_path / "flat.webm", "404": None}
    assert resolve_video_paths(ids, str(tmp_path), layout="flat") == {"12345": None, "99": None, "flat": tmp_path / "flat.webm", "404": None}
    assert resolve_video_paths(ids, str(tmp_path), layout="multivent")["flat"] is None


def test_queries_tsv_reads_the_second_column_of_wider_files(tmp_path):
    (tmp_path / "q.tsv").write_text("q1\tdog running in park\ten\tevent-3\nq2\tguitar on stage\tde\n")
    assert read_queries(tmp_path / "q.tsv") == {"q1": "dog running in park", "q2": "guitar on stage"}


def test_unknown_query_ids_are_skipped_without_shifting_the_others():
    kept, skipped = split_unknown_queries({"v1": ["q1", "qX", "q2"], "v2": ["qY"]}, {"q1", "q2"})
    assert kept == {"v1": ["q1", "q2"]} and skipped == [("v1", "qX"), ("v2", "qY")]


def test_score_dicts_carry_upstreams_keys():
    s = scored("q", "v.mp4", 1.5, -0.5)
    assert s["logit_delta"] == s["logit_delta_yes_minus_no"] == 2.0
    assert s["p_yes"] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert math.exp(s["logprob_yes"]) == pytest.approx(s["p_yes"]) and math.exp(s["logprob_no"]) == pytest.approx(1 - s["p_yes"])
    assert s["logprob_yes"] - s["logprob_no"] == pytest.approx(s["logit_delta"])
    assert scored("q", "v", 800.0, 0.0)["logprob_no"] == pytest.approx(-800.0)  # no overflow at large margins


def test_gzipped_runs_read_as_their_plain_twins(tmp_path):
    run = {"q1": {"v1": 0.9, "v2": 0.1}, "q2": {"v3": 2.0}}
    write_json_run(tmp_path / "run.json", run)
    (tmp_path / "run.json.gz").write_bytes(gzip.compress((tmp_path / "run.json").read_bytes()))
    assert read_run(tmp_path / "run.json.gz") == read_run(tmp_path / "run.json") == run


def test_training_rows_in_upstreams_field_variants_read_as_ours(tmp_path):
    ours = [{"query_id": "q1", "query": "a dog", "doc_id": "v1", "videos": ["/v/v1.mp4"], "true_label": 1, "teacher_p_yes": 0.8,
             "caption": "a dog runs"}]
    theirs = [{"query_id": "q1", "query": "a dog", "doc_id": "v1", "videos": ["/v/v1.mp4", "/v/other.mp4"], "teacher_label": 1,
               "meta": {"teacher_p_yes": 0.8}, "evidence": {"caption": "a dog runs", "asr": ""}}]
    for name, rows in (("ours", ours), ("theirs", theirs)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    keys = ("query_id", "query", "doc_id", "videos", "true_label", "teacher_p_yes")
    s2 = [[{k: r[k] for k in keys} for r in read_stage2_rows(tmp_path / f"{n}.jsonl")] for n in ("ours", "theirs")]
    assert s2[0] == s2[1]
    s1 = [[(r["videos"], r["caption"]) for r in read_stage1_rows(tmp_path / f"{n}.jsonl")] for n in ("ours", "theirs")]
    assert s1[0] == s1[1] == [(["/v/v1.mp4"], "a dog runs")]


def test_upstream_prediction_files_give_the_metrics_of_our_scores(tmp_path, capsys):
    """A folder of upstream's per-video files and our scores.json holding the same scores evaluate alike."""
    first_stage = {"q1": {f"v{i}": 10.0 - i for i in range(6)}, "q2": {f"v{i}": float(i) for i in range(6)}}
    model = {"q1": {"v5": 3.0, "v4": 2.0, "v0": -1.0}, "q2": {"v0": 4.0, "v5": -2.0}}
    write_json_run(tmp_path / "fs.json", first_stage)
    (tmp_path / "qrels.txt").write_text("q1 0 v5 1\nq1 0 v1 1\nq2 0 v0 2\n")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    write_json_run(ours / "RankVideo.json", model)
    by_video: dict[str, dict[str, dict]] = {}
    for qid, scores in model.items():
        for vid, delta in scores.items():
            by_video.setdefault(vid, {})[qid] = scored("", "", delta, 0.0)
    for vid, results in by_video.items():
        write_prediction(theirs, vid, "RankVideo", results)
    assert json.loads((theirs / "v5_reranking_RankVideo.json").read_text())["v5"]["q1"].keys() == {"logprob_yes", "logprob_no", "logit_delta", "p_yes"}
    assert read_predictions(sorted(theirs.glob("*.json"))) == model
    tables = []
    for pred_dir in (ours, theirs):
        assert evaluate_main(["--first-stage", str(tmp_path / "fs.json"), "--qrels", str(tmp_path / "qrels.txt"), "--pred-dir", str(pred_dir),
                              "--cutoffs", "1", "3"]) == 0
        tables.append(capsys.readouterr().out)
    assert tables[0] == tables[1] and "| RankVideo |" in tables[0]


@pytest.mark.slow
def test_rerank_reads_upstreams_files_and_writes_upstreams_output(demo_corpus, spread_model, tmp_path, capsys):
    """MultiVENT layout, no --query-mapping (queries.tsv beside the work list), a 4-column queries TSV and an unknown
    query id: the known pairs score exactly as from our own files, and upstream's output evaluates to our metrics."""
    queries = read_queries(demo_corpus / "queries_test.tsv")
    qids = list(queries)[:3]
    originals = sorted((demo_corpus / "videos").glob("v00[0-3].mp4"))
    numeric = {f"{1000 + i}": path for i, path in enumerate(originals)}
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    (ours_dir / "videos").mkdir(parents=True)
    (theirs_dir / "data").mkdir(parents=True)
    for vid, path in numeric.items():
        shutil.copy(path, ours_dir / "videos" / f"{vid}.mp4")
        multivent_path(theirs_dir / "videos", vid).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, multivent_path(theirs_dir / "videos", vid))
    work = {vid: list(qids) for vid in numeric}
    write_video2queries(ours_dir / "v2q.json", work)
    (ours_dir / "queries.tsv").write_text("".join(f"{q}\t{queries[q]}\n" for q in qids))
    write_video2queries(theirs_dir / "data" / "v2q.json", {vid: [*qids[:1], "q-unknown", *qids[1:]] for vid in numeric})
    (theirs_dir / "data" / "queries.tsv").write_text("".join(f"{q}\t{queries[q]}\ten\textra\n" for q in qids))
    common = ["--model", str(spread_model), "--min-pixels", "16384", "--max-pixels", "65536", "--batch-size", "3"]
    assert rerank_main([*common, "--video2queries", str(ours_dir / "v2q.json"), "--query-mapping", str(ours_dir / "queries.tsv"),
                        "--video-dir", str(ours_dir / "videos"), "--output-dir", str(ours_dir / "out")]) == 0
    assert rerank_main([*common, "--video2queries", str(theirs_dir / "data" / "v2q.json"), "--video-dir", str(theirs_dir / "videos"),
                        "--output-dir", str(theirs_dir / "out"), "--output-format", "upstream"]) == 0
    our_scores = read_json_run(ours_dir / "out" / "scores.json")
    assert sum(len(s) for s in our_scores.values()) == len(numeric) * len(qids)
    model_name = upstream_model_name(str(spread_model))
    files = sorted((theirs_dir / "out").glob(f"*_reranking_{model_name}.json"))
    assert [f.name for f in files] == [f"{vid}_reranking_{model_name}.json" for vid in sorted(numeric)]
    assert read_predictions(files) == our_scores  # each known query keeps its own score: no shift
    skipped = (theirs_dir / "out" / "skipped.tsv").read_text().splitlines()
    assert skipped[0] == "video_id\tquery_id\treason" and len(skipped) == 1 + len(numeric)
    assert all(line.split("\t")[1] == "q-unknown" for line in skipped[1:])
    # Upstream's own evaluate command shape, on each output folder: the same table.
    write_json_run(tmp_path / "fs.json", {q: {vid: 1.0 for vid in numeric} for q in qids})
    (tmp_path / "qrels.txt").write_text("".join(f"{q} 0 {sorted(numeric)[i % len(numeric)]} 1\n" for i, q in enumerate(qids)))
    tables = []
    for out in (ours_dir / "out", theirs_dir / "out"):
        capsys.readouterr()
        assert evaluate_main(["--pred-dir", str(out), "--first-stage", str(tmp_path / "fs.json"), "--qrels", str(tmp_path / "qrels.txt")]) == 0
        tables.append(capsys.readouterr().out.replace("| out |", f"| {model_name} |"))
    assert tables[0] == tables[1]


def test_upstream_names_its_files_after_the_last_part_of_the_model():
    assert upstream_model_name("hltcoe/RankVideo") == "RankVideo"
    assert upstream_model_name("results/models/rv2/") == "rv2"
