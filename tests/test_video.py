"""The sampler picks qwen-vl-utils' frames from real encoded videos, and fails clearly on bad files."""

import subprocess

import numpy as np
import pytest
from qwen_vl_utils import vision_process as qwen

from rankvideo.files.video import VideoDecodeError, frame_indices, frame_size, probe_video, sample_video, smart_nframes, smart_resize
from tests.conftest import needs_media_tools


def encode_gray_ramp(path, n_frames, fps, width=64, height=48, audio=False):
    """A lossless RGB video whose frame i is uniformly grey level i: a decoded frame names its own index."""
    needs_media_tools()
    frames = np.repeat(np.arange(n_frames, dtype=np.uint8)[:, None, None, None], height * width * 3, axis=1)
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
           "-r", str(fps), "-i", "-"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440", "-shortest", "-c:a", "aac"]
    cmd += ["-c:v", "libx264rgb", "-qp", "0", "-movflags", "+faststart", str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


@pytest.mark.parametrize("total, video_fps, fps, max_frames", [
    (100, 25, 2, 24), (300, 10, 2, 24), (300, 10, 2, 32), (10, 10, 2, 24), (3, 10, 2, 24),
    (901, 29.97, 2, 32), (61, 30, 2, 24), (7, 1, 2, 24), (1000, 24, 0.5, 24), (4, 2, 2, 24),
])
def test_smart_nframes_matches_qwen_vl_utils(total, video_fps, fps, max_frames):
    expected = qwen.smart_nframes({"fps": fps, "max_frames": max_frames}, total_frames=total, video_fps=video_fps)
    assert smart_nframes(total, video_fps, fps, max_frames) == expected


@pytest.mark.parametrize("height, width, factor, min_pixels, max_pixels", [
    (180, 320, 32, 131072, 131072), (360, 640, 32, 12544, 50176), (1080, 1920, 32, 131072, 131072),
    (48, 64, 32, 12544, 50176), (100, 3000, 28, 3136, 1000000),
    (130, 126, 32, 3136, 16384), (130, 126, 32, 16384, 1000000), (1, 200, 32, 3136, 1000000),  # each bound met exactly
])
def test_smart_resize_matches_qwen_vl_utils(height, width, factor, min_pixels, max_pixels):
    expected = qwen.smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    assert smart_resize(height, width, factor, min_pixels, max_pixels) == expected


def test_frame_indices_is_rounded_linspace():
    assert frame_indices(100, 8) == [0, 14, 28, 42, 57, 71, 85, 99]
    assert frame_indices(10, 4) == [0, 3, 6, 9]


def test_samples_the_expected_frames_and_timestamps(tmp_path):
    path = encode_gray_ramp(tmp_path / "ramp.mp4", n_frames=100, fps=25)  # 4 s
    sampled = sample_video(path, fps=2, max_frames=24, min_pixels=64 * 64, max_pixels=64 * 64)
    assert sampled.indices == [0, 14, 28, 42, 57, 71, 85, 99]  # 4 s x 2 fps = 8 frames
    assert sampled.timestamps == pytest.approx([i / 25 for i in sampled.indices])
    # Lossless encoding: each decoded frame's grey level is its own index.
    assert [int(np.median(f)) for f in sampled.frames] == sampled.indices
    assert sampled.frames.dtype == np.uint8 and sampled.frames.shape[3] == 3
    assert sampled.frames.shape[1:3] == smart_resize(48, 64, 32, 64 * 64, 64 * 64)


def test_max_frames_caps_a_long_clip(tmp_path):
    path = encode_gray_ramp(tmp_path / "long.mp4", n_frames=240, fps=8)  # 30 s
    sampled = sample_video(path, fps=2, max_frames=24, min_pixels=4096, max_pixels=4096)
    assert len(sampled.indices) == 24
    assert sampled.indices[0] == 0 and sampled.indices[-1] == 239
    assert sampled.info.duration == pytest.approx(30.0)


def test_short_clip_gets_the_minimum_of_four_frames(tmp_path):
    path = encode_gray_ramp(tmp_path / "short.mp4", n_frames=10, fps=10)  # 1 s: 2 wanted, 4 minimum
    assert sample_video(path, fps=2, max_frames=24, min_pixels=4096, max_pixels=4096).indices == [0, 3, 6, 9]


def test_probe_reports_audio(tmp_path):
    silent = probe_video(encode_gray_ramp(tmp_path / "silent.mp4", 20, 10))
    loud = probe_video(encode_gray_ramp(tmp_path / "loud.mp4", 20, 10, audio=True))
    assert (silent.has_audio, loud.has_audio) == (False, True)
    assert (silent.total_frames, silent.fps, silent.width, silent.height) == (20, 10.0, 64, 48)


def _audio_only(path):
    needs_media_tools()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-c:a", "aac", str(path)], check=True)


@pytest.mark.parametrize("make, reason", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "file is empty (0 bytes)"),
    (lambda p: p.write_bytes(b"this is not a video at all" * 10), "InvalidDataError"),
    (_audio_only, "no video stream"),
])
def test_bad_files_raise_one_error_type(tmp_path, make, reason):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(VideoDecodeError) as info:
        sample_video(path)
    assert info.value.path == str(path) and reason in info.value.reason
    assert str(info.value).startswith(f"{path}: cannot decode video: ")


