"""`mlcadence models promote` goes through the promotion library and, with a
Prefect API configured, announces the new champion with the same event the
flows emit (the `deploy` deployment's trigger listens for it)."""

from __future__ import annotations

import os
import sys
import time

import httpx
import pytest

from mlcadence import tracking


def promoted_events(api: httpx.Client, name: str) -> list[dict]:
    found = api.post(
        "/events/filter",
        json={
            "filter": {
                "event": {"name": ["mlcadence.model.promoted"]},
                "resource": {"id": [f"mlcadence.model.{name}"]},
            }
        },
    )
    assert found.status_code == 200, found.text
    return found.json()["events"]


@pytest.mark.integration
def test_models_promote_announces_the_champion_to_prefect(
    prefect_server, tracking_uri, run_command
):
    client = tracking.Client(tracking_uri)
    client.create_registered_model("by-hand")
    for _ in range(2):
        client.create_model_version("by-hand", "/tmp/model")
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "MLCADENCE_TRACKING_URI": tracking_uri}
    done = run_command(
        [sys.executable, "-c", "from mlcadence.cli import main; main()"]
        + ["models", "promote", "by-hand", "2"],
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "by-hand@champion -> version 2" in done.stdout
    tags = client.get_model_version("by-hand", 2).tags
    assert tags["mlcadence.gate.decision"] == "promoted"

    api = httpx.Client(base_url=prefect_server, timeout=30)
    deadline = time.monotonic() + 60
    while not (events := promoted_events(api, "by-hand")) and time.monotonic() < deadline:
        time.sleep(1)
    (event,) = events
    # the deploy trigger gets the alias, which the deployment then follows
    assert event["payload"]["model_uri"] == "models:/by-hand@champion"
    assert event["payload"]["version_uri"] == "models:/by-hand/2"
    assert event["payload"]["name"] == "by-hand" and event["payload"]["version"] == 2
