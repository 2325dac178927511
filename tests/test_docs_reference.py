"""The generated reference pages (docs/reference/config.md, docs/reference/mlproject.md) are what
scripts/docs_reference.py makes from conf/, MLproject and the validation code now, and every bound they
print is the one the validation code enforces: the bound is accepted, one past it refused."""

import importlib.util
from pathlib import Path

import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.metrics import MAX_ECE_BINS
from imbalance_sweep.core.simulator import MAX_CHUNK_SIZE
from imbalance_sweep.sweep.config import MAX_BOOTSTRAP_REPLICATES, MAX_NAME_LENGTH, sweep_spec
from imbalance_sweep.sweep.grid import MAX_CELLS

ROOT = Path(__file__).resolve().parents[1]


def generator():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docs_reference():
    return generator()


@pytest.fixture(scope="module")
def composed(docs_reference):
    return docs_reference._composed("config", ["mode=expected"])


def test_the_generated_pages_are_what_the_code_says_now(docs_reference):
    for path, text in docs_reference.pages().items():
        assert path.read_text() == text, f"{path} is stale: python scripts/docs_reference.py --write"


def test_the_config_page_lists_every_key_hydra_composes(docs_reference, composed):
    page = docs_reference.CONFIG_PAGE.read_text()
    for key, _ in docs_reference._leaves(
        {k: v for k, v in composed.items() if k not in ("grid", "score_model")}
    ):
        assert f"| `{key}` |" in page


def with_value(config, dotted, value):
    changed = {key: dict(part) if isinstance(part, dict) else part for key, part in config.items()}
    *sections, last = dotted.split(".")
    node = changed
    for section in sections:
        node = node.setdefault(section, {})
    node[last] = value
    return changed


BOUNDS = [
    ("chunk_size", MAX_CHUNK_SIZE, f"1 to {MAX_CHUNK_SIZE:,}"),
    ("metrics.ece_bins", MAX_ECE_BINS, f"1 to {MAX_ECE_BINS:,}"),
    ("bootstrap.replicates", MAX_BOOTSTRAP_REPLICATES, f"0 to {MAX_BOOTSTRAP_REPLICATES:,}"),
    ("shard.count", MAX_CELLS, f"1 to {MAX_CELLS:,}"),
]


@pytest.mark.parametrize(("key", "bound", "shown"), BOUNDS, ids=[key for key, *_ in BOUNDS])
def test_each_whole_number_bound_on_the_page_is_the_validators(docs_reference, composed, key, bound, shown):
    row = next(
        line
        for line in docs_reference.CONFIG_PAGE.read_text().splitlines()
        if line.startswith(f"| `{key}` |")
    )
    assert shown in row
    sweep_spec(with_value(composed, key, bound))
    with pytest.raises(InvalidValue, match=key):
        sweep_spec(with_value(composed, key, bound + 1))


@pytest.mark.parametrize("key", ["experiment", "sweep_name"])
def test_the_name_length_on_the_page_is_the_validators(docs_reference, composed, key):
    row = next(
        line
        for line in docs_reference.CONFIG_PAGE.read_text().splitlines()
        if line.startswith(f"| `{key}` |")
    )
    assert f"at most {MAX_NAME_LENGTH} printable characters" in row
    sweep_spec(with_value(composed, key, "x" * MAX_NAME_LENGTH))
    with pytest.raises(InvalidValue, match=key):
        sweep_spec(with_value(composed, key, "x" * (MAX_NAME_LENGTH + 1)))


def test_the_cell_limit_on_the_page_is_the_validators(docs_reference, composed):
    assert f"at most {MAX_CELLS:,} cells (`MAX_CELLS`)" in docs_reference.CONFIG_PAGE.read_text()
    grid = composed["grid"]  # seed_blog: 2 balances x 2 models
    with pytest.raises(InvalidValue, match=f"at most {MAX_CELLS}"):
        sweep_spec(with_value(composed, "grid.seeds", list(range(MAX_CELLS // 4 + 1))))
    assert len(grid["balances"]) * len(grid["models"]) == 4