def test_truncated_file_is_caught_mid_stream(tmp_path):
    full = encode_gray_ramp(tmp_path / "full.mp4", n_frames=200, fps=25, width=128, height=96)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match="truncated file"):
        sample_video(cut)


def test_impossible_frame_counts_and_shapes_are_refused_with_the_numbers():
    with pytest.raises(ValueError) as info:
        smart_nframes(1, 10, 2, 24)
    assert str(info.value) == "nframes should be in [2, 1], got 0"
    with pytest.raises(ValueError) as info:
        smart_resize(1, 201, 32, 3136, 10**6)
    assert str(info.value) == "aspect ratio must be below 200, got 201.0"


@pytest.mark.parametrize("width, height, n_frames, min_pixels, max_pixels, total_pixels", [
    (320, 180, 200, 12544, 131072, 4 * 131072),      # the total budget binds: 4 frames' worth over 32 frames
    (160, 120, 200, 18500, 131072, 2 * 131072),      # 1.05 x min_pixels binds over the total budget
    (1280, 720, 40, 3136, 2_000_000, 10**9),          # qwen-vl-utils' cap of 768 tokens per frame binds
])
def test_frame_size_is_fetch_videos_under_each_budget(tmp_path, monkeypatch, width, height, n_frames, min_pixels, max_pixels, total_pixels):
    """The per-frame size qwen-vl-utils 0.0.14 picks (decord, as upstream installs it) when each term of its budget binds."""
    monkeypatch.setenv("FORCE_QWENVL_VIDEO_READER", "decord")
    path = encode_gray_ramp(tmp_path / "clip.mp4", n_frames=n_frames, fps=10, width=width, height=height)
    element = {"video": str(path), "fps": 2.0, "max_frames": 32, "min_pixels": min_pixels, "max_pixels": max_pixels,
               "total_pixels": total_pixels}
    video, metadata = qwen.fetch_video(element, image_patch_size=16, return_video_metadata=True)
    info = probe_video(path)
    assert frame_size(info, len(metadata["frames_indices"]), min_pixels, max_pixels, total_pixels) == tuple(video.shape[2:])


def fetched_shape(path, image_patch_size=16, **element):
    from qwen_vl_utils import vision_process

    video, metadata = vision_process.fetch_video({"video": str(path), **element}, image_patch_size=image_patch_size, return_video_metadata=True)
    return metadata["frames_indices"], tuple(video.permute(0, 2, 3, 1).shape)


def test_sample_video_and_video_settings_sample_as_fetch_video_does(tmp_path, monkeypatch):
    """Defaults (fps 2, 24 frames, 128x32x32 pixels, budget max_frames x max_pixels), an explicit total budget and
    another patch size: each gives fetch_video's frames and size (decord, as upstream installs it)."""
    from rankvideo.files.video import VideoSettings

    monkeypatch.setenv("FORCE_QWENVL_VIDEO_READER", "decord")
    short = encode_gray_ramp(tmp_path / "short.mp4", n_frames=50, fps=10, width=320, height=180)  # 5 s: 10 frames at fps 2
    default = sample_video(short)
    assert (default.indices, default.frames.shape) == fetched_shape(short, fps=2.0, max_frames=24, min_pixels=131072, max_pixels=131072,
                                                                     total_pixels=24 * 131072)
    assert len(default.indices) == 10
    path = encode_gray_ramp(tmp_path / "clip.mp4", n_frames=200, fps=10, width=640, height=360)  # 20 s
    budgeted = sample_video(path, min_pixels=3136, max_pixels=65536, total_pixels=4 * 65536)
    assert (budgeted.indices, budgeted.frames.shape) == fetched_shape(path, fps=2.0, max_frames=24, min_pixels=3136, max_pixels=65536,
                                                                       total_pixels=4 * 65536)
    settings = VideoSettings(fps=1.0, max_frames=16, min_pixels=3136, max_pixels=65536, image_patch_size=14)
    sampled = settings.sample(path)
    assert (sampled.indices, sampled.frames.shape) == fetched_shape(path, 14, fps=1.0, max_frames=16, min_pixels=3136, max_pixels=65536,
                                                                     total_pixels=16 * 65536)
    assert sampled.frames.shape[1] % 28 == 0 and len(sampled.indices) == 16


def test_each_stage_reads_its_own_frame_budget_from_the_config():
    from rankvideo.files.video import VideoSettings, configured_video

    block = {"fps": 2, "max_frames_stage1": 32, "max_frames_stage2": 24, "min_pixels": 3136, "max_pixels": 65536, "image_patch_size": 14}
    assert configured_video(block, 1) == VideoSettings(2, 32, 3136, 65536, 14)
    assert configured_video(block, 2) == VideoSettings(2, 24, 3136, 65536, 14)
