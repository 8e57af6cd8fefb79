"""The gate's decision as `train` prints it: one sentence, the figures in
words, whatever fields the decision record has."""

from __future__ import annotations

from mlcadence.cli.pipeline_cmds import gate_sentence

SCORES = {"metric": "accuracy", "champion_version": 1, "min_improvement": 0.0}


def test_a_promotion_reads_as_a_sentence_with_both_scores():
    decision = {**SCORES, "promote": True, "challenger_score": 0.555, "champion_score": 0.5349}
    assert gate_sentence(decision, 2) == (
        "PROMOTED to champion: version 2's accuracy of 0.5550 beats champion version 1's "
        "0.5349 by 0.0201."
    )


def test_a_rejection_says_what_improvement_the_gate_needed():
    decision = {
        **SCORES,
        "promote": False,
        "challenger_score": 0.55,
        "champion_score": 0.55,
        "min_improvement": 0.01,
    }
    assert gate_sentence(decision, 3) == (
        "not promoted: version 3's accuracy of 0.5500 does not beat champion version 1's "
        "0.5500 by enough: the gate needs an improvement above 0 and at least 0.01, "
        "and this one is +0.0000."
    )


def test_a_decision_without_scores_gives_its_reason_as_a_sentence():
    decision = {"promote": True, "reason": "no champion yet", "champion_score": None}
    assert gate_sentence(decision, 1) == "PROMOTED to champion: no champion yet."
