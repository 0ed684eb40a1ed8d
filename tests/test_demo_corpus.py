"""The demo corpus is real media whose content is known, and its broken files fail as intended."""

from collections import Counter

import pytest

from rankvideo.corpus.probe import probe_record, split_usable
from rankvideo.corpus.shards import shard_of
from rankvideo.demo.corpus import plan_corpus
from rankvideo.demo.topics import MODALITIES, TOPICS
from rankvideo.files.qrels import read_qrels
from rankvideo.files.queries import read_queries
from rankvideo.files.video import VideoDecodeError, sample_video
from rankvideo.files.video_sheet import read_video_sheet

BROKEN = {"truncated": "truncated file", "empty": "file is empty", "no-video": "no video stream"}


def test_plan_is_deterministic_and_balanced():
    plan = plan_corpus(13)
    assert plan == plan_corpus(13) and plan != plan_corpus(14)
    assert len(plan) == 52
    assert Counter(s.topic.modality for s in plan if s.topic and not s.broken) == {m: 12 for m in MODALITIES}
    assert Counter(s.broken for s in plan if s.broken) == {"no-audio": 1, "truncated": 1, "empty": 1, "no-video": 1}


def test_each_topic_is_recoverable_from_its_modality_only():
    for s in plan_corpus(13):
        if s.topic is None:
            continue
        modality = s.topic.modality
        assert bool(s.text) == (modality == "text")
        assert (s.visual["motion"] != "drift") == (modality == "visual")
        if modality == "speech":
            assert s.speech in s.topic.evidence
        if modality == "metadata":
            assert s.title in s.topic.evidence
        else:
            assert all(s.title not in t.evidence for t in TOPICS)


def test_generated_files_and_splits(demo_corpus):
    sheet = read_video_sheet(demo_corpus / "videos.tsv")
    assert len(sheet) == 52 and all(r.path.is_file() for r in sheet)
    train, test = read_queries(demo_corpus / "queries_train.tsv"), read_queries(demo_corpus / "queries_test.tsv")
    assert (len(train), len(test)) == (32, 16) and not set(train) & set(test)
    qrels = read_qrels(demo_corpus / "qrels.txt", query_ids=set(train) | set(test), doc_ids={r.video_id for r in sheet})
    assert sorted(len(v) for v in qrels.values()) == [3] * 45 + [4] * 3  # the red-ball topic has its silent fourth video


def test_good_videos_decode_within_5_to_15_seconds(demo_corpus):
    plan = {s.video_id: s for s in plan_corpus(13)}
    for record in read_video_sheet(demo_corpus / "videos.tsv"):
        spec = plan[record.video_id]
        if spec.broken in BROKEN:
            with pytest.raises(VideoDecodeError, match=BROKEN[spec.broken]):
                sample_video(record.path, max_frames=8, min_pixels=4096, max_pixels=4096)
            continue
        sampled = sample_video(record.path, fps=2, max_frames=24, min_pixels=4096, max_pixels=4096)
        assert 5.0 <= sampled.info.duration <= 15.5
        assert sampled.info.has_audio == (spec.broken != "no-audio")


def test_probe_and_split_record_every_broken_file(demo_corpus):
    sheet = read_video_sheet(demo_corpus / "videos.tsv")
    probes = [probe_record(r, fps=2, max_frames=8) for r in sheet]
    usable, skips = split_usable(demo_corpus / "videos.tsv", probes)
    plan = {s.video_id: s for s in plan_corpus(13)}
    assert {s.item_id: (plan[s.item_id].broken, s.stage) for s in skips} == {
        "v049": ("no-audio", "audio"), "v050": ("truncated", "probe"), "v051": ("empty", "probe"), "v052": ("no-video", "probe")}
    assert len(usable) == 49 and {u.video_id for u in usable}.isdisjoint({"v050", "v051", "v052"})


def test_shards_partition_the_corpus_stably():
    ids = [f"v{i:03d}" for i in range(1, 200)]
    shards = {shard_of(v, 4) for v in ids}
    assert shards == {"0", "1", "2", "3"}
    assert shard_of("v001", 4) == shard_of("v001", 4)
    assert shard_of("v001", 220) in {f"{i:03d}" for i in range(220)}
