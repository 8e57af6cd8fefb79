"""Scoring throughput, latency and cold start: mlcadence vs `mlflow models serve`.

One run, same machine, same model directory (saved by MLflow itself: a stock
RandomForestClassifier, 50 trees, 14 binary lag features), same request body
(MLflow's dataframe_split shape, one row). Load from wrk (Debian's package),
10 s per concurrency level, 1 and 16 connections, after a short warm-up.

    python benchmarks/serving.py [--duration 10] [--skip-mlflow]

Prints req/s, p50 and p99 per server and concurrency, cold start (process
spawn -> first 200 on /ping), and the ratios mlcadence / MLflow.
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
import time
import urllib.request
from pathlib import Path

FEATURES = [f"lag_{i}" for i in range(14)]
ROW = [1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0]
BODY = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [ROW]}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model(root: Path) -> Path:
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 2, size=(1000, 14)), columns=FEATURES)
    y = ((X["lag_0"] + X["lag_1"] + X["lag_2"] + rng.integers(0, 2, 1000)) >= 2).astype(int)
    est = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    path = root / "model"
    mlflow.sklearn.save_model(
        est, str(path), input_example=X.head(2), skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
    return path


def wait_ping(port: int, proc: subprocess.Popen, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server did not answer /ping in time")


def start(cmd: list[str], port: int, env: dict, log: Path) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    ready = wait_ping(port, proc)
    return proc, ready - started


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def check_answer(port: int) -> list:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=BODY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["predictions"]


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * _UNITS[unit]


def wrk(port: int, connections: int, duration: float, script: Path) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # Anchored: wrk's "+/- Stdev" column also holds numbers like "71.50%".
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def measure(name: str, cmd: list[str], port: int, env: dict, args, workdir: Path) -> dict:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{BODY}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    colds = []
    result: dict = {"name": name}
    for i in range(args.cold_starts):
        proc, cold = start(cmd, port, env, workdir / f"{name}-{i}.log")
        colds.append(cold)
        if i < args.cold_starts - 1:
            stop(proc)
    try:
        result["cold_start_s"] = statistics.median(colds)
        result["answer"] = check_answer(port)
        wrk(port, 16, 2, script)  # warm-up
        for c in (1, 16):
            result[c] = wrk(port, c, args.duration, script)
    finally:
        stop(proc)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--cold-starts", type=int, default=1)
    p.add_argument("--skip-mlflow", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--no-fast-path",
        action="store_true",
        help="mlcadence uses scikit-learn's own forest predict (no serving.fastpath)",
    )
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="mlcadence-bench-"))
    model = make_model(workdir)
    # The model is saved by mlflow.sklearn (no digest manifest): our server
    # loads it only when told to.
    env = {
        **os.environ,
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLCADENCE_SERVING_ALLOW_UNVERIFIED": "1",
    }
    if args.no_fast_path:
        env["MLCADENCE_SERVING_FAST_PATH"] = "0"
    results = []
    port = free_port()
    if not args.skip_mlflow:
        mlflow_bin = shutil.which("mlflow") or "mlflow"
        results.append(
            measure(
                "mlflow",
                [
                    mlflow_bin,
                    "models",
                    "serve",
                    "-m",
                    str(model),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-w",
                    str(args.workers),
                ],
                port,
                env,
                args,
                workdir,
            )
        )
    port = free_port()
    # The user-facing command, like `mlflow models serve` (falls back to the module).
    ours = (
        [shutil.which("mlcadence"), "serve"]
        if shutil.which("mlcadence")
        else [sys.executable, "-m", "mlcadence.serving.server"]
    )
    results.append(
        measure(
            "mlcadence",
            [
                *ours,
                "-m",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            port,
            env,
            args,
            workdir,
        )
    )

    print(f"\nmodel: RandomForestClassifier(50 trees), 14 binary features; body: {BODY[:60]}...")
    header = ("server", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx")
    print("{:<10} {:>5} {:>10} {:>9} {:>9} {:>8}".format(*header))
    for r in results:
        for c in (1, 16):
            m = r[c]
            print(
                f"{r['name']:<10} {c:>5} {m['rps']:>10.1f} {m['p50']:>9.2f} {m['p99']:>9.2f} "
                f"{m['non2xx']:>8} {m['socket_errors']}"
            )
    for r in results:
        print(
            f"{r['name']:<10} cold start (spawn -> first 200 on /ping): {r['cold_start_s']:.2f} s; "
            f"answer {r['answer']}"
        )
    if len(results) == 2:
        ml, us = results
        print("\nratios mlcadence / mlflow:")
        print(
            f"  16 conns: req/s x{us[16]['rps'] / ml[16]['rps']:.1f} (target >= 5), "
            f"p99 {us[16]['p99'] / ml[16]['p99']:.2f} (target <= 1)"
        )
        print(
            f"   1 conn : req/s x{us[1]['rps'] / ml[1]['rps']:.1f}, "
            f"p50 {us[1]['p50'] / ml[1]['p50']:.2f} (target <= 1)"
        )
        print(f"  cold start {us['cold_start_s'] / ml['cold_start_s']:.2f} (target <= 1)")
        assert ml["answer"] == us["answer"], "servers disagree on the prediction"
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
