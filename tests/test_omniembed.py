"""OmniEmbed on its tiny twin: Tevatron's inputs exactly, last-token pooling, the 4.x adapter merged with no key
lost, resumable shard encoding, and videos without audio or frames encoded from the rest and recorded."""

import json

import numpy as np
import pytest
import torch

from rankvideo.files.embeddings import read_embeddings, write_embeddings
from rankvideo.files.errors import FormatError
from rankvideo.files.settings import from_block
from rankvideo.files.skips import Why
from rankvideo.files.video_sheet import VideoRecord
from rankvideo.retrieve.encode import encode_items
from rankvideo.retrieve.first_stage import search_embeddings
from rankvideo.retrieve.omniembed import (
    AdapterMismatch,
    Document,
    OmniEmbedEncoder,
    document_text,
    encode_shard,
    last_token,
    merge_adapter,
    v5_adapter_keys,
    video_document,
)
from rankvideo.retrieve.settings import OmniEmbedSettings
from tests.conftest import PAPER_CONFIG

SETTINGS = from_block(OmniEmbedSettings, PAPER_CONFIG["omniembed"])  # Tevatron's: "Query: ", 32 / 512 tokens, 24 frames at 280
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


@pytest.fixture(scope="module")
def encoder(tiny_omniembed):
    return OmniEmbedEncoder(str(tiny_omniembed / "thinker"), str(tiny_omniembed / "adapter"), str(tiny_omniembed / "thinker"), SETTINGS)


def test_a_query_renders_as_tevatron_encodes_it(encoder):
    assert encoder.query_input("flood warning issued") == (f"{SYSTEM}<|im_start|>user\nQuery: flood warning issued<|im_end|>\n"
                                                           "<|endoftext|>")
    long = encoder.query_input(" ".join(["word"] * 100))
    tokens = encoder.processor.tokenizer.encode(long.removeprefix(f"{SYSTEM}<|im_start|>user\n").removesuffix("<|im_end|>\n<|endoftext|>"))
    assert len(tokens) == 32  # query_max_len, "Query: " included


def test_a_document_renders_text_then_video_then_audio(encoder):
    text = document_text({"caption": "a red\nball", "title": "Ball", "description": "", "asr": "it\tbounces"},
                         ["caption", "title", "description", "asr"])
    assert text == "a red ball\tBall\tit bounces"  # Tevatron's clean_text, empty fields dropped, tab-joined
    doc = Document(text, np.zeros((2, 28, 28, 3), np.uint8), np.zeros(16000, np.float32))
    assert encoder.document_input(doc) == (f"{SYSTEM}<|im_start|>user\na red ball\tBall\tit bounces<|vision_bos|><|VIDEO|><|vision_eos|>"
                                           "<|audio_bos|><|AUDIO|><|audio_eos|><|im_end|>\n<|endoftext|>")
    assert encoder.document_input(Document(text, None, None)).endswith("it bounces<|im_end|>\n<|endoftext|>")


def test_pooling_takes_each_rows_last_token_under_left_and_right_padding():
    hidden = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(last_token(hidden, left), hidden[[0, 1], [3, 3]])
    assert torch.equal(last_token(hidden, right), hidden[[0, 1], [1, 3]])


def test_query_embeddings_are_unit_vectors_whatever_the_batch(encoder):
    texts = ["a red ball", "flood warning issued for the river valley tonight", "chess"]
    together = encoder.encode_queries(texts)  # one left-padded batch
    alone = np.stack([encoder.encode_queries([t])[0] for t in texts])
    assert together.shape == (3, 64) and np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert np.abs(together - alone).max() < 1e-5


def test_the_4x_adapter_merges_with_every_key_and_its_delta(tiny_omniembed):
    from peft import LoraConfig
    from safetensors.torch import load_file, save_file
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    saved = load_file(tiny_omniembed / "adapter" / "adapter_model.safetensors")
    assert any(k.startswith("base_model.model.model.layers.") for k in saved)  # transformers 4.x names, as released
    renamed = v5_adapter_keys(saved)
    assert sum(k.startswith("base_model.model.model.language_model.layers.") for k in renamed) == 28  # 2 layers x 7 modules x A, B
    assert sum(".model.audio_tower." in k for k in renamed) == 12 and sum(".model.visual." in k for k in renamed) == 12

    def load():
        return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_omniembed / "thinker", dtype=torch.float32)

    base, merged = load(), merge_adapter(load(), tiny_omniembed / "adapter")
    config = LoraConfig.from_pretrained(str(tiny_omniembed / "adapter"))
    prefix = "base_model.model.model.language_model.layers.0.self_attn.q_proj"
    a, b = renamed[f"{prefix}.lora_A.weight"], renamed[f"{prefix}.lora_B.weight"]
    expected = base.model.language_model.layers[0].self_attn.q_proj.weight + (config.lora_alpha / config.r) * b @ a
    assert torch.allclose(merged.model.language_model.layers[0].self_attn.q_proj.weight, expected, atol=1e-6)
    assert not torch.equal(merged.model.visual.blocks[0].mlp.up_proj.weight, base.model.visual.blocks[0].mlp.up_proj.weight)

    broken = tiny_omniembed.parent / "broken-adapter"
    broken.mkdir(exist_ok=True)
    save_file({k: v for k, v in saved.items() if "layers.1.mlp" not in k}, broken / "adapter_model.safetensors")
    (broken / "adapter_config.json").write_text((tiny_omniembed / "adapter" / "adapter_config.json").read_text())
    with pytest.raises(AdapterMismatch, match=r"6 LoRA weight\(s\) of the model are missing"):
        merge_adapter(load(), broken)


