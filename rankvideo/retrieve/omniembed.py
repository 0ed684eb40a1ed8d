"""OmniEmbed, the paper's first stage (§5), encoding as Tevatron's encode_mm does for MultiVENT 2.0.

The Qwen2.5-Omni thinker with the OmniEmbed LoRA adapter merged in. A query is "Query: " + its text (cut to
`query_max_len` tokens), a document its text fields joined by tab (cut to `passage_max_len` tokens), then its video
(`frames` frames at `frame_size`) and its audio track (16 kHz mono); each is rendered as one user turn with the
model's chat template, `<|endoftext|>` appended, and embedded as the final layer's hidden state of that last token,
L2-normalised. Search is exact inner product (rankvideo.retrieve.first_stage.dense_search).

Tevatron appends `<|endoftext|>` to `x[0]` of the rendered template, which was the whole string in transformers 4.5x
(a one-element list) and is its first character in 5.x (a string); here it is appended to the whole string.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankvideo.files.skips import Skip, Why
from rankvideo.files.video_sheet import VideoRecord
from rankvideo.models.architecture import local_folder
from rankvideo.retrieve.first_stage import EXTRACTED_FIELDS
from rankvideo.retrieve.settings import OmniEmbedSettings

log = logging.getLogger(__name__)
END = "<|endoftext|>"
CHUNK = 16  # videos per work part: a killed job redoes at most this many
# The released adapter was saved under transformers 4.x's thinker layout; 5.x moved every tower under `model.`.
V4_TO_V5 = (("base_model.model.model.layers.", "base_model.model.model.language_model.layers."),
            ("base_model.model.audio_tower.", "base_model.model.model.audio_tower."),
            ("base_model.model.visual.", "base_model.model.model.visual."))


class AdapterMismatch(RuntimeError):
    """The adapter's weights and the model's LoRA modules do not match one to one."""


def clean_field(text: str) -> str:
    """Tevatron's MultiVENT2.0.py clean_text: newlines and tabs to spaces, stripped."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def document_text(values: Mapping[str, str], fields: Sequence[str]) -> str:
    """The configured fields (Tevatron: caption, title, description, ASR), cleaned, empty ones dropped, joined by tab."""
    return "\t".join(t for t in (clean_field(values.get(f) or "") for f in fields) if t)


def truncated(tokenizer: Any, text: str, max_len: int) -> str:
    """The text cut to `max_len` tokens and decoded back, as Tevatron's collator does before rendering."""
    return tokenizer.decode(tokenizer.encode(text, max_length=max_len, truncation=True))


def render(processor: Any, text: str, video: bool = False, audio: bool = False) -> str:
    """One user turn (text, then video, then audio) through the chat template, no generation prompt, END appended."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "video", "video": "<video>"}] if video else []
    content += [{"type": "audio", "audio": "<audio>"}] if audio else []
    return processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=False) + END


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's hidden state at its last attended position, under left or right padding."""
    last = mask.shape[1] - 1 - mask.flip(1).int().argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def v5_adapter_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Adapter weights under transformers 5.x's module names, whichever layout they were saved in."""
    renamed = {}
    for key, tensor in state.items():
        for old, new in V4_TO_V5:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        renamed[key] = tensor
    return renamed


def merge_adapter(model: Any, adapter_dir: str | Path) -> Any:
    """The model with the LoRA adapter of `adapter_dir` merged in; every adapter weight must land on a LoRA module of
    the model and every LoRA module must get its weights, or AdapterMismatch names the keys."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    state = v5_adapter_keys(load_file(adapter_dir / "adapter_model.safetensors"))
    peft_model = get_peft_model(model, LoraConfig.from_pretrained(str(adapter_dir)))
    result = set_peft_model_state_dict(peft_model, state)
    missing = sorted(k for k in result.missing_keys if "lora_" in k)
    if result.unexpected_keys or missing:
        raise AdapterMismatch(f"{adapter_dir}: {len(result.unexpected_keys)} adapter weight(s) match no module of the model "
                              f"{sorted(result.unexpected_keys)[:3]}, {len(missing)} LoRA weight(s) of the model are missing {missing[:3]}")
    log.info("adapter %s: %d weights loaded, none missing", adapter_dir, len(state))
    return peft_model.merge_and_unload()


@dataclass
class Document:
    """What one video's embedding is made of: its text, its frames (T, H, W, 3 uint8) and its 16 kHz audio, if any."""

    text: str
    frames: np.ndarray | None
    audio: np.ndarray | None


