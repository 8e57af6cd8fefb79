"""Each page of the web UI opened in a real browser against a real server on
a file, sqlite and PostgreSQL store; assertions are on what the page shows,
compared with what the store holds."""

from __future__ import annotations

import pytest

from mlcadence import tracking
from tests.ui.store import MODEL

pytestmark = pytest.mark.integration


def cells(page, column: str) -> dict[str, str]:
    """run id -> the text of `column` in the runs table."""
    rows = page.locator("#runs tbody tr")
    return {
        rows.nth(i).get_attribute("data-run-id"): rows.nth(i)
        .locator(f'td[data-column="{column}"]')
        .inner_text()
        for i in range(rows.count())
    }


def test_experiments_page_lists_each_experiment_with_its_run_count(ui):
    page = ui.open()
    row = page.locator(f'tr[data-experiment-id="{ui.store.experiment_id}"]')
    assert row.locator("td").nth(1).inner_text() == "stock-training"
    assert row.locator("td").nth(2).inner_text() == "5"  # the sweep's parent and 4 trials
    assert "abandoned" not in page.locator("main").inner_text()  # deleted
    ui.screenshot("experiments")
    row.locator("a").click()
    page.wait_for_selector("#runs")
    assert f"experiment={ui.store.experiment_id}" in page.url


def test_experiments_are_created_renamed_and_deleted_from_the_page(ui):
    page = ui.open()
    page.get_by_label("New experiment name").fill("holdout")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="holdout").wait_for()
    page.once("dialog", lambda dialog: dialog.accept("holdout-2026"))
    page.get_by_role("button", name="Rename holdout").click()
    page.get_by_role("link", name="holdout-2026").wait_for()
    page.get_by_label("New experiment name").fill("holdout-2026")
    page.get_by_role("button", name="Create").click()
    alert = page.locator("#experiment-message [role=alert]")
    alert.wait_for()
    assert "holdout-2026" in alert.inner_text()  # the store's message: the name is taken
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete holdout-2026").click()
    page.wait_for_function("!document.body.innerText.includes('holdout-2026')")
    names = [e.name for e in tracking.Client(ui.server.backend_uri).search_experiments()]
    assert "holdout-2026" not in names and "stock-training" in names


def test_runs_of_several_experiments_are_shown_together(ui):
    page = ui.open()
    page.get_by_label("Select stock-training").check()
    page.get_by_label("Select Default").check()
    page.get_by_role("button", name="Runs of the selected experiments").click()
    page.wait_for_selector("main:not([aria-busy]) #runs")
    assert "Runs of stock-training, Default" in page.locator("h1").inner_text()
    assert page.locator("#runs tbody tr").count() == 5 + 1  # and Default's one run


