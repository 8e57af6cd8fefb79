"""The training commands' options, checked before Prefect starts.

Prefect would reject the same values, but only after its server has started
(10-30 s) and with its log lines around the message. Here the flow's own
parameter model checks them once, and each complaint names the option as
the command line spells it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mlcadence.flows.parameters import Parameters
from mlcadence.pipeline.errors import InvalidConfig, InvalidSource
from mlcadence.pipeline.source_check import check_source

# Fields the command line spells its own way; the rest are `--field-name`.
FLAGS = {"hyperparameters": "--param", "promote": "--no-promote"}


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def checked(model: type[Parameters], parameters: dict[str, Any], command: str) -> Parameters:
    """`parameters` as the flow will get them, or one InvalidConfig /
    InvalidSource whose message names the option and what to give instead."""
    source = parameters.get("source", model.model_fields["source"].default)
    try:
        check_source(source)
    except InvalidSource as exc:
        raise InvalidSource(f"--source: {exc.message}") from None
    try:
        validated = model(**parameters)
    except ValidationError as exc:
        raise InvalidConfig(_describe(exc.errors()[0], command)) from None
    hyperparameters = getattr(validated, "hyperparameters", None)
    if hyperparameters:
        from mlcadence.pipeline.estimators import resolve_hyperparameters

        try:
            resolve_hyperparameters(validated.model, hyperparameters)
        except InvalidConfig as exc:
            raise InvalidConfig(f"--param: {exc.message}") from None
    return validated


def _describe(error: dict[str, Any], command: str) -> str:
    field = str(error["loc"][0]) if error["loc"] else "?"
    reason = error["msg"]
    if reason.startswith("Input should"):
        reason = "it should" + reason[len("Input should") :]
    else:
        reason = reason[:1].lower() + reason[1:]
    return (
        f"{flag_of(field)} {error.get('input')} is not accepted: {reason} "
        f"(`mlcadence {command} --help` describes every option)"
    )
