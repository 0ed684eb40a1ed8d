"""A video's shard is a function of its id alone: the same in every process, run and machine."""

import os
import subprocess
import sys

from rankvideo.shards import shard_of

IDS = ("v001", "12345", "v050", "v002", "v003")


def test_shards_are_pinned_values_of_the_id():
    # sha1 of the id, first 8 bytes big-endian, modulo the shard count: recorded once, never to change.
    assert [shard_of(v, 220) for v in IDS[:3]] == ["019", "208", "219"]
    assert [shard_of(v, 4) for v in ("v001", "v002", "v003")] == ["3", "0", "1"]


def test_other_processes_with_other_hash_seeds_agree():
    code = f"from rankvideo.shards import shard_of; print(' '.join(shard_of(v, 220) for v in {IDS!r}))"
    here = " ".join(shard_of(v, 220) for v in IDS)
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        assert out == here
