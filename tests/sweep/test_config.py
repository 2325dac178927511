"""Composed configs (Hydra's compose API, in-process) and their validation into a SweepSpec."""

import pytest

from imbalance_sweep import InvalidValue
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.sweep.config import resolve_tracking_uri


def test_seed_blog_is_the_posts_four_cells(make_spec):
    spec = make_spec()
    assert spec.name == "seed_blog"
    assert spec.cells == (
        Cell(1_000_000, 10_000, 0.999, 0.5),
        Cell(1_000_000, 10_000, 0.98, 0.9),
        Cell(10_000, 10_000, 0.999, 0.5),
        Cell(10_000, 10_000, 0.98, 0.9),
    )
    assert spec.losses == ("bce", "focal_tfa", "focal_balanced", "focal", "balanced_bce", "brier")
    assert (spec.backend, spec.seed, spec.alpha, spec.gamma) == ("numpy", 0, 0.25, 2.0)


def test_single_cell_from_the_command_line(make_spec):
    spec = make_spec("grid=single", "grid.balances=[[1000,10]]", "grid.models=[[0.9,0.6]]")
    assert spec.cells == (Cell(1000, 10, 0.9, 0.6),)


def test_counts_written_as_floats_are_whole_numbers(make_spec):
    spec = make_spec("grid=single", "grid.balances=[[1e6,1000000.0]]")
    assert spec.cells[0].num_0s == spec.cells[0].num_1s == 1_000_000


def test_dense_grid_spans_prevalences_and_accuracies(make_spec):
    spec = make_spec("grid=dense")
    prevalences = sorted({cell.prevalence for cell in spec.cells})
    assert prevalences[0] == pytest.approx(0.001) and prevalences[-1] == 0.5
    accuracies = sorted({cell.acc_0s for cell in spec.cells})
    assert accuracies[0] == 0.05 and accuracies[-1] == 1.0
    assert len(spec.cells) == 5 * 20 * 20


def test_models_from_accuracy_lists_and_replicate_seeds(make_spec):
    spec = make_spec(
        "grid=single", "grid.models=null", "grid.acc_0s=[0.9,0.99]", "grid.acc_1s=[0.5]", "grid.seeds=[0,1]"
    )
    assert [(c.acc_0s, c.acc_1s, c.replicate) for c in spec.cells] == [
        (0.9, 0.5, 0),
        (0.9, 0.5, 1),
        (0.99, 0.5, 0),
        (0.99, 0.5, 1),
    ]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["grid=single", "grid.models=[[0.9,1.5]]"], "grid.models[0]: acc_1s=1.5 is outside [0, 1]"),
        (
            ["grid=single", "grid.balances=[[100.5,10]]"],
            "grid.balances[0]: num_0s=100.5 is not a whole number >= 0",
        ),
        (["grid=single", "grid.balances=[[0,0]]"], "num_0s + num_1s >= 1"),
        (["grid=single", "grid.balances=[[10,10,10]]"], "grid.balances[0]=[10, 10, 10] must be a pair"),
        (["grid=single", "grid.acc_0s=[0.5]", "grid.acc_1s=[0.5]"], "give one of them"),
        (["grid=single", "grid.models=null"], "grid.models is not set"),
        (["grid=single", "grid.seeds=[-1]"], "grid.seeds[0]=-1 is not a whole number >= 0"),
        (["grid=dense", "grid.acc_1s=[0.5,2]"], "grid.acc_1s[1]=2 is outside [0, 1]"),
        (
            ["losses=[bce,hinge]"],
            "losses[1]='hinge' is not one of: bce, focal_tfa, focal_balanced, focal, balanced_bce, brier",
        ),
        (["backend=jax"], "backend='jax' is not one of: numpy, keras"),
        (["seed=-3"], "seed=-3 is not a whole number >= 0"),
        (["chunk_size=0"], "chunk_size=0 is not a whole number in [1, 1048576]"),
        (["focal.alpha=2"], "focal.alpha=2 is outside [0, 1]"),
        (["focal.gamma=-0.5"], "focal.gamma=-0.5 is not a finite number >= 0"),
        (["+grid.model=[[0.5,0.5]]"], "grid.model is not a grid key"),
        (["report=every"], "report='every' must be answer (the figures that answer the sweep's question"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(make_spec, overrides, message):
    with pytest.raises(InvalidValue) as error:
        make_spec(*overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_tracking_uri_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(None, tmp_path) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///x.db", tmp_path) == "sqlite:///x.db"


def test_a_multirun_jobs_swept_values_follow_the_grid_name_unless_sweep_name_is_given(make_spec):
    """app.py passes a job's values of the keys its multirun sweeps (tests/test_cli.py sees it through
    the door); a shard's index and the other keys shards share are left out, so shards keep one name."""
    from imbalance_sweep.sweep.overrides import job_label, swept_keys

    swept = swept_keys(["seed=0,1", "losses=[bce]", "shard.count=2", "shard.index=0,1", "+x=range(2)"])
    assert swept == ["seed", "shard.index", "x"]
    assert job_label(["seed=1", "losses=[bce]", "shard.count=2", "shard.index=1"], swept) == "seed=1"
    assert (
        job_label(["shard.count=2", "shard.index=1"], swept_keys(["shard.count=2", "shard.index=0,1"])) == ""
    )
    assert make_spec("seed=1").name == "seed_blog"
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR, sweep_spec

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        plain = OmegaConf.to_container(compose(config_name="config", overrides=["seed=1"]), resolve=True)
    assert sweep_spec(plain, job_overrides="seed=1").name == "seed_blog seed=1"
    assert sweep_spec({**plain, "sweep_name": "mine"}, job_overrides="seed=1").name == "mine"
    with pytest.raises(
        InvalidValue, match=r"^sweep_name='seed_blog x=.*' has 205 characters; .* give sweep_name"
    ):
        sweep_spec(plain, job_overrides="x=" + "9" * 193)


@pytest.mark.parametrize("config_name", ["config", "flip"])
def test_the_shipped_configs_compose_and_resolve_without_overrides(config_name):
    """A command without overrides skips the pre-check (cli.run_hydra_main): this is the check."""
    from imbalance_sweep.sweep.config import CONFIG_DIR
    from imbalance_sweep.sweep.overrides import check_composes

    check_composes(CONFIG_DIR, config_name, [])
