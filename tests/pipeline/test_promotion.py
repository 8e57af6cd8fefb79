"""Promotion as library code: champion lookup, the recorded decision, the
alias move and the callback, against a real (file) store; no Prefect."""

from __future__ import annotations

import pytest

from mlcadence import tracking
from mlcadence.pipeline import promotion
from mlcadence.pipeline.errors import PromotionError
from mlcadence.tracking.errors import NotFound


@pytest.fixture
def client(tracking_uri):
    return tracking.Client(tracking_uri)


def scored_version(client, name: str, accuracy: float | None) -> int:
    """A new version of `name` whose run scored `accuracy` (no metric when None)."""
    experiment = client.get_experiment_by_name("promotion")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("promotion")
    )
    run_id = client.create_run(experiment_id).info.run_id
    if accuracy is not None:
        client.log_metric(run_id, "accuracy", accuracy)
    if not client.search_registered_models():
        client.create_registered_model(name)
    return int(client.create_model_version(name, "/tmp/model", run_id=run_id).version)


def champion_and_challenger(client, champion: float, challenger: float) -> tuple[int, int]:
    """Version 1 of "m" as champion scoring `champion`, then version 2 scoring
    `challenger`: their version numbers."""
    first = scored_version(client, "m", champion)
    client.set_registered_model_alias("m", "champion", first)
    return first, scored_version(client, "m", challenger)


def test_current_champion_is_none_without_the_alias(client):
    scored_version(client, "m", 0.6)
    assert promotion.current_champion(client, "m", "accuracy") == (None, None)


def test_current_champion_reports_its_version_and_score(client):
    scored_version(client, "m", 0.6)
    second = scored_version(client, "m", 0.7)
    client.set_registered_model_alias("m", "champion", second)
    assert promotion.current_champion(client, "m", "accuracy") == (2, 0.7)
    assert promotion.current_champion(client, "m", "f1score_label_1") == (2, None)


def test_version_score_is_none_for_a_deleted_or_missing_run(client):
    assert promotion.version_score(client, None, "accuracy") is None
    assert promotion.version_score(client, "0" * 32, "accuracy") is None


def test_gate_promotes_the_first_version_and_calls_back_after_the_alias_moved(client):
    version = scored_version(client, "m", 0.6)
    heard = []

    def on_promoted(event: promotion.Promotion) -> None:
        # the alias already points at the new version when listeners hear of it
        assert client.get_registered_model("m").aliases["champion"] == event.version
        heard.append(event)

    decision = promotion.gate(
        client, "m", version, metric="accuracy", challenger_score=0.6, on_promoted=on_promoted
    )
    assert decision.promote and decision.reason == "no champion yet"
    (event,) = heard
    assert event.payload() == {
        "name": "m",
        "alias": "champion",
        "version": 1,
        "model_uri": "models:/m@champion",
        "version_uri": "models:/m/1",
        "by": "gate",
        "metric": "accuracy",
        "score": 0.6,
        "previous_version": None,
    }
    tags = client.get_model_version("m", 1).tags
    assert tags["mlcadence.gate.decision"] == "promoted"
    assert tags["mlcadence.gate.champion_version"] == ""


def test_gate_rejection_records_why_and_leaves_the_alias_and_listeners_alone(client):
    first, second = champion_and_challenger(client, 0.6, 0.6)
    heard = []
    decision = promotion.gate(
        client, "m", second, metric="accuracy", challenger_score=0.6, on_promoted=heard.append
    )
    assert not decision.promote and heard == []
    assert client.get_registered_model("m").aliases["champion"] == first
    tags = client.get_model_version("m", second).tags
    assert tags["mlcadence.gate.decision"] == "rejected"
    assert tags["mlcadence.gate.champion_version"] == "1"
    assert float(tags["mlcadence.gate.champion_score"]) == 0.6


def test_gate_records_the_decision_on_the_deciding_run_too(client):
    version = scored_version(client, "m", 0.6)
    run_id = client.get_model_version("m", version).run_id
    promotion.gate(client, "m", version, metric="accuracy", challenger_score=0.6, run_id=run_id)
    assert client.get_run(run_id).data.tags["mlcadence.gate.decision"] == "promoted"


