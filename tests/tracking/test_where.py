"""where.py: the UI URLs a command prints, checked as a browser reads them back (urllib.parse), and the
search clauses in them, parsed as MLflow parses them. The URLs against the real UI: test_where_mlflow_ui.py."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from mlflow.utils.search_utils import SearchUtils

from imbalance_sweep.tracking import views, where

SERVER = "http://127.0.0.1:5000"
SECRET_SERVER = "https://alice:s3cr%40t@mlflow.example.org:8443/team/"
LINE = re.compile(r"^(\w+):\s+(http\S+)$")  # a printed "label:      URL" line, as a test reads it back
RUN_ID = "e17af04d294b4d5a9a6710363ffd08af"
AWKWARD = ["sweep", "it's", 'say "hi"', "both ' and \"", "back\\slash", "end\\", "50% of_a", "a=b&c#d e+f"]


def route(url: str) -> tuple[str, dict[str, list[str]]]:
    """The UI's route and its query, as its hash router reads them (after the ``#``)."""
    fragment = urlsplit(url).fragment
    path, _, query = fragment.partition("?")
    return path, parse_qs(query, keep_blank_values=True, strict_parsing=True)


def like(pattern: str, value: str) -> bool:
    """SQL LIKE without an escape character (as MLflow's sqlite store runs it)."""
    regex = "".join("." if char == "_" else ".*" if char == "%" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


@pytest.mark.parametrize("value", AWKWARD)
def test_tag_filter_finds_the_value_as_mlflow_parses_it(value):
    [clause] = SearchUtils.parse_search_filter(where.tag_filter("imbalance_sweep.sweep", value))
    assert (clause["type"], clause["key"]) == ("tag", "imbalance_sweep.sweep")
    if clause["comparator"] == "=":
        assert clause["value"] == value
    else:  # both kinds of quotes: no exact clause exists, a LIKE that matches it does
        assert "'" in value and '"' in value
        assert clause["comparator"] == "LIKE" and like(clause["value"], value)


def test_tag_filter_puts_a_single_quote_inside_double_quotes():
    """MLflow keeps ``\\'`` and ``''`` as they are: the only way to say it's is "it's"."""
    assert where.tag_filter("t", "it's") == 'tags.`t` = "it\'s"'
    assert where.tag_filter("t", "sweep") == "tags.`t` = 'sweep'"


@pytest.mark.parametrize("value", AWKWARD)
def test_runs_url_round_trips_its_filter(value):
    search_filter = where.tag_filter("imbalance_sweep.sweep", value)
    path, query = route(where.runs_url(SERVER, "7", search_filter))
    assert path == "/experiments/7/runs"
    assert query == {"workflowType": ["machine_learning"], "searchFilter": [search_filter]}


def test_runs_url_without_a_filter_still_clears_the_one_the_browser_kept():
    _, query = route(where.runs_url(SERVER, "7"))
    assert query["searchFilter"] == [""]


def test_sweeps_and_cells_urls_filter_on_the_role_and_the_parent():
    assert route(where.sweeps_url(SERVER, "3")) == (
        "/experiments/3/runs",
        {"workflowType": ["machine_learning"], "searchFilter": ["tags.`imbalance_sweep.role` = 'sweep'"]},
    )
    _, query = route(where.cells_url(SERVER, "3", RUN_ID))
    assert query == {
        "workflowType": ["machine_learning"],
        "viewStateShareKey": [views.cells_view_key(RUN_ID)],
    }


def test_run_url_opens_the_run_on_the_model_training_side():
    url = where.run_url(SERVER, "3", RUN_ID)
    assert url.startswith(SERVER + "/#/")
    assert route(url) == (f"/experiments/3/runs/{RUN_ID}", {"workflowType": ["machine_learning"]})


def test_ids_are_quoted_in_the_route():
    path, _ = route(where.run_url(SERVER, "a/b", "c?d#e"))
    assert path == "/experiments/a%2Fb/runs/c%3Fd%23e"


def test_a_sqlite_store_points_at_mlflow_ui_and_says_how_to_start_it():
    uri = "sqlite:////tmp/with space/mlflow.db"
    assert where.sweeps_url(uri, "1").startswith(where.DEFAULT_UI + "/#/experiments/1/runs?")
    assert where.ui_command(uri) == "mlflow ui --backend-store-uri 'sqlite:////tmp/with space/mlflow.db'"
    assert where.store_text(uri) == "/tmp/with space/mlflow.db"
    assert where.ui_command(SERVER) is None


def printed(tracking_uri: str) -> list[str]:
    return where.summary_lines(
        tracking_uri,
        experiment_name="imbalance-sweep",
        experiment_id="1",
        run_id=RUN_ID,
        what="sweep seed_blog",
        links={
            "sweeps": where.sweeps_url(tracking_uri, "1"),
            "cells": where.cells_url(tracking_uri, "1", RUN_ID),
        },
    )


def test_credentials_are_never_printed():
    text = "\n".join(
        [
            *printed(SECRET_SERVER),
            where.store_text(SECRET_SERVER),
            where.run_url(SECRET_SERVER, "1", RUN_ID),
            where.runs_url(SECRET_SERVER, "1"),
        ]
    )
    assert "alice" not in text and "s3cr" not in text and "@" not in text
    assert "https://mlflow.example.org:8443/team/#/experiments/1/runs" in text


def test_printed_links_parse_back_and_line_up():
    lines = printed(SERVER)
    links = dict(match.groups() for match in map(LINE.match, lines) if match)
    assert links["sweeps"] == where.sweeps_url(SERVER, "1")
    assert links["cells"] == where.cells_url(SERVER, "1", RUN_ID)
    column = len("store:      ")
    for line in lines:
        assert line[column - 1] == " " and line[column] != " ", line


def test_one_aligned_table_for_the_headline_and_compare():
    columns, cells = ["name", "n"], [["a", "12"], ["bcd", "3"]]
    assert where.aligned_table(columns, cells).splitlines() == ["name   n", "   a  12", " bcd   3"]
    assert where.aligned_table(columns, cells, left=[True, False], rule=True, trim=True).splitlines() == [
        "name   n",
        "----  --",
        "a     12",
        "bcd    3",
    ]
    assert where.headline_table([{"name": "a", "n": 0.123456}], columns) == "name       n\n   a  0.1235"
