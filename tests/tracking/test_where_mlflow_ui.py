"""The MLflow UI, in a real browser: a sweep logged to ``mlflow server`` shows in headless Chromium
as a parent run whose cells nest under it, with metric columns holding the logged values, in the
chart and compare views, and with its table and figures among the parent run's artifacts. Then the
links a sweep prints: in an experiment where a 2,000-cell sweep followed a small one, the sweeps link
shows both parent runs without "Load more", and each sweep's cells link shows its cells.

The browser is Debian's Chromium (``scripts/install-test-deps`` installs it), driven by Playwright
for Python through ``executable_path``: Playwright's own browser downloads are never used. Without
Chromium or Playwright the test skips, saying why. Screenshots of every view land in the test's
temporary directory. The README's picture comes from the same run::

    IMBALANCE_SWEEP_UI_SCREENSHOT=docs/mlflow-ui.png python -m pytest tests/tracking/test_where_mlflow_ui.py

The selectors were found on the MLflow 3.17.2 UI (roles and visible text first; ag-grid's
``row-id``, the run id, to find a run's row).
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from helpers import environment_without_mlflow_launch
from mlflow.tracking import MlflowClient

from imbalance_sweep.analysis.answer import ANSWER_FIGURE
from imbalance_sweep.runtime.processes import stop_process_group
from imbalance_sweep.tracking import where
from imbalance_sweep.tracking.reader import RunReader
from imbalance_sweep.tracking.server.errors import ServerError
from imbalance_sweep.tracking.server.mlflow_server import launch_mlflow_server
from imbalance_sweep.tracking.server.probes import free_port
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, ROLE_TAG, Role

try:
    from playwright import sync_api
    from playwright.sync_api import expect
except ImportError:  # only the test extra installs it; the test says so when it runs (not when deselected)
    sync_api = expect = None

ROOT = Path(__file__).resolve().parents[2]
# Set to a path (relative to the repository root) to write the README's screenshot there as well.
SCREENSHOT_ENV = "IMBALANCE_SWEEP_UI_SCREENSHOT"
README_PNG_MAX_BYTES = 150_000
# The views the printed links open, for the docs (beside the README's picture)
DOCS_PICTURES = ("mlflow-ui-parent.png", "mlflow-ui-cells.png", "mlflow-ui-charts.png")
# Root needs --no-sandbox; the rest keeps Chromium off the (closed) network and quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1600, "height": 900}
UI_TIMEOUT_MS = 60_000  # a React page on 2 shared cores, behind a server that answers slowly at first
METRIC_COLUMNS = ("loss/bce", "loss/balanced_bce", "recall", "f1")
HIDDEN_COLUMNS = ("Dataset", "Source", "Models")  # empty for these runs: out of the picture

if expect is not None:
    expect.set_options(timeout=UI_TIMEOUT_MS)  # Playwright's assertions (page actions: set per page)


@contextlib.contextmanager
def mlflow_server(directory: Path):
    """``mlflow server`` on a sqlite store and its own artifact store in ``directory``, on a free
    loopback port, started as ``imbalance_sweep.server`` starts a team's; yields its URL once
    /health answers, and stops its whole process group after. One worker: enough for the UI and a
    small sweep, and it starts faster on 2 cores."""
    port = free_port()
    try:
        process = launch_mlflow_server(
            f"sqlite:///{directory / 'mlflow.db'}",
            directory / "artifacts",
            host="127.0.0.1",
            port=port,
            workers=1,
            log=directory / "mlflow-server.log",
            cwd=directory,
        )
    except ServerError as error:
        pytest.fail(str(error))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process.pid)
        process.wait()


@contextlib.contextmanager
def chromium_page(chromium: str, profile: Path):
    """A page of headless Chromium with a fresh profile in ``profile``, closed after."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            context.close()


