"""JSON booleans are not numbers for the signature: `true` sent for a long
(or double) column is a 400 naming the column, on the single-row fast path
and on batches alike, as MLflow refuses to convert bool to int64."""

from __future__ import annotations

import json

import pytest

from mlcadence.serving.errors import SchemaMismatch
from mlcadence.serving.model import load
from mlcadence.serving.scoring import score_bytes
from tests.serving.flagship import BOOK_ROW, FEATURES


@pytest.fixture(scope="module")
def model(stock_model):
    return load(str(stock_model))


def _body(rows) -> bytes:
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": rows}}).encode()


@pytest.mark.parametrize(
    "rows",
    [
        [[True, *BOOK_ROW[1:]]],  # one boolean among numbers
        [[True] * len(FEATURES)],  # only booleans
        [BOOK_ROW, [*BOOK_ROW[:5], False, *BOOK_ROW[6:]]],  # in the second row of a batch
    ],
)
def test_a_boolean_for_a_long_column_is_refused_with_its_column(model, rows):
    with pytest.raises(SchemaMismatch, match="lag_.*bool"):
        score_bytes(model, _body(rows), "application/json")


def test_numbers_are_still_answered(model):
    answer = json.loads(score_bytes(model, _body([BOOK_ROW, BOOK_ROW]), "application/json"))
    assert len(answer["predictions"]) == 2