def test_runs_table_shows_the_stores_metric_values_with_trials_nested_under_the_sweep(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.wait_for_selector("#runs")
    shown = cells(page, "metrics.accuracy")
    for run_id, accuracy in ui.store.accuracy.items():
        assert float(shown[run_id]) == accuracy
    rows = page.locator("#runs tbody tr")
    assert rows.nth(0).get_attribute("data-run-id") == ui.store.parent_id
    children = page.locator(f'tr[data-parent="{ui.store.parent_id}"]')
    assert children.count() == len(ui.store.child_ids)
    ui.screenshot("runs")
    page.get_by_role("button", name="The 4 child runs of sweep").click()
    assert not children.first.is_visible()


def test_filter_narrows_the_runs_in_place_and_lands_in_the_url(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.wait_for_selector("#runs")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Filter (MLflow search syntax)").fill(
        "metrics.accuracy > 0.55 and params.model = 'random_forest'"
    )
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 2")
    expected = {r for r, a in ui.store.accuracy.items() if a > 0.55 and a != 0.55}
    assert set(cells(page, "metrics.accuracy")) == expected
    assert page.evaluate("window.notReloaded") is True
    assert "filter=metrics.accuracy" in page.url
    # The URL alone gives the same view: it can be shared.
    shared = ui.open("?" + page.url.split("?", 1)[1])
    shared.wait_for_selector("#runs")
    assert set(cells(shared, "metrics.accuracy")) == expected
    assert shared.get_by_label("Filter (MLflow search syntax)").input_value().startswith("metrics")


def test_a_malformed_filter_shows_the_servers_message_inline(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.get_by_label("Filter (MLflow search syntax)").fill("metrics.accuracy >")
    page.get_by_role("button", name="Apply").click()
    alert = page.locator("#filter-error")
    alert.wait_for()
    assert alert.get_attribute("role") == "alert"
    assert "Invalid filter" in alert.inner_text()
    assert "Traceback" not in page.content()
    ui.screenshot("bad-filter")


def test_sorting_on_a_metric_column_orders_the_rows_by_it(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.wait_for_selector("#runs")
    page.get_by_role("button", name="Sort by metrics.accuracy").click()
    page.wait_for_selector('th[data-column="metrics.accuracy"][aria-sort="descending"]')
    shown = [v for v in cells(page, "metrics.accuracy").values() if v]
    assert [float(v) for v in shown] == sorted(ui.store.accuracy.values(), reverse=True)
    assert "sort=metrics.accuracy+DESC" in page.url
    page.get_by_role("button", name="Sort by metrics.accuracy").click()
    page.wait_for_selector('th[data-column="metrics.accuracy"][aria-sort="ascending"]')
    shown = [v for v in cells(page, "metrics.accuracy").values() if v]
    assert [float(v) for v in shown] == sorted(ui.store.accuracy.values())


def test_chosen_columns_come_from_the_url(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}&columns=params.model")
    page.wait_for_selector("#runs")
    headers = page.locator("#runs thead th[data-column]")
    columns = [headers.nth(i).get_attribute("data-column") for i in range(headers.count())]
    assert [c for c in columns if not c.startswith("attributes.")] == ["params.model"]
    page.locator("details summary").click()
    # The table is redrawn at once with the new column (and a new checkbox).
    page.locator('fieldset.columns input[value="metrics.loss"]').click()
    page.locator('#runs td[data-column="metrics.loss"]').first.wait_for()
    assert "columns=metrics.loss%2Cparams.model" in page.url
    assert page.locator('#runs td[data-column="metrics.loss"]').count() == 5


def test_pages_follow_the_servers_page_token(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}&page_size=2")
    page.wait_for_selector("#runs")
    first = set(cells(page, "metrics.accuracy"))
    page.get_by_role("button", name="Next page").click()
    page.wait_for_url("**page_token=**")
    page.wait_for_selector("main:not([aria-busy]) #runs")
    second = set(cells(page, "metrics.accuracy"))
    assert len(first) == len(second) == 2 and not first & second


def test_run_page_charts_every_logged_point_of_each_metric(ui):
    run_id = ui.store.child_ids[1]
    page = ui.open(f"?view=run&run={run_id}")
    chart = page.locator('svg[data-metric="loss"]')
    chart.wait_for()
    points = chart.locator("circle")
    shown = [
        (
            int(points.nth(i).get_attribute("data-step")),
            float(points.nth(i).get_attribute("data-value")),
        )
        for i in range(points.count())
    ]
    assert shown == ui.store.loss_history[run_id]
    assert len(chart.locator("polyline").get_attribute("points").split()) == len(shown)
    assert page.locator('svg[data-metric="accuracy"] circle').count() == 1
    assert page.locator('#params tr[data-key="model"] td').nth(1).inner_text() == "ridge"
    facts = page.locator("#facts").inner_text()
    assert "FINISHED" in facts and "1m 5s" in facts
    ui.screenshot("run")


def test_metric_charts_can_be_drawn_over_time_and_the_choice_is_in_the_url(ui):
    run_id = ui.store.child_ids[2]
    page = ui.open(f"?view=run&run={run_id}")
    page.get_by_label("X axis").select_option("time")
    chart = page.locator('svg[data-metric="loss"][data-axis="time"]')
    chart.wait_for()
    points = chart.locator("circle")
    times = [float(points.nth(i).get_attribute("data-time")) for i in range(points.count())]
    # The store's points were logged one millisecond apart, step by step.
    assert times == [step / 1000 for step, _ in ui.store.loss_history[run_id]]
    assert "x=time" in page.url
    reopened = ui.open("?" + page.url.split("?", 1)[1])
    assert reopened.locator('svg[data-metric="loss"]').get_attribute("data-axis") == "time"


def test_run_page_shows_csv_and_json_artifacts_in_place(ui):
    page = ui.open(f"?view=run&run={ui.store.child_ids[0]}")
    page.get_by_role("button", name="config.json").click()
    assert '"model": "random_forest"' in page.locator("#artifact-preview pre").inner_text()
    page.get_by_role("button", name="data/").click()
    page.get_by_role("button", name="sample.csv").click()
    table = page.locator("#artifact-preview table")
    table.wait_for()
    assert table.locator("tbody tr").nth(1).inner_text().split() == ["2024-01-03", "102.25"]


def test_an_unknown_run_id_shows_a_clear_message(ui):
    page = ui.open("?view=run&run=0123456789abcdef0123456789abcdef")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "0123456789abcdef0123456789abcdef" in alert.inner_text()
    assert "not found" in alert.inner_text().lower()
    assert "Traceback" not in page.content()


def test_a_deleted_experiment_shows_a_clear_message(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.deleted_experiment_id}")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "'abandoned'" in alert.inner_text() and "deleted" in alert.inner_text()


def test_models_page_lists_versions_aliases_and_the_gate_decisions(ui):
    page = ui.open("?view=models")
    assert "champion → v3" in page.locator(f'tr[data-model="{MODEL}"]').inner_text()
    page.get_by_role("link", name=MODEL).click()
    timeline = page.locator("#timeline li")
    timeline.first.wait_for()
    decisions = {
        int(timeline.nth(i).get_attribute("data-version")): timeline.nth(i).get_attribute(
            "data-decision"
        )
        for i in range(timeline.count())
    }
    assert decisions == ui.store.decisions
    rejected = page.locator('#timeline li[data-decision="rejected"]').inner_text()
    assert "challenger 0.48 vs champion v1 0.61" in rejected
    assert page.locator('#versions tr[data-version="3"]').inner_text().count("champion") == 1
    ui.screenshot("model")
    page.locator('#versions tr[data-version="2"] a').click()
    page.wait_for_selector("#facts")
    assert ui.store.child_ids[1] in page.locator("#facts").inner_text()


def test_compare_highlights_the_params_that_differ(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.wait_for_selector("#runs")
    page.get_by_label("Select trial-0").check()
    page.get_by_label("Select trial-2").check()
    page.get_by_role("button", name="Compare selected").click()
    table = page.locator("#compare-params")
    table.wait_for()
    assert table.locator('tr[data-key="model"]').get_attribute("class") == ""  # both forests
    assert table.locator('tr[data-key="window"]').get_attribute("class") == "diff"
    ui.screenshot("compare")


def test_the_dark_theme_follows_the_systems_setting(ui, browser):
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{ui.server.url}/?view=models")
        page.wait_for_selector("main:not([aria-busy])")
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        if scheme == "dark":
            page.screenshot(path=str(ui.shots / "models-dark.png"), full_page=True)
        context.close()
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}


def test_every_control_on_the_runs_page_has_a_label(ui):
    page = ui.open(f"?view=runs&experiment={ui.store.experiment_id}")
    page.wait_for_selector("#runs")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('main input, main button')]
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                              || el.textContent.trim()))
            .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
