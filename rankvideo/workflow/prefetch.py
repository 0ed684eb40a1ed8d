"""Download every configured checkpoint on a login node, so compute jobs run with HF_HUB_OFFLINE=1.

Checks free disk against the checkpoints' sizes before the first byte is fetched: a cluster cache
that fills halfway through a 60 GB download leaves nothing usable and costs the time twice.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankvideo.cli import UsageError
from rankvideo.extract.packaged import PACKAGED_MODELS
from rankvideo.workflow.config import built_here

log = logging.getLogger(__name__)

# Safetensors weights and the files that describe them; never pickled .bin/.pt duplicates.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja"]
DISK_MARGIN = 1.05


@dataclass(frozen=True)
class Checkpoint:
    """One thing to fetch: a Hugging Face Hub repo, or an openai-whisper model (its own download)."""

    source: str  # "hub" or "whisper"
    name: str


class DiskSpaceError(RuntimeError):
    pass


class HubUnreachable(UsageError):
    """No network path to the model hub: prefetch belongs on a machine with internet access."""


UNREACHABLE = {"TransportError", "ConnectError", "ConnectionError", "Timeout", "TimeoutException", "URLError"}


def is_unreachable(err: BaseException) -> bool:
    """A network failure, whichever HTTP stack raised it (httpx's, requests', urllib's transport errors)."""
    return isinstance(err, OSError) or bool(UNREACHABLE & {c.__name__ for c in type(err).__mro__})


def is_hub_id(model: str) -> bool:
    """A hub id is 'owner/name' and not a model this workflow builds or a folder on disk."""
    return model.count("/") == 1 and not built_here(model) and not model.startswith(("/", ".")) and not Path(model).exists()


def configured_checkpoints(config: Mapping[str, Any]) -> list[Checkpoint]:
    """Every checkpoint a job of this config loads; models built by the workflow or shipped in packages are skipped."""
    models = config["models"]
    wanted = [models["captioner"], models["query_writer"], models["teacher"], models["base"]]
    wanted += [r["model"] for r in config["rerankers"].values()]
    for stage in (config["first_stage"], *config["other_first_stages"].values()):
        if stage["backend"] != "precomputed":
            wanted.append(stage["model"])
        if stage["backend"] == "omniembed":
            wanted += [stage["adapter"], config["omniembed"]["processor"]]
    found = [Checkpoint("hub", m) for m in dict.fromkeys(wanted) if is_hub_id(m)]
    if config["extract"]["asr_backend"] == "openai-whisper" and models["asr"] not in PACKAGED_MODELS:
        found.append(Checkpoint("whisper", models["asr"].removeprefix("openai/whisper-")))
    elif is_hub_id(models["asr"]):
        found.append(Checkpoint("hub", models["asr"]))
    return found


def hub_size(repo_id: str) -> int:
    """Bytes of the files `fetch` would download from a hub repo."""
    from fnmatch import fnmatch

    from huggingface_hub import HfApi

    info = HfApi().model_info(repo_id, files_metadata=True)
    return sum(s.size or 0 for s in info.siblings if any(fnmatch(s.rfilename, p) for p in HUB_PATTERNS))


def whisper_size(name: str) -> int:
    import urllib.request

    import whisper

    request = urllib.request.Request(whisper._MODELS[name], method="HEAD")
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.headers["Content-Length"])


def check_disk(sizes: Mapping[Checkpoint, int], cache_dir: Path, free_bytes: int) -> None:
    """Stop before downloading when the cache's disk cannot hold everything (with a 5% margin)."""
    needed = int(sum(sizes.values()) * DISK_MARGIN)
    if needed > free_bytes:
        listing = "\n".join(f"  {c.source}:{c.name}  {size / 1e9:.1f} GB" for c, size in sizes.items())
        raise DiskSpaceError(
            f"prefetch needs {needed / 1e9:.1f} GB but {cache_dir} has {free_bytes / 1e9:.1f} GB free:\n{listing}\n"
            "Free space there, or point HF_HOME (hub models) and XDG_CACHE_HOME (whisper) at a larger disk, then rerun."
        )


def fetch(checkpoint: Checkpoint, whisper_root: Path) -> str:
    """Download one checkpoint (resuming a partial download) and return where it lies."""
    if checkpoint.source == "hub":
        from huggingface_hub import snapshot_download

        return snapshot_download(checkpoint.name, allow_patterns=HUB_PATTERNS)
    import whisper

    # openai-whisper's own downloader (checksum-verified), the one load_model uses; private, so the version is pinned in envs/.
    return whisper._download(whisper._MODELS[checkpoint.name], str(whisper_root), in_memory=False)


def prefetch(
    checkpoints: Iterable[Checkpoint],
    cache_dir: Path,
    whisper_root: Path,
    size_of: Callable[[Checkpoint], int] | None = None,
) -> list[dict[str, Any]]:
    """Measure, check the disk, then fetch each checkpoint; returns one record per checkpoint."""
    size_of = size_of or (lambda c: hub_size(c.name) if c.source == "hub" else whisper_size(c.name))
    try:
        sizes = {c: size_of(c) for c in checkpoints}
    except Exception as err:
        if not is_unreachable(err):
            raise
        raise HubUnreachable(f"the model hub could not be reached ({type(err).__name__}: {err}); prefetch downloads the "
                             "checkpoints, so run it on a machine with internet access (a login node), then the jobs offline") from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    check_disk(sizes, cache_dir, shutil.disk_usage(cache_dir).free)
    records = []
    for checkpoint, size in sizes.items():
        log.info("fetching %s:%s (%.1f GB)", checkpoint.source, checkpoint.name, size / 1e9)
        records.append({**asdict(checkpoint), "bytes": size, "path": fetch(checkpoint, whisper_root)})
    return records


def write_manifest(path: str | Path, records: list[dict[str, Any]]) -> None:
    from rankvideo.files.atomic import atomic_write

    with atomic_write(path) as out:
        json.dump(records, out, indent=2)
