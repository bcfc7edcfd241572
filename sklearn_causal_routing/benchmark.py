"""Deprecated alias of :mod:`sklearn_causal_routing.experiments`.

The package was renamed so that it no longer shares its name with the
repository's ``benchmarks/`` scripts folder. Importing this module warns and
gives the same objects; it will be removed in 0.3.
"""

import warnings

from .experiments import *  # noqa: F403
from .experiments import __all__  # noqa: F401

warnings.warn(
    "sklearn_causal_routing.benchmark was renamed sklearn_causal_routing.experiments "
    "in 0.2 and will be removed in 0.3; import from sklearn_causal_routing.experiments.",
    FutureWarning,
    stacklevel=2,
)

if __name__ == "__main__":  # python -m sklearn_causal_routing.benchmark
    import sys

    from .cli import main

    sys.exit(main(["benchmark", *sys.argv[1:]]))
