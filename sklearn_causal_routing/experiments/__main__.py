"""``python -m sklearn_causal_routing.experiments``: the ``benchmark`` command."""

import sys

from ._cli import main

sys.exit(main())
