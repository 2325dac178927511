"""flip and compare through the team server with the credentials `server start` prints: their runs
and artifacts go through MLflow's basic-auth app and read back, and without credentials they stop
with one line and log nothing. (Sweeps, resume and shards through it: test_server.py and
test_server_races.py.)"""

import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import compare
from imbalance_sweep.analysis.flip import flip_spec, run_flip
from imbalance_sweep.app import run_sweep
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

# a real PostgreSQL and mlflow server: the session's one, in one worker under pytest-xdist
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("team-server")]

GRID = ("grid.balances=[[2000,20],[300,300]]", "grid.models=[[0.9,0.6],[0.7,0.95]]", "losses=[bce]")


def flip_on(uri, experiment):
    spec = flip_spec(
        {
            "model_a": [0.999, 0.5],
            "model_b": [0.98, 0.9],
            "losses": ["bce"],
            "metrics": ["f1"],
            "focal": {"alpha": 0.25, "gamma": 2.0},
            "experiment": experiment,
            "tracking_uri": uri,
        }
    )
    return run_flip(spec)


def test_flip_logs_its_run_and_chart_through_the_server(tracking_server, tmp_path, capsys):
    uri = tracking_server.tracking_uri
    run_id = flip_on(uri, "server-flip")
    assert "loss/bce               prefers A below 1.15 % prevalence, B above" in capsys.readouterr().out
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and set(run.data.metrics) == {"flip/loss/bce", "flip/f1"}
    with open(client.download_artifacts(run_id, "flip.png", str(tmp_path)), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_compare_finds_sweeps_by_name_and_run_id_through_the_server(
    tracking_server, make_spec, tmp_path, capsys
):
    uri = tracking_server.tracking_uri
    where = ("experiment=server-compare", f"tracking_uri={uri}")
    base = run_sweep(make_spec(*GRID, *where, "sweep_name=base", "seed=0"))
    run_sweep(make_spec(*GRID, *where, "sweep_name=reseeded", "seed=1"))
    capsys.readouterr()
    assert compare.main([base, "reseeded", "--tracking-uri", uri, "--experiment", "server-compare"]) == 0
    out = capsys.readouterr().out
    assert "differs: seed: A=0 B=1" in out and "cells in common: 4" in out
    [comparison] = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("server-compare").experiment_id],
        f"tags.`{ROLE_TAG}` = '{Role.COMPARISON}'",
    )
    assert comparison.info.status == "FINISHED"
    assert {a.path for a in MlflowClient(uri).list_artifacts(comparison.info.run_id)} >= {"comparison.csv"}


@pytest.mark.parametrize("door", ["flip", "compare"])
def test_without_credentials_flip_and_compare_stop_with_one_line(tracking_server, monkeypatch, capsys, door):
    uri = tracking_server.tracking_uri
    for name in tracking_server.credentials:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    if door == "flip":
        from imbalance_sweep.cli import exit_on_user_error

        with pytest.raises(SystemExit) as stopped, exit_on_user_error():
            flip_on(uri, "server-flip-refused")
        code = stopped.value.code
    else:
        code = compare.main(["a", "b", "--tracking-uri", uri, "--experiment", "server-compare-refused"])
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"imbalance-sweep: error: tracking_uri='{uri}' cannot be used: ")
    assert "the server refused the credentials (HTTP 401)" in line
    for name, value in tracking_server.credentials.items():
        monkeypatch.setenv(name, value)
    assert MlflowClient(uri).get_experiment_by_name(f"server-{door}-refused") is None
