"""What a person is sent to: the sweep's parent run shows its answer (metrics, description, figure),
a one-cell sweep under ``mlflow run`` shows its cell on the launched run, and the ``cells:`` link's
prepared view is stored on the experiment as the MLflow UI reads it. The UI itself, in Chromium:
tracking/test_where_mlflow_ui.py."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.search_utils import SearchUtils

from imbalance_sweep import app, expected
from imbalance_sweep.analysis.answer import ANSWER_FIGURE, agreement_with_recall
from imbalance_sweep.analysis.parent_page import ANSWER_END
from imbalance_sweep.tracking import views, where
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, NOTE_TAG, ROLE_TAG, Role

SMALL_BLOG = ("grid.balances=[[20000,200],[2000,2000]]",)


def test_the_parent_shows_the_answer_and_the_cells_link_opens_its_view(make_spec, tracking_uri):
    spec = make_spec(*SMALL_BLOG, "losses=[bce,balanced_bce]", f"tracking_uri={tracking_uri}")
    outcome = app.execute_sweep(spec)
    client = MlflowClient(tracking_uri)
    parent = client.get_run(outcome.run_id)
    metrics = parent.data.metrics
    # The post's two models: at 1:100 BCE prefers the 50 %-recall model, on a balanced set the
    # 90 %-recall one (one pair of two); balanced_bce sides with recall on both.
    assert metrics["agreement/loss/bce"] == 0.5 and metrics["agreement/loss/balanced_bce"] == 1.0
    assert metrics["agreement/balanced_accuracy"] == 1.0
    assert metrics["flip/loss/bce"] == pytest.approx(0.0115, abs=5e-5)  # README: 1.15 %
    assert metrics["flip/f1"] == pytest.approx(0.0222, abs=5e-5)
    assert "flip/loss/balanced_bce" not in metrics  # never flips
    note = parent.data.tags[NOTE_TAG]
    assert "| `loss/bce` | 50 % | 1.15 % |" in note and "| `loss/balanced_bce` | 100 % | never |" in note
    assert f"get-artifact?path={ANSWER_FIGURE}&run_uuid={outcome.run_id}" in note
    assert note.endswith(
        f"{ANSWER_END}\n\nSweep 'seed_blog' of 4 cells: each is a run nested under this one."
    )
    artifacts = {artifact.path for artifact in client.list_artifacts(outcome.run_id)}
    assert ANSWER_FIGURE in artifacts
    assert "summary/headline.json" in {a.path for a in client.list_artifacts(outcome.run_id, "summary")}

    # The cells link names a view the experiment holds: the parent's children, headline columns, charts.
    link = where.cells_url(tracking_uri, outcome.experiment_id, outcome.run_id)
    query = parse_qs(urlsplit(link).fragment.partition("?")[2])
    assert set(query) == {"workflowType", "viewStateShareKey"}  # no search facet: it would void the view
    tags = client.get_experiment(outcome.experiment_id).tags
    state = json.loads(tags[views.VIEW_TAG_PREFIX + query["viewStateShareKey"][0]])
    [clause] = SearchUtils.parse_search_filter(state["searchFilter"])
    assert (clause["key"], clause["value"]) == (MLFLOW_PARENT_TAG, outcome.run_id)
    found = client.search_runs(
        [outcome.experiment_id], state["searchFilter"], order_by=[state["orderByKey"] + " DESC"]
    )
    assert len(found) == 4 and {run.data.tags[ROLE_TAG] for run in found} == {Role.CELL}
    assert state["orderByKey"] != "attributes.start_time"  # sorted by it, the UI nests the cells again
    assert state["selectedColumns"] == [
        *(f"params.`{name}`" for name in ("num_0s", "num_1s", "acc_0s", "acc_1s")),
        *(f"metrics.`{name}`" for name in ("loss/bce", "loss/balanced_bce", "recall", "f1")),
    ]
    shown = {card["metricSectionId"] for card in state["compareRunCharts"]}
    assert shown == {section["uuid"] for section in state["compareRunSections"] if section["display"]}
    plotted = {card.get("metricKey") or card["yaxis"]["key"] for card in state["compareRunCharts"]}
    assert plotted == {"loss/bce", "loss/balanced_bce", "recall", "f1"}
    assert all(key in found[0].data.metrics for key in plotted)


def test_one_cell_under_mlflow_run_is_on_the_launched_run(make_spec, tracking_uri):
    """As `mlflow run .` does: MLflow logged the -P values as typed; the cell stays the one nested
    run (canonical params, the cell role and key), and the launched run carries its params (but
    those typed) and every metric; the same launch again copies them onto the new launched run."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("launched")

    def launch() -> str:
        run_id = client.create_run(experiment_id).info.run_id
        client.log_param(run_id, "num_0s", "2e3")
        return run_id

    spec = make_spec(
        "grid=single", "grid.balances=[[2000,50]]", "grid.models=[[0.9,0.6]]", f"tracking_uri={tracking_uri}"
    )
    launched = launch()
    outcome = app.execute_sweep(spec, existing_run_id=launched)
    assert outcome.run_id == launched
    [cell] = client.search_runs([experiment_id], f"tags.`{MLFLOW_PARENT_TAG}` = '{launched}'")
    assert cell.data.tags[ROLE_TAG] == Role.CELL and cell.data.params["num_0s"] == "2000"
    parent = client.get_run(launched)
    assert parent.data.metrics == cell.data.metrics and len(cell.data.metrics) > 40
    assert (
        parent.data.params["num_0s"] == "2e3"
        and parent.data.params["prevalence"] == cell.data.params["prevalence"]
    )
    assert "recall" in parent.data.tags[NOTE_TAG] and parent.data.tags[ROLE_TAG] == Role.SWEEP

    again = launch()
    second = app.execute_sweep(spec, existing_run_id=again)
    assert second.run_id == cell.info.run_id and second.n_computed == 0
    assert client.get_run(again).data.metrics == cell.data.metrics
    cells = client.search_runs([experiment_id], f"tags.`{ROLE_TAG}` = '{Role.CELL}'")
    assert len(cells) == 1


def test_agreement_with_recall_counts_pairs_over_every_balance():
    """Six models at two balances, on the exact values: balanced_bce orders every pair recall tells
    apart as recall does (the pairs of one acc_1s are left out), BCE only some; a balance of one
    model has no pair."""
    rows = [
        {
            "num_0s": n0,
            "num_1s": n1,
            "acc_0s": a0,
            "acc_1s": a1,
            **expected(n0, a0, n1, a1, losses=["bce", "balanced_bce"]),
        }
        for n0, n1 in ((1000, 10), (500, 500))
        for a0 in (0.999, 0.98, 0.9)
        for a1 in (0.5, 0.9)
    ]
    found = agreement_with_recall(rows, losses=["bce", "balanced_bce"])
    assert found["agreement/loss/balanced_bce"] == 1.0 and found["agreement/balanced_accuracy"] == 1.0
    assert 0.0 < found["agreement/loss/bce"] < 1.0
    one_model = [row for row in rows if (row["acc_0s"], row["acc_1s"]) == (0.9, 0.5)]
    assert agreement_with_recall(one_model, losses=["bce"]) == {}