def exactly(text: str) -> re.Pattern:
    """The whole text of an element, give or take the white space around it."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def run_row(page, run_id: str):
    """A run's row of the runs table (ag-grid splits it into its pinned and scrolling parts)."""
    return page.locator(f'[role="row"][row-id="{run_id}"]')


def column_header(page, name: str):
    """The table's header cell of a column (the one that carries the column index)."""
    return page.locator('[role="columnheader"][aria-colindex]').filter(has_text=exactly(name))


def widen_column(page, name: str, pixels: int) -> None:
    """Drag the right edge of a column's header, as a person widens a column."""
    box = column_header(page, name).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] - 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + pixels, y, steps=5)
    page.mouse.up()


def close_assistant(page) -> None:
    """Close the MLflow Assistant side panel, open by default, which takes a third of the page.
    Cosmetic only (the screenshots): no assertion depends on it."""
    with contextlib.suppress(sync_api.TimeoutError):
        page.get_by_role("button", name="Close", exact=True).click(timeout=10_000)


def open_runs_table(page, url: str, sweep: dict) -> None:
    """The experiment's runs, in MLflow 3's "Model training" view (its default is a GenAI overview)."""
    page.goto(f"{url}/#/experiments/{sweep['experiment_id']}/runs?workflowType=machine_learning")
    expect(page.get_by_role("link", name=sweep["name"], exact=True)).to_be_visible()
    close_assistant(page)


def expand_sweep(page, sweep: dict) -> None:
    """Open the parent run's nested children (the +/- button beside its name)."""
    name_cell = run_row(page, sweep["run_id"]).get_by_role("gridcell").filter(has=page.get_by_role("link"))
    name_cell.get_by_role("button").click()


def show_metric_columns(page, metrics, hidden) -> None:
    """Tick ``metrics`` in the Columns menu (searching each name), untick the ``hidden`` attributes."""
    page.get_by_role("button", name="Columns", exact=True).click()
    search = page.get_by_placeholder("Search columns")
    tree = page.get_by_test_id("column-selector-tree")
    for name in metrics:
        search.fill(name)
        tree.locator("div").filter(has_text=exactly(name)).click()
    search.fill("")
    for name in hidden:
        tree.get_by_title(name, exact=True).click()
    page.keyboard.press("Escape")


def save_readme_picture(page, run_ids, columns, path: Path) -> int:
    """The runs table as the README shows it: the page narrowed to end just past the last of
    ``columns``, down to the last of the rows of ``run_ids``, in 256 colours (a UI has few; the
    file shrinks about fivefold). Returns its size in bytes."""
    from PIL import Image

    right = max(
        box["x"] + box["width"] for box in (column_header(page, name).bounding_box() for name in columns)
    )
    page.set_viewport_size({"width": round(right) + 40, "height": VIEWPORT["height"]})
    rows = [run_row(page, run_id).first.bounding_box() for run_id in run_ids]
    clip = {
        "x": 0,
        "y": 0,
        "width": round(right) + 40,
        "height": max(box["y"] + box["height"] for box in rows) + 16,
    }
    picture = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    page.set_viewport_size(VIEWPORT)
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def check_runs_table(page, url: str, sweep: dict, cells: list[dict], shots: Path) -> Path:
    """The sweep collapsed, then its cells nested under it, with metric columns holding the values
    the cells logged. Saves the view, and the README's picture of it, whose path it returns."""
    open_runs_table(page, url, sweep)
    for cell in cells:
        expect(page.get_by_role("link", name=cell["name"], exact=True)).to_have_count(0)
    expand_sweep(page, sweep)
    for cell in cells:
        expect(
            run_row(page, cell["run_id"]).get_by_role("link", name=cell["name"], exact=True)
        ).to_be_visible()
    show_metric_columns(page, METRIC_COLUMNS, HIDDEN_COLUMNS)
    for metric in METRIC_COLUMNS:
        header = column_header(page, metric)
        expect(header).to_be_visible()
        index = header.get_attribute("aria-colindex")
        for cell in cells:
            shown = run_row(page, cell["run_id"]).locator(f'[role="gridcell"][aria-colindex="{index}"]')
            expect(shown).to_have_text(re.compile(r"\d"))
            # the cell's text is the whole number, whatever the column's width shows of it
            assert float(shown.inner_text()) == cell["metrics"][metric], (cell["name"], metric)
    widen_column(page, "Run Name", 170)  # the cells' names in full
    for metric in METRIC_COLUMNS:
        widen_column(page, metric, 60)
    page.screenshot(path=shots / "runs-table.png")
    picture = shots / "mlflow-ui.png"
    size = save_readme_picture(
        page, [sweep["run_id"], *(cell["run_id"] for cell in cells)], METRIC_COLUMNS, picture
    )
    assert size < README_PNG_MAX_BYTES, size
    return picture


