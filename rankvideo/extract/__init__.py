"""Text views of each video (paper §3): speech (ASR), a caption, on-screen text (OCR), metadata."""
