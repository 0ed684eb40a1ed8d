"""Frame sampling identical to qwen-vl-utils 0.0.14 for Qwen3-VL, so training, inference and
baselines see the same frames.

nframes = min(max(duration * fps, 4), max_frames, total_frames), floored to even, spread over the
clip by linspace(0, total_frames - 1, nframes).round(); each frame resized (bicubic, antialiased)
to a size divisible by 2 * patch size inside the pixel budget (`fetch_video` in qwen-vl-utils).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

FRAME_FACTOR = 2
MIN_FRAMES = 4
SPATIAL_MERGE_SIZE = 2
MAX_ASPECT_RATIO = 200
# Upstream's inference settings (tskow99/RANKVIDEO-Reasoning-Reranker rankvideo/inference.py at 992a44a).
UPSTREAM_FPS = 2.0  # inference.py DEFAULT_FPS (also config.py FPS)
UPSTREAM_MAX_FRAMES = 32  # inference.py DEFAULT_MAX_FRAMES (also config.py MAX_FRAMES); paper Table 6 says 24
UPSTREAM_FRAME_PIXELS = 128 * 32 * 32  # inference.py MIN_ and MAX_TOKENS_PER_FRAME = 128 tokens of 32x32 pixels
UPSTREAM_IMAGE_PATCH_SIZE = 16  # inference.py process_vision_info(..., image_patch_size=16)
PAPER_MAX_FRAMES = 24  # paper Table 6: Stage 2 (and inference) max frames


class VideoDecodeError(RuntimeError):
    """A video that cannot be decoded; carries the path and the decoder's reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot decode video: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    total_frames: int
    fps: float
    width: int
    height: int
    has_audio: bool

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps


@dataclass(frozen=True)
class SampledVideo:
    frames: np.ndarray  # (T, H, W, 3) uint8, resized
    indices: list[int]
    timestamps: list[float]  # seconds, presentation time of each sampled frame
    info: VideoInfo

    @property
    def sample_fps(self) -> float:
        return len(self.indices) / max(self.info.total_frames, 1e-6) * self.info.fps


def round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def smart_nframes(total_frames: int, video_fps: float, fps: float, max_frames: int, min_frames: int = MIN_FRAMES) -> int:
    """How many frames qwen-vl-utils samples from a clip of `total_frames` at `video_fps`."""
    lo = ceil_by_factor(min_frames, FRAME_FACTOR)
    hi = floor_by_factor(max_frames, FRAME_FACTOR)
    wanted = total_frames / video_fps * fps
    nframes = floor_by_factor(min(max(wanted, lo), hi, total_frames), FRAME_FACTOR)
    if not FRAME_FACTOR <= nframes <= total_frames:
        raise ValueError(f"nframes should be in [{FRAME_FACTOR}, {total_frames}], got {nframes}")
    return nframes


def frame_indices(total_frames: int, nframes: int) -> list[int]:
    """Evenly spread frame indices, first and last frame included (torch.linspace(...).round())."""
    return [int(i) for i in np.round(np.linspace(0, total_frames - 1, nframes)).astype(np.int64)]


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Target size divisible by `factor`, inside [min_pixels, max_pixels], aspect ratio kept."""
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"aspect ratio must be below {MAX_ASPECT_RATIO}, got {max(height, width) / min(height, width)}")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def frame_size(info: VideoInfo, nframes: int, min_pixels: int, max_pixels: int, total_pixels: int, image_patch_size: int = 16) -> tuple[int, int]:
    """The per-frame size fetch_video picks: the total budget is shared by the sampled frames."""
    factor = image_patch_size * SPATIAL_MERGE_SIZE
    budget = max(min(768 * factor * factor, total_pixels / nframes * FRAME_FACTOR), int(min_pixels * 1.05))
    return smart_resize(info.height, info.width, factor, min_pixels, min(max_pixels, budget))


# `# pragma: no mutate block`: decoding I/O, run on real videos by tests/test_video.py; `make mutation` covers the
# sampling maths above.
def _open(path: Path) -> av.container.InputContainer:  # pragma: no mutate block
    if not path.is_file():
        raise VideoDecodeError(path, "file not found")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise VideoDecodeError(path, f"{type(err).__name__}: {err}") from None


def probe_video(path: str | Path) -> VideoInfo:  # pragma: no mutate block
    """Stream facts without decoding pixels; the frame count comes from demuxing when the header lacks it."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise VideoDecodeError(path, "no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoDecodeError(path, "video stream has no frame rate")
        total = stream.frames
        if total <= 0:
            try:
                total = sum(1 for packet in container.demux(stream) if packet.size)
            except av.error.FFmpegError as err:
                raise VideoDecodeError(path, f"{type(err).__name__}: {err}") from None
        if total <= 0:
            raise VideoDecodeError(path, "video stream has no frames")
        return VideoInfo(total, float(rate), stream.codec_context.width, stream.codec_context.height, bool(container.streams.audio))


