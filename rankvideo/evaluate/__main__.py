"""`python -m rankvideo.evaluate`: see rankvideo.evaluate.cli."""

import sys

from rankvideo.evaluate.cli import main

sys.exit(main())
