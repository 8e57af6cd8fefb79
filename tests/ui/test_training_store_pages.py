"""The UI on a store the real training flow made (`mlcadence train` and
`mlcadence sweep` in child processes), on a file, a sqlite and a PostgreSQL
store: one store and one server per backend for the module. Every page is
opened and clicked through; what it shows is compared with what the store
holds."""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

from mlcadence import tracking
from tests.conftest import BACKEND_KINDS, _postgres_database
from tests.ui.browsing import browse
from tests.ui.training_store import MODEL, build_training_store, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=BACKEND_KINDS)
def trained(request, prefect_server, tmp_path_factory):
    """(store, server): a store made by train, sweep and train again, served."""
    workdir = tmp_path_factory.mktemp(f"training-{request.param}")
    with ExitStack() as stack:
        if request.param == "file":
            uri = str(workdir / "mlruns")
        elif request.param == "sqlite":
            uri = f"sqlite:///{workdir / 'mlcadence.db'}"
        else:
            if not os.environ.get("MLCADENCE_TEST_POSTGRES_URL"):
                pytest.skip("MLCADENCE_TEST_POSTGRES_URL is not set")
            uri = stack.enter_context(_postgres_database())
        store = build_training_store(uri, workdir)
        server = start_server(uri, workdir / "server")
        stack.callback(server.stop)
        yield store, server
        # The server stops before its database is dropped.


@pytest.fixture
def tab(browser, trained, tmp_path):
    yield from browse(browser, trained[1].url, tmp_path / "screenshots")


def shown_number(text: str) -> float:
    return float(text.strip())


def as_shown(value: float) -> float:
    """A metric value as the page prints it (six significant digits)."""
    return float(f"{value:.6g}")


def column(page, name: str) -> dict[str, str]:
    """run id -> text of column `name` in the runs table."""
    rows = page.locator("#runs tbody tr")
    return {
        rows.nth(i).get_attribute("data-run-id"): rows.nth(i)
        .locator(f'td[data-column="{name}"]')
        .inner_text()
        for i in range(rows.count())
    }


def test_experiments_page_counts_the_runs_the_flows_logged(trained, tab):
    store, _ = trained
    page = tab.open()
    row = page.locator(f'tr[data-experiment-id="{store.experiment_id}"]')
    assert row.locator("td").nth(2).inner_text() == str(len(store.run_ids))
    assert "abandoned" not in page.locator("main").inner_text()
    row.locator("a").click()
    page.wait_for_selector("main:not([aria-busy]) #runs")
    assert f"experiment={store.experiment_id}" in page.url


def test_runs_page_shows_the_stores_accuracy_with_the_sweeps_trials_nested(trained, tab):
    store, _ = trained
    client = tracking.Client(store.backend_uri)
    columns = "metrics.accuracy,metrics.f1score_macro,params.model,params.window"
    page = tab.open(f"?view=runs&experiment={store.experiment_id}&columns={columns}")
    page.wait_for_selector("#runs")
    shown = column(page, "metrics.accuracy")
    assert set(shown) == set(store.run_ids)
    for run_id in store.run_ids:
        accuracy = client.get_run(run_id).data.metrics.get("accuracy")
        if accuracy is not None:
            assert shown_number(shown[run_id]) == as_shown(accuracy)
    children = page.locator(f'tr[data-parent="{store.sweep_parent_id}"]')
    assert children.count() == len(store.sweep_child_ids) == 4
    parent = client.get_run(store.sweep_parent_id).info.run_name
    tab.screenshot("runs", for_docs=True)
    toggle = page.get_by_role("button", name=f"The 4 child runs of {parent}")
    toggle.click()
    assert not children.first.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()  # and back: the trials are shown again
    assert children.first.is_visible()


def test_runs_page_filters_and_sorts_the_sweeps_trials(trained, tab):
    store, _ = trained
    client = tracking.Client(store.backend_uri)
    page = tab.open(f"?view=runs&experiment={store.experiment_id}&columns=metrics.accuracy")
    page.wait_for_selector("#runs")
    page.get_by_label("Filter (MLflow search syntax)").fill("params.model = 'logistic_regression'")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 2")
    expected = {
        r.info.run_id
        for r in client.search_runs([store.experiment_id], "params.model = 'logistic_regression'")
    }
    assert set(column(page, "metrics.accuracy")) == expected
    page.get_by_role("button", name="Sort by metrics.accuracy").click()
    page.wait_for_selector('th[data-column="metrics.accuracy"][aria-sort="descending"]')
    values = [shown_number(v) for v in column(page, "metrics.accuracy").values()]
    assert values == sorted(values, reverse=True) and len(values) == 2
    assert "filter=params.model" in page.url and "sort=metrics.accuracy+DESC" in page.url


def test_run_page_shows_the_stores_values_and_charts_each_metrics_points(trained, tab):
    store, _ = trained
    client = tracking.Client(store.backend_uri)
    run_id = store.sweep_child_ids[0]
    run = client.get_run(run_id)
    page = tab.open(f"?view=run&run={run_id}")
    for key in ("accuracy", "f1score_macro"):
        history = client.get_metric_history(run_id, key)
        points = page.locator(f'svg[data-metric="{key}"] circle')
        shown = [
            (
                int(points.nth(i).get_attribute("data-step")),
                float(points.nth(i).get_attribute("data-value")),
            )
            for i in range(points.count())
        ]
        assert shown == [(m.step, m.value) for m in history]
    for key, value in run.data.params.items():
        assert page.locator(f'#params tr[data-key="{key}"] td').nth(1).inner_text() == value
    assert "FINISHED" in page.locator("#facts").inner_text()
    assert store.sweep_parent_id in page.locator("#facts").inner_text()
    tab.screenshot("run")


def test_model_page_timeline_lists_the_gate_decisions_the_store_recorded(trained, tab):
    store, _ = trained
    assert set(store.decisions.values()) == {"promoted", "rejected"}
    page = tab.open("?view=models")
    page.get_by_role("link", name=MODEL).click()
    timeline = page.locator("#timeline li")
    timeline.first.wait_for()
    shown = {
        int(timeline.nth(i).get_attribute("data-version")): timeline.nth(i).get_attribute(
            "data-decision"
        )
        for i in range(timeline.count())
    }
    assert shown == store.decisions
    client = tracking.Client(store.backend_uri)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    assert "champion" in page.locator(f'#versions tr[data-version="{champion}"]').inner_text()
    tab.screenshot("model")


def test_bad_inputs_show_a_clear_message_and_no_stack_trace(trained, tab):
    store, _ = trained
    page = tab.open(f"?view=runs&experiment={store.experiment_id}")
    page.get_by_label("Filter (MLflow search syntax)").fill("metrics.accuracy >")
    page.get_by_role("button", name="Apply").click()
    page.locator("#filter-error").wait_for()
    assert "Invalid filter" in page.locator("#filter-error").inner_text()

    page = tab.open("?view=run&run=0123456789abcdef0123456789abcdef")
    alert = page.get_by_role("alert")
    assert "0123456789abcdef0123456789abcdef" in alert.inner_text()

    page = tab.open(f"?view=runs&experiment={store.deleted_experiment_id}")
    alert = page.get_by_role("alert")
    assert "'abandoned'" in alert.inner_text() and "deleted" in alert.inner_text()
    assert "Traceback" not in page.content()
