"""On-screen text: Tesseract (Debian's tesseract-ocr) on sampled frames, deduplicated across frames."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rankvideo.files.video import decode_sampled


def dedupe_lines(texts: Iterable[str]) -> list[str]:
    """Unique lines in first-seen order, compared ignoring case and punctuation; lines under 3 characters dropped."""
    seen: set[str] = set()
    lines: list[str] = []
    for text in texts:
        for line in text.splitlines():
            clean = " ".join(line.split())
            key = " ".join(re.sub(r"\W+", " ", clean.lower()).split())
            if len(key.replace(" ", "")) < 3 or key in seen:
                continue
            seen.add(key)
            lines.append(clean)
    return lines


class TesseractOcr:
    def __init__(self, languages: str = "eng", fps: float = 1.0, max_frames: int = 8):
        import pytesseract

        self.tesseract = pytesseract
        self.languages, self.fps, self.max_frames = languages, fps, max_frames
        self.name = f"tesseract-{pytesseract.get_tesseract_version()}:{languages}"

    def frame_text(self, frame: np.ndarray) -> str:
        return self.tesseract.image_to_string(frame, lang=self.languages)

    def read(self, path: str | Path) -> str:
        """Text seen on screen: frames sampled at `fps` at their native size, lines deduplicated."""
        _, _, frames, _ = decode_sampled(path, self.fps, self.max_frames)
        return "\n".join(dedupe_lines(self.frame_text(f) for f in frames))
