"""``python -m imbalance_sweep.compare SWEEP SWEEP [...]``: the command line of the comparison of
sweeps (analysis/compare/): its arguments, what it prints, its exit code."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Sequence

from .analysis.compare.alignment import compare_cells
from .analysis.compare.printed import report
from .analysis.compare.record import comparison_key, record_comparison
from .analysis.compare.stored_sweeps import select_sweeps
from .cli import report_user_error
from .core.checks import InvalidValue
from .runtime.lifetime import imports_done, whole_process
from .sweep.config import resolve_tracking_uri
from .tracking.errors import TrackingError
from .tracking.where import summary_lines


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line with exit code 2, like every other user error."""

    def error(self, message: str):
        raise InvalidValue(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m imbalance_sweep.compare",
        description="Compare sweeps cell by cell and log the comparison as an MLflow run. "
        "The first sweep is the baseline; differences are each other sweep minus it.",
    )
    parser.add_argument("sweeps", nargs="*", help="sweep names (the most recent FINISHED run) or run ids")
    parser.add_argument(
        "--sweeps",
        dest="sweep_lists",
        action="append",
        default=[],
        metavar="STRING",
        help="more sweeps as one string, split as a shell would (for `mlflow run -P sweeps=...`)",
    )
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here")
    parser.add_argument("--experiment", help="look sweep names up in this experiment only")
    parser.add_argument(
        "--metrics",
        nargs="+",
        action="extend",
        metavar="METRIC",
        help="metrics to compare and show, even if equal (comma or space separated); default: "
        "compare all, show those that differ",
    )
    return parser


def split_words(name: str, text: str) -> list[str]:
    """``text`` split at spaces as a shell would (quotes group words); an unclosed quote is one line."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise InvalidValue(f"{name}={text!r} cannot be split into names: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Compare the sweeps named in ``argv``; a user's mistake is one line on stderr and exit code 2."""
    try:
        options = _parser().parse_args(argv)
        arguments = list(options.sweeps) + [
            name for text in options.sweep_lists for name in split_words("--sweeps", text)
        ]
        if len(arguments) < 2:
            raise InvalidValue(f"give at least 2 sweeps to compare, got {len(arguments)}: {arguments}")
        metrics = [name for text in options.metrics or [] for name in re.split(r"[,\s]+", text) if name]
        tracking_uri = resolve_tracking_uri(options.tracking_uri)
        from .tracking.reader import RunReader  # MLflow: only once the command line holds

        imports_done()

        reader = RunReader(tracking_uri)
        selected = select_sweeps(reader, arguments, experiment=options.experiment or None)
        comparison = compare_cells([sweep.cell_values for sweep in selected], metrics=metrics or None)
        print(report(selected, comparison), flush=True)
        experiments = reader.experiments()
        launched_run_id = os.environ.get("MLFLOW_RUN_ID") or None
        recorded = record_comparison(
            tracking_uri,
            reader,
            selected,
            comparison,
            key=comparison_key(selected, comparison, metrics=metrics),
            experiment_name=experiments.get(selected[0].run.experiment_id, "imbalance-sweep"),
            launched_run_id=launched_run_id,
        )
        print(f"\n{recorded.line(launched_run_id=launched_run_id)}\n")
        lines = summary_lines(
            tracking_uri,
            experiment_name=experiments.get(recorded.experiment_id, recorded.experiment_id),
            experiment_id=recorded.experiment_id,
            run_id=recorded.run_id,
            what=f"comparison of {len(selected)} sweeps",
        )
    except (InvalidValue, TrackingError) as error:
        return report_user_error(error)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    with whole_process():
        status = main()
    sys.exit(status)
