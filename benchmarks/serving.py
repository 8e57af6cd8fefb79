"""Scoring throughput, latency and cold start: mlcadence beside MLflow, LitServe,
BentoML, MLServer and two bare uvicorn endpoints, measured in one run.

Same machine, same model directory (a RandomForestClassifier, 50 trees, 14
binary lag features, saved by `mlcadence.tracking.models.save_model` in
MLflow's format, so `mlflow models serve` loads it as it is; its manifest lets
our server verify it), one-row requests. Load from wrk (Debian's package)
with one thread, `--duration` seconds per concurrency level (1, 16, 64), after
a warm-up. Every server runs with its default settings, one process.

- mlcadence: `mlcadence serve -m DIR` (this environment).
- mlflow: `mlflow models serve -m DIR --env-manager local` (this environment).
- litserve, bentoml, mlserver: each from a virtualenv of its own under
  `--peers-dir` (created on first use with pip; same scikit-learn version),
  loading the same `model.pkl`. LitServe and BentoML take MLflow's
  `dataframe_split` body on /invocations (a few lines of decode in their
  service files below); MLServer speaks the V2 inference protocol with its
  scikit-learn runtime, so it gets the same row as a V2 tensor.
- bare-fastapi: a FastAPI route returning a constant answer on uvicorn: the
  HTTP stack our server is built on, with no model and no parsing. The issue's
  targets are ratios to this one.
- bare-asgi: a raw ASGI callable returning the constant: uvicorn alone.

Cold start is process spawn -> first 200 on the server's readiness path, the
median of `--cold-starts` starts (warm file caches).

    python benchmarks/serving.py [--duration 10] [--cold-starts 3] [--only mlcadence,bare-fastapi]

Prints req/s, p50 and p99 per server and concurrency, cold starts, and the
ratios of mlcadence to each peer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

FEATURES = [f"lag_{i}" for i in range(14)]
ROW = [1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0]
BODY = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [ROW]}})
V2_BODY = json.dumps(
    {"inputs": [{"name": "x", "shape": [1, len(ROW)], "datatype": "FP64", "data": ROW}]}
)
CONNECTIONS = (1, 16, 64)
BIN = Path(sys.executable).parent  # console scripts of this environment (no shims)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the model
def make_model(root: Path) -> Path:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from mlcadence.tracking.models import save_model

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 2, size=(1000, 14)), columns=FEATURES)
    y = ((X["lag_0"] + X["lag_1"] + X["lag_2"] + rng.integers(0, 2, 1000)) >= 2).astype(int)
    est = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    path = root / "model"
    save_model(est, path, input_example=X.head(2))
    return path


# ----------------------------------------------------------- peer services
LITSERVE_APP = """
import pickle, sys
import numpy as np
import litserve as ls

class Forest(ls.LitAPI):
    def setup(self, device):
        with open(sys.argv[1], "rb") as f:
            self.model = pickle.load(f)
    def decode_request(self, request):
        return np.asarray(request["dataframe_split"]["data"], dtype=float)
    def predict(self, x):
        return self.model.predict(x)
    def encode_response(self, output):
        return {"predictions": output.tolist()}

if __name__ == "__main__":
    ls.LitServer(Forest(api_path="/invocations"), accelerator="cpu").run(port=int(sys.argv[2]))
"""

BENTOML_SERVICE = """
import os, pickle
import numpy as np
import bentoml

@bentoml.service
class Forest:
    def __init__(self):
        with open(os.environ["BENCH_MODEL_PKL"], "rb") as f:
            self.model = pickle.load(f)

    @bentoml.api(route="/invocations")
    def invocations(self, dataframe_split: dict) -> dict:
        x = np.asarray(dataframe_split["data"], dtype=float)
        return {"predictions": self.model.predict(x).tolist()}
"""

BARE_FASTAPI = """
from fastapi import FastAPI

app = FastAPI()

@app.post("/invocations")
async def invocations():
    return {"predictions": [1]}

@app.get("/ping")
async def ping():
    return {}
