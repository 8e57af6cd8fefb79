"""MLflow's run-search grammar: parsing, errors, in-memory evaluation and order."""

from __future__ import annotations

import math

import pytest

from mlcadence.tracking.entities import Run, RunData, RunInfo, RunStatus
from mlcadence.tracking.errors import InvalidInput
from mlcadence.tracking.search import (
    Clause,
    OrderKey,
    parse_filter,
    parse_order_by,
    referenced_keys,
    run_matches,
    sort_runs,
)


def make_run(
    run_id,
    start=0,
    metrics=None,
    params=None,
    tags=None,
    status=RunStatus.FINISHED,
    name="r",
    end=None,
):
    info = RunInfo(
        run_id=run_id,
        experiment_id="0",
        run_name=name,
        user_id="u",
        status=status,
        start_time=start,
        end_time=end,
        artifact_uri=f"file:///a/{run_id}/artifacts",
    )
    return Run(info, RunData(metrics=metrics or {}, params=params or {}, tags=tags or {}))


# -- parsing ------------------------------------------------------------------
def test_parse_the_full_example():
    clauses = parse_filter(
        "metrics.x > 0.5 AND params.model = 'rf' AND tags.`mlflow.runName` LIKE 'a%' "
        "AND attributes.status = 'FINISHED'"
    )
    assert clauses == [
        Clause("metric", "x", ">", 0.5),
        Clause("param", "model", "=", "rf"),
        Clause("tag", "mlflow.runName", "LIKE", "a%"),
        Clause("attribute", "status", "=", "FINISHED"),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("metric.acc >= 1", Clause("metric", "acc", ">=", 1.0)),
        ('metrics."my metric" < -1e-3', Clause("metric", "my metric", "<", -0.001)),
        ('parameters.p != "x y"', Clause("param", "p", "!=", "x y")),
        ("param.`a-b` ILIKE '%X%'", Clause("param", "a-b", "ILIKE", "%X%")),
        ("tag.mlflow.user = 'me'", Clause("tag", "mlflow.user", "=", "me")),
        ("attr.run_id IN ('a', \"b\")", Clause("attribute", "run_id", "IN", ("a", "b"))),
        ("run.run_id not  in ('a')", Clause("attribute", "run_id", "NOT IN", ("a",))),
        ("attribute.created > 17", Clause("attribute", "start_time", ">", 17)),
        ("`Run Name` = 'n'", Clause("attribute", "run_name", "=", "n")),
        ("end_time <= 5", Clause("attribute", "end_time", "<=", 5)),
        ("user_id = 'u'", Clause("attribute", "user_id", "=", "u")),
        ("tags.t is null", Clause("tag", "t", "IS NULL", None)),
        ("params.p IS NOT NULL", Clause("param", "p", "IS NOT NULL", None)),
        ("params.p = 'it''s'", Clause("param", "p", "=", "it's")),
        ("metrics.m <> 2", Clause("metric", "m", "!=", 2.0)),
        ("params.p in ('a','b')", Clause("param", "p", "IN", ("a", "b"))),
    ],
)
def test_parse_variants(text, expected):
    assert parse_filter(text) == [expected]


def test_empty_filter_is_no_clause():
    assert parse_filter("") == [] and parse_filter(None) == [] and parse_filter("   ") == []


