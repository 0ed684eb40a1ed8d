"""`python -m rankvideo.rerank`: see rankvideo.rerank.cli."""

import sys

from rankvideo.rerank.cli import main

sys.exit(main())
