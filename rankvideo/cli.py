"""What every command line does with a bad input: one line `error: <file>:<line>: <reason>`, exit status 2.

A traceback is for real bugs, or for an input error when `--debug` asks for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rankvideo.files.errors import ConfigError, FormatError

EXIT_INPUT_ERROR = 2  # as argparse exits on a bad flag


class UsageError(ValueError):
    """A command line that cannot work as given (a missing folder, an absent default file); the message says the fix."""


INPUT_ERRORS = (FormatError, ConfigError, UsageError)


def run_cli(command: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run `command`; an input error prints one line and returns 2."""
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an input error")
    args = parser.parse_args(argv)
    try:
        return command(args)
    except INPUT_ERRORS as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
