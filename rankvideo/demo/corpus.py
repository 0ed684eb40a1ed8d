"""Generate the demo corpus: real H.264/AAC mp4 files with known pictures, on-screen text and speech.

Pictures are drawn with Pillow, speech is synthesised with espeak-ng and both are encoded by
ffmpeg, so every later stage (decoding, OCR, ASR, captioning, reranking) runs on real media. A few
deliberately broken files test that the pipeline records what it cannot use instead of dying.
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rankvideo.demo.topics import COLOURS, GENERIC_DESCRIPTIONS, GENERIC_SPEECH, GENERIC_TITLES, TOPICS, Topic
from rankvideo.files.atomic import atomic_write
from rankvideo.files.qrels import write_qrels
from rankvideo.files.queries import write_queries
from rankvideo.files.video_sheet import VideoRecord, write_video_sheet

WIDTH, HEIGHT, FPS = 320, 180, 10
TOOLS = ("ffmpeg", "espeak-ng")


@dataclass
class VideoSpec:
    """Everything that goes into one demo video, drawn from the seed."""

    video_id: str
    topic: Topic | None
    variant: int
    duration: float
    background: tuple[int, int, int]
    title: str
    description: str
    speech: str | None  # None: no audio stream
    text: str = ""
    visual: dict = field(default_factory=dict)
    broken: str = ""  # how the file is deliberately broken, if it is


def check_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"the demo corpus needs {missing} on PATH; install with: apt-get install -y {' '.join(missing)}")


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, colour: tuple, angle: float = 0.0) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        points = [(cx + r * math.cos(angle + k * 2 * math.pi / 3), cy + r * math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
        draw.polygon(points, fill=colour)


def _draw_visual(draw: ImageDraw.ImageDraw, visual: dict, t: float, duration: float) -> None:
    """One frame of the visual event at time t; every video has motion, only visual topics a coloured event."""
    motion, r = visual["motion"], visual["radius"]
    colour = COLOURS.get(visual.get("colour", ""), (200, 200, 200))
    phase = visual["phase"]
    if motion == "bounce":
        cx = WIDTH * (0.3 + 0.4 * phase) + 10 * math.sin(t)
        cy = HEIGHT - 40 - r - abs(math.sin(math.pi * 1.2 * t + phase)) * (HEIGHT - 60 - 2 * r)
        _draw_shape(draw, "circle", cx, cy, r, colour)
    elif motion == "slide":
        span = WIDTH + 2 * r
        cx = -r + (t / duration * 2 * span + phase * span) % span
        _draw_shape(draw, "square", cx, HEIGHT * (0.35 + 0.2 * phase), r, colour)
    elif motion == "spin":
        _draw_shape(draw, "triangle", WIDTH / 2, HEIGHT / 2 - 10, r, colour, angle=2.0 * t + phase)
    elif motion == "collide":
        gap = abs(math.cos(math.pi * t / 3.0 + phase)) * (WIDTH / 2 - r)
        _draw_shape(draw, "circle", WIDTH / 2 - r - gap, HEIGHT / 2 - 10, r, colour)
        _draw_shape(draw, "circle", WIDTH / 2 + r + gap, HEIGHT / 2 - 10, r, colour)
    else:  # drift: a small grey square wandering, the filler picture of non-visual topics
        cx = WIDTH / 2 + (WIDTH / 3) * math.sin(0.5 * t + 6 * phase)
        cy = HEIGHT / 2 + (HEIGHT / 4) * math.cos(0.4 * t + 6 * phase)
        _draw_shape(draw, "square", cx, cy, r, colour)


def render_frame(spec: VideoSpec, t: float) -> np.ndarray:
    image = Image.new("RGB", (WIDTH, HEIGHT), spec.background)
    draw = ImageDraw.Draw(image)
    _draw_visual(draw, spec.visual, t, spec.duration)
    if spec.text:
        font = _font(18)
        left, top, right, bottom = draw.textbbox((0, 0), spec.text, font=font)
        x, y = (WIDTH - (right - left)) / 2, HEIGHT - 34
        draw.rectangle([x - 6, y - 4, x + (right - left) + 6, y + (bottom - top) + 8], fill=(0, 0, 0))
        draw.text((x - left, y - top + 2), spec.text, font=font, fill=(255, 255, 255))
    return np.asarray(image)


def synthesize_speech(text: str, out_wav: Path) -> float:
    """Speak `text` with espeak-ng into a WAV file; returns its duration in seconds."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out_wav), text], check=True, capture_output=True)
    with wave.open(str(out_wav)) as wav:
        return wav.getnframes() / wav.getframerate()


def encode_video(spec: VideoSpec, out: Path, workdir: Path, with_video: bool = True) -> None:
    """Encode frames (and speech, padded with silence to the clip's length) into an mp4."""
    audio: list[str] = []
    if spec.speech is not None:
        wav = workdir / f"{spec.video_id}.wav"
        spoken = synthesize_speech(spec.speech, wav)
        spec.duration = max(spec.duration, round(spoken + 0.5, 1))  # never cut the speech short
        audio = ["-i", str(wav), "-af", "apad", "-c:a", "aac", "-b:a", "48k"]
    cmd = ["ffmpeg", "-loglevel", "error", "-y"]
    if with_video:
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-"]
    cmd += audio
    if with_video:
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", "-threads", "1"]
    cmd += ["-t", f"{spec.duration:.2f}", "-movflags", "+faststart", str(out)]
    frames = b""
    if with_video:
        n = int(round(spec.duration * FPS))
        frames = b"".join(render_frame(spec, i / FPS).tobytes() for i in range(n))
    subprocess.run(cmd, input=frames, check=True, capture_output=True)