def test_a_video_without_audio_or_frames_is_encoded_from_the_rest_and_recorded(encoder, demo_corpus):
    silent, lacks = video_document(demo_corpus / "videos" / "v049.mp4", "a caption", SETTINGS)
    assert silent.frames.shape == (24, 280, 280, 3) and silent.audio is None
    assert lacks == [(Why.NO_AUDIO, "no audio track: encoded without audio")]
    truncated, lacks = video_document(demo_corpus / "videos" / "v050.mp4", "a caption", SETTINGS)
    assert truncated.frames is None and lacks[0][0] == Why.UNREADABLE_VIDEO
    assert "encoded without video" in lacks[0][1]
    whole, lacks = video_document(demo_corpus / "videos" / "v001.mp4", "a caption", SETTINGS)
    assert lacks == [] and whole.audio.dtype == np.float32 and len(whole.audio) > 16000
    for doc in (silent, truncated, whole):
        assert abs(np.linalg.norm(encoder.encode_document(doc)) - 1.0) < 1e-5


class Stop(RuntimeError):
    pass


def test_a_shard_stopped_midway_resumes_without_encoding_done_videos_again(tmp_path):
    made_by = {"model": "m", "settings": {"frames": 24}}
    calls: list[str] = []

    def encode(item, stop_at=None):
        if item == stop_at:
            raise Stop(item)
        calls.append(item)
        return np.full(4, float(item[1:]), np.float32), [(Why.NO_AUDIO, "no audio track")] if item == "v3" else []

    items = [f"v{i}" for i in range(7)]
    with pytest.raises(Stop):
        encode_items(items, lambda: lambda i: encode(i, stop_at="v5"), tmp_path / "work", made_by, chunk=2, stage="encode_corpus")
    assert sorted(p.name for p in (tmp_path / "work").glob("*.safetensors")) == ["part-00000.safetensors", "part-00001.safetensors"]
    calls.clear()
    ids, vectors, skips = encode_items(items, lambda: encode, tmp_path / "work", made_by, chunk=2, stage="encode_corpus")
    assert calls == ["v4", "v5", "v6"]  # the part holding v4 was never written: v4 again, v0-v3 not
    assert ids == items and vectors[:, 0].tolist() == list(range(7))
    assert [(s.item_id, s.code) for s in skips] == [("v3", Why.NO_AUDIO)]  # recorded once, from its part

    def no_model():
        raise AssertionError("the encoder was loaded with every video encoded")

    again = encode_items(items, no_model, tmp_path / "work", made_by, chunk=2, stage="encode_corpus")
    assert again[0] == ids and (again[1] == vectors).all() and again[2] == skips
    calls.clear()
    encode_items(items, lambda: encode, tmp_path / "work", {**made_by, "settings": {"frames": 16}}, chunk=2, stage="encode_corpus")
    assert calls == items  # parts made with other settings are not reused


def test_a_shard_encodes_its_videos_from_their_records(tiny_omniembed, demo_corpus, tmp_path):
    videos = [VideoRecord(v, demo_corpus / "videos" / f"{v}.mp4", {"title": f"title of {v}", "description": ""}) for v in ("v001", "v049")]
    records = {"v001": {"video_id": "v001", "caption": "a red ball", "asr": "it bounces"}}
    folders = {"model": str(tiny_omniembed / "thinker"), "adapter": str(tiny_omniembed / "adapter"), "processor": str(tiny_omniembed / "thinker")}
    ids, vectors, skips = encode_shard(folders, SETTINGS, videos, records, ["caption", "title", "asr"], tmp_path / "work", {"run": 1})
    assert ids == ["v001", "v049"] and vectors.shape == (2, 64)
    assert [(s.item_id, s.stage, s.code) for s in skips] == [("v049", "encode_corpus", Why.NO_AUDIO)]


def test_search_reads_the_shards_and_refuses_one_made_otherwise(tmp_path):
    made_by = {"model": "m", "adapter": "a", "processor": "p", "settings": {"frames": 24}}
    write_embeddings(tmp_path / "q.safetensors", ["q1", "q2"], np.eye(3, dtype=np.float32)[:2], made_by)
    write_embeddings(tmp_path / "0.safetensors", ["a", "b"], np.eye(3, dtype=np.float32)[[1, 0]], {**made_by, "code": "x"})
    write_embeddings(tmp_path / "1.safetensors", [], np.zeros((0, 3), np.float32), made_by)
    run = search_embeddings(tmp_path / "q.safetensors", [tmp_path / "0.safetensors", tmp_path / "1.safetensors"], ["q1", "q2"], 1000)
    assert run == {"q1": {"b": 1.0, "a": 0.0}, "q2": {"a": 1.0, "b": 0.0}}
    write_embeddings(tmp_path / "2.safetensors", ["c"], np.eye(3, dtype=np.float32)[:1], {**made_by, "settings": {"frames": 16}})
    with pytest.raises(ValueError, match=r"2.safetensors: encoded with other \['settings'\]"):
        search_embeddings(tmp_path / "q.safetensors", [tmp_path / "2.safetensors"], ["q1", "q2"], 1000)
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(FormatError, match="bad.safetensors: not an embedding file"):
        read_embeddings(tmp_path / "bad.safetensors")
    assert json.loads(json.dumps(read_embeddings(tmp_path / "q.safetensors")[2])) == made_by
