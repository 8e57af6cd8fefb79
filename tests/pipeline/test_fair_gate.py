"""The fair gate: both models scored on the same days of the challenger's data,
walk-forward folds for time splits, a paired test against the noise, and the
champion's recipe read back from a real (file) store through the verified
loader. No Prefect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcadence import tracking
from mlcadence.pipeline import backtest, estimators, evaluation, features, gate, significance
from mlcadence.pipeline.errors import ChampionUnscorable
from mlcadence.pipeline.gate import GatePolicy
from mlcadence.pipeline.recipe import Recipe
from mlcadence.pipeline.rescoring import judge
from mlcadence.tracking.models import log_model
from mlcadence.tracking.registry import register_model


def prices(labels: np.ndarray) -> pd.DataFrame:
    """OHLC days whose close-minus-open move is `labels` (1 up, 0 down)."""
    opens = np.full(len(labels), 100.0)
    closes = opens + np.where(labels == 1, 1.0, -1.0)
    index = pd.date_range("2020-01-01", periods=len(labels), freq="D", name="Date")
    return pd.DataFrame({"Open": opens, "Close": closes}, index=index)


def echo_labels(days: int, seed: int, noise: float = 0.1) -> np.ndarray:
    """Each day repeats the day two before it, except a `noise` share of coin flips:
    a window of 2 or more sees the pattern; a window of 1 cannot."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, days)
    for t in range(2, days):
        labels[t] = labels[t - 2] if rng.random() > noise else rng.integers(0, 2)
    return labels


def coin_flips(days: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, days)


def recipe(window: int, split: str = "time", model: str = "logistic_regression") -> Recipe:
    return Recipe(estimators.build(model), window, "close_minus_open", split, 0.25)


@pytest.fixture
def client(tracking_uri):
    tracking.set_tracking_uri(None)  # follow the environment
    yield tracking.Client(tracking_uri)
    tracking.set_tracking_uri(None)


def register(frame: pd.DataFrame, trained: Recipe, *, champion: bool, params=None) -> int:
    """Train `trained` on its own split of `frame`, log and register it as a
    new version of "m" (the champion when `champion`); its version."""
    X, y = trained.rows(frame)
    split = features.split(X, y, trained.split, trained.test_size)
    fitted = trained.fit(split.X_train, split.y_train)
    with tracking.start_run() as run:
        tracking.log_params({k: str(v) for k, v in (params or trained.params()).items()})
        example = split.X_test.head(5)
        info = log_model(fitted, "model", input_example=example)
    version = int(register_model(info.model_uri, "m").version)
    if champion:
        tracking.Client().set_registered_model_alias("m", "champion", version)
    assert run.info.run_id
    return version


def challenger_score(frame: pd.DataFrame, challenger: Recipe, metric="accuracy") -> float:
    X, y = challenger.rows(frame)
    split = features.split(X, y, challenger.split, challenger.test_size)
    fitted = challenger.fit(split.X_train, split.y_train)
    return evaluation.scores(split.y_test, fitted.predict(split.X_test), split.y_train)[metric]


def judged(client, frame, challenger, policy=GatePolicy()):
    return judge(client, "m", challenger, frame, challenger_score(frame, challenger), policy)


def test_a_clearly_better_challenger_is_promoted(client):
    frame = prices(echo_labels(600, seed=1))
    register(frame, recipe(window=1), champion=True)
    decision = judged(client, frame, recipe(window=3))
    assert decision.promote, decision.reason
    assert decision.challenger_score > 0.8 > 0.6 > decision.champion_score
    assert decision.p_value < 0.01 and decision.test == "paired bootstrap"
    assert len(decision.fold_scores("challenger")) == len(decision.fold_scores("champion")) == 5
    assert "beyond the noise" in decision.reason and "v1" in decision.reason


