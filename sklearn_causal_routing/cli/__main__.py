"""``python -m sklearn_causal_routing.cli``: the command line."""

import sys

from . import main

sys.exit(main())
