"""`save_model` and `log_model`.

A model is assembled in a temporary directory and renamed into place as the
last step, so a save that crashes part-way leaves nothing at `path` that
reads as a model. The temporary directory is a hidden sibling of `path`, or,
for `log_model`, sits in the run's directory next to its artifact root:
MLflow lists every name inside the artifact root, hidden ones included, so
an abandoned save there would show up as an artifact. The manifest of file digests is written just before
the rename, after every other file.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mlcadence.tracking.errors import AlreadyExists, InvalidInput, InvalidState
from mlcadence.tracking.models import forest_table, integrity
from mlcadence.tracking.models.environment import (
    installed_version,
    resolve_requirements,
    write_environment,
)
from mlcadence.tracking.models.example import make_example
from mlcadence.tracking.models.mlmodel import build_mlmodel, write_mlmodel
from mlcadence.tracking.models.serialization import DEFAULT_FORMAT, get_format
from mlcadence.tracking.models.signature import (
    Signature,
    enforce,
    infer_schema,
    output_for_inference,
)

_log = logging.getLogger(__name__)

# Temporary names carry the artifact store's prefix, so our artifact listings
# skip a save in progress (and `store check` finds an abandoned one).
TMP_PREFIX = ".mlc-tmp-"
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"


@dataclass
class ModelInfo:
    model_uri: str
    run_id: str | None
    artifact_path: str
    registered_version: int | None = None
    model_uuid: str | None = None
    utc_time_created: str | None = None
    signature: Signature | None = None
    flavors: dict = field(default_factory=dict)
    local_path: Path | None = None


def _as_signature(signature) -> Signature | None:
    if signature is None or isinstance(signature, Signature):
        return signature
    if isinstance(signature, dict):
        return Signature.from_dict(signature)
    if hasattr(signature, "to_dict"):  # an mlflow.models.ModelSignature
        return Signature.from_dict(signature.to_dict())
    raise InvalidInput(
        f"signature must be a tracking.models Signature, a dict like MLmodel's, or an MLflow "
        f"ModelSignature; got {type(signature).__name__}."
    )


def _signature_from_example(sk_model, example, predict_fn: str) -> Signature | None:
    """Inputs from the example, outputs from the model's prediction on it,
    as MLflow does at save time. A failure only costs the signature."""
    try:
        inputs = infer_schema(example.data)
        prediction = getattr(sk_model, predict_fn)(enforce(example.data, inputs))
        outputs = infer_schema(output_for_inference(inputs, prediction))
        return Signature(inputs=inputs, outputs=outputs)
    except Exception as e:  # noqa: BLE001 - any failure here must not block the save
        warnings.warn(
            f"Could not infer a signature from the input example ({e!r}); the model is saved "
            "without one. Pass signature=infer_signature(X, y) to set it explicitly.",
            stacklevel=3,
        )
        return None


def _dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _check_target(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AlreadyExists(
            f"Path '{path}' already exists and is not empty. Save the model to a new path, or "
            "delete the existing one first."
        )


def _write_forest_table(sk_model, predict_fn: str, directory: Path) -> None:
    """A tree ensemble's flat table beside it, when one gives exactly the
    estimator's answers: a server then answers before importing scikit-learn.
    MLflow ignores the file; the manifest covers it like every other."""
    width = getattr(sk_model, "n_features_in_", None)
    if not isinstance(width, int):
        return
    table = forest_table.compile_verified(sk_model, predict_fn, forest_table.probe_inputs(width))
    if table is not None:
        (directory / forest_table.FILE).write_bytes(table.to_bytes())


def save_model(
    sk_model,
    path,
    input_example=None,
    signature=None,
    serialization_format: str = DEFAULT_FORMAT,
    pip_requirements=None,
    metadata: dict | None = None,
    *,
    extra_pip_requirements=None,
    predict_fn: str = "predict",
    skops_trusted_types: list[str] | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    staging_dir=None,
) -> dict:
    """Write `sk_model` to directory `path` in MLflow's MLmodel format.
    Returns the MLmodel document. The model is built in a temporary directory
    in `staging_dir` (default: next to `path`; same file system as `path`)."""
    fmt = get_format(serialization_format)
    if not callable(getattr(sk_model, predict_fn, None)):
        raise InvalidInput(
            f"The model ({type(sk_model).__name__}) has no '{predict_fn}' method. Pass a fitted "
            "scikit-learn estimator, or predict_fn= naming a method it has."
        )
    path = Path(path).expanduser().absolute()
    _check_target(path)
    example = make_example(input_example) if input_example is not None else None
    sig = _as_signature(signature)
    if sig is None and example is not None:
        sig = _signature_from_example(sk_model, example, predict_fn)
    requirements = resolve_requirements(fmt.distribution, pip_requirements, extra_pip_requirements)

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(staging_dir) if staging_dir is not None else path.parent
    staging.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{path.name}-", dir=staging))
    try:
        fmt.dump(sk_model, tmp / fmt.filename, skops_trusted_types)
        _write_forest_table(sk_model, predict_fn, tmp)
        if example is not None:
            example.save(tmp)
        write_environment(tmp, requirements)
        doc = build_mlmodel(
            model_file=fmt.filename,
            serialization_format=fmt.name,
            sklearn_version=installed_version("scikit-learn") or "unknown",
            predict_fn=predict_fn,
            signature=sig,
            example_info=example.info if example is not None else None,
            metadata=metadata,
            run_id=run_id,
            artifact_path=artifact_path,
            skops_trusted_types=skops_trusted_types,
        )
        doc["model_size_bytes"] = _dir_size(tmp)
        write_mlmodel(tmp, doc)
        integrity.write_manifest(tmp)
        _publish(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return doc


def _publish(tmp: Path, path: Path) -> None:
    """Rename the finished directory into place. rename() replaces only an
    empty directory, so a concurrent save to the same path loses cleanly."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        if e.errno == errno.EXDEV:
            # The staging dir sits on another file system than the target (a
            # container whose artifact dir is its own bind mount): copy the
            # finished model next to the target, then rename it from there.
            near = path.parent / f"{TMP_PREFIX}{path.name}-{uuid.uuid4().hex}"
            shutil.copytree(tmp, near)
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                _publish(near, path)
            except BaseException:
                shutil.rmtree(near, ignore_errors=True)
                raise
            return
        raise AlreadyExists(
            f"Could not move the model into '{path}' ({e.strerror}): another save wrote there "
            "first. Save to a new path."
        ) from None


