"""Web UI benchmark: our UI (`mlcadence server`) against MLflow's (`mlflow
server`, what `mlflow ui` runs), both on the same file store of 10,000 runs,
measured in one run with Playwright driving Debian's chromium. With
`--sqlite`, our UI on a sqlite store holding the same runs is measured in the
same rounds (MLflow's UI on the file store stays the peer).

    python benchmarks/ui.py             # 10,000 runs (seeding takes a minute or two)
    python benchmarks/ui.py --sqlite    # and our UI on sqlite (seeding takes a few more)
    python benchmarks/ui.py --quick     # 1,000 runs, for a smoke check

Two timings, each from a fresh browser context (nothing cached), the repeats
alternating between the two UIs so a change in machine load falls on both:
- first render: open the experiment's runs page until the newest run's name
  is shown;
- filter: type a filter into the page's search box and submit it, until the
  newest matching run (one not on the first page) is shown.
Each measurement starts with every server idle (its processes' CPU time
still), so a page's requests still running on one server (MLflow's UI keeps
searching after its page is closed) never fall on the next UI's timing; the
order of the UIs rotates each round. Prints the median of the repeats and
MLflow's time / ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from live_server import LiveServer

T0 = 1_700_000_000_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FILTER = "params.group = '3' and metrics.m > 0.5"
TIMEOUT_MS = 180_000


def name(i: int) -> str:
    return f"run-{i:05d}"


def seed(uri: str, count: int) -> str:
    """`count` finished runs: metric m in [0, 1), param group = which tenth."""
    from mlcadence.tracking import Client, Metric, Param

    client = Client(uri)
    exp_id = client.create_experiment("ui-bench")
    for i in range(count):
        run = client.create_run(exp_id, run_name=name(i), start_time=T0 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("m", (i % 100) / 100, T0, 0)],
            params=[Param("group", group(i, count))],
        )
        client.set_terminated(run.info.run_id, "FINISHED", T0 + i + 1)
    return exp_id


def group(i: int, count: int) -> str:
    return str(i * 10 // count)


def newest_match(count: int) -> str:
    """The newest run FILTER keeps: far below the first page."""
    return name(max(i for i in range(count) if group(i, count) == "3" and (i % 100) / 100 > 0.5))


class OurUI:
    def __init__(self, url: str, exp_id: str):
        self.page_url = f"{url}/?view=runs&experiment={exp_id}"

    def open(self, page, newest: str) -> None:
        page.goto(self.page_url)
        page.locator("#runs tbody tr").first.get_by_text(newest, exact=True).wait_for(
            timeout=TIMEOUT_MS
        )

    def filter(self, page, match: str) -> None:
        page.get_by_label("Filter (MLflow search syntax)").fill(FILTER)
        page.get_by_role("button", name="Apply").click()
        page.locator("#runs tbody tr").first.get_by_text(match, exact=True).wait_for(
            timeout=TIMEOUT_MS
        )


class MlflowUI:
    def __init__(self, url: str, exp_id: str):
        self.page_url = f"{url}/#/experiments/{exp_id}/runs"

    def open(self, page, newest: str) -> None:
        page.goto(self.page_url)
        page.get_by_text(newest, exact=True).first.wait_for(timeout=TIMEOUT_MS)

    def filter(self, page, match: str) -> None:
        box = page.locator("input[data-testid='search-box']")
        box.fill(FILTER)
        box.press("Enter")
        page.get_by_text(match, exact=True).first.wait_for(timeout=TIMEOUT_MS)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its descendants (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    children: dict[int, list[int]] = {}
    for child, (parent, _cpu) in stats.items():
        children.setdefault(parent, []).append(child)
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += stats.get(current, (0, 0.0))[1]
        stack.extend(children.get(current, ()))
    return total


def wait_idle(servers: list[LiveServer], window: float = 0.5, timeout: float = 120) -> None:
    """Until the servers together use under a tenth of a core over `window`."""
    deadline = time.monotonic() + timeout
    before = sum(tree_cpu_seconds(s.process.pid) for s in servers)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = sum(tree_cpu_seconds(s.process.pid) for s in servers)
        if now - before < window / 10:
            return
        before = now


def measure(browser, ui, newest: str, match: str) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        start = time.perf_counter()
        ui.open(page, newest)
        first = time.perf_counter() - start
        start = time.perf_counter()
        ui.filter(page, match)
        filtered = time.perf_counter() - start
    finally:
        context.close()
    return first, filtered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="also our UI on a sqlite store")
    args = parser.parse_args()
    count = 1000 if args.quick else 10_000
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="mlc-ui-bench-"))
    servers: list[LiveServer] = []
    try:
        store = root / "mlruns"
        stores = {"file": str(store)}
        if args.sqlite:
            stores["sqlite"] = f"sqlite:///{root / 'mlcadence.db'}"
        exp_ids = {}
        for kind, uri in stores.items():
            start = time.perf_counter()
            exp_ids[kind] = seed(uri, count)
            print(f"seeded {count} runs into a {kind} store in {time.perf_counter() - start:.1f} s")
        bin_dir = Path(sys.executable).parent
        env = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
        uis = {}
        for kind, uri in stores.items():
            label = f"mlcadence {kind}"
            ours = LiveServer(
                label.replace(" ", "-"),
                [str(bin_dir / "mlcadence"), "server"],
                root,
                ["--backend-store-uri", uri],
                env,
            )
            servers.append(ours)
            uis[label] = OurUI(ours.url, exp_ids[kind])
        store_args = ["--backend-store-uri", str(store)]
        mlflow_bin = shutil.which("mlflow") or str(bin_dir / "mlflow")
        theirs = LiveServer("mlflow", [mlflow_bin, "server"], root, store_args, env)
        servers.append(theirs)
        uis["mlflow file"] = MlflowUI(theirs.url, exp_ids["file"])
        newest, match = name(count - 1), newest_match(count)
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in uis}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for ui in uis.values():
                measure(browser, ui, newest, match)  # warm-up (server caches), not counted
            labels = list(uis)
            for round_index in range(args.repeats):
                turn = round_index % len(labels)
                for label in labels[turn:] + labels[:turn]:
                    wait_idle(servers)
                    times[label].append(measure(browser, uis[label], newest, match))
            browser.close()
        print(f"{count} runs, median of {args.repeats} repeats")
        print(f"{'':<14}{'':<18}{'ours s':>8}{'mlflow s':>10}{'mlflow/ours':>13}")
        for index, what in enumerate(("first render", "filter")):
            theirs_s = statistics.median(t[index] for t in times["mlflow file"])
            for label in (label for label in uis if label.startswith("mlcadence")):
                ours_s = statistics.median(t[index] for t in times[label])
                print(
                    f"{what:<14}{label:<18}{ours_s:>8.3f}{theirs_s:>10.3f}"
                    f"{theirs_s / ours_s:>12.1f}x"
                )
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