class OmniEmbedEncoder:
    """The thinker in bf16 on GPU (fp32 on CPU) with the adapter merged, and the processor padding on the left."""

    def __init__(self, model_path: str, adapter: str, processor: str, settings: OmniEmbedSettings, device: str | None = None):
        from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

        self.settings = settings
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.processor = AutoProcessor.from_pretrained(processor, trust_remote_code=False)
        self.processor.tokenizer.padding_side = "left"  # Tevatron's encode_mm
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(model_path, dtype=dtype, use_safetensors=True,
                                                                            trust_remote_code=False)
        self.model = merge_adapter(model, local_folder(adapter)).to(self.device).eval()

    def query_input(self, text: str) -> str:
        return render(self.processor, truncated(self.processor.tokenizer, self.settings.query_prefix + text, self.settings.query_max_len))

    def document_input(self, doc: Document) -> str:
        text = truncated(self.processor.tokenizer, doc.text, self.settings.passage_max_len) if doc.text else ""
        return render(self.processor, text, video=doc.frames is not None, audio=doc.audio is not None)

    @torch.no_grad()
    def _embed(self, inputs: Mapping[str, Any]) -> np.ndarray:
        inputs = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        out = self.model(**inputs, output_hidden_states=True, return_dict=True)
        reps = torch.nn.functional.normalize(last_token(out.hidden_states[-1], inputs["attention_mask"]).float(), p=2, dim=-1)
        return reps.cpu().numpy()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), hidden) unit vectors, `batch_size` queries per left-padded forward."""
        size = self.settings.batch_size
        parts = [self._embed(self.processor(text=[self.query_input(t) for t in texts[i:i + size]], return_tensors="pt", padding="longest"))
                 for i in range(0, len(texts), size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.model.config.text_config.hidden_size), dtype=np.float32)

    def encode_document(self, doc: Document) -> np.ndarray:
        """One video's unit vector (hidden,)."""
        kwargs: dict[str, Any] = {}
        if doc.frames is not None:  # transformers 4.5x's processing, which Tevatron ran: each frame alone inside its pixel bounds
            kwargs.update(videos=[torch.from_numpy(doc.frames).permute(0, 3, 1, 2).float()], cap_pixels_per_frame=False)
        if doc.audio is not None:
            kwargs["audio"] = [doc.audio]
        inputs = self.processor(text=[self.document_input(doc)], return_tensors="pt", padding="longest", **kwargs)
        return self._embed(inputs)[0]


def video_document(path: str | Path, text: str, settings: OmniEmbedSettings) -> tuple[Document, list[tuple[Why, str]]]:
    """A video's Document and what it lacks: frames that cannot be decoded or a missing audio track leave that part
    out (the embedding is made from the rest), each with its skip code so the caller records it."""
    from rankvideo.files.video import VideoDecodeError, decode_audio, decode_uniform

    lacks: list[tuple[Why, str]] = []
    try:
        frames = decode_uniform(path, settings.frames, settings.frame_size)
    except VideoDecodeError as err:
        frames = None
        lacks.append((Why.UNREADABLE_VIDEO, f"frames not decoded ({err.reason}): encoded without video"))
    try:
        audio = decode_audio(path, settings.audio_rate)
    except VideoDecodeError as err:
        audio = None
        lacks.append((Why.NO_AUDIO, f"audio not decoded ({err.reason}): encoded without audio"))
    if audio is not None and not len(audio):
        audio = None
    if audio is None and not any(code == Why.NO_AUDIO for code, _ in lacks):
        lacks.append((Why.NO_AUDIO, "no audio track: encoded without audio"))
    return Document(text, frames, audio), lacks


def encoder_record(encoder: Mapping[str, str], settings: OmniEmbedSettings, text_fields: Sequence[str] | None, code: str) -> dict[str, Any]:
    """What made an embedding file: compared before a work folder's parts are reused, stored in every file."""
    return {**encoder, "settings": asdict(settings), "text_fields": list(text_fields) if text_fields is not None else None, "code": code}


def document_values(video: VideoRecord, record: Mapping[str, Any] | None) -> dict[str, str]:
    """A video's text fields: its sheet metadata (title, description, ...) and its extracted caption, ASR and OCR."""
    extracted = {f: record[f] for f in EXTRACTED_FIELDS if record and isinstance(record.get(f), str)}
    return {**video.metadata, **extracted}


def encode_shard(encoder: Mapping[str, str], settings: OmniEmbedSettings, videos: Sequence[VideoRecord],
                 records: Mapping[str, Mapping[str, Any]], text_fields: Sequence[str], work_dir: str | Path,
                 made_by: Mapping[str, Any]) -> tuple[list[str], np.ndarray, list[Skip]]:
    """Every video's embedding, resuming from `work_dir`; a video lacking frames or audio is encoded from the rest and
    recorded, one without any extraction record from its sheet metadata (the extraction's own skip names why)."""
    from rankvideo.retrieve.encode import encode_items

    if not videos:
        return [], np.zeros((0, 0), np.float32), []
    by_id = {v.video_id: v for v in videos}

    def loaded() -> Callable[[str], tuple[np.ndarray, list[tuple[Why, str]]]]:
        model = OmniEmbedEncoder(encoder["model"], encoder["adapter"], encoder["processor"], settings)

        def encode(video_id: str) -> tuple[np.ndarray, list[tuple[Why, str]]]:
            video = by_id[video_id]
            doc, lacks = video_document(video.path, document_text(document_values(video, records.get(video_id)), text_fields), settings)
            return model.encode_document(doc), lacks

        return encode

    return encode_items([v.video_id for v in videos], loaded, work_dir, made_by, chunk=CHUNK, stage="encode_corpus")
