"""`mlcadence train | retrain | sweep`: run the lifecycle flows from a terminal.

Each command runs its Prefect flow in this process (progress shows as Prefect
log lines), then prints a summary. The Prefect API is PREFECT_API_URL, else
`mlcadence up`'s server, else a local server that the first flow command
starts and later ones reuse (see `platform.ensure_prefect`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

import typer

from mlcadence import tracking
from mlcadence.cli.flow_checks import checked
from mlcadence.cli.tracking_cmds import TrackingUriOpt
from mlcadence.errors import MlcadenceError
from mlcadence.flows.parameters import (
    CommonParameters,
    EstimatorParameters,
    Parameters,
    RetrainingParameters,
    SweepParameters,
    TrainingParameters,
)
from mlcadence.flows.task_runners import kind_of, require_reachable_store
from mlcadence.tracking.tracking_uri import where_the_uri_came_from

# Each command's flow, imported only when run (it brings in Prefect).
FLOWS = {
    "training": "mlcadence.flows.training",
    "retraining": "mlcadence.flows.retraining",
    "sweep": "mlcadence.flows.sweep",
}


def register(app: typer.Typer) -> None:
    """Mount this area's commands on the top-level app."""
    app.command("train")(train)
    app.command("retrain")(retrain)
    app.command("sweep")(sweep)


def option(model: type[Parameters], field: str, *flags: str) -> Any:
    """A typer option whose default and help are the parameter model's field:
    the flows, the UI's run form and `--help` say the same thing."""
    declared = model.model_fields[field]
    return typer.Option(declared.default, *flags, help=declared.description)


def comma_option(model: type[Parameters], field: str, flag: str) -> Any:
    """`option` for a list field, given on the command line as `a,b,c`."""
    declared = model.model_fields[field]
    return typer.Option(
        ",".join(map(str, declared.default)),
        flag,
        help=f"{declared.description}, comma-separated",
    )


def flow_parameters(
    model: type[Parameters], options: dict[str, Any], **cli_forms: Any
) -> dict[str, Any]:
    """The flow's parameters from a command's `locals()`: every option named
    like a field of `model`, then the fields the command line spells its own
    way (`--param`, `--no-register`, comma lists)."""
    return {name: options[name] for name in model.model_fields if name in options} | cli_forms


# -- options shared by the three commands ----------------------------------------
SourceOpt = option(CommonParameters, "source", "--source", "-s")
StartOpt = option(CommonParameters, "start", "--start")
EndOpt = option(CommonParameters, "end", "--end")
SplitOpt = option(CommonParameters, "split", "--split")
TestSizeOpt = option(CommonParameters, "test_size", "--test-size")
RegisterOpt = option(CommonParameters, "register_as", "--register-as")
NoRegisterOpt = typer.Option(False, "--no-register", help="Log the run only; register nothing")
MetricOpt = option(CommonParameters, "metric", "--metric")
MinImpOpt = option(CommonParameters, "min_improvement", "--min-improvement")
ConfidenceOpt = option(CommonParameters, "gate_confidence", "--gate-confidence")
FoldsOpt = option(CommonParameters, "gate_folds", "--gate-folds")
UnscorableOpt = option(CommonParameters, "gate_unscorable", "--gate-unscorable")
MismatchOpt = option(CommonParameters, "gate_allow_mismatch", "--gate-allow-mismatch")
ExperimentOpt = option(CommonParameters, "experiment", "--experiment", "-e")
RefreshOpt = option(CommonParameters, "refresh_data", "--refresh-data")
WindowOpt = option(EstimatorParameters, "window", "--window", "-w")
ModelOpt = option(EstimatorParameters, "model", "--model", "-m")
ParamOpt = typer.Option(
    [],
    "--param",
    "-p",
    help="Hyperparameter KEY=VALUE (repeatable): overrides the estimator's defaults",
)
NoPromoteOpt = typer.Option(False, "--no-promote", help="Register as challenger; skip the gate")
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Hide progress; print the summary only")


