"""The embedded demo corpus: real mp4 videos generated from a seed, whose content is known."""
