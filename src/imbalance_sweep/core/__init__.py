"""The pure core: numpy only, no MLflow, no Hydra. A cell (class sizes, per-class accuracies),
its scores drawn by a score model, the losses a framework reports and the metrics a person
reads, their exact expectations and bootstrap intervals. Everything here takes values and
returns values; the sweep and the tracking are built on top of it.
"""