def test_an_equal_challenger_is_not_promoted(client):
    frame = prices(echo_labels(400, seed=2))
    register(frame, recipe(window=3, model="random_forest"), champion=True)
    decision = judged(client, frame, recipe(window=3, model="random_forest"))
    assert not decision.promote
    assert decision.challenger_score == decision.champion_score
    assert decision.p_value == 1.0
    assert decision.fold_scores("challenger") == decision.fold_scores("champion")
    assert "no improvement" in decision.reason


def test_a_lucky_challenger_on_a_small_noisy_test_set_is_not_promoted(client):
    # Coin flips have nothing to learn; among a few seeds, take the first where
    # the challenger happens to score higher than the champion on the same days.
    for seed in range(20):
        frame = prices(coin_flips(160, seed))
        comparison = backtest.compare(recipe(window=5), recipe(window=2), frame, folds=2)
        new = significance.score(comparison.y_true, comparison.challenger_predicted, "accuracy")
        old = significance.score(comparison.y_true, comparison.champion_predicted, "accuracy")
        if new - old >= 0.04:
            break
    else:
        pytest.fail("no seed gave the challenger a lucky lead")
    # score against score, the old gate would have promoted it
    assert gate.decide("accuracy", new, old, champion_version=1).promote
    decision = gate.decide_on_comparison(GatePolicy(folds=2), comparison, champion_version=1)
    assert not decision.promote and decision.challenger_score > decision.champion_score
    assert decision.p_value >= 0.05 and "within the noise" in decision.reason


def test_a_random_split_challenger_is_refused_against_a_time_split_champion(client):
    frame = prices(echo_labels(400, seed=3))
    register(frame, recipe(window=3), champion=True)
    refused = judged(client, frame, recipe(window=3, split="random"))
    assert not refused.promote and refused.evaluation is None
    assert "split random vs time" in refused.reason and "--gate-allow-mismatch" in refused.reason
    assert "gate_allow_mismatch" in refused.reason
    # allowed: compared on walk-forward folds, where a random split's look-ahead gives nothing
    allowed = judged(
        client, frame, recipe(window=3, split="random"), GatePolicy(allow_mismatch=True)
    )
    assert allowed.evaluation["method"] == "walk-forward"
    assert allowed.challenger_score == allowed.champion_score and not allowed.promote


def test_random_split_models_are_compared_on_the_challengers_holdout(client):
    frame = prices(echo_labels(400, seed=4))
    register(frame, recipe(window=1, split="random"), champion=True)
    decision = judged(client, frame, recipe(window=3, split="random"))
    assert decision.evaluation["method"] == "holdout" and len(decision.evaluation["folds"]) == 1
    assert decision.promote


@pytest.mark.parametrize(
    "policy,promoted", [("keep", False), ("replace", True)], ids=["keep", "replace"]
)
def test_a_champion_without_a_recorded_recipe_is_handled_by_the_policy(client, policy, promoted):
    frame = prices(echo_labels(300, seed=5))
    register(frame, recipe(window=2), champion=True, params={"window": "2", "split": "time"})
    decision = judged(client, frame, recipe(window=3), GatePolicy(unscorable=policy))
    assert decision.promote is promoted
    assert "cannot be re-scored" in decision.reason and "label_rule" in decision.reason
    assert f"gate_unscorable={policy}" in decision.reason


def test_an_unscorable_champion_fails_the_gate_when_the_policy_says_fail(client):
    frame = prices(echo_labels(300, seed=5))
    register(frame, recipe(window=2), champion=True, params={"window": "2"})
    with pytest.raises(ChampionUnscorable, match="--gate-unscorable"):
        judged(client, frame, recipe(window=3), GatePolicy(unscorable="fail"))


