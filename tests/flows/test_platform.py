"""`mlcadence up | status | down` and the reusable Prefect server, as a user
runs them: real `mlcadence` processes, real servers on free ports, a fresh
state folder (MLCADENCE_STATE_DIR) and Prefect home per test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlcadence.cli import platform
from mlcadence.cli.processes import process_start_time

pytestmark = pytest.mark.integration


def mlcadence() -> list[str]:
    found = shutil.which("mlcadence")
    return [found] if found else [sys.executable, "-m", "mlcadence.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid: int) -> bool:
    return process_start_time(pid) is not None


@pytest.fixture
def home(tmp_path):
    """An environment without any Prefect API or tracking URI of the caller's,
    with its own state folder; `down` runs afterwards whatever the test did."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLCADENCE_") and k != "PREFECT_API_URL"
    }
    env |= {
        "MLCADENCE_STATE_DIR": str(tmp_path / "state"),
        "MLCADENCE_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    (tmp_path / "elsewhere").mkdir()
    yield env
    subprocess.run([*mlcadence(), "down"], env=env, capture_output=True, timeout=120)


def records(env: dict[str, str]) -> dict[str, dict]:
    root = Path(env["MLCADENCE_STATE_DIR"]) / "platform"
    return {
        name: json.loads((root / f"{name}.json").read_text())
        for name in platform.SERVICE_NAMES
        if (root / f"{name}.json").exists()
    }


def test_up_then_train_uses_its_servers_and_down_leaves_nothing_running(
    home, tmp_path, run_command
):
    store = tmp_path / "store" / "mlruns"
    ports = ["--prefect-port", str(free_port()), "--tracking-port", str(free_port())]
    up = run_command(
        [*mlcadence(), "up", *ports, "--backend-store-uri", str(store)],
        env=home,
        cwd=tmp_path,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    running = records(home)
    assert set(running) == set(platform.SERVICE_NAMES)
    assert all(alive(r["pid"]) for r in running.values())

    status = run_command([*mlcadence(), "status"], env=home)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("healthy") == len(platform.SERVICE_NAMES)

    # Twice: says so, starts nothing new.
    again = run_command([*mlcadence(), "up", *ports], env=home)
    assert again.returncode == 0 and "already up" in again.stdout
    assert {n: r["pid"] for n, r in records(home).items()} == {
        n: r["pid"] for n, r in running.items()
    }

    # No PREFECT_API_URL, no MLCADENCE_TRACKING_URI, another directory: the
    # command finds the platform by itself (and runs in its warm runner).
    train = run_command(
        [*mlcadence(), "train", "--source", "synthetic:5", "--json"],
        env=home,
        cwd=tmp_path / "elsewhere",
    )
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-3000:]
    result = json.loads(train.stdout[train.stdout.index("{") :])
    assert not (tmp_path / "elsewhere" / "mlruns").exists()

    from mlflow import MlflowClient

    tracked = MlflowClient(tracking_uri=running["tracking"]["url"]).get_run(result["run_id"])
    assert tracked.info.status == "FINISHED"
    flow_run_id = tracked.data.tags["mlcadence.prefect.flow_run_id"]
    api = running["prefect"]["api_url"]
    flow_run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
    assert flow_run["state"]["type"] == "COMPLETED"

    # A flow that fails after its run opened leaves the run FAILED.
    failed = run_command(
        [*mlcadence(), "train", "--source", "synthetic:5", "-p", "n_estimators=-3", "--json"],
        env=home,
        cwd=tmp_path / "elsewhere",
    )
    assert failed.returncode != 0
    client = MlflowClient(tracking_uri=running["tracking"]["url"])
    statuses = [r.info.status for r in client.search_runs([tracked.info.experiment_id])]
    assert sorted(statuses) == ["FAILED", "FINISHED"]

    # Ctrl-C on the caller reaches the command in the warm runner: it stops
    # with 130 and leaves no run RUNNING (the step under way finishes first).
    slow = subprocess.Popen(
        [*mlcadence(), "train", "--source", "synthetic:5", "-p", "n_estimators=1500", "-q"],
        env=home,
        cwd=tmp_path / "elsewhere",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    experiment = [tracked.info.experiment_id]
    deadline = time.monotonic() + 300
    while not client.search_runs(experiment, "attributes.status = 'RUNNING'"):
        assert slow.poll() is None and time.monotonic() < deadline, slow.communicate()
        time.sleep(0.5)
    slow.send_signal(signal.SIGINT)
    _, err = slow.communicate(timeout=300)
    assert slow.returncode == 130 and "interrupted" in err, err[-3000:]
    statuses = [r.info.status for r in client.search_runs(experiment)]
    assert len(statuses) == 3 and "RUNNING" not in statuses

    down = run_command([*mlcadence(), "down"], env=home)
    assert down.returncode == 0
    assert not any(alive(r["pid"]) for r in running.values())
    # The promotion's deploy flow served the champion; down stops that server too.
    deployments = Path(home["MLCADENCE_STATE_DIR"]) / "deployments" / "local"
    servers = [json.loads(p.read_text()) for p in deployments.glob("*.json")]
    assert not any(alive(int(s["handle"])) for s in servers if s.get("handle"))
    assert records(home) == {}
    status = run_command([*mlcadence(), "status"], env=home)
    assert status.returncode == 1 and status.stdout.count("stopped") == len(platform.SERVICES)
    nothing = run_command([*mlcadence(), "down"], env=home)
    assert nothing.returncode == 0 and "nothing is running" in nothing.stdout


def test_up_on_a_busy_port_names_the_option_and_starts_nothing(home, run_command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = run_command(
            [*mlcadence(), "up", "--prefect-port", str(free_port()), "--tracking-port", str(port)],
            env=home,
        )
    assert up.returncode == platform.PlatformError.cli_exit_code
    assert f"port {port}" in up.stderr and "--tracking-port" in up.stderr
    assert records(home) == {}


def test_down_when_nothing_runs_says_so(home, run_command):
    down = run_command([*mlcadence(), "down"], env=home)
    assert down.returncode == 0 and "nothing is running" in down.stdout


def test_flow_commands_share_one_local_prefect_server_and_replace_a_dead_one(
    home, tmp_path, run_command
):
    home = home | {"MLCADENCE_TRACKING_URI": str(tmp_path / "mlruns")}
    # A record left by a server that died (its pid no longer runs).
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    root = Path(home["MLCADENCE_STATE_DIR"]) / "platform"
    root.mkdir(parents=True)
    stale = {"name": "prefect", "pid": dead.pid, "proc_start": "1", "port": free_port()}
    stale |= {"url": "http://127.0.0.1:1", "api_url": "http://127.0.0.1:1/api", "log": "x"}
    (root / "prefect.json").write_text(json.dumps(stale))

    first = run_command([*mlcadence(), "train", "--source", "synthetic:5", "-q"], env=home)
    assert first.returncode == 0, first.stderr[-3000:]
    server = records(home)["prefect"]
    assert server["pid"] != dead.pid and alive(server["pid"])
    assert server["started_by"] == "auto"

    second = run_command([*mlcadence(), "train", "--source", "synthetic:6", "-q"], env=home)
    assert second.returncode == 0, second.stderr[-3000:]
    assert records(home)["prefect"]["pid"] == server["pid"]
    runs = httpx.post(
        f"{server['api_url']}/flow_runs/filter",
        json={"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}},
        timeout=30,
    ).json()
    assert len(runs) == 2
