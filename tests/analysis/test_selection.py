"""analysis/selection.py: which epoch each criterion picks, the Keras callback's selection table
without Keras (its re-weighted values: core/test_reweighting.py)."""

from imbalance_sweep.analysis.selection import CRITERIA, picks


def test_each_criterion_picks_its_best_epoch_first_among_ties():
    series = {
        "val": {
            "loss/bce": [0.5, 0.3, 0.3, 0.4],  # lowest: epochs 2 and 3, the first wins
            "recall": [0.2, 0.4, 0.6, 0.6],  # highest: epoch 3
            "precision": [0.9, 0.8, 0.5, 0.4],
            "ece": [0.1, 0.05, 0.2, 0.3],  # lower is better
        },
        "0.01": {
            "loss/bce": [0.2, 0.1, 0.15, 0.3],
            "recall": [0.2, 0.4, 0.6, 0.6],
            "precision": [0.5, 0.3, 0.1, 0.05],
            "ece": [0.3, 0.2, 0.1, 0.4],
        },
    }
    found = picks([1, 2, 3, 4], series, extra={"val_loss (Keras)": [0.6, 0.5, 0.4, 0.45]})
    chosen = {(p.criterion, p.chosen_on): p.epoch for p in found}
    assert chosen == {
        ("loss/bce", "val"): 2,
        ("recall", "val"): 3,
        ("precision", "val"): 1,
        ("ece", "val"): 2,
        ("loss/bce", "0.01"): 2,
        ("recall", "0.01"): 3,
        ("precision", "0.01"): 1,
        ("ece", "0.01"): 3,
        ("val_loss (Keras)", "val"): 3,
    }
    (ece_at_1_percent,) = [p for p in found if (p.criterion, p.chosen_on) == ("ece", "0.01")]
    assert ece_at_1_percent.row() == {
        "criterion": "ece",
        "chosen on": "0.01",
        "epoch": 3,
        "value": 0.1,
        "recall": 0.6,
        "precision (val)": 0.5,
        "precision (0.01)": 0.1,
    }
    assert CRITERIA[0] == "loss/bce" and "tp" not in CRITERIA