def test_a_tampered_champion_is_never_unpickled_and_counts_as_unscorable(client, tmp_path):
    frame = prices(echo_labels(300, seed=6))
    version = register(frame, recipe(window=2), champion=True)
    run_id = client.get_model_version("m", version).run_id
    model_file = client.artifact_path(run_id, "model") / "model.pkl"
    witness = tmp_path / "unpickled"
    # a pickle that runs a command when loaded
    model_file.write_bytes(f"cos\nsystem\n(S'touch {witness}'\ntR.".encode())
    decision = judged(client, frame, recipe(window=3))
    assert not decision.promote and "could not be loaded" in decision.reason
    assert "failed its integrity check" in decision.reason
    assert not witness.exists()


def test_champion_with_another_label_rule_is_refused_then_rebuilt_with_its_own_rule(client):
    frame = prices(echo_labels(300, seed=7))
    by_close = Recipe(estimators.build("logistic_regression"), 2, "close_to_close", "time", 0.25)
    register(frame, by_close, champion=True)
    refused = judged(client, frame, recipe(window=2))
    assert "label_rule close_minus_open vs close_to_close" in refused.reason
    allowed = judged(client, frame, recipe(window=2), GatePolicy(allow_mismatch=True))
    assert allowed.evaluation is not None


def test_walk_forward_folds_expand_and_never_look_ahead():
    frame = prices(echo_labels(300, seed=8))
    X, y = recipe(window=3).rows(frame)
    plan = backtest.evaluation_folds(X.index, y, True, 0.25, 4)
    time_split = features.split(X, y, "time", 0.25)
    assert len(plan) == 4
    assert plan[0][0].equals(time_split.X_train.index)  # fold 1 trains on the training set
    scored = [day for _, test in plan for day in test]
    assert scored == list(time_split.X_test.index)  # the folds cover the test days once, in order
    for (train, test), (next_train, _) in zip(plan, plan[1:], strict=False):
        assert train.max() < test.min()  # nothing from the predicted days or later
        assert len(next_train) == len(train) + len(test)  # the window expands by the fold


def test_comparison_reports_mean_and_spread_per_metric_and_is_recorded_as_tags():
    frame = prices(echo_labels(400, seed=9))
    comparison = backtest.compare(recipe(window=3), recipe(window=1), frame, folds=5)
    spread = comparison.spread()
    assert set(spread) == set(evaluation.METRIC_NAMES)
    folds = comparison.fold_scores("challenger", "accuracy")
    assert spread["accuracy"]["challenger_mean"] == pytest.approx(np.mean(folds))
    assert spread["accuracy"]["challenger_std"] == pytest.approx(np.std(folds))
    tags = gate.decide_on_comparison(GatePolicy(), comparison, 1).record()
    assert tags["test"] == "paired bootstrap" and float(tags["p_value"]) < 0.05
    assert tags["evaluation"] == f"walk-forward, 5 folds, {comparison.rows} days"
    assert tags["challenger_folds"] == " ".join(f"{v:.4f}" for v in folds)
    assert len(tags["champion_folds"].split()) == 5 and "±" in tags["champion_mean_std"]


@pytest.mark.parametrize("metric", evaluation.METRIC_NAMES)
def test_the_bootstraps_scores_are_the_evaluation_metrics(metric):
    rng = np.random.default_rng(0)
    y, predicted = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    expected = evaluation.scores(y, predicted, y_train=y)[metric]
    if metric == "baseline_accuracy":
        expected = 0.0  # the same for both models: cancels out of the paired difference
    elif metric == "accuracy_over_baseline":
        expected = evaluation.scores(y, predicted, y_train=y)["accuracy"]
    assert significance.score(y, predicted, metric) == pytest.approx(expected)


def test_the_paired_test_is_deterministic_and_one_sided():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    good = np.where(rng.random(300) < 0.8, y, 1 - y)
    bad = np.where(rng.random(300) < 0.6, y, 1 - y)
    p = significance.paired_bootstrap(y, good, bad, "accuracy")
    assert p == significance.paired_bootstrap(y, good, bad, "accuracy") and p < 0.01
    assert significance.paired_bootstrap(y, bad, good, "accuracy") > 0.99
