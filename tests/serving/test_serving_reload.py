"""Hot reload under load: the alias moves while clients hammer the server ->
zero failed requests, and every client switches to the new version for good.
A broken new version keeps the old one serving and shows in /health and /metrics."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
from sklearn.dummy import DummyClassifier

from tests.serving.flagship import FEATURES

pytestmark = pytest.mark.integration


def constant_model(path, value: int, training_data):
    from mlcadence.tracking.models import save_model

    X, y = training_data()
    y = y.copy()
    y[0], y[1] = 0, 1  # both classes exist, the constant decides the answer
    est = DummyClassifier(strategy="constant", constant=value).fit(X, y)
    save_model(est, str(path), input_example=X.head(1))
    return path


@pytest.fixture
def registry(tmp_path, monkeypatch, training_data):
    """A fresh registry per test: `hot` versions 1 (answers 0), 2 and 3
    (answer 1), champion = 1."""
    from mlcadence.tracking import Client
    from mlcadence.tracking.registry import register_model

    store = str(tmp_path / "mlruns")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", store)
    client = Client(store)
    for value in (0, 1, 1):
        path = constant_model(
            tmp_path / f"model-{value}-{time.monotonic_ns()}", value, training_data
        )
        register_model(str(path), "hot", client=client)
    client.set_registered_model_alias("hot", "champion", 1)
    return client, store


def test_alias_move_under_load_drops_nothing_and_switches(start_server, registry):
    client, store = registry
    server = start_server(
        ["-m", "models:/hot@champion", "--reload-interval", "0.2"],
        {"MLCADENCE_TRACKING_URI": store},
    )
    assert httpx.get(server.url + "/health").json()["model"]["version"] == "1"
    body = {"dataframe_split": {"columns": FEATURES, "data": [[1] * 14]}}
    stop = threading.Event()
    seen: list[list] = [[] for _ in range(6)]
    failures: list[str] = []

    def hammer(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = http.post("/invocations", json=body)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    seen[i].append(r.json()["predictions"][0])

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    client.set_registered_model_alias("hot", "champion", 2)
    deadline = time.monotonic() + 60
    while httpx.get(server.url + "/health").json()["model"]["version"] != "2":
        assert time.monotonic() < deadline, "the server did not pick up the alias move"
        time.sleep(0.1)
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()

    assert failures == []
    for answers in seen:
        assert answers[0] == 0 and answers[-1] == 1
        switch = answers.index(1)
        assert set(answers[switch:]) == {1}  # never back to the old model
    metrics = httpx.get(server.url + "/metrics").text
    assert 'mlcadence_model_reloads_total{result="success"} 1.0' in metrics
    assert "mlcadence_model_version 2.0" in metrics


def test_broken_new_version_keeps_the_old_one(start_server, registry):
    client, store = registry
    client.set_registered_model_alias("hot", "champion", 2)
    server = start_server(
        ["-m", "models:/hot@champion", "--reload-interval", "0.2"],
        {"MLCADENCE_TRACKING_URI": store},
    )
    broken = client.get_model_version("hot", 3)
    from mlcadence.tracking.uris import resolve_model_uri

    model_dir = resolve_model_uri("models:/hot/3").local_path
    (model_dir / "model.pkl").write_bytes(b"not a pickle")
    client.set_registered_model_alias("hot", "champion", broken.version)
    deadline = time.monotonic() + 60
    while True:
        health = httpx.get(server.url + "/health").json()
        if health["last_reload_error"]:
            break
        assert time.monotonic() < deadline, "the failed reload was not reported"
        time.sleep(0.1)
    assert health["status"] == "ok" and health["model"]["version"] == "2"
    assert health["last_reload_error"]["version"] == "3"
    r = httpx.post(server.url + "/invocations", json={"data": [[1] * 14]})
    assert r.status_code == 200 and r.json() == {"predictions": [1]}
    metrics = httpx.get(server.url + "/metrics").text
    assert "mlcadence_model_reload_failing 1.0" in metrics
    assert "hot reload of models:/hot@champion failed" in server.log()
    shutil.rmtree(model_dir, ignore_errors=True)