def test_promote_by_hand_records_the_reason_and_the_previous_champion(client):
    first, second = champion_and_challenger(client, 0.6, 0.5)
    heard = []
    promoted = promotion.promote(
        client, "m", second, reason="rolled forward by hand", on_promoted=heard.append
    )
    assert heard == [promoted]
    assert promoted.previous_version == first and promoted.version_uri == "models:/m/2"
    assert promoted.model_uri == "models:/m@champion" and promoted.by == "hand"
    assert promoted.metric is None and promoted.score is None
    tags = client.get_model_version("m", second).tags
    assert tags["mlcadence.gate.reason"] == "rolled forward by hand"
    assert tags["mlcadence.gate.alias"] == "champion"


def test_promote_of_a_missing_version_changes_nothing(client):
    scored_version(client, "m", 0.6)
    heard = []
    with pytest.raises(NotFound):
        promotion.promote(client, "m", 9, reason="typo", on_promoted=heard.append)
    assert heard == [] and client.get_registered_model("m").aliases == {}


def history_versions(client, name: str = "m") -> list[tuple[int, int | None, str]]:
    return [(m.version, m.previous, m.by) for m in promotion.alias_history(client, name)]


def test_every_promotion_is_appended_to_the_champion_history(client):
    first, second = champion_and_challenger(client, 0.6, 0.7)
    client.delete_registered_model_alias("m", "champion")  # start from no champion
    promotion.gate(client, "m", first, metric="accuracy", challenger_score=0.6)
    promotion.gate(client, "m", second, metric="accuracy", challenger_score=0.7)
    promotion.promote(client, "m", first, reason="by hand")
    assert history_versions(client) == [(1, None, "gate"), (2, 1, "gate"), (1, 2, "hand")]
    assert promotion.alias_history(client, "m")[0].at.endswith("Z")


def test_rollback_moves_back_through_the_history_and_says_so(client):
    for score in (0.5, 0.6, 0.7):
        version = scored_version(client, "m", score)
        promotion.promote(client, "m", version, reason="next")
    heard = []
    back = promotion.rollback(client, "m", on_promoted=heard.append)
    assert (back.version, back.previous_version, back.by) == (2, 3, "rollback")
    assert heard == [back] and back.model_uri == "models:/m@champion"
    assert client.get_registered_model("m").aliases["champion"] == 2
    tags = client.get_model_version("m", 2).tags
    assert tags["mlcadence.gate.reason"] == "rolled back from version 3 (mlcadence models rollback)"
    # a second rollback goes further back, not forth to version 3
    assert promotion.rollback(client, "m").version == 1
    with pytest.raises(PromotionError, match="no earlier holder"):
        promotion.rollback(client, "m")
    assert client.get_registered_model("m").aliases["champion"] == 1


def test_rollback_after_a_promotion_by_hand_returns_to_the_champion_it_replaced(client):
    for score in (0.5, 0.6, 0.7):
        version = scored_version(client, "m", score)
        promotion.promote(client, "m", version, reason="next")
    promotion.promote(client, "m", 1, reason="by hand")
    assert promotion.rollback(client, "m").version == 3
    assert promotion.rollback(client, "m").version == 2


def test_rollback_counts_an_alias_set_outside_promotion_as_the_current_holder(client):
    for score in (0.5, 0.6, 0.7):
        scored_version(client, "m", score)
    promotion.promote(client, "m", 1, reason="first")
    client.set_registered_model_alias("m", "champion", 3)  # e.g. by MLflow's client
    assert promotion.rollback(client, "m").version == 1


def test_rollback_without_a_champion_or_a_history_says_what_to_do(client):
    scored_version(client, "m", 0.5)
    with pytest.raises(PromotionError, match="models promote m VERSION"):
        promotion.rollback(client, "m")
    client.set_registered_model_alias("m", "champion", 1)
    with pytest.raises(PromotionError, match="no earlier holder"):
        promotion.rollback(client, "m")


def test_history_holders_is_a_stack_that_rollbacks_pop():
    moves = [
        promotion.AliasMove(v, None, by, "")
        for v, by in [(1, "gate"), (2, "gate"), (3, "hand"), (2, "rollback"), (4, "gate")]
    ]
    assert promotion.holders(moves, 4) == [1, 2, 4]
    assert promotion.holders(moves, 7) == [1, 2, 4, 7]
    assert promotion.holders([], None) == []
