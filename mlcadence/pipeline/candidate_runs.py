"""A sweep candidate's child run, written through an explicit store.

Candidates may train in another process or on another machine (a Dask
worker) that shares none of the flow's state: no active run, maybe another
MLCADENCE_TRACKING_URI. So the store, its token, the experiment and the
parent run travel with each candidate as a `TrackingTarget`.

Each candidate has a key (parent run, model, window). A worker killed
mid-candidate leaves its child run RUNNING; Dask then runs the candidate
again on another worker, and that attempt ends the orphan as FAILED, tagged
with the run that replaced it, before it logs anything. A worker that died
after its run FINISHED but before Dask had the result leaves a finished run
that the new attempt deletes (soft). Every candidate thus ends with exactly
one FINISHED run among the experiment's active runs, and no RUNNING leftover.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mlcadence import tracking
from mlcadence.pipeline.evaluation import Evaluation
from mlcadence.tracking.conventions import now_ms
from mlcadence.tracking.entities import Metric, Param, RunStatus
from mlcadence.tracking.fluent import PARENT_RUN_TAG, system_tags

CANDIDATE_TAG = "mlcadence.sweep.candidate"
SUPERSEDED_BY_TAG = "mlcadence.sweep.superseded_by"
REPORT_FILE = "evaluation/classification_report.txt"
CONFUSION_FILE = "evaluation/confusion_matrix.json"

_clients: dict[tuple[str, str | None], tracking.Client] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class TrackingTarget:
    """Where a candidate logs: the store, and the sweep's experiment and parent run."""

    uri: str
    experiment_id: str
    parent_run_id: str
    token: str | None = field(default=None, repr=False)

    def client(self) -> tracking.Client:
        """One client per store and token in each process (a worker runs many
        candidates; a new SQL engine or HTTP pool for each would be waste)."""
        with _clients_lock:
            client = _clients.get((self.uri, self.token))
            if client is None:
                from mlcadence.tracking.backends import backend_options, build_backend

                options = {**backend_options(), "token": self.token}
                client = tracking.Client(self.uri, backend=build_backend(self.uri, **options))
                _clients[(self.uri, self.token)] = client
            return client


def candidate_key(parent_run_id: str, model: str, window: int) -> str:
    return f"{parent_run_id}/{model}/w{window}"


@dataclass
class CandidateRun:
    client: tracking.Client
    run_id: str

    def log_params(self, params: dict[str, Any]) -> None:
        self.client.log_batch(
            self.run_id, params=[Param(k, v) for k, v in param_texts(params).items()]
        )

    def log_evaluation(self, evaluation: Evaluation) -> None:
        write_evaluation(self.client, self.run_id, evaluation)


def param_texts(params: dict[str, Any]) -> dict[str, str]:
    """Params as the store keeps them: text, '' for None."""
    return {key: "" if value is None else str(value) for key, value in params.items()}


def write_evaluation(client: tracking.Client, run_id: str, evaluation: Evaluation) -> None:
    """Metrics, classification report and confusion matrix on `run_id`."""
    timestamp = now_ms()
    client.log_batch(
        run_id, metrics=[Metric(k, v, timestamp, 0) for k, v in evaluation.metrics.items()]
    )
    client.log_text(run_id, evaluation.report, REPORT_FILE)
    client.log_dict(run_id, evaluation.confusion_dict(), CONFUSION_FILE)


@contextmanager
def candidate_run(target: TrackingTarget, model: str, window: int) -> Iterator[CandidateRun]:
    """A child run of the target's parent for one candidate: FINISHED when
    the body returns, FAILED when it raises (the error propagates)."""
    client = target.client()
    key = candidate_key(target.parent_run_id, model, window)
    run = client.create_run(
        target.experiment_id,
        run_name=f"{model}-w{window}",
        tags={**system_tags(), PARENT_RUN_TAG: target.parent_run_id, CANDIDATE_TAG: key},
    )
    run_id = run.info.run_id
    _supersede_orphans(client, target.experiment_id, key, run_id)
    try:
        yield CandidateRun(client, run_id)
    except BaseException:
        client.set_terminated(run_id, RunStatus.FAILED)
        raise
    client.set_terminated(run_id, RunStatus.FINISHED)


def _supersede_orphans(client: tracking.Client, experiment_id: str, key: str, run_id: str) -> None:
    """Retire an earlier attempt's run of the same candidate. RUNNING: its
    worker died mid-candidate; it ends FAILED. FINISHED: its worker died after
    logging but before Dask had its result, so the candidate runs again; the
    earlier run is deleted (soft: `runs restore` brings it back), so the
    candidate still has one finished run. Both are tagged with this run."""
    earlier = client.search_runs([experiment_id], f"tags.`{CANDIDATE_TAG}` = '{key}'")
    for orphan in earlier:
        if orphan.info.run_id == run_id:
            continue
        if orphan.info.status == RunStatus.RUNNING:
            client.set_tag(orphan.info.run_id, SUPERSEDED_BY_TAG, run_id)
            client.set_terminated(orphan.info.run_id, RunStatus.FAILED)
        elif orphan.info.status == RunStatus.FINISHED:
            client.set_tag(orphan.info.run_id, SUPERSEDED_BY_TAG, run_id)
            client.delete_run(orphan.info.run_id)
