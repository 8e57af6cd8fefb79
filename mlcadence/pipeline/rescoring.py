"""The gate against the registry: find the champion, rebuild its recipe, score
both models on the challenger's data, decide.

The champion's recipe comes from what its training run recorded (window,
label rule, split; `recipe.RECIPE_PARAMS`) and from its model, loaded through
the verified loader (every file's digest checked before anything is
unpickled); the estimator's class and hyperparameters are cloned from it.
Whatever is missing or fails to load makes the champion unscorable, and the
policy decides (`gate.decide_unscorable`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcadence import tracking
from mlcadence.pipeline import backtest, features, gate, recipe
from mlcadence.pipeline.errors import InvalidData
from mlcadence.pipeline.gate import GateDecision, GatePolicy
from mlcadence.pipeline.promotion import CHAMPION
from mlcadence.pipeline.recipe import Recipe

if TYPE_CHECKING:
    import pandas as pd


class Unscorable(Exception):
    """Why the champion's recipe cannot be rebuilt (the message says it)."""


def champion_version(client: tracking.Client, name: str) -> int | None:
    # The alias table, not get_model_version_by_alias: no champion is an
    # ordinary state here, not an error to catch.
    version = client.get_registered_model(name).aliases.get(CHAMPION)
    return None if version is None else int(version)


def champion_recipe(client: tracking.Client, name: str, version: int) -> Recipe:
    """The recipe of version `version` of `name`, rebuilt from its run's
    params and its verified model; Unscorable says what is missing."""
    from mlcadence.tracking.errors import TrackingError
    from mlcadence.tracking.models import load_model

    model_version = client.get_model_version(name, version)
    if not model_version.run_id:
        raise Unscorable("it has no training run, so its window and label rule are unknown")
    try:
        params = client.get_run(model_version.run_id).data.params
    except TrackingError as exc:
        raise Unscorable(f"its training run {model_version.run_id} is gone ({exc})") from exc
    try:
        window, label_rule, split, test_size = recipe.recorded(params)
    except KeyError as exc:
        raise Unscorable(
            f"its run does not record its {exc.args[0]} (it was trained before mlcadence "
            "recorded it, or by other code)"
        ) from exc
    except ValueError as exc:
        raise Unscorable(f"its run records a malformed recipe ({exc})") from exc
    if label_rule not in features.LABEL_RULES:
        raise Unscorable(f"its label rule {label_rule!r} is not one mlcadence knows")
    try:
        loaded = load_model(f"models:/{name}/{version}", client)
    except Exception as exc:  # noqa: BLE001 (any failure to load means: cannot re-score)
        raise Unscorable(f"its model could not be loaded: {str(exc).rstrip('.')}") from exc
    expected = features.feature_names(window)
    schema = loaded.signature.inputs if loaded.signature else None
    inputs = schema.names if schema is not None and schema.has_names else None
    if inputs is not None and list(inputs) != expected:
        raise Unscorable(
            f"its model takes the columns {', '.join(map(str, inputs))}, not the "
            f"{len(expected)} lag columns of its recorded window {window}"
        )
    estimator = loaded.unwrap()
    if not hasattr(estimator, "get_params"):
        raise Unscorable(f"its model ({type(estimator).__name__}) is not a scikit-learn estimator")
    return Recipe(estimator, window, label_rule, split, test_size)


def judge(
    client: tracking.Client,
    name: str,
    challenger: Recipe,
    frame: pd.DataFrame,
    challenger_score: float,
    policy: GatePolicy,
) -> GateDecision:
    """The gate's decision for a challenger of `name` with `challenger`'s
    recipe, trained on `frame` and scoring `challenger_score` on its own test
    set (the score shown when there is nothing to compare with)."""
    version = champion_version(client, name)
    if version is None:
        return gate.decide(policy.metric, challenger_score, None, None, policy.min_improvement)
    try:
        champion = champion_recipe(client, name, version)
    except Unscorable as exc:
        return gate.decide_unscorable(policy, challenger_score, version, str(exc))
    differences = challenger.differences(champion)
    if differences and not policy.allow_mismatch:
        return gate.refuse_mismatch(policy, challenger_score, version, differences)
    try:
        comparison = backtest.compare(challenger, champion, frame, policy.folds)
    except InvalidData as exc:
        return gate.decide_unscorable(policy, challenger_score, version, exc.message)
    except ValueError as exc:  # scikit-learn's word for "cannot fit this estimator on this"
        why = f"its estimator could not be refit on these days: {exc}"
        return gate.decide_unscorable(policy, challenger_score, version, why)
    return gate.decide_on_comparison(policy, comparison, version)
