"""``python -m imbalance_sweep [hydra overrides]``.

``--overrides "a=1 b=2"`` is also accepted: one string of overrides, split as a shell would, so
that ``mlflow run -P overrides=...`` can pass any number of them as one parameter.
"""

import shlex
import sys

from .app import main


def expand_overrides(argv: list[str]) -> list[str]:
    """Replace ``--overrides STRING`` / ``--overrides=STRING`` by the overrides STRING holds."""
    expanded, rest = [], iter(argv)
    for arg in rest:
        if arg == "--overrides":
            expanded.extend(shlex.split(next(rest, "")))
        elif arg.startswith("--overrides="):
            expanded.extend(shlex.split(arg.split("=", 1)[1]))
        else:
            expanded.append(arg)
    return expanded


if __name__ == "__main__":
    sys.argv[1:] = expand_overrides(sys.argv[1:])
    main()
