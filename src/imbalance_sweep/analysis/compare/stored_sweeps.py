"""Which stored runs stand for the sweeps a command names: a run id selects exactly that run; a
sweep's name, its most recent FINISHED run; a name that is neither gets one line with a few that
exist. Each selected sweep comes with its FINISHED cells."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ...core.checks import InvalidValue, clipped
from ...tracking.runs import FINISHED, StoredRun
from ...tracking.tags import CELL_KEY_TAG, MLFLOW_PARENT_TAG, ROLE_TAG, SWEEP_TAG, Role
from ...tracking.where import tag_filter

if TYPE_CHECKING:  # MLflow is imported where used: a mistake answers without it
    from ...tracking.reader import RunReader


@dataclass(frozen=True)
class SelectedSweep:
    """A sweep to compare: the run that stands for it, how it was chosen, and its finished cells."""

    argument: str
    run: StoredRun
    how: str
    by_name: bool
    cells: tuple[StoredRun, ...]
    n_unfinished: int
    n_repeated: int = 0  # FINISHED runs beyond one per cell (a race), left out

    @property
    def name(self) -> str:
        return self.run.tags.get(SWEEP_TAG) or self.run.name

    @property
    def label(self) -> str:
        """How the run name shows it: the name it was asked by, or name@id8 for a run id."""
        return self.argument if self.by_name else f"{self.name}@{self.run.run_id[:8]}"

    @property
    def cell_values(self) -> list[dict[str, Mapping[str, object]]]:
        """Its cells as :func:`compare_cells` takes them: each its params and metrics."""
        return [{"params": cell.params, "metrics": cell.metrics} for cell in self.cells]


def started_at(run: StoredRun) -> str:
    """When ``run`` started, as the lines that name a run say it (UTC, to the second)."""
    moment = datetime.fromtimestamp(run.start_time / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# How many stored names (of sweeps, of experiments) a message about an unknown one shows.
SHOWN_NAMES = 5
# The most of a user's own argument such a message repeats (escaped as repr does).
SHOWN_ARGUMENT = 200


def some_names(asked: str, counts: Mapping[str, int]) -> str:
    """A few of the stored names (with how many runs have each, when more than one): the nearest to
    ``asked`` first, then in order, each cut and escaped (a stored name may be long or odd)."""
    nearest = difflib.get_close_matches(asked, list(counts), n=SHOWN_NAMES, cutoff=0.6)
    shown = nearest + [name for name in sorted(counts) if name not in nearest]
    names = ", ".join(
        clipped(name, quoted=False) + (f" ({counts[name]} runs)" if counts[name] > 1 else "")
        for name in shown[:SHOWN_NAMES]
    )
    return names + (f" and {len(counts) - SHOWN_NAMES} more" if len(counts) > SHOWN_NAMES else "")


def unknown_sweep_message(argument: str, tops: Sequence[StoredRun], *, where: str) -> str:
    """One short line: the argument is neither a run id nor a sweep name, and a few sweeps that exist."""
    counts = Counter(run.tags.get(SWEEP_TAG, "") for run in tops)
    asked = clipped(argument, SHOWN_ARGUMENT)
    if not counts:
        return f"no sweep named {asked} and no run with that id: there are no sweeps {where}"
    return f"no sweep named {asked} and no run with that id; sweeps {where}: {some_names(argument, counts)}"


def pick_by_name(name: str, tops: Sequence[StoredRun], *, where: str) -> tuple[StoredRun, str]:
    """The most recent FINISHED run of the sweep ``name`` (re-runs share a name), and why it was picked."""
    candidates = [run for run in tops if run.tags.get(SWEEP_TAG) == name]
    if not candidates:
        raise InvalidValue(unknown_sweep_message(name, tops, where=where))
    finished = [run for run in candidates if run.status == FINISHED]
    if not finished:
        statuses = ", ".join(sorted(run.status for run in candidates))
        raise InvalidValue(
            f"sweep {name!r} has no FINISHED run (its runs are {statuses}); give a run id to compare one"
        )
    latest = max(finished, key=lambda run: (run.start_time, run.run_id))
    if len(candidates) == 1:
        how = f"the only sweep named {name!r}"
    else:
        how = f"the most recent FINISHED of {len(candidates)} sweeps named {name!r}"
    return latest, f"{how}, started {started_at(latest)}"


def _tops(reader: RunReader, experiment_ids: list[str]) -> list[StoredRun]:
    """The runs that stand for sweeps: sweep parents, and one-cell sweeps (a cell without a parent)."""
    role = f'tags."{ROLE_TAG}"'
    return reader.search(experiment_ids, f"{role} = '{Role.SWEEP}'") + reader.search(
        experiment_ids, f"{role} = '{Role.CELL}' and tags.\"{MLFLOW_PARENT_TAG}\" IS NULL"
    )


def _cells_of(reader: RunReader, run: StoredRun) -> tuple[list[StoredRun], int, int]:
    """A sweep's FINISHED cells, how many others it has (failed or interrupted ones), and how many
    FINISHED runs it holds beyond one per cell (a race): of those, the run a resumed sweep keeps."""
    if run.tags.get(ROLE_TAG) == Role.CELL:
        cells = [run]
    else:
        cells = reader.search(
            [run.experiment_id],
            f"{tag_filter(MLFLOW_PARENT_TAG, run.run_id)} and {tag_filter(ROLE_TAG, Role.CELL)}",
        )
    from ...sweep.resume import one_finished_per_cell

    chosen, extra = one_finished_per_cell(cells)
    unkeyed = [cell for cell in cells if cell.status == FINISHED and CELL_KEY_TAG not in cell.tags]
    finished = [*chosen.values(), *unkeyed]
    return finished, sum(cell.status != FINISHED for cell in cells), len(extra)


def select_sweeps(
    reader: RunReader, arguments: Sequence[str], *, experiment: str | None = None
) -> list[SelectedSweep]:
    """Resolve each argument: a run id selects exactly that run; a name, its most recent FINISHED run.

    ``experiment`` limits the search for names to one experiment; a run id is found wherever it is.
    """
    experiments = reader.experiments()
    if experiment:
        experiment_ids = [key for key, name in experiments.items() if name == experiment]
        if not experiment_ids:
            known = some_names(experiment, dict.fromkeys(experiments.values(), 1))
            asked = clipped(experiment, SHOWN_ARGUMENT)
            raise InvalidValue(f"--experiment={asked} is not an experiment; experiments: {known}")
        where = f"in experiment {clipped(experiment, SHOWN_ARGUMENT)}"
    else:
        experiment_ids, where = list(experiments), "in the store"
    tops: list[StoredRun] | None = None
    selected = []
    for argument in arguments:
        run = reader.get(argument)
        if run is not None:
            role = run.tags.get(ROLE_TAG)
            if role not in (Role.SWEEP, Role.CELL):
                raise InvalidValue(
                    f"run {argument} is not a sweep or a cell (its {ROLE_TAG} tag is {role!r})"
                )
            how, by_name = f"given by run id, {run.status}", False
        else:
            tops = _tops(reader, experiment_ids) if tops is None else tops
            run, how = pick_by_name(argument, tops, where=where)
            by_name = True
        cells, n_unfinished, n_repeated = _cells_of(reader, run)
        selected.append(SelectedSweep(argument, run, how, by_name, tuple(cells), n_unfinished, n_repeated))
    first_with: dict[str, SelectedSweep] = {}
    for sweep in selected:
        earlier = first_with.setdefault(sweep.run.run_id, sweep)
        if earlier is not sweep:
            raise InvalidValue(
                f"{earlier.argument!r} and {sweep.argument!r} select the same run {sweep.run.run_id}; "
                "compare at least 2 different sweeps"
            )
    return selected
