"""The scoring service without HTTP: parse -> convert -> predict -> encode,
called directly; a client fault is a 4xx ServingError, a model that raises on
valid input is a logged 500."""

from __future__ import annotations

import asyncio
import json
import logging

import numpy as np
import pytest

from mlcadence.serving.batching import MicroBatcher
from mlcadence.serving.errors import ModelFailed, NoModelLoaded, SchemaMismatch
from mlcadence.serving.model import from_estimator
from mlcadence.serving.reload import ModelHolder
from mlcadence.serving.scoring import ScoringService, example_request, score_bytes, warm_up

SIGNATURE = {
    "signature": {
        "inputs": json.dumps([{"type": "double", "name": n, "required": True} for n in ("a", "b")])
    }
}


class SumModel:
    """Row sums; raises on a row holding 42 (input the signature allows)."""

    def predict(self, X):
        X = np.asarray(X)
        if (X == 42).any():
            raise ValueError("42 is not a number this model takes")
        return X.sum(axis=1)


def service(model=None) -> ScoringService:
    holder = ModelHolder("memory:", model)
    batcher = MicroBatcher(
        lambda m, data, params: m.predict(data, params), max_size=64, max_wait_s=0
    )
    return ScoringService(holder, batcher)


def score(svc: ScoringService, body: dict):
    return asyncio.run(svc.score(json.dumps(body).encode(), "application/json"))


def test_service_scores_a_body_and_encodes_mlflow_json():
    svc = service(from_estimator(SumModel(), metadata=SIGNATURE))
    scored = score(svc, {"dataframe_split": {"columns": ["b", "a"], "data": [[1, 2], [3, 4]]}})
    assert json.loads(scored.body) == {"predictions": [3.0, 7.0]}
    assert scored.deprecated is False


def test_service_marks_the_legacy_shape_deprecated():
    svc = service(from_estimator(SumModel(), metadata=SIGNATURE))
    assert score(svc, {"columns": ["a", "b"], "data": [[1, 2]]}).deprecated is True


def test_service_rejects_input_outside_the_signature_as_a_client_fault():
    svc = service(from_estimator(SumModel(), metadata=SIGNATURE))
    with pytest.raises(SchemaMismatch, match="'b'") as info:
        score(svc, {"dataframe_records": [{"a": 1}]})
    assert info.value.http_status == 400


def test_service_without_a_model_is_503():
    with pytest.raises(NoModelLoaded) as info:
        score(service(), {"data": [[1, 2]]})
    assert info.value.http_status == 503


def test_a_model_raising_on_valid_input_is_a_logged_500(caplog):
    svc = service(from_estimator(SumModel(), metadata=SIGNATURE))
    with caplog.at_level(logging.ERROR, "mlcadence.serving"):
        with pytest.raises(ModelFailed, match="42 is not a number") as info:
            score(svc, {"data": [[42, 0]]})
    assert info.value.http_status == 500
    assert info.value.to_json()["error_code"] == "INTERNAL_ERROR"
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_score_bytes_is_the_same_path_unbatched():
    model = from_estimator(SumModel(), metadata=SIGNATURE)
    body = json.dumps({"inputs": {"a": [1, 2], "b": [10, 20]}}).encode()
    assert json.loads(score_bytes(model, body, "application/json")) == {"predictions": [11.0, 22.0]}
    with pytest.raises(ModelFailed):
        score_bytes(model, b'{"data": [[42, 1]]}', "application/json")


def test_warm_up_sends_a_row_of_zeros_when_there_is_no_saved_example():
    calls = []

    class Recording(SumModel):
        def predict(self, X):
            calls.append(np.asarray(X).tolist())
            return super().predict(X)

    model = from_estimator(Recording(), metadata=SIGNATURE)
    assert example_request(model) == {"dataframe_split": {"data": [[0, 0]], "columns": ["a", "b"]}}
    warm_up(model)
    assert calls == [[[0.0, 0.0]]]


def test_batcher_request_block_counts_in_flight_requests():
    batcher = MicroBatcher(lambda m, data, params: data, max_size=1, max_wait_s=0)
    with batcher.request():
        with batcher.request():
            assert batcher.in_flight == 2
        assert batcher.in_flight == 1
    with pytest.raises(RuntimeError), batcher.request():
        raise RuntimeError("a failed request still leaves")
    assert batcher.in_flight == 0
