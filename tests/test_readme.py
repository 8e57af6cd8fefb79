"""Every shell and Python block of README.md runs, in order, as a reader
would run them, so the README cannot drift from the code.

How the blocks run:
- In a copy of the repository (the README is read from a checkout), with a
  fresh tracking store, cache and Prefect home, and the offline source: FRED
  is a local stand-in (`MLCADENCE_FRED_URL`). The training commands use this
  test session's Prefect server; the README's own Prefect block starts its own.
- All shell blocks share one bash session, so `cd`, `export` and servers
  started with `&` carry over as in a terminal. Each block runs under
  `set -e`: a failing command fails the test, with the session's output.
  A Python block runs as `python <block>.py` in that session.
- ```bash {wait=URL}```: the block starts a service with `&`; before the next
  block the test waits until URL answers 200, as a reader waits for "ready".
- The README's fixed ports (Prefect 4200, serving 5000/5001/8080) become free
  ports, so the test runs beside other servers on the machine.
- `pip install` runs with `--dry-run`: pip still builds the project's
  metadata and resolves every requirement, but does not reinstall the
  environment this test runs in.
- At the end, whatever the blocks left running is stopped: the session's
  process group, and any deployment the README's own `stop` lines missed.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN_LANGUAGES = {"bash": ".sh", "python": ".py"}
FENCE = re.compile(r"^```([\w-]*)[ \t]*(\{[^}\n]*\})?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FIXED_PORTS = (4200, 5000, 5001, 8080)
BLOCK_TIMEOUT = 1500  # seconds; a first Docker deploy builds its dependency image
WAIT_TIMEOUT = 300
NOT_COPIED = (".git", "__pycache__", "*.egg-info", "mlruns", ".venv", "build", "dist")
NOT_COPIED += (".hypothesis", ".ruff_cache", ".benchmarks", ".pytest_cache")


@dataclass
class Block:
    language: str
    code: str
    line: int
    attributes: dict[str, str] = field(default_factory=dict)


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks with a language, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        language, braces, code = match.groups()
        if not language:
            continue  # diagrams
        attributes = {}
        for item in (braces or "{}")[1:-1].split():
            key, _, value = item.partition("=")
            attributes[key] = value
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(language, code, line, attributes))
    return blocks


def test_every_readme_block_is_a_kind_the_readme_test_runs():
    blocks = readme_blocks(README.read_text())
    assert {b.language for b in blocks} <= set(RUN_LANGUAGES), [
        (b.line, b.language) for b in blocks if b.language not in RUN_LANGUAGES
    ]
    assert {b.language for b in blocks} == set(RUN_LANGUAGES)
    for block in blocks:
        assert set(block.attributes) <= {"wait"}, (block.line, block.attributes)
        if "wait" in block.attributes:
            assert block.attributes["wait"].startswith("http://127.0.0.1:"), block.line
            assert block.code.rstrip().endswith("&") or " & " in block.code, block.line


# -- the run ---------------------------------------------------------------------------
class Session:
    """One bash process fed the blocks one by one; its output is kept."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the blocks' background servers join its group
        )
        self.transcript: list[str] = []
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.transcript.append(line)
            self.lines.put(line)

    def tail(self, lines: int = 120) -> str:
        return "".join(self.transcript[-lines:])

    def run(self, script: Path, what: str) -> None:
        marker = f"readme-block-done-{uuid.uuid4().hex}"
        self.transcript.append(f"\n$ # {what}\n")
        self.proc.stdin.write(f"set -e\nsource {script}\nset +e\necho {marker}\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if self.lines.get(timeout=0.5).strip() == marker:
                    return
            except queue.Empty:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{what} failed (exit status {self.proc.returncode}):\n{self.tail()}"
                )
        raise AssertionError(f"{what} still running after {BLOCK_TIMEOUT} s:\n{self.tail()}")

    def wait_for(self, url: str, what: str) -> None:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"the session ended while {what} waited:\n{self.tail()}")
            time.sleep(0.5)
        raise AssertionError(f"{url} ({what}) did not answer in {WAIT_TIMEOUT} s:\n{self.tail()}")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a background child that ignored TERM
        except ProcessLookupError:
            pass
        self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_run_here(code: str, ports: dict[int, int]) -> str:
    """The block as this test runs it: free ports, pip in --dry-run."""
    for fixed, free in ports.items():
        code = re.sub(rf"(?<![\d.]){fixed}(?!\d)", str(free), code)
    return re.sub(r"\bpip install ", "pip install --dry-run ", code)


def console_scripts(folder: Path) -> Path:
    """`prefect` for this test's Python: where it is not installed beside it
    (a venv over system site-packages), the one on PATH would import another
    installation of mlcadence."""
    folder.mkdir()
    for name, module in {"prefect": "prefect"}.items():
        if not (Path(sys.executable).parent / name).exists():
            shim = folder / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
            shim.chmod(0o755)
    return folder


FRED_PRICES = "observation_date,CBBTCUSD\n" + "".join(
    f"{day.date()},{round(100 + (i * 37 % 11) - 5 + i * 0.1, 2)}\n"
    for i, day in enumerate(pd.date_range("2021-01-01", periods=400, freq="D"))
)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the repository: where a reader of the README stands."""
    target = tmp_path / "checkout"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*NOT_COPIED))
    return target


@pytest.mark.integration
@pytest.mark.docker
@pytest.mark.timeout(3 * BLOCK_TIMEOUT)
def test_every_readme_block_runs_in_order_in_a_fresh_checkout(
    checkout, tmp_path, prefect_server, fred_server
):
    ports = {fixed: free_port() for fixed in FIXED_PORTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCADENCE_", "PREFECT_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PREFECT_API_URL=prefect_server,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        MLCADENCE_CACHE_DIR=str(tmp_path / "cache"),
        MLCADENCE_STATE_DIR=str(tmp_path / "state"),
    )
    scripts = tmp_path / "blocks"
    scripts.mkdir()
    env["PATH"] = f"{console_scripts(tmp_path / 'bin')}{os.pathsep}{env['PATH']}"
    with fred_server(FRED_PRICES) as (fred_url, _):
        env["MLCADENCE_FRED_URL"] = fred_url
        session = Session(checkout, env)
        try:
            for number, block in enumerate(readme_blocks(README.read_text()), 1):
                what = f"README block {number} (line {block.line}, {block.language})"
                script = scripts / f"block{number}{RUN_LANGUAGES[block.language]}"
                script.write_text(as_run_here(block.code, ports))
                if block.language == "python":
                    runner = scripts / f"block{number}.sh"
                    runner.write_text(f"python {script}\n")
                    script = runner
                session.run(script, what)
                if "wait" in block.attributes:
                    session.wait_for(as_run_here(block.attributes["wait"], ports), what)
        finally:
            for target in ("local", "docker"):  # in case a block failed before its stop line
                subprocess.run(
                    ["mlcadence", "deployments", "stop", "stockpred", "--target", target],
                    cwd=checkout,
                    env=env,
                    capture_output=True,
                    timeout=120,
                )
            session.close()
    # What the blocks were for, beyond exiting 0:
    transcript = "".join(session.transcript)
    assert "registered stockpred version 1" in transcript
    assert '{"predictions":' in transcript  # the curl got an answer
    assert (checkout / "predictions.json").read_text().startswith('{"predictions":')
    assert "data       fred:CBBTCUSD" in transcript  # trained on the FRED stand-in
