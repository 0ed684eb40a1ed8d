"""The `omniembed` block of config.yaml as the typed settings of the OmniEmbed encoding jobs, one field per key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OmniEmbedSettings:
    """Rules encode_corpus and encode_queries: Tevatron's encode_mm settings for MultiVENT 2.0 (examples/multivent).
    omniembed.processor names the tokenizer, processor and chat template the rules hand the encoder."""

    query_prefix: str  # --query_prefix "Query: "
    query_max_len: int  # query tokens, prefix included (Tevatron's default 32: the encode command sets none)
    passage_max_len: int  # --passage_max_len 512: the document's text tokens (video and audio come on top)
    frames: int  # the document video's frames, spread over the clip (Tevatron's collator: nframes 24)
    frame_size: int  # frames resized to frame_size x frame_size (collator: 280), a multiple of 28
    audio_rate: int  # the audio track resampled to this rate, mono (qwen-omni-utils: 16 kHz)
    batch_size: int  # queries per forward (documents are encoded one at a time)
