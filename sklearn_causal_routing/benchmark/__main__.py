"""``python -m sklearn_causal_routing.benchmark``: the benchmark command."""

import sys

from ._cli import main

sys.exit(main())
