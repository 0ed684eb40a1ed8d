"""Every reader round-trips what its writer writes and rejects each kind of malformed input with file:line."""

import pytest

from rankvideo.files.errors import FormatError
from rankvideo.files.qrels import read_qrels, write_qrels
from rankvideo.files.queries import read_queries, write_queries
from rankvideo.files.runs import read_json_run, read_run, read_trec_run, truncate, write_json_run, write_trec_run
from rankvideo.files.video2queries import pooled_video2queries, read_video2queries, video2queries_from_run, write_video2queries
from rankvideo.files.video_sheet import VideoRecord, read_video_sheet, write_video_sheet


def write(tmp_path, name, content, binary=False):
    path = tmp_path / name
    path.write_bytes(content) if binary else path.write_text(content)
    return path


def assert_error(fn, path, line, fragment):
    with pytest.raises(FormatError) as info:
        fn(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert fragment in str(info.value)


# --- video sheet -----------------------------------------------------------------------------

def test_video_sheet_roundtrip_resolves_relative_paths(tmp_path):
    (tmp_path / "vids").mkdir()
    records = [VideoRecord("a", tmp_path / "vids" / "a.mp4", {"title": "A title", "language": "en"}),
               VideoRecord("b", tmp_path / "vids" / "b.mp4", {"title": "B", "language": "de"})]
    write_video_sheet(tmp_path / "sheet.tsv", records)
    assert "vids/a.mp4" in (tmp_path / "sheet.tsv").read_text()  # stored relative to the sheet
    assert read_video_sheet(tmp_path / "sheet.tsv") == records


@pytest.mark.parametrize("content, line, fragment", [
    ("", 1, "empty video sheet"),
    ("video_id\ttitle\nv1\tx\n", 1, "lacks column(s) ['path']"),
    ("video_id\tpath\ttitle\nv1\ta.mp4\n", 2, "expected 3 tab-separated fields"),
    ("video_id\tpath\nv1\ta.mp4\nv2\tb.mp4\nv1\tc.mp4\n", 4, "duplicate video_id 'v1' (first on line 2)"),
    ("video_id\tpath\n\ta.mp4\n", 2, "empty video_id"),
])
def test_video_sheet_rejects(tmp_path, content, line, fragment):
    assert_error(read_video_sheet, write(tmp_path, "sheet.tsv", content), line, fragment)


def test_bad_encoding_names_the_line(tmp_path):
    path = write(tmp_path, "sheet.tsv", b"video_id\tpath\nv1\ta.mp4\nv2\t\xff\xfe.mp4\n", binary=True)
    assert_error(read_video_sheet, path, 3, "not valid UTF-8")


# --- queries ---------------------------------------------------------------------------------

def test_queries_roundtrip(tmp_path):
    queries = {"q2": "dog running in park", "q1": "person playing guitar on stage"}
    write_queries(tmp_path / "q.tsv", queries)
    assert list(read_queries(tmp_path / "q.tsv").items()) == list(queries.items())


@pytest.mark.parametrize("content, line, fragment", [
    ("q1\tfine\nq2 no tab here\n", 2, "expected at least 2 tab-separated fields, found 1"),
    ("q1\ta\nq1\tb\n", 2, "duplicate query id 'q1' (first on line 1)"),
    ("q1\t  \n", 1, "empty text"),
])
def test_queries_reject(tmp_path, content, line, fragment):
    assert_error(read_queries, write(tmp_path, "q.tsv", content), line, fragment)


# --- qrels -----------------------------------------------------------------------------------

def test_qrels_roundtrip_and_unknown_ids(tmp_path):
    qrels = {"q1": {"v1": 1, "v2": 0}, "q2": {"v3": 2}}
    write_qrels(tmp_path / "qrels.txt", qrels)
    assert read_qrels(tmp_path / "qrels.txt") == qrels
    with pytest.raises(FormatError, match=r"qrels.txt:3: unknown query id 'q2'"):
        read_qrels(tmp_path / "qrels.txt", query_ids={"q1"})
    with pytest.raises(FormatError, match=r"qrels.txt:1: unknown video id 'v1'"):
        read_qrels(tmp_path / "qrels.txt", doc_ids={"v3"})


@pytest.mark.parametrize("content, line, fragment", [
    ("q1 0 v1 1\nq1 0 v2\n", 2, "expected 4 whitespace-separated fields, found 3"),
    ("q1 0 v1 yes\n", 1, "relevance must be an integer"),
    ("q1 0 v1 1\nq1 0 v1 0\n", 2, "duplicate judgment for (q1, v1)"),
])
def test_qrels_reject(tmp_path, content, line, fragment):
    assert_error(read_qrels, write(tmp_path, "qrels.txt", content), line, fragment)


# --- runs ------------------------------------------------------------------------------------

RUN = {"q1": {"v2": 0.5, "v1": 0.5, "v3": 0.9}, "q2": {"v9": -1.0}}


def test_trec_run_written_in_tie_broken_order(tmp_path):
    write_trec_run(tmp_path / "r.trec", RUN, tag="sys")
    lines = (tmp_path / "r.trec").read_text().splitlines()
    assert [l.split()[2] for l in lines[:3]] == ["v3", "v1", "v2"]  # (-score, doc_id)
    assert [l.split()[3] for l in lines[:3]] == ["1", "2", "3"]
    assert read_trec_run(tmp_path / "r.trec") == RUN


def test_json_run_both_ways_and_by_suffix(tmp_path):
    write_json_run(tmp_path / "r.json", RUN)
    assert read_json_run(tmp_path / "r.json") == RUN
    write_trec_run(tmp_path / "r.trec", RUN, tag="sys")
    assert read_run(tmp_path / "r.json") == read_run(tmp_path / "r.trec")


def test_truncate_keeps_top_in_tie_order():
    assert truncate(RUN, 2) == {"q1": {"v3": 0.9, "v1": 0.5}, "q2": {"v9": -1.0}}


@pytest.mark.parametrize("content, line, fragment", [
    ("q1 Q0 v1 1 0.5 sys\nq1 Q0 v2 2 sys\n", 2, "expected 6 whitespace-separated fields"),
    ("q1 Q0 v1 1 high sys\n", 1, "score must be a number"),
    ("q1 Q0 v1 1 nan sys\n", 1, "score is 'nan', not a finite number"),
    ("q1 Q0 v1 1 inf sys\n", 1, "score is 'inf', not a finite number"),
    ("q1 Q0 v1 1 0.5 sys\nq1 Q0 v1 2 0.4 sys\n", 2, "video 'v1' listed twice for query 'q1'"),
])
def test_trec_run_rejects(tmp_path, content, line, fragment):
    assert_error(read_trec_run, write(tmp_path, "r.trec", content), line, fragment)


def test_trec_run_unknown_ids(tmp_path):
    path = write(tmp_path, "r.trec", "q1 Q0 v1 1 0.5 sys\nq1 Q0 vX 2 0.4 sys\n")
    with pytest.raises(FormatError, match=r"r.trec:2: unknown video id 'vX'"):
        read_trec_run(path, doc_ids={"v1"})


@pytest.mark.parametrize("content, line, fragment", [
    ('{"q1": {"v1": 0.5},\n "q2": {"v1": }}', 2, "invalid JSON"),
    ('["q1"]', None, "expected a JSON object"),
    ('{"q1": [0.5]}', None, "expected an object {video_id: score}"),
    ('{"q1": {"v1": "x"}}', None, "score must be a number"),
])
def test_json_run_rejects(tmp_path, content, line, fragment):
    assert_error(read_json_run, write(tmp_path, "r.json", content), line, fragment)


# --- video2queries ---------------------------------------------------------------------------

def test_video2queries_roundtrip_from_run(tmp_path):
    mapping = video2queries_from_run(RUN)
    assert mapping == {"v1": ["q1"], "v2": ["q1"], "v3": ["q1"], "v9": ["q2"]}
    write_video2queries(tmp_path / "v2q.json", mapping)
    assert read_video2queries(tmp_path / "v2q.json", query_ids={"q1", "q2"}) == mapping


@pytest.mark.parametrize("content, fragment", [
    ('{"v1": "q1"}', "expected a list of query id strings"),
    ('{"v1": ["q1", "q1"]}', "a query id is listed twice"),
    ('{"v1": ["q7"]}', "unknown query id 'q7'"),
])
def test_video2queries_rejects(tmp_path, content, fragment):
    path = write(tmp_path, "v2q.json", content)
    with pytest.raises(FormatError, match=fragment.replace("[", r"\[").replace("(", r"\(")):
        read_video2queries(path, query_ids={"q1"})


def test_missing_file_is_a_format_error(tmp_path):
    assert_error(read_queries, tmp_path / "nope.tsv", None, "file not found")


def test_a_pooled_work_list_holds_each_pair_once():
    main = {"q1": {"v1": 3.0, "v2": 2.0}, "q2": {"v2": 1.0}}
    other = {"q1": {"v2": 9.0, "v3": 8.0}, "q3": {"v1": 1.0}}
    assert pooled_video2queries([main, other]) == {"v1": ["q1", "q3"], "v2": ["q1", "q2"], "v3": ["q1"]}
    assert pooled_video2queries([main]) == video2queries_from_run(main)