def train(
    source: str = SourceOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    window: int = WindowOpt,
    split: str = SplitOpt,
    test_size: float = TestSizeOpt,
    model: str = ModelOpt,
    param: list[str] = ParamOpt,
    register_as: str = RegisterOpt,
    no_register: bool = NoRegisterOpt,
    metric: str = MetricOpt,
    min_improvement: float = MinImpOpt,
    gate_confidence: float = ConfidenceOpt,
    gate_folds: int = FoldsOpt,
    gate_unscorable: str = UnscorableOpt,
    gate_allow_mismatch: bool = MismatchOpt,
    no_promote: bool = NoPromoteOpt,
    experiment: str = ExperimentOpt,
    refresh_data: bool = RefreshOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Run the training pipeline: acquire → validate → prepare → train →
    evaluate → log → register → promote."""
    parameters = flow_parameters(
        TrainingParameters,
        locals(),
        hyperparameters=_hyperparameters(param),
        register_as=None if no_register else register_as,
        promote=not no_promote,
    )
    checked(TrainingParameters, parameters, "train")
    _print_result(_run_flow("training", parameters, quiet), as_json)


def retrain(
    source: str = SourceOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    window: int = WindowOpt,
    split: str = SplitOpt,
    test_size: float = TestSizeOpt,
    model: str = ModelOpt,
    param: list[str] = ParamOpt,
    register_as: str = option(RetrainingParameters, "register_as", "--register-as"),
    metric: str = MetricOpt,
    min_improvement: float = MinImpOpt,
    gate_confidence: float = ConfidenceOpt,
    gate_folds: int = FoldsOpt,
    gate_unscorable: str = UnscorableOpt,
    gate_allow_mismatch: bool = MismatchOpt,
    experiment: str = ExperimentOpt,
    deploy: str = option(RetrainingParameters, "deploy", "--deploy"),
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Retrain on fresh data, gate, and deploy a new champion."""
    parameters = flow_parameters(
        RetrainingParameters, locals(), hyperparameters=_hyperparameters(param)
    )
    checked(RetrainingParameters, parameters, "retrain")
    _print_result(_run_flow("retraining", parameters, quiet), as_json)


def sweep(
    source: str = SourceOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    windows: str = comma_option(SweepParameters, "windows", "--windows"),
    models: str = comma_option(SweepParameters, "models", "--models"),
    split: str = SplitOpt,
    test_size: float = TestSizeOpt,
    register_as: str = RegisterOpt,
    no_register: bool = NoRegisterOpt,
    metric: str = MetricOpt,
    min_improvement: float = MinImpOpt,
    gate_confidence: float = ConfidenceOpt,
    gate_folds: int = FoldsOpt,
    gate_unscorable: str = UnscorableOpt,
    gate_allow_mismatch: bool = MismatchOpt,
    experiment: str = ExperimentOpt,
    refresh_data: bool = RefreshOpt,
    task_runner: str = option(SweepParameters, "task_runner", "--task-runner"),
    tracking_uri: str = TrackingUriOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Train every window × model candidate in parallel; register and gate the best."""
    parameters = flow_parameters(
        SweepParameters,
        locals(),
        windows=_comma_separated(windows, int, "--windows"),
        models=_comma_separated(models, str, "--models"),
        register_as=None if no_register else register_as,
    )
    kind_of(task_runner)  # its own message, not the pattern's
    checked(SweepParameters, parameters, "sweep")
    if tracking_uri:
        tracking.set_tracking_uri(tracking_uri)
    origin = "given by --tracking-uri" if tracking_uri else where_the_uri_came_from()
    require_reachable_store(task_runner, tracking.get_tracking_uri(), origin)
    _print_result(_run_flow("sweep", parameters, quiet), as_json)


# -- running a flow from the terminal --------------------------------------------
def _hyperparameters(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as JSON when they parse (numbers, true,
    null), else kept as strings."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            _fail(f"--param wants KEY=VALUE, got {pair!r}")
        try:
            parsed[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[key.strip()] = raw
    return parsed


def _comma_separated(text: str, kind: type, flag: str) -> list:
    try:
        return [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        _fail(f"{flag} must be {kind.__name__} values separated by commas, got {text!r}")


def _run_flow(name: str, parameters: dict[str, Any], quiet: bool):
    # Offline-friendly default: Prefect's server otherwise tries to send
    # telemetry on start and logs a failure on every run without a network.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if quiet:
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    import prefect.context
    from prefect.logging.configuration import setup_logging
    from prefect.settings import get_current_settings

    # Prefect read its settings when imported (maybe before the lines above,
    # in a warm runner): read them again from this command's environment.
    prefect.context.refresh_global_settings_context()
    if not get_current_settings().api.url:
        # Instead of a temporary server per command (about 5 s each), one local
        # server that this and later commands share.
        from mlcadence.cli import platform, platform_cmds

        notice = (lambda text: None) if quiet else _notice
        os.environ["PREFECT_API_URL"] = platform.ensure_prefect(platform_cmds.state_dir(), notice)
        prefect.context.refresh_global_settings_context()
    setup_logging()  # at this command's level (updates an earlier setup's)
    import importlib

    from prefect.exceptions import ParameterTypeError

    _keep_tracebacks_out_of_progress()
    flow = getattr(importlib.import_module(FLOWS[name]), name)
    try:
        return asyncio.run(flow(**parameters))
    except MlcadenceError:
        raise  # the CLI's one handler prints it and exits with the family's status
    except ParameterTypeError as exc:
        _fail(" ".join(line.strip(" -") for line in str(exc).splitlines()))
    except KeyboardInterrupt:
        _fail("interrupted; the tracking run was marked KILLED", code=130)
    except Exception as exc:  # anything unexpected still gets one line, not a traceback
        _fail(f"{type(exc).__name__}: {exc}")


def _notice(text: str) -> None:
    typer.secho(text, fg=typer.colors.YELLOW, err=True)


class _WithoutExpectedTracebacks(logging.Formatter):
    """Prefect logs a traceback with every failed task, and the error's text
    in each retry and state line; for our own errors, whose message says what
    to do, that only buries it. On the console the traceback is dropped and
    the message, once seen, is shortened to a pointer: the CLI prints it once,
    as its last line. The API (and UI) still get the full record: only the
    console's formatter is wrapped, and the record is restored after."""

    SHORT = "... (the error below)"

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.messages: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        self._remember_errors(record)
        if record.exc_info and isinstance(record.exc_info[1], MlcadenceError):
            saved = record.exc_info, record.exc_text
            record.exc_info, record.exc_text = None, None
            try:
                return self._shorten(self.inner.format(record))
            finally:
                record.exc_info, record.exc_text = saved
        return self._shorten(self.inner.format(record))

    def _remember_errors(self, record: logging.LogRecord) -> None:
        args = record.args.values() if isinstance(record.args, dict) else record.args or ()
        exc = record.exc_info[1] if record.exc_info else None
        for value in (exc, *args):
            if isinstance(value, MlcadenceError) and value.message:
                self.messages.add(value.message)

    def _shorten(self, text: str) -> str:
        for message in self.messages:
            # As written, and as it appears inside the exception's repr.
            for form in (message, repr(message)[1:-1]):
                text = text.replace(form, self.SHORT)
        return text


def _keep_tracebacks_out_of_progress() -> None:
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.formatter, _WithoutExpectedTracebacks
            ):
                handler.setFormatter(_WithoutExpectedTracebacks(handler.formatter))


def _fail(message: str, code: int = 1):
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _print_result(result, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    echo = typer.echo
    echo("")
    echo(f"run        {result.run_id}  (experiment {result.experiment_id})")
    ds = result.dataset
    echo(
        f"data       {ds.get('source')}  {ds.get('start')} → {ds.get('end')}  {ds.get('rows')} rows"
    )
    echo(f"model      {result.params.get('model')}  window={result.params.get('window')}")
    for key in (
        "accuracy",
        "baseline_accuracy",
        "precision_label_1",
        "recall_label_1",
        "f1score_label_1",
        "f1score_label_0",
    ):
        if key in result.metrics:
            echo(f"  {key:<18} {result.metrics[key]:.4f}")
    echo(f"model uri  {result.model_uri}")
    if result.version is not None:
        echo(f"registered {result.registered_name} version {result.version} (alias challenger)")
    if result.decision:
        echo(f"gate       {gate_sentence(result.decision, result.version)}")
    if "candidates" in result.extra:
        echo(
            f"sweep      {len(result.extra['candidates'])} candidates; parent run "
            f"{result.extra['parent_run_id']}"
        )
    sys.stdout.flush()


def gate_sentence(decision: dict[str, Any], version: int | str | None) -> str:
    """The gate's decision as one sentence for a person; the decision record
    (`--json`, the model version's tags) keeps the exact figures."""
    verdict = "PROMOTED to champion" if decision["promote"] else "not promoted"
    figures = ("metric", "challenger_score", "champion_score", "champion_version")
    if any(decision.get(key) is None for key in figures):
        reason = str(decision.get("reason", "")).rstrip(".")
        return f"{verdict}: {reason}." if reason else f"{verdict}."
    metric = decision["metric"]
    ours = f"version {version}'s" if version is not None else "the challenger's"
    theirs = f"champion version {decision['champion_version']}'s"
    scores = f"{metric} of {decision['challenger_score']:.4f}"
    champion = f"{decision['champion_score']:.4f}"
    improvement = decision["challenger_score"] - decision["champion_score"]
    minimum = decision.get("min_improvement") or 0.0
    needed = "above 0" + (f" and at least {minimum:g}" if minimum else "")
    if decision["promote"]:
        return f"{verdict}: {ours} {scores} beats {theirs} {champion} by {improvement:.4f}."
    return (
        f"{verdict}: {ours} {scores} does not beat {theirs} {champion} by enough: the gate "
        f"needs an improvement {needed}, and this one is {improvement:+.4f}."
    )