def check_chart_view(page, shots: Path) -> None:
    """From the runs table: the chart view, a scatter chart of loss/bce against f1 over the cells."""
    page.locator("label").filter(has=page.locator('input[value="CHART"]')).click()
    page.get_by_role("button", name="Add chart").first.click()
    page.get_by_role("menuitem", name="Scatter chart").click()
    dialog = page.get_by_role("dialog")
    for position, metric in ((1, "f1"), (2, "loss/bce")):  # combobox 0 is the chart type
        axis = dialog.get_by_role("combobox").nth(position)
        axis.focus()
        axis.fill(metric)
        page.get_by_title(metric, exact=True).last.click()
        expect(dialog.get_by_title(metric, exact=True)).to_be_visible()
    page.screenshot(path=shots / "chart-view.png")
    dialog.get_by_role("button", name="Cancel").click()
    page.locator("label").filter(has=page.locator('input[value="TABLE"]')).click()


def check_compare_view(page, compared: list[dict], shots: Path) -> None:
    """From the runs table: tick ``compared`` cells, Compare, and see them side by side."""
    for cell in compared:
        run_row(page, cell["run_id"]).get_by_role("checkbox").check()
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_text(f"Comparing {len(compared)} Runs")).to_be_visible()
    for cell in compared:
        expect(page.get_by_text(cell["name"], exact=True).first).to_be_visible()
    page.screenshot(path=shots / "compare-view.png")


def check_artifacts(page, url: str, sweep: dict, shots: Path) -> None:
    """The sweep run's artifacts: its table, its config, its summaries and figures; one figure shown."""
    page.goto(
        f"{url}/#/experiments/{sweep['experiment_id']}/runs/{sweep['run_id']}/artifacts?workflowType=machine_learning"
    )
    tree = page.get_by_test_id("artifact-tree-node")
    for name in ("cells.csv", "config.yaml", "figures", "summary"):
        expect(tree.filter(has_text=exactly(name))).to_be_visible()
    tree.filter(has_text=exactly("figures")).click()
    figure = tree.filter(has_text=exactly("heatmap_f1.png"))
    expect(figure).to_be_visible()
    figure.click()
    expect(page.get_by_role("img", name="figures/heatmap_f1.png")).to_be_visible()  # its preview
    page.screenshot(path=shots / "sweep-artifacts.png")


def check_ui(chromium: str, url: str, sweep: dict, cells: list[dict], directory: Path) -> Path:
    """Every view, in a fresh Chromium profile; screenshots in ``directory``/screenshots (one of the
    failing page, on a failure). Returns the README's picture."""
    shots = directory / "screenshots"
    shots.mkdir(exist_ok=True)
    with chromium_page(chromium, directory / "chromium-profile") as page:
        try:
            picture = check_runs_table(page, url, sweep, cells, shots)
            check_chart_view(page, shots)
            # the post's two models on its 1:100 validation set
            check_compare_view(page, [cell for cell in cells if cell["params"]["num_0s"] == "1000000"], shots)
            check_artifacts(page, url, sweep, shots)
        except Exception:
            page.screenshot(path=shots / "failure.png")
            raise
    print(f"screenshots: {shots}")
    return picture


