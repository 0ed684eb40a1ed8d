"""A video's shard is a function of its id alone: the same in every process, run and machine."""

import os
import subprocess
import sys

from rankvideo.corpus.shards import shard_of

IDS = ("v001", "12345", "v050", "v002", "v003")


def test_shards_are_pinned_values_of_the_id():
    # sha1 of the id, first 8 bytes big-endian, modulo the shard count: recorded once, never to change.
    assert [shard_of(v, 220) for v in IDS[:3]] == ["019", "208", "219"]
    assert [shard_of(v, 4) for v in ("v001", "v002", "v003")] == ["3", "0", "1"]


def test_other_processes_with_other_hash_seeds_agree():
    code = f"from rankvideo.corpus.shards import shard_of; print(' '.join(shard_of(v, 220) for v in {IDS!r}))"
    here = " ".join(shard_of(v, 220) for v in IDS)
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        assert out == here


def test_shard_sheets_split_a_sheet_by_shard_of_each_video(tmp_path):
    from rankvideo.corpus.shards import write_shard_sheets
    from rankvideo.files.video_sheet import VideoRecord, read_video_sheet, write_video_sheet

    records = [VideoRecord(v, tmp_path / f"{v}.mp4", {"title": v.upper()}) for v in ("v001", "v002", "v003", "v004")]
    write_video_sheet(tmp_path / "videos.tsv", records)
    counts = write_shard_sheets(tmp_path / "videos.tsv", tmp_path / "shards", 4)
    assert counts == {"0": 1, "1": 2, "2": 0, "3": 1}
    for shard in ("0", "1", "2", "3"):
        assert [r.video_id for r in read_video_sheet(tmp_path / "shards" / f"{shard}.tsv")] == [
            r.video_id for r in records if shard_of(r.video_id, 4) == shard]
    assert read_video_sheet(tmp_path / "shards" / "3.tsv")[0].path == tmp_path / "v001.mp4"
    assert read_video_sheet(tmp_path / "shards" / "3.tsv")[0].metadata == {"title": "V001"}


def test_shard_sheets_go_into_a_new_nested_folder_and_can_be_rewritten(tmp_path):
    from rankvideo.corpus.shards import write_shard_sheets
    from rankvideo.files.video_sheet import VideoRecord, write_video_sheet

    write_video_sheet(tmp_path / "videos.tsv", [VideoRecord("v001", tmp_path / "v001.mp4")])
    out = tmp_path / "results" / "shards" / "sheets"
    assert write_shard_sheets(tmp_path / "videos.tsv", out, 2) == write_shard_sheets(tmp_path / "videos.tsv", out, 2)
    assert sorted(p.name for p in out.iterdir()) == ["0.tsv", "1.tsv"]