def test_keywords_are_case_insensitive():
    assert parse_filter("metrics.a > 1 and params.b like 'x%'") == [
        Clause("metric", "a", ">", 1.0),
        Clause("param", "b", "LIKE", "x%"),
    ]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("metrics.acc > 'high'", "expected a number"),
        ("params.model = rf", "expected a value"),
        ("params.n = 3", "expected a quoted string"),
        ("metrics.acc LIKE '0.%'", "operator LIKE cannot be used with metric"),
        ("attributes.start_time LIKE '1%'", "cannot be used with numeric attribute"),
        ("attributes.status > 'A'", "cannot be used with string attribute"),
        ("foo.bar = 'x'", "unknown prefix 'foo'"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("metrics.a > 1 OR metrics.b > 1", "OR is not supported"),
        ("metrics.a > 1 metrics.b > 1", "expected AND"),
        ("metrics.a > 1 AND", "expected a clause after AND"),
        ("params.p = 'open", "unterminated"),
        ("metrics.a", "expected a comparison operator"),
        ("attributes.run_id IN 'a'", "parenthesised list"),
        ("attributes.run_id IN ('a' 'b')", "expected ',' or ')'"),
        ("attributes.run_id IN (1)", "expected a quoted string"),
        ("metrics. > 1", "expected a key"),
    ],
)
def test_errors_say_what_and_how(text, fragment):
    with pytest.raises(InvalidInput) as info:
        parse_filter(text)
    message = str(info.value)
    assert message.startswith(f"Invalid filter '{text}'")
    assert fragment in message
    assert "e.g." in message
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_parse_order_by():
    assert parse_order_by(["metrics.acc DESC", "start_time", "params.`p q` asc", "tags.t"]) == [
        OrderKey("metric", "acc", False),
        OrderKey("attribute", "start_time", True),
        OrderKey("param", "p q", True),
        OrderKey("tag", "t", True),
    ]
    assert parse_order_by(None) == [] and parse_order_by([]) == []


@pytest.mark.parametrize("bad", ["metrics.acc DOWN", "nonsense", "", "metrics.a DESC extra"])
def test_parse_order_by_errors(bad):
    with pytest.raises(InvalidInput, match="order_by"):
        parse_order_by([bad])


def test_referenced_keys():
    needed = referenced_keys(
        parse_filter("metrics.a > 1 AND tags.t = 'x'"), parse_order_by(["params.p"])
    )
    assert needed["metric"] == {"a"} and needed["tag"] == {"t"} and needed["param"] == {"p"}


# -- evaluation ---------------------------------------------------------------
RUN = make_run(
    "abc123",
    start=100,
    end=200,
    metrics={"acc": 0.9, "loss": float("nan")},
    params={"model": "RandomForest", "depth": "3"},
    tags={"mlflow.runName": "train-1", "team": "a"},
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("metrics.acc > 0.5", True),
        ("metrics.acc > 0.95", False),
        ("metrics.acc = 0.9", True),
        ("metrics.acc != 0.9", False),
        ("metrics.missing != 1", False),  # a missing key never matches
        ("metrics.loss > 0", False),  # NaN compares false
        ("params.model = 'RandomForest'", True),
        ("params.model LIKE 'Random%'", True),
        ("params.model LIKE 'random%'", False),  # LIKE is case-sensitive
        ("params.model ILIKE 'random%'", True),
        ("params.model LIKE 'Random_orest'", True),
        ("params.model LIKE 'Random.orest'", False),  # '.' is literal, not a regex
        ("params.model IN ('SVM', 'RandomForest')", True),
        ("params.model NOT IN ('SVM', 'RandomForest')", False),
        ("params.missing != 'x'", False),
        ("params.missing IS NULL", True),
        ("params.model IS NULL", False),
        ("tags.`mlflow.runName` LIKE 'train-%'", True),
        ("tags.team = 'a' AND metrics.acc >= 0.9", True),
        ("tags.team = 'a' AND metrics.acc > 0.9", False),
        ("attributes.status = 'FINISHED'", True),
        ("attributes.status != 'RUNNING'", True),
        ("attributes.run_id = 'abc123'", True),
        ("attributes.run_id IN ('zzz')", False),
        ("attributes.run_name = 'r'", True),
        ("attributes.start_time >= 100 AND attributes.end_time < 201", True),
        ("created > 100", False),
        ("attributes.lifecycle_stage = 'active'", True),
        ("attributes.artifact_uri LIKE '%/abc123/artifacts'", True),
        ("attributes.user_id = 'u'", True),
        ("", True),
    ],
)
def test_run_matches(text, expected):
    assert run_matches(RUN, parse_filter(text)) is expected