def run_sweep_through(url: str | None, directory: Path, *overrides: str) -> str:
    """``python -m imbalance_sweep *overrides`` as a user runs it, told of the server only by
    MLFLOW_TRACKING_URI (of no server if ``url`` is None); returns what it printed."""
    extra = {"MLFLOW_TRACKING_URI": url} if url else {}
    done = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep", *overrides],
        cwd=directory,
        env={**environment_without_mlflow_launch(), **extra},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# A small sweep, then a big one after it, in an experiment of their own: the big one's cells fill
# the runs table's first page (100 runs) and more, so the small one's parent is behind "Load more".
CROWDED_EXPERIMENT = "crowded"
BIG_SWEEP = ("grid=dense", "mode=expected", "report=false")  # 2,000 cells, exact values: quick
BIG_SWEEP_CELLS = 2000
CELLS_CHECKED = 5  # the big sweep's most recent cells: the first rows under its parent
# What a printed link line looks like: "sweeps:     http://..." (label, colon, URL from column 12).
LINK_LINE = re.compile(r"^(\w+):\s+(http\S+)$", re.MULTILINE)


def log_crowded_experiment(url: str, directory: Path) -> dict:
    """The small sweep, then the big one, logged straight to the sqlite file the server serves (through
    the server the big one takes minutes); returns the experiment's id, its sweeps' parent runs
    (small one first), each sweep's cells to look for and the UI links each sweep's command gives."""
    store = f"sqlite:///{directory / 'mlflow.db'}"
    shared = (f"tracking_uri={store}", f"experiment={CROWDED_EXPERIMENT}")
    started = time.monotonic()
    outputs = [run_sweep_through(None, directory, "grid=seed_blog", "report=false", *shared)]
    small_seconds = time.monotonic() - started
    outputs.append(run_sweep_through(None, directory, *BIG_SWEEP, *shared))
    big_seconds = time.monotonic() - started - small_seconds
    print(f"small sweep: {small_seconds:.1f} s; {BIG_SWEEP_CELLS} cells to sqlite: {big_seconds:.1f} s")
    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name(CROWDED_EXPERIMENT)
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"
    experiment_id = experiment.experiment_id
    sweeps = client.search_runs(
        [experiment_id], f"tags.`{ROLE_TAG}` = '{Role.SWEEP}'", order_by=["attributes.start_time ASC"]
    )
    assert [sweep.info.run_name for sweep in sweeps] == ["seed_blog", "dense"]
    crowded = {"experiment_id": experiment_id, "sweeps": []}
    for sweep, output in zip(sweeps, outputs, strict=True):
        cells = client.search_runs(
            [experiment_id],
            f"tags.`{MLFLOW_PARENT_TAG}` = '{sweep.info.run_id}'",
            max_results=BIG_SWEEP_CELLS,
        )
        assert len(cells) == (4 if sweep.info.run_name == "seed_blog" else BIG_SWEEP_CELLS)
        # The links as the sweep command printed them at its end ("sweeps:     http://...").
        links = {label: link for label, link in LINK_LINE.findall(output) if label in ("sweeps", "cells")}
        assert links == {
            "sweeps": where.sweeps_url(store, experiment_id),
            "cells": where.cells_url(store, experiment_id, sweep.info.run_id),
        }
        crowded["sweeps"].append(
            {
                "run_id": sweep.info.run_id,
                "name": sweep.info.run_name,
                "printed": output,
                "cells": {cell.info.run_id: dict(cell.data.metrics) for cell in cells},
                # printed for a sqlite store, they point where `mlflow ui` serves; here, the test's server
                "links": {label: on_server(link, url) for label, link in links.items()},
            }
        )
    return crowded


def on_server(link: str, url: str) -> str:
    """A printed UI link, opened on the server at ``url`` instead of the one it names."""
    parts, server_parts = urlsplit(link), urlsplit(url)
    return urlunsplit((server_parts.scheme, server_parts.netloc, parts.path, parts.query, parts.fragment))