def _active_run_id() -> str | None:
    from mlcadence import tracking

    active = getattr(tracking, "active_run", None)
    run = active() if active is not None else None
    return run.info.run_id if run is not None else None


def _append_history(client, run_id: str, doc: dict, artifact_path: str) -> None:
    """MLflow's UI lists a run's models from this tag."""
    try:
        run = client.get_run(run_id)
        history = json.loads(run.data.tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
        history.append(
            {
                "run_id": run_id,
                "artifact_path": artifact_path,
                "utc_time_created": doc["utc_time_created"],
                "model_uuid": doc["model_uuid"],
                "flavors": doc["flavors"],
            }
        )
        client.set_tag(run_id, LOG_MODEL_HISTORY_TAG, json.dumps(history))
    except Exception as e:  # noqa: BLE001 - the model is saved; the tag is a convenience
        _log.warning("Could not record %s on run %s: %r", LOG_MODEL_HISTORY_TAG, run_id, e)


def _log_to_server(client, sk_model, run_id: str, artifact_path: str, options: dict) -> dict:
    """Save into a local temporary directory, then upload it among the run's
    artifacts on the tracking server (which keeps each file atomically)."""
    if client.list_artifacts(run_id, artifact_path):
        raise AlreadyExists(
            f"Run {run_id} already has artifacts at '{artifact_path}'. Log the model under "
            "another artifact_path."
        )
    with tempfile.TemporaryDirectory(prefix="mlc-log-model-") as tmp:
        local = Path(tmp) / "model"
        doc = save_model(sk_model, local, artifact_path=artifact_path, **options)
        client.log_artifacts(run_id, local, artifact_path)
    return doc


def log_model(
    sk_model,
    artifact_path: str = "model",
    input_example=None,
    signature=None,
    registered_model_name: str | None = None,
    *,
    run_id: str | None = None,
    client=None,
    **save_kwargs,
) -> ModelInfo:
    """Save `sk_model` under the run's artifacts at `artifact_path` (the
    active run, or `run_id`), optionally registering it."""
    from mlcadence.tracking.registry import register_model
    from mlcadence.tracking.uris import _client

    client = _client(client)
    run_id = run_id or _active_run_id()
    if run_id is None:
        raise InvalidState(
            "log_model needs a run: call it inside `with tracking.start_run():`, or pass "
            "run_id=... of an existing run."
        )
    options = dict(input_example=input_example, signature=signature, run_id=run_id, **save_kwargs)
    if client.artifacts_are_local(run_id):
        target = client.artifact_path(run_id, artifact_path)  # refuses paths leaving the run
        staging = client.artifact_path(run_id).parent  # outside what MLflow lists
        doc = save_model(
            sk_model, target, artifact_path=artifact_path, staging_dir=staging, **options
        )
    else:
        target = None
        doc = _log_to_server(client, sk_model, run_id, artifact_path, options)
    _append_history(client, run_id, doc, artifact_path)
    model_uri = f"runs:/{run_id}/{artifact_path}"
    version = None
    if registered_model_name is not None:
        version = register_model(model_uri, registered_model_name, client=client).version
    return ModelInfo(
        model_uri=model_uri,
        run_id=run_id,
        artifact_path=artifact_path,
        registered_version=version,
        model_uuid=doc["model_uuid"],
        utc_time_created=doc["utc_time_created"],
        signature=_as_signature(doc.get("signature")),
        flavors=doc["flavors"],
        local_path=target,
    )
