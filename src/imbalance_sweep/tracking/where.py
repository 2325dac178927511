"""Where a command's results went, in the few lines it prints at its end: the store (a sqlite
file's absolute path), the experiment, the run, how to open the MLflow UI on it, and the UI's
URLs for the run, for every sweep of the experiment and for one sweep's cells.

Pure string work: no mlflow import, so every entry point can print it after its runs are closed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from .tags import ROLE_TAG, Role
from .views import cells_view_key

# Where ``mlflow ui`` serves by default: the printed URLs point there for a store that is not a server.
DEFAULT_UI = "http://127.0.0.1:5000"


def _without_credentials(uri: str) -> str:
    """``http://user:secret@host/`` -> ``http://host/``: a printed URL never shows a password."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def is_server(tracking_uri: str) -> bool:
    return urlsplit(tracking_uri).scheme in ("http", "https")


def store_text(tracking_uri: str) -> str:
    """The store as a person finds it: a sqlite file's path, else the URI (without credentials)."""
    prefix = "sqlite:///"
    if tracking_uri.startswith(prefix):
        return tracking_uri[len(prefix) :]
    return _without_credentials(tracking_uri)


def ui_base(tracking_uri: str) -> str:
    """The UI's address: the tracking server itself, else where ``mlflow ui`` serves by default."""
    if is_server(tracking_uri):
        return _without_credentials(tracking_uri).rstrip("/")
    return DEFAULT_UI


def ui_command(tracking_uri: str) -> str | None:
    """The command that serves the UI on this store (None for a server: it serves its own UI)."""
    if is_server(tracking_uri):
        return None
    return f"mlflow ui --backend-store-uri {shlex.quote(tracking_uri)}"


def tag_filter(tag: str, value: str) -> str:
    """An MLflow search clause ``tags.`tag` = 'value'`` that finds ``value`` whatever quotes it holds.

    MLflow's search (3.17) knows no escape inside a quoted value: ``\\'`` and ``''`` are kept as
    they are, and a backslash is an ordinary character. So the value goes inside the quotes it does
    not contain; one with both kinds is matched with LIKE, each quote (and each of LIKE's ``%`` and
    ``_``, and the backslash, PostgreSQL's LIKE escape) one wildcard character: a few more runs, at
    worst, never fewer.
    """
    if "'" not in value:
        return f"tags.`{tag}` = '{value}'"
    if '"' not in value:
        return f'tags.`{tag}` = "{value}"'
    pattern = re.sub(r"['\"%_\\]", "_", value)
    return f"tags.`{tag}` LIKE '{pattern}'"


# The UI's "Model training" side, whatever the browser last chose: MLflow 3.17's UI takes the side
# from this URL parameter, else from the browser's storage, else GenAI; the experimentKind tag is ignored.
WORKFLOW = "workflowType=machine_learning"


def _experiment_page(tracking_uri: str, experiment_id: str) -> str:
    return f"{ui_base(tracking_uri)}/#/experiments/{quote(str(experiment_id), safe='')}"


def runs_url(tracking_uri: str, experiment_id: str, search_filter: str | None = None) -> str:
    """The experiment's runs table (not its GenAI overview), filtered by ``search_filter`` only.

    ``searchFilter`` is always given, empty for every run: a URL without it reopens the filter,
    sort and time range the browser last used on this experiment.
    """
    url = f"{_experiment_page(tracking_uri, experiment_id)}/runs?{WORKFLOW}"
    return url + "&searchFilter=" + quote(search_filter or "", safe="")


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    return f"{_experiment_page(tracking_uri, experiment_id)}/runs/{quote(run_id, safe='')}?{WORKFLOW}"


def sweeps_url(tracking_uri: str, experiment_id: str) -> str:
    """Every sweep's parent run of the experiment, however many cells other sweeps have."""
    return runs_url(tracking_uri, experiment_id, tag_filter(ROLE_TAG, Role.SWEEP))


def cells_url(tracking_uri: str, experiment_id: str, parent_run_id: str) -> str:
    """The cell runs of one sweep, in the view the sweep prepared (views.py): listed flat with
    their headline values as columns and charts. No ``searchFilter`` here: the UI ignores a prepared
    view whose link carries any search facet; the view holds the filter on the parent."""
    key = quote(cells_view_key(parent_run_id), safe="")
    return f"{_experiment_page(tracking_uri, experiment_id)}/runs?{WORKFLOW}&viewStateShareKey={key}"


def summary_lines(
    tracking_uri: str,
    *,
    experiment_name: str,
    experiment_id: str,
    run_id: str,
    what: str,
    links: Mapping[str, str] | None = None,
) -> list[str]:
    """The lines every command that logs runs ends with; ``links`` adds labelled UI URLs."""
    lines = [
        f"store:      {store_text(tracking_uri)}",
        f"experiment: {experiment_name} (id {experiment_id})",
        f"run:        {run_id} ({what})",
    ]
    command = ui_command(tracking_uri)
    if command:
        lines.append(f"look:       {command}")
    lines.append(f"            {run_url(tracking_uri, experiment_id, run_id)}")
    for label, url in (links or {}).items():
        lines.append(f"{label + ':':11} {url}")
    return lines


def aligned_table(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    left: Sequence[bool] | None = None,
    rule: bool = False,
    trim: bool = False,
) -> str:
    """Text entries under their column names, two spaces apart, each column as wide as its widest:
    right-aligned, or left-aligned where ``left`` says; ``rule`` puts dashes under the header and
    ``trim`` cuts the spaces that end a line. The one text table every command prints."""
    widths = [
        max([len(column), *(len(line[index]) for line in cells)]) for index, column in enumerate(columns)
    ]
    lefts = [False] * len(columns) if left is None else left

    def line(entries: Sequence[str]) -> str:
        padded = "  ".join(
            entry.ljust(width) if is_left else entry.rjust(width)
            for entry, width, is_left in zip(entries, widths, lefts, strict=True)
        )
        return padded.rstrip() if trim else padded

    header = [line(columns), line(["-" * width for width in widths])] if rule else [line(columns)]
    return "\n".join([*header, *map(line, cells)])


def headline_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A compact text table of the given columns (numbers to 4 significant digits)."""

    def text(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    return aligned_table(columns, [[text(row.get(column, "")) for column in columns] for row in rows])