def check_sweep_links(chromium: str, crowded: dict, directory: Path) -> None:
    """Each sweep's links in Chromium, in the profile the other views left (the runs table's
    filter, sort and columns it keeps must not get in the way): the sweeps link lists every sweep's
    parent run without "Load more"; a sweep's cells link lists its parent, which opens on its cells."""
    shots = directory / "screenshots"
    with chromium_page(chromium, directory / "chromium-profile") as page:
        try:
            small, big = crowded["sweeps"]
            page.goto(big["links"]["sweeps"])
            for sweep in (small, big):
                expect(run_row(page, sweep["run_id"]).get_by_role("link", name=sweep["name"])).to_be_visible()
            expect(page.get_by_role("button", name="Load more")).to_have_count(0)
            page.screenshot(path=shots / "sweeps-link.png")
            for sweep in (small, big):
                page.goto(sweep["links"]["cells"])
                check_cells_shown(page, sweep["cells"])
                page.screenshot(path=shots / f"cells-link-{sweep['name']}.png")
        except Exception:
            page.screenshot(path=shots / "failure-links.png")
            raise


HEADLINE = ("recall", "loss/bce")  # the values a person must see on the cells link, as text


def shown_number(page, run_id: str, column: str) -> float:
    """The number a run's row shows in a column (the cell's text is the whole number)."""
    header = column_header(page, column)
    expect(header).to_be_visible()
    index = header.get_attribute("aria-colindex")
    shown = run_row(page, run_id).locator(f'[role="gridcell"][aria-colindex="{index}"]')
    expect(shown).to_have_text(re.compile(r"\d"))
    return float(shown.inner_text())


def check_cells_shown(page, cells: dict[str, dict[str, float]]) -> None:
    """The cells link as it opens: cells listed flat (no parent to expand, no column to choose),
    the highest recall first, each row showing the values its cell logged."""
    expect(page.get_by_text("You're viewing a shared view")).to_be_visible()
    rows = page.locator('[role="row"][row-id]')
    expect(rows.first).to_be_visible()
    first = rows.first.get_attribute("row-id")
    assert first in cells, f"the first row, {first}, is not one of the sweep's cells"
    assert cells[first]["recall"] == max(cell["recall"] for cell in cells.values())
    seen = list(dict.fromkeys(row.get_attribute("row-id") for row in rows.all()))[:CELLS_CHECKED]
    for run_id in seen:
        assert run_id in cells
        for metric in HEADLINE:
            assert shown_number(page, run_id, metric) == cells[run_id][metric], (run_id, metric)


def check_cells_charts(page, sweep_name: str, cells: dict[str, dict[str, float]], shots: Path) -> None:
    """The cells link's chart view: the sweep's headline section first, its scatter charts of
    each headline loss against recall and F1 and its bar charts, drawn from the cells' values."""
    page.locator("label").filter(has=page.locator('input[value="CHART"]')).click()
    section = page.get_by_text(f"{sweep_name}: headline values")
    expect(section).to_be_visible()
    for title in ("recall vs. loss/bce", "f1 vs. loss/bce"):
        expect(page.get_by_text(title, exact=True).first).to_be_visible()
    top = max(cells.values(), key=lambda cell: cell["recall"])["recall"]
    page.get_by_text("recall", exact=True).last.scroll_into_view_if_needed()
    expect(page.get_by_text(f"{top:.2f}").first).to_be_attached()  # a bar's label: the top recall
    save_picture(page, shots / "mlflow-ui-charts.png")
    page.locator("label").filter(has=page.locator('input[value="TABLE"]')).click()


