"""``python -m sklearn_causal_routing.experiments``: the ``benchmark`` command.

The same as ``sklearn-causal-routing benchmark ...``. This entry point is the
only module of the package that imports the command line; nothing imports it.
"""

import sys

from ..cli import main

sys.exit(main(["benchmark", *sys.argv[1:]]))
