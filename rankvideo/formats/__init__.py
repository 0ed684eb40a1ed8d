"""Strict readers and writers for the files that pass between pipeline stages.

Every reader raises FormatError naming the file and line, so a bad input is fixed at its source
instead of silently shifting scores onto the wrong query (upstream defect 2).
"""

from rankvideo.formats.errors import FormatError

__all__ = ["FormatError"]