def check_parent_page(page, run_link: str, parent: dict, shots: Path) -> None:
    """The run a sweep prints first: its own page shows the answer: metrics (agreement with recall,
    flips) in the metrics table, the table of them in the description, and its figure."""
    page.goto(run_link)
    close_assistant(page)
    for key in ("agreement/loss/bce", "flip/loss/bce", "agreement/f1"):
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=key, exact=True))
        expect(row).to_be_visible()
        value = float(row.get_by_role("cell").last.inner_text())
        assert value == pytest.approx(parent["metrics"][key], rel=1e-3), key
    expect(page.get_by_text("What the 4 cells say")).to_be_visible()
    expect(page.get_by_text("the sweep's answer ends here")).to_have_count(0)  # the marker stays hidden
    save_picture(page, shots / "mlflow-ui-parent.png")
    page.get_by_text("Show more").click()
    figure = page.locator(f'img[src*="{ANSWER_FIGURE}"]')  # the description's image (its alt text is dropped)
    expect(figure).to_be_visible()
    figure.scroll_into_view_if_needed()
    assert figure.evaluate("image => image.complete && image.naturalWidth > 100"), "the figure did not load"
    page.screenshot(path=shots / "parent-figure.png")


def save_picture(page, path: Path) -> None:
    """The page as seen, in 256 colours (a UI has few: the file shrinks about fivefold)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def check_printed_links(
    chromium: str, printed: str, parent: dict, cells: list[dict], directory: Path
) -> None:
    """The links the sweep printed, as a person opens them in a fresh browser: the run (the
    parent's answer), then the cells link (the cells' values, then their charts)."""
    shots = directory / "screenshots"
    links = dict(LINK_LINE.findall(printed))
    [run_link] = re.findall(r"^\s+(http\S+/runs/\w+\S*)$", printed, re.MULTILINE)
    with chromium_page(chromium, directory / "fresh-profile") as page:
        try:
            check_parent_page(page, run_link, parent, shots)
            page.goto(links["cells"])
            close_assistant(page)
            by_id = {cell["run_id"]: cell["metrics"] for cell in cells}
            check_cells_shown(page, by_id)
            save_picture(page, shots / "mlflow-ui-cells.png")
            check_cells_charts(page, parent["name"], by_id, shots)
        except Exception:
            page.screenshot(path=shots / "failure-printed.png")
            raise


@pytest.mark.slow
def test_sweep_in_the_mlflow_ui(tmp_path, make_spec, new_store_file):
    if sync_api is None:
        pytest.skip("Playwright for Python is not installed (the test extra: pip install -e '.[test]')")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium on PATH: scripts/install-test-deps installs Debian's chromium package")
    expected_cells = sorted(cell.name for cell in make_spec("grid=seed_blog").cells)
    new_store_file(tmp_path / "mlflow.db")  # the server's store, its tables built once per session
    with mlflow_server(tmp_path) as url:
        printed = run_sweep_through(url, tmp_path, "grid=seed_blog", "report=true")  # the post's 4 cells
        reader = RunReader(url)
        [parent] = reader.search(list(reader.experiments()), f"tags.`{ROLE_TAG}` = '{Role.SWEEP}'")
        found = reader.search([parent.experiment_id], f"tags.`{MLFLOW_PARENT_TAG}` = '{parent.run_id}'")
        sweep, cells = asdict(parent), [asdict(cell) for cell in found]
        assert sorted(cell["name"] for cell in cells) == expected_cells
        picture = check_ui(chromium, url, sweep, cells, tmp_path)
        check_printed_links(chromium, printed, sweep, cells, tmp_path)
        started = time.monotonic()
        crowded = log_crowded_experiment(url, tmp_path)
        check_sweep_links(chromium, crowded, tmp_path)
        print(f"sweep links, logging included: {time.monotonic() - started:.1f} s")
    if os.environ.get(SCREENSHOT_ENV):
        target = ROOT / os.environ[SCREENSHOT_ENV]
        shutil.copyfile(picture, target)
        print(f"README picture: {target} ({target.stat().st_size} bytes)")
        for name in DOCS_PICTURES:  # the views the printed links open, beside it
            shutil.copyfile(tmp_path / "screenshots" / name, target.parent / name)