def visual_params(rng: random.Random, topic: Topic | None) -> dict:
    """How a video's picture moves: its topic's coloured event, or the grey drifting square of every other video."""
    if topic is not None and topic.modality == "visual":
        return {"motion": topic.motion, "colour": topic.colour, "radius": rng.uniform(18, 26), "phase": rng.random()}
    return {"motion": "drift", "radius": rng.uniform(6, 10), "phase": rng.random()}


def plan_corpus(seed: int) -> list[VideoSpec]:
    """The deterministic list of demo videos: three per topic, then the deliberately broken files."""
    rng = random.Random(seed)
    specs: list[VideoSpec] = []

    def new_spec(topic: Topic | None, variant: int, broken: str = "") -> VideoSpec:
        vid = f"v{len(specs) + 1:03d}"
        speech = rng.choice(GENERIC_SPEECH)
        title = f"{rng.choice(GENERIC_TITLES)} {rng.randint(100, 999)}"
        description = rng.choice(GENERIC_DESCRIPTIONS)
        text = ""
        if topic is not None and topic.modality == "speech":
            speech = topic.evidence[variant]
        elif topic is not None and topic.modality == "text":
            text = topic.evidence[variant]
        elif topic is not None and topic.modality == "metadata":
            title, description = topic.evidence[variant], topic.descriptions[variant]
        shade = rng.randint(25, 85)
        background = (shade, shade + rng.randint(0, 15), shade + rng.randint(0, 30))
        spec = VideoSpec(vid, topic, variant, round(rng.uniform(5.0, 15.0), 1), background, title, description,
                         speech, text, visual_params(rng, topic), broken)
        specs.append(spec)
        return spec

    for topic in TOPICS:
        for variant in range(3):
            new_spec(topic, variant)
    # A fourth red-ball video without an audio stream: usable by every video stage, not by ASR.
    new_spec(TOPICS[0], 0, broken="no-audio").speech = None
    new_spec(None, 0, broken="truncated")
    new_spec(None, 0, broken="empty")
    new_spec(None, 0, broken="no-video")
    return specs


def write_video(spec: VideoSpec, out: Path, workdir: Path) -> None:
    if spec.broken == "empty":
        out.write_bytes(b"")
    elif spec.broken == "no-video":
        encode_video(spec, out, workdir, with_video=False)
    elif spec.broken == "truncated":
        full = workdir / f"{spec.video_id}.full.mp4"
        encode_video(spec, full, workdir)
        data = full.read_bytes()
        out.write_bytes(data[: int(len(data) * 0.4)])
    else:
        encode_video(spec, out, workdir)


def generate_demo_corpus(out_dir: str | Path, seed: int) -> list[VideoSpec]:
    """Write videos/, videos.tsv, queries_{train,test}.tsv, qrels.txt and the ground-truth tables."""
    check_tools()
    out_dir = Path(out_dir)
    video_dir = out_dir / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    specs = plan_corpus(seed)
    from tqdm import tqdm

    with tempfile.TemporaryDirectory() as tmp:
        for spec in tqdm(specs, desc="demo videos", unit="video"):
            write_video(spec, video_dir / f"{spec.video_id}.mp4", Path(tmp))
    records = [VideoRecord(s.video_id, video_dir / f"{s.video_id}.mp4",
                           {"title": s.title, "description": s.description, "language": "en"}) for s in specs]
    write_video_sheet(out_dir / "videos.tsv", records)
    _write_queries_and_truth(out_dir, specs)
    return specs


def _write_queries_and_truth(out_dir: Path, specs: list[VideoSpec]) -> None:
    splits: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    qrels: dict[str, dict[str, int]] = {}
    query_rows = ["query_id\ttopic\tmodality\tsplit"]
    for t_index, topic in enumerate(TOPICS):
        relevant = [s.video_id for s in specs if s.topic is topic]
        for q_index, text in enumerate(topic.queries):
            qid = f"q{t_index + 1:02d}{q_index + 1}"
            split = "test" if q_index == 2 else "train"
            splits[split][qid] = text
            qrels[qid] = {vid: 1 for vid in relevant}
            query_rows.append(f"{qid}\t{topic.topic_id}\t{topic.modality}\t{split}")
    for split, queries in splits.items():
        write_queries(out_dir / f"queries_{split}.tsv", queries)
    write_qrels(out_dir / "qrels.txt", qrels)
    video_rows = ["video_id\ttopic\tmodality\tbroken\tduration\ton_screen_text\tspeech"]
    for s in specs:
        video_rows.append("\t".join([s.video_id, s.topic.topic_id if s.topic else "", s.topic.modality if s.topic else "",
                                     s.broken, f"{s.duration:.1f}", s.text, s.speech or ""]))
    for name, rows in (("query_topics.tsv", query_rows), ("video_truth.tsv", video_rows)):
        with atomic_write(out_dir / name) as out:
            out.write("\n".join(rows) + "\n")