"""

BARE_ASGI = """
ANSWER = b'{"predictions":[1]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
"""

# Peer -> what its virtualenv needs (scikit-learn pinned to ours below).
PEER_PACKAGES = {
    "litserve": ["litserve"],
    "bentoml": ["bentoml"],
    # MLServer 1.7's inference workers call asyncio.get_event_loop(), which
    # uvloop 0.21+ refuses in a new process: its workers die at start.
    "mlserver": ["mlserver", "mlserver-sklearn", "uvloop<0.21"],
}


def peer_python(peers_dir: Path, name: str) -> Path:
    """The python of peer `name`'s own virtualenv, created on first use."""
    import sklearn

    env = peers_dir / name
    python = env / "bin" / "python"
    marker = env / ".bench-ready"
    if not marker.exists():
        print(f"creating the {name} environment in {env} (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        packages = [*PEER_PACKAGES[name], f"scikit-learn=={sklearn.__version__}", "pandas"]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        marker.touch()
    return python


@dataclass
class Server:
    name: str
    command: list[str]  # "{port}" is replaced by the port
    ready_path: str
    request_path: str = "/invocations"
    body: str = BODY
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def servers(args, workdir: Path, model: Path) -> list[Server]:
    pkl = str(model / "model.pkl")
    (workdir / "litserve_app.py").write_text(textwrap.dedent(LITSERVE_APP))
    (workdir / "bentoml_service.py").write_text(textwrap.dedent(BENTOML_SERVICE))
    (workdir / "bare_fastapi.py").write_text(textwrap.dedent(BARE_FASTAPI))
    (workdir / "bare_asgi.py").write_text(textwrap.dedent(BARE_ASGI))
    settings = workdir / "mlserver"
    settings.mkdir(exist_ok=True)
    (settings / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "forest",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": pkl},
            }
        )
    )
    peers = Path(args.peers_dir).expanduser()
    table = {
        "mlcadence": lambda: Server(
            "mlcadence",
            [
                str(BIN / "mlcadence"),
                "serve",
                "-m",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
            "/ping",
        ),
        "mlflow": lambda: Server(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                str(model),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                "{port}",
            ],
            "/ping",
            env={"MLFLOW_ALLOW_FILE_STORE": "true"},
        ),
        "litserve": lambda: Server(
            "litserve",
            [str(peer_python(peers, "litserve")), str(workdir / "litserve_app.py"), pkl, "{port}"],
            "/health",
        ),
        "bentoml": lambda: Server(
            "bentoml",
            [
                str(peer_python(peers, "bentoml").parent / "bentoml"),
                "serve",
                "bentoml_service:Forest",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
            "/readyz",
            env={"BENCH_MODEL_PKL": pkl, "BENTOML_DO_NOT_TRACK": "true"},
            cwd=workdir,
        ),
        "mlserver": lambda: Server(
            "mlserver",
            [str(peer_python(peers, "mlserver").parent / "mlserver"), "start", str(settings)],
            "/v2/models/forest/ready",
            request_path="/v2/models/forest/infer",
            body=V2_BODY,
            env={
                "MLSERVER_HTTP_PORT": "{port}",
                "MLSERVER_GRPC_PORT": str(free_port()),
                "MLSERVER_METRICS_PORT": str(free_port()),
                "MLSERVER_HOST": "127.0.0.1",
            },
        ),
        "bare-fastapi": lambda: Server(
            "bare-fastapi",
            [
                str(BIN / "uvicorn"),
                "bare_fastapi:app",
                "--port",
                "{port}",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            "/ping",
            cwd=workdir,
        ),
        "bare-asgi": lambda: Server(
            "bare-asgi",
            [
                str(BIN / "uvicorn"),
                "bare_asgi:app",
                "--port",
                "{port}",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            "/invocations",
            cwd=workdir,
        ),
    }
    names = args.only.split(",") if args.only else list(table)
    unknown = set(names) - set(table)
    if unknown:
        sys.exit(f"unknown server(s) {sorted(unknown)}; choose from {', '.join(table)}")
    return [table[n]() for n in names]


# ------------------------------------------------------------------ running
def ready(port: int, path: str) -> bool:
    method = "POST" if path == "/invocations" else "GET"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start(server: Server, port: int, log: Path, timeout: float = 300):
    command = [part.replace("{port}", str(port)) for part in server.command]
    env = {**os.environ, **{k: v.replace("{port}", str(port)) for k, v in server.env.items()}}
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=server.cwd,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {proc.returncode}; see {log}")
        if ready(port, server.ready_path):
            return proc, time.monotonic() - started
        time.sleep(0.005)
    stop(proc)
    raise RuntimeError(f"{server.name} was not ready in {timeout} s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def answer(server: Server, port: int):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{server.request_path}",
        data=server.body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        reply = json.loads(r.read())
    if "outputs" in reply:  # V2 inference protocol
        return reply["outputs"][0]["data"]
    return reply["predictions"]


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, connections: int, duration: float, script: Path) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    # Anchored: wrk's "+/- Stdev" column also holds numbers like "71.50%".
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def measure(server: Server, args, workdir: Path) -> dict:
    script = workdir / f"{server.name}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{server.body}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    port = free_port()
    colds = []
    for i in range(args.cold_starts):
        proc, cold = start(server, port, workdir / f"{server.name}-{i}.log")
        colds.append(cold)
        if i < args.cold_starts - 1:
            stop(proc)
    result: dict = {"name": server.name, "cold_start_s": statistics.median(colds)}
    try:
        result["answer"] = answer(server, port)
        url = f"http://127.0.0.1:{port}{server.request_path}"
        wrk(url, 16, 2, script)  # warm-up
        for c in CONNECTIONS:
            result[c] = wrk(url, c, args.duration, script)
    finally:
        stop(proc)
    return result


# ---------------------------------------------------------------- reporting
def report(results: list[dict]) -> None:
    print("\nmodel: RandomForestClassifier(50 trees), 14 binary features, one row per request")
    print(
        "{:<13} {:>5} {:>10} {:>9} {:>9} {:>8}".format(
            "server", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx"
        )
    )
    for r in results:
        for c in CONNECTIONS:
            m = r[c]
            print(
                f"{r['name']:<13} {c:>5} {m['rps']:>10.1f} {m['p50']:>9.2f} {m['p99']:>9.2f} "
                f"{m['non2xx']:>8} {m['socket_errors']}"
            )
    print()
    for r in results:
        print(f"{r['name']:<13} cold start {r['cold_start_s']:.2f} s   answer {r.get('answer')}")
    by_name = {r["name"]: r for r in results}
    us = by_name.get("mlcadence")
    if us is None:
        return
    print(
        "\nratios mlcadence / peer (req/s: higher is better; p99 and cold start: lower is better)"
    )
    for r in results:
        if r is us:
            continue
        parts = [f"req/s@{c} x{us[c]['rps'] / r[c]['rps']:.2f}" for c in CONNECTIONS]
        parts += [f"p99@{c} {us[c]['p99'] / r[c]['p99']:.2f}" for c in (16, 64)]
        parts.append(f"cold {us['cold_start_s'] / r['cold_start_s']:.2f}")
        print(f"  vs {r['name']:<13} " + "  ".join(parts))
    bare = by_name.get("bare-fastapi")
    if bare is not None:
        print("\ntargets (vs bare-fastapi, one process):")
        print(f"  req/s@16 ratio {us[16]['rps'] / bare[16]['rps']:.2f} (target >= 0.8)")
        for c in (16, 64):
            print(f"  p99@{c} ratio {us[c]['p99'] / bare[c]['p99']:.2f} (target <= 3)")
    print(f"  cold start {us['cold_start_s']:.2f} s (target <= 1.0)")
    model_answers = {
        r["name"]: r.get("answer") for r in results if not r["name"].startswith("bare")
    }
    if len({json.dumps(a) for a in model_answers.values()}) > 1:
        print(f"\nWARNING: servers disagree on the prediction: {model_answers}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--cold-starts", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated servers to run (default: all)")
    p.add_argument("--peers-dir", default="~/.cache/mlcadence-bench-peers")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="mlcadence-bench-"))
    try:
        model = make_model(workdir)
        results = [measure(server, args, workdir) for server in servers(args, workdir, model)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
