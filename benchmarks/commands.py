"""Running the benchmarked commands: find a program, time one run of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path


def which(name: str, install_hint: str) -> str:
    """The program on PATH, or next to this Python; exits with `install_hint` if absent."""
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        sys.exit(f"{name} is not on PATH: {install_hint}")
    return found


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one run of `cmd`; exits with its output if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        output = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{output}")
    return elapsed