def _decode(path: Path, indices: list[int]) -> tuple[list[np.ndarray], list[float]]:  # pragma: no mutate block
    wanted = set(indices)
    frames: list[np.ndarray] = []
    times: list[float] = []
    decoded = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for decoded, frame in enumerate(container.decode(stream)):
                if decoded in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    times.append(float(frame.time or 0.0))
                if decoded >= indices[-1]:
                    break
        except av.error.FFmpegError as err:
            raise VideoDecodeError(path, f"decoding stopped after frame {decoded}: {type(err).__name__}: {err}") from None
    if len(frames) != len(indices):
        raise VideoDecodeError(path, f"the stream ended after {decoded + 1} frames, before frame {indices[-1]} that the header promises (truncated file?)")
    return frames, times


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:  # pragma: no mutate block
    """Bicubic antialiased resize of (T, H, W, 3) uint8 frames, exactly as qwen-vl-utils does it."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize

    if frames.shape[1:3] == (height, width):
        return frames
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2)
    out = resize(tensor, [height, width], interpolation=InterpolationMode.BICUBIC, antialias=True)
    return out.permute(0, 2, 3, 1).contiguous().numpy()


def decode_sampled(path: str | Path, fps: float, max_frames: int) -> tuple[VideoInfo, list[int], list[np.ndarray], list[float]]:  # pragma: no mutate block
    """Probe a video and decode, unresized, the frames qwen-vl-utils would sample from it."""
    path = Path(path)
    info = probe_video(path)
    if info.total_frames < FRAME_FACTOR:
        raise VideoDecodeError(path, f"only {info.total_frames} frame(s); at least {FRAME_FACTOR} are needed")
    indices = frame_indices(info.total_frames, smart_nframes(info.total_frames, info.fps, fps, max_frames))
    frames, times = _decode(path, indices)
    return info, indices, frames, times


def decode_uniform(path: str | Path, nframes: int, size: int) -> np.ndarray:  # pragma: no mutate block
    """qwen-omni-utils' fetch_video with `nframes` and a square `resized_height`/`resized_width` (OmniEmbed's document
    video): `nframes` frames spread over the whole clip (fewer when it is shorter), bicubic antialiased to size x size."""
    path = Path(path)
    info = probe_video(path)
    n = min(round_by_factor(nframes, FRAME_FACTOR), info.total_frames)
    if n < FRAME_FACTOR:
        raise VideoDecodeError(path, f"only {info.total_frames} frame(s); at least {FRAME_FACTOR} are needed")
    frames, _ = _decode(path, frame_indices(info.total_frames, n))
    return resize_frames(np.stack(frames), size, size)


def decode_audio(path: str | Path, rate: int) -> np.ndarray | None:  # pragma: no mutate block
    """The file's first audio track as mono float32 samples at `rate` Hz; None when it has no audio track."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except av.error.FFmpegError as err:
            raise VideoDecodeError(path, f"audio decoding failed: {type(err).__name__}: {err}") from None
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class VideoSettings:
    """How frames are sampled for the model (config.yaml `video`); the pixel budget of all frames together is
    max_frames * max_pixels, as upstream's total_pixels."""

    fps: float = UPSTREAM_FPS
    max_frames: int = PAPER_MAX_FRAMES
    min_pixels: int = UPSTREAM_FRAME_PIXELS
    max_pixels: int = UPSTREAM_FRAME_PIXELS
    image_patch_size: int = UPSTREAM_IMAGE_PATCH_SIZE

    def sample(self, path: str | Path) -> SampledVideo:
        return sample_video(path, self.fps, self.max_frames, self.min_pixels, self.max_pixels, image_patch_size=self.image_patch_size)


def configured_video(video: Mapping[str, Any], stage: int) -> VideoSettings:
    """config.yaml's `video` block as one stage's frames: Stage 1 `max_frames_stage1`, Stage 2 and reranking
    `max_frames_stage2` (paper Table 6)."""
    return VideoSettings(video["fps"], video[f"max_frames_stage{stage}"], video["min_pixels"], video["max_pixels"], video["image_patch_size"])


# Upstream scores the released hltcoe/RankVideo with these, whatever the paper's table says.
UPSTREAM_VIDEO = VideoSettings(UPSTREAM_FPS, UPSTREAM_MAX_FRAMES, UPSTREAM_FRAME_PIXELS, UPSTREAM_FRAME_PIXELS, UPSTREAM_IMAGE_PATCH_SIZE)


def video_for_format(prompt_format: str, configured: VideoSettings) -> VideoSettings:
    """The frames a prompt format is scored on: `upstream` is upstream's inference in every setting (32 frames at
    fps 2, its pixel budget); the other formats take the configured settings (paper Table 6: 24 frames)."""
    return UPSTREAM_VIDEO if prompt_format == "upstream" else configured


def sample_video(
    path: str | Path,
    fps: float = 2.0,
    max_frames: int = PAPER_MAX_FRAMES,
    min_pixels: int = UPSTREAM_FRAME_PIXELS,
    max_pixels: int = UPSTREAM_FRAME_PIXELS,
    total_pixels: int | None = None,
    image_patch_size: int = 16,
) -> SampledVideo:
    """Decode the frames Qwen3-VL sees; `total_pixels` defaults to upstream's max_frames * frame pixels."""
    info, indices, frames, times = decode_sampled(path, fps, max_frames)
    budget = total_pixels if total_pixels is not None else max_frames * max_pixels
    height, width = frame_size(info, len(indices), min_pixels, max_pixels, budget, image_patch_size)
    return SampledVideo(resize_frames(np.stack(frames), height, width), indices, times, info)
