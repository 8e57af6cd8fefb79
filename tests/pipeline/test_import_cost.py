"""The flows' parameter vocabulary is cheap to import: every `mlcadence`
command reads it at start-up (its options' defaults and help)."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_starts_without_importing_pandas_numpy_or_prefect():
    script = (
        "import sys, mlcadence.cli\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'prefect') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
