"""Run a shell command as a child process and stream its output line by line."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from mlcadence.projects.environments.base import OutputSink


def run_streaming(argv: list[str], cwd: Path, env: Mapping[str, str], output: OutputSink) -> int:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # so an interrupt can stop the whole process group
    )
    try:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            output(raw.decode("utf-8", errors="replace"))
        return proc.wait()
    except BaseException:
        _stop_group(proc)
        raise


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
