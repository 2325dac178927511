"""A model's label is written once (core.cell.model_label) and reads as runs, tables and figures always named it."""

from imbalance_sweep.analysis.preference import Model
from imbalance_sweep.core.cell import Cell, model_label


def test_a_models_label_by_its_accuracies():
    assert model_label(0.999, 0.5) == "a0=0.999 a1=0.5"
    assert model_label(0.98765432, 0.5, ".4g") == "a0=0.9877 a1=0.5"
    assert Cell(1_000_000, 10_000, 0.999, 0.5).name == "n0=1000000 n1=10000 a0=0.999 a1=0.5"
    assert Model(0.95, 0.9).name == "a0=0.95 a1=0.9" and Model(0.95, 0.9, title="mine").name == "mine"
