"""`python -m rankvideo.rerank`: resumable after a hard kill, failures listed, outputs consistent."""

import json
import subprocess
import sys
import time

import pytest

from rankvideo.files.errors import FormatError
from rankvideo.files.queries import read_queries
from rankvideo.files.runs import read_json_run
from rankvideo.files.video2queries import write_video2queries
from rankvideo.rerank.cli import main
from rankvideo.rerank.work import PROGRESS, read_progress


@pytest.fixture
def work(demo_corpus, tmp_path):
    queries = read_queries(demo_corpus / "queries_test.tsv")
    videos = sorted(p.stem for p in (demo_corpus / "videos").glob("*.mp4"))
    v2q = {v: list(queries)[:6] for v in videos}
    write_video2queries(tmp_path / "v2q.json", v2q)
    return tmp_path, v2q


def cli_args(demo_corpus, model, tmp_path, out):
    return ["--model", str(model), "--video2queries", str(tmp_path / "v2q.json"), "--query-mapping",
            str(demo_corpus / "queries_test.tsv"), "--video-dir", str(demo_corpus / "videos"), "--output-dir", str(out),
            "--min-pixels", "16384", "--max-pixels", "65536", "--batch-size", "3"]


@pytest.mark.slow
def test_killed_run_resumes_without_rescoring(demo_corpus, spread_model, work):
    tmp_path, v2q = work
    out = tmp_path / "out"
    args = cli_args(demo_corpus, spread_model, tmp_path, out)
    proc = subprocess.Popen([sys.executable, "-m", "rankvideo.rerank", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    progress = out / PROGRESS
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not progress.is_file() or progress.read_text().count("\n") < 3):
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    done_before = progress.read_text().count("\n")
    assert 3 <= done_before < len(v2q), "the run must be killed midway"
    resumed = subprocess.run([sys.executable, "-m", "rankvideo.rerank", *args], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming: {done_before} videos already scored, {len(v2q) - done_before} to go" in resumed.stderr
    records = [json.loads(line) for line in progress.read_text().splitlines()]
    assert sorted(r["video_id"] for r in records) == sorted(v2q)  # each video scored exactly once
    scores = read_json_run(out / "scores.json")
    failed = (out / "failed.tsv").read_text().splitlines()[1:]
    broken = {"v050", "v051", "v052"}
    assert {line.split("\t")[1] for line in failed} == broken
    assert sum(len(s) for s in scores.values()) + len(failed) == sum(len(q) for q in v2q.values())
    assert all(set(s) == set(v2q) - broken for s in scores.values())


def test_torn_last_line_and_changed_settings(tmp_path):
    settings = {"model": "m"}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    (tmp_path / PROGRESS).write_text('{"video_id": "v1", "results": []}\n{"video_id": "v2", "resu')
    assert list(read_progress(tmp_path, settings)) == ["v1"]
    assert (tmp_path / PROGRESS).read_text() == '{"video_id": "v1", "results": []}\n'
    assert read_progress(tmp_path, {"model": "other"}) == {}  # other settings: start afresh, old file kept aside
    assert (tmp_path / "scores.jsonl.stale").is_file()


def test_strict_stops_at_an_unknown_query_id_before_any_work(demo_corpus, spread_model, tmp_path):
    write_video2queries(tmp_path / "v2q.json", {"v001": ["q013", "q999"]})
    with pytest.raises(FormatError, match=r"v2q.json: unknown query id 'q999'"):
        main([*cli_args(demo_corpus, spread_model, tmp_path, tmp_path / "out"), "--strict", "--debug"])
    assert not (tmp_path / "out").exists()


def test_missing_video_file_costs_only_its_pairs(demo_corpus, spread_model, tmp_path):
    write_video2queries(tmp_path / "v2q.json", {"v001": ["q013"], "v999": ["q013", "q023"]})
    assert main(cli_args(demo_corpus, spread_model, tmp_path, tmp_path / "out")) == 0
    assert read_json_run(tmp_path / "out" / "scores.json").keys() == {"q013"}
    reason = f"video file not found under {demo_corpus / 'videos'} (auto layout)"
    assert (tmp_path / "out" / "failed.tsv").read_text().splitlines()[1:] == [f"q013\tv999\t{reason}", f"q023\tv999\t{reason}"]


def test_a_retrained_model_in_the_same_folder_does_not_resume(tmp_path):
    from rankvideo.rerank.work import model_fingerprint

    model = tmp_path / "rv2"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"old weights")
    before = model_fingerprint(str(model))
    (model / "model.safetensors").write_bytes(b"new weights, other size")
    assert model_fingerprint(str(model)) != before
    assert model_fingerprint("Qwen/Qwen3-VL-8B-Instruct") == "Qwen/Qwen3-VL-8B-Instruct"
