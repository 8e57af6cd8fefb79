"""The compare page's charts, images in the artifact browser and the champion
alias's history, in a real browser on each kind of store (the `ui` fixture)."""

from __future__ import annotations

import tempfile
import urllib.request
from pathlib import Path

import pytest

from mlcadence import tracking
from mlcadence.pipeline import promotion
from tests.ui.images import GIF, HEIGHT, SVG_WITH_SCRIPT, WIDTH, png
from tests.ui.store import ACCURACY, MODEL, MODELS

pytestmark = pytest.mark.integration


def circles(locator) -> list[tuple[float, float]]:
    """(step, value) of each point a chart draws for one run."""
    points = locator.locator("circle")
    return [
        (
            int(points.nth(i).get_attribute("data-step")),
            float(points.nth(i).get_attribute("data-value")),
        )
        for i in range(points.count())
    ]


def _log_file(client, run_id: str, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        client.log_artifact(run_id, str(path), "images")


def open_compare(ui, run_ids: list[str], extra: str = ""):
    page = ui.open(f"?view=compare&runs={','.join(run_ids)}{extra}")
    page.wait_for_selector("#compare-charts")
    return page


def test_compare_overlays_one_line_per_run_with_each_runs_points(ui):
    run_ids = ui.store.child_ids[:3]
    page = open_compare(ui, run_ids)
    chart = page.locator('#compare-charts svg[data-metric="loss"]')
    lines = chart.locator("g.run")
    assert lines.count() == len(run_ids)
    for run_id in run_ids:
        line = chart.locator(f'g.run[data-run-id="{run_id}"]')
        assert circles(line) == ui.store.loss_history[run_id]
        assert len(line.locator("polyline").get_attribute("points").split()) == 6
    legend = page.locator("ul.legend li")
    assert [legend.nth(i).inner_text() for i in range(legend.count())] == [
        f"trial-{i}" for i in range(3)
    ]
    colours = chart.evaluate(
        "svg => [...svg.querySelectorAll('g.run polyline')].map(l => getComputedStyle(l).stroke)"
    )
    assert len(set(colours)) == len(run_ids)
    ui.screenshot("compare-charts")


def luminance(css_rgb: str) -> float:
    channels = [int(c) / 255 for c in css_rgb[css_rgb.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_compare_line_colours_are_distinct_and_stand_out_in_either_theme(ui, browser, scheme):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{ui.server.url}/?view=compare&runs={','.join(ui.store.child_ids)}")
    page.wait_for_selector('#compare-charts svg[data-metric="loss"] g.run')
    colours = page.evaluate(
        "[...document.querySelectorAll('svg[data-metric=\"loss\"] g.run polyline')]"
        ".map(l => getComputedStyle(l).stroke)"
    )
    # All ten colours a comparison may use, as the legend's swatches draw them.
    palette = page.evaluate(
        """() => [...Array(10).keys()].map((i) => {
            const swatch = document.createElement('span');
            swatch.className = `swatch series-${i}`;
            document.querySelector('ul.legend').append(swatch);
            const colour = getComputedStyle(swatch).backgroundColor;
            swatch.remove();
            return colour;
        })"""
    )
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.screenshot(path=str(ui.shots / f"compare-{scheme}.png"), full_page=True)
    context.close()
    assert len(set(colours)) == len(ui.store.child_ids)
    assert len(set(palette)) == 10
    # WCAG's 3:1 for graphics: each line is seen against the page.
    assert min(contrast(c, background) for c in palette) >= 3, (palette, background)


def test_every_control_on_the_compare_run_and_model_pages_has_a_label(ui):
    unlabelled = {}
    for query in (
        f"?view=compare&runs={','.join(ui.store.child_ids[:2])}",
        f"?view=run&run={ui.store.child_ids[0]}",
        f"?view=model&name={MODEL}",
    ):
        page = ui.open(query)
        unlabelled[query] = page.evaluate(
            """() => [...document.querySelectorAll('main input, main button, main select')]
                .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                                  || el.textContent.trim()))
                .map((el) => el.outerHTML)"""
        )
    assert all(not found for found in unlabelled.values()), unlabelled


def test_scatter_places_a_numeric_param_by_value_with_a_point_per_run(ui):
    page = open_compare(ui, ui.store.child_ids)
    page.get_by_label("X axis (parameter)").select_option("window")
    page.get_by_label("Y axis (metric)").select_option("accuracy")
    scatter = page.locator('svg#scatter[data-param="window"][data-metric="accuracy"]')
    scatter.wait_for()
    assert scatter.get_attribute("data-placement") == "numeric"
    points = {
        scatter.locator("circle").nth(i).get_attribute("data-run-id"): (
            float(scatter.locator("circle").nth(i).get_attribute("cx")),
            float(scatter.locator("circle").nth(i).get_attribute("cy")),
        )
        for i in range(scatter.locator("circle").count())
    }
    assert set(points) == set(ui.store.child_ids)
    windows = [10 * (i + 1) for i in range(len(ui.store.child_ids))]  # as seeded
    xs = [points[r][0] for r in ui.store.child_ids]
    # Placed by value: each point's share of the axis is its window's share of the range.
    share = [(x - xs[0]) / (xs[-1] - xs[0]) for x in xs]
    assert share == pytest.approx([(w - 10) / 30 for w in windows], abs=0.002)
    # Higher accuracy is higher on the page (a smaller y).
    by_accuracy = sorted(ui.store.child_ids, key=lambda r: ui.store.accuracy[r])
    assert [points[r][1] for r in by_accuracy] == sorted(
        (points[r][1] for r in by_accuracy), reverse=True
    )
    assert "sx=window" in page.url and "sy=accuracy" in page.url


def test_scatter_places_a_categorical_param_by_category(ui):
    page = open_compare(ui, ui.store.child_ids, "&sx=model&sy=accuracy")
    scatter = page.locator('svg#scatter[data-param="model"]')
    scatter.wait_for()
    assert scatter.get_attribute("data-placement") == "categorical"
    cx = {
        scatter.locator("circle").nth(i).get_attribute("data-run-id"): scatter.locator("circle")
        .nth(i)
        .get_attribute("cx")
        for i in range(scatter.locator("circle").count())
    }
    by_model: dict[str, set[str]] = {}
    for run_id, model in zip(ui.store.child_ids, MODELS, strict=True):
        by_model.setdefault(model, set()).add(cx[run_id])
    assert all(len(positions) == 1 for positions in by_model.values())  # one place per model
    assert len({next(iter(p)) for p in by_model.values()}) == len(set(MODELS))
    ticks = scatter.locator("text.tick")
    assert sorted(ticks.nth(i).text_content() for i in range(ticks.count())) == sorted(set(MODELS))
    assert len(cx) == len(ACCURACY)  # a point per run


def test_image_artifacts_load_in_place_and_an_svg_never_runs_its_script(ui):
    run_id = ui.store.child_ids[0]
    client = tracking.Client(ui.server.backend_uri)
    for name, data in (
        ("plot.png", png()),
        ("pixel.gif", GIF),
        ("drawing.svg", SVG_WITH_SCRIPT.encode()),
    ):
        _log_file(client, run_id, name, data)
    page = ui.open(f"?view=run&run={run_id}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="images/").click()
    for name, width in (("plot.png", WIDTH), ("pixel.gif", 1), ("drawing.svg", 20)):
        page.get_by_role("button", name=name).click()
        image = page.locator(f'#artifact-preview img[data-path="images/{name}"]')
        image.wait_for()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        assert image.evaluate("img => img.naturalWidth") == width
        if name == "plot.png":
            assert image.evaluate("img => img.naturalHeight") == HEIGHT
            ui.screenshot("run-image")
    assert page.locator("#artifact-preview svg").count() == 0  # an <img>, never inlined
    assert page.evaluate("window.svgScriptRan") is None and dialogs == []


def test_artifact_downloads_carry_an_image_type_and_a_sandbox(ui):
    run_id = ui.store.child_ids[0]
    client = tracking.Client(ui.server.backend_uri)
    _log_file(client, run_id, "plot.png", png())
    _log_file(client, run_id, "drawing.svg", SVG_WITH_SCRIPT.encode())
    for name, expected in (("plot.png", "image/png"), ("drawing.svg", "image/svg+xml")):
        url = f"{ui.server.url}/get-artifact?run_id={run_id}&path=images/{name}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"] == expected
            assert "sandbox" in response.headers["Content-Security-Policy"]
    url = f"{ui.server.url}/get-artifact?run_id={run_id}&path=config.json"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")


def test_the_champion_history_shows_a_rollback_after_the_gate_decisions(ui):
    client = tracking.Client(ui.server.backend_uri)
    promotion.rollback(client, MODEL)  # v3 (champion) back to v1
    page = ui.open(f"?view=model&name={MODEL}")
    moves = page.locator("#alias-history-champion li")
    moves.first.wait_for()
    shown = [
        (int(moves.nth(i).get_attribute("data-version")), moves.nth(i).get_attribute("data-by"))
        for i in range(moves.count())
    ]
    assert shown == [(1, "gate"), (3, "gate"), (1, "rollback")]
    assert "took champion from v3" in moves.nth(2).inner_text()
    assert "rollback" in moves.nth(2).inner_text()
    ui.screenshot("model-rollback")