def test_unfinished_run_has_no_end_time_match():
    run = make_run("x", status=RunStatus.RUNNING, end=None)
    assert not run_matches(run, parse_filter("end_time > 0"))
    assert run_matches(run, parse_filter("status = 'RUNNING'"))


# -- ordering -----------------------------------------------------------------
def test_default_order_is_start_time_desc_then_run_id():
    runs = [make_run("b", 1), make_run("a", 1), make_run("c", 5)]
    assert [r.run_id for r in sort_runs(runs)] == ["c", "a", "b"]


def test_order_by_metric_missing_and_nan_last_in_both_directions():
    runs = [
        make_run("nan", 1, {"m": math.nan}),
        make_run("none", 2, {}),
        make_run("low", 3, {"m": 1.0}),
        make_run("high", 4, {"m": 5.0}),
        make_run("mid", 5, {"m": 3.0}),
    ]
    desc = [r.run_id for r in sort_runs(runs, parse_order_by(["metrics.m DESC"]))]
    asc = [r.run_id for r in sort_runs(runs, parse_order_by(["metrics.m"]))]
    assert desc[:3] == ["high", "mid", "low"] and set(desc[3:]) == {"nan", "none"}
    assert asc[:3] == ["low", "mid", "high"] and set(asc[3:]) == {"nan", "none"}


def test_order_ties_fall_back_to_start_time_desc():
    runs = [
        make_run("a", 1, params={"p": "x"}),
        make_run("b", 2, params={"p": "x"}),
        make_run("c", 3, params={"p": "a"}),
    ]
    assert [r.run_id for r in sort_runs(runs, parse_order_by(["params.p"]))] == ["c", "b", "a"]


def test_multi_key_order():
    runs = [
        make_run("a", 1, {"m": 1.0}, tags={"t": "y"}),
        make_run("b", 2, {"m": 1.0}, tags={"t": "x"}),
        make_run("c", 3, {"m": 2.0}, tags={"t": "z"}),
    ]
    keys = parse_order_by(["metrics.m DESC", "tags.t ASC"])
    assert [r.run_id for r in sort_runs(runs, keys)] == ["c", "b", "a"]
    keys = parse_order_by(["attributes.status", "attributes.start_time ASC"])
    assert [r.run_id for r in sort_runs(runs, keys)] == ["a", "b", "c"]


# -- limits and non-ASCII case (issue 9) ----------------------------------------
def test_same_letter_groups_every_case_of_a_letter_in_any_script():
    from mlcadence.tracking.search import same_letter

    assert sorted(same_letter("ä")) == sorted("äÄ")
    assert sorted(same_letter("Σ")) == sorted("σΣ")
    assert "\u212a" in same_letter("k")  # KELVIN SIGN lowers to k, as in PostgreSQL
    assert same_letter("%") == "%"


def test_ilike_in_memory_folds_non_ascii_and_keeps_nul():
    run = make_run("r1", params={"p": "Ärger\x00x"})
    assert run_matches(run, parse_filter("params.p ILIKE 'är%'"))
    assert run_matches(run, parse_filter("params.p ILIKE '%\x00X'"))
    assert not run_matches(run, parse_filter("params.p LIKE 'är%'"))


def test_limits_are_inclusive():
    from mlcadence.tracking.search import MAX_CLAUSES, MAX_ORDER_KEYS, MAX_TIME

    assert len(parse_filter(" AND ".join(["metrics.m > 1"] * MAX_CLAUSES))) == MAX_CLAUSES
    assert len(parse_order_by(["metrics.m"] * MAX_ORDER_KEYS)) == MAX_ORDER_KEYS
    assert parse_filter(f"start_time <= {MAX_TIME}")[0].value == MAX_TIME
    assert parse_filter("metrics.m < 1.7e308")[0].value == 1.7e308
    with pytest.raises(InvalidInput, match="at most 20"):
        parse_order_by(iter(["metrics.m"] * (MAX_ORDER_KEYS + 1)))
