"""The K-class flip on two predictions files (``models: [{name, file}, {name, file}]``): the flips
MLflow stored equal prior_flip's on class values built here by hand from the same files, each loss
along the path equals the files re-weighted to that prior, the files are the run's datasets, and a
bad file is one line."""

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep.analysis.k_flip import k_flip_spec, run_k_flip
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.losses import MulticlassLosses, class_weights, sample_terms
from imbalance_sweep.core.multiclass.predictions import class_predictions_table, load_class_predictions
from imbalance_sweep.core.multiclass.prior_flip import class_values, path_flips
from imbalance_sweep.core.multiclass.reweighting import reweighted_losses
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME

TRAIN = [2000, 300, 40, 5]
SETTINGS = {"alpha": 0.25, "gamma": 2.0, "beta": 0.9999, "tau": 1.0, "max_margin": 0.5, "scale": 1.0}


def write_file(path, head_bias, seed, rows=(60, 60, 60, 60)):
    """K-class predictions (K the length of ``rows``): the true class favoured, and class 0 (the head) by ``head_bias``."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(rows)), rows))
    scores = rng.dirichlet(np.ones(len(rows)), labels.size)
    scores[np.arange(labels.size), labels] += rng.uniform(0, 0.9, labels.size)
    scores[:, 0] += head_bias
    scores = (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
    (pq.write_table if path.suffix == ".parquet" else pcsv.write_csv)(
        class_predictions_table(labels, scores), path
    )
    return path


def composed(*overrides):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="flip_long_tail", overrides=list(overrides))
    return OmegaConf.to_container(config, resolve=True)


MODELS = f"models=[{{name: head, file: head.parquet, train: {TRAIN}}}, {{name: even, file: even.csv, train: {TRAIN}}}]"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths start here; MLflow's artifacts go to ./mlruns
    return write_file(tmp_path / "head.parquet", 0.6, 0), write_file(tmp_path / "even.csv", 0.0, 1)


def by_hand(name, path):
    """A file's ClassValues from numpy: each class's mean term, the loss's class weights, the rates."""
    labels, scores = load_class_predictions(path)
    tables = MulticlassLosses(4, MULTICLASS_LOSS_NAMES, training_counts=TRAIN, **SETTINGS).tables
    terms = sample_terms(labels, scores, MULTICLASS_LOSS_NAMES, training_counts=TRAIN, **SETTINGS)
    loss_terms, weights = {}, {}
    for loss in MULTICLASS_LOSS_NAMES:
        values = terms[MULTICLASS_LOSSES_BY_NAME[loss].term].astype(np.float64)
        loss_terms[loss] = [values[labels == k].mean() for k in range(4)]
        weights[loss] = class_weights(loss, tables)
    predicted = scores.argmax(axis=1)
    rates = [np.bincount(predicted[labels == k], minlength=4) / np.sum(labels == k) for k in range(4)]
    return class_values(name, rates, loss_terms, weights), labels, scores


def test_the_flips_of_two_files_are_prior_flips_on_their_class_values(files, tracking_uri, tmp_path, capsys):
    spec = k_flip_spec(
        composed(
            "classes=4", MODELS, "path={kind: exponential, from: 1, to: 200}", f"tracking_uri={tracking_uri}"
        )
    )
    run_id = run_k_flip(spec)
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [
        "A = head (file head.parquet, train [2000,300,40,5])",
        "B = even (file even.csv, train [2000,300,40,5])",
    ]

    (head, labels, head_scores), (even, even_labels, even_scores) = (
        by_hand("head", files[0]),
        by_hand("even", files[1]),
    )
    found = path_flips(head, even, spec.path, losses=spec.losses, metrics=spec.metrics)
    run = MlflowClient(tracking_uri).get_run(run_id)
    expected = {
        f"flip/{'loss/' if p.is_loss else ''}{p.name}": p.flips[0] for p in found.preferences if p.flips
    }
    assert expected and run.data.metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert run.data.metrics[key] == pytest.approx(value, rel=1e-9), key
    assert any(key.startswith("flip/loss/") for key in expected)  # these two files flip somewhere

    # each loss along the path: the files re-weighted to that prior
    priors = spec.path.priors(np.array([1.0, 3.0, 40.0, 200.0]))
    for values, (file_labels, scores) in (
        (spec.values_a, (labels, head_scores)),
        (spec.values_b, (even_labels, even_scores)),
    ):
        for prior in priors:
            reweighted = reweighted_losses(file_labels, scores, prior, training_counts=TRAIN, **SETTINGS)
            for loss in MULTICLASS_LOSS_NAMES:
                assert prior @ values.weighted_terms(loss) == pytest.approx(reweighted[loss], rel=1e-12)

    params = run.data.params
    assert (params["model_a"], params["model_a.path"], params["model_b.path"]) == (
        "head",
        str(files[0]),
        str(files[1]),
    )
    assert params["model_a.train"] == "[2000,300,40,5]" and params["model_b.rows"] == "240"
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"head.parquet", "even.csv"}


def test_a_files_training_counts_default_to_its_class_counts(files):
    spec = k_flip_spec(
        composed(
            "classes=4",
            "models=[{file: head.parquet}, {name: even, file: even.csv}]",
            "tracking_uri=sqlite:///unused.db",
        )
    )
    assert (spec.model_a.name, spec.model_a.training_counts, spec.model_a.errors) == (
        "A",
        (60, 60, 60, 60),
        "file",
    )


@pytest.mark.parametrize(
    "models, line",
    [
        (
            "models=[{file: nope.csv}, {file: even.csv}]",
            "models[0].file: predictions file '<tmp>/nope.csv' does not exist",
        ),
        (
            "models=[{file: head.parquet}, {file: k3.parquet}]",
            "models[1].file='k3.parquet' has K=3 score columns (score_0 .. score_2); allowed: 4 columns, one "
            "a class (classes=4)",
        ),
        (
            "models=[{file: head.parquet}, {file: gap.parquet}]",
            "models[1].file '<tmp>/gap.parquet' has no rows of class 3; allowed: a file "
            "with rows of every class (a path of priors gives every class a share)",
        ),
        (
            "models=[{file: head.parquet, accuracy: {profile: uniform, value: 0.5}}, {file: even.csv}]",
            "models[0].accuracy is not a key of a predictions file's model; its keys are: name, file, train, label",
        ),
        (
            "models=[{name: x, file: head.parquet}, {name: x, file: even.csv}]",
            "models[1].name='x' is models[0]'s too",
        ),
    ],
)
def test_a_bad_file_is_one_line(files, tmp_path, models, line):
    write_file(tmp_path / "k3.parquet", 0.0, 2, rows=(5, 5, 5))
    labels = np.repeat([0, 1, 2], 4)
    pq.write_table(
        class_predictions_table(labels, np.full((12, 4), 0.25, np.float32)), tmp_path / "gap.parquet"
    )
    with pytest.raises(InvalidValue) as error:
        k_flip_spec(composed("classes=4", models, "tracking_uri=sqlite:///unused.db"))
    assert str(error.value).startswith(line.replace("<tmp>", str(tmp_path))) and "\n" not in str(error.value)
