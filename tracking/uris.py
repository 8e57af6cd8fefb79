"""Model URIs -> a local model directory (and the registry version, if any).

Accepted forms, as in MLflow:
  runs:/<run_id>/<path>           a run's artifact directory
  models:/<name>/<version>        a registered version (digits)
  models:/<name>/latest           the highest live version, any stage
  models:/<name>/<stage>          the highest version in a stage (case-insensitive)
  models:/<name>@<alias>          the version an alias points at
  ... each models:/ form may end in a sub-path: models:/<name>/1/sub/dir
  /abs/path, rel/path, file:///abs/path

A version's `source` is itself a URI (usually `runs:/...`) and is resolved in
turn. Schemes map to resolvers through a table, not an if-chain.
"""

from __future__ import annotations

import atexit
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import yaml

from mlcadence.tracking.conventions import uri_scheme
from mlcadence.tracking.entities import ModelVersion
from mlcadence.tracking.errors import InvalidInput, NotFound
from mlcadence.tracking.validation import canonical_stage, validate_run_id

MODELS_URI_HELP = (
    "Models URIs must be of the form 'models:/name/suffix' or 'models:/name@alias' where "
    "suffix is a version, stage, or the string 'latest' and where alias is a registered model "
    "alias. Only one of suffix or alias can be defined at a time."
)
RUNS_URI_HELP = "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'."

# MLflow 3 `log_model` ids; a version it registers has source models:/<id>.
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")

# A version whose source points at another models:/ URI is followed this far.
_MAX_SOURCE_HOPS = 8


@dataclass(frozen=True)
class ServerModelFiles:
    """A model directory under an artifact location on a tracking server (a
    run's, or an MLflow 3 logged model's). It is copied to a new local
    temporary directory (removed at exit) when first used, and whoever loads
    it verifies the copy's bytes as for any local model: what the server
    holds now is what gets checked."""

    tracking_uri: str
    artifact_uri: str
    path: str = ""

    def __truediv__(self, subpath: str) -> ServerModelFiles:
        return replace(self, path=posixpath.join(self.path, subpath) if self.path else subpath)

    def download(self) -> Path:
        from mlcadence.tracking.artifacts import download_artifacts

        target = Path(tempfile.mkdtemp(prefix="mlc-server-model-"))
        atexit.register(shutil.rmtree, target, True)
        return download_artifacts(
            self.artifact_uri, self.path, target, tracking_uri=self.tracking_uri
        )


@dataclass(frozen=True)
class ResolvedModel:
    """`location` is a local directory, or model files on a tracking server;
    `local_path` is always local (a server's files are copied on first use)."""

    location: Path | ServerModelFiles
    name: str | None = None
    version: int | None = None
    model_version: ModelVersion | None = None
    run_id: str | None = None

    @cached_property
    def local_path(self) -> Path:
        if isinstance(self.location, ServerModelFiles):
            return self.location.download()
        return self.location


@dataclass(frozen=True)
class ModelsUri:
    """A parsed models:/ URI: exactly one of version, stage, latest, alias."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False
    subpath: str = ""
    model_id: str | None = None  # MLflow 3 LoggedModel id (models:/m-<hex>)


@dataclass(frozen=True)
class RunsUri:
    run_id: str
    path: str = ""


def _clean_subpath(subpath: str, uri: str) -> str:
    if not subpath:
        return ""
    norm = posixpath.normpath(subpath)
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../") or norm.startswith("/"):
        raise InvalidInput(
            f"The path in '{uri}' leaves the model or run directory. Use a path inside it, "
            "without '..'."
        )
    return norm


def parse_models_uri(uri: str) -> ModelsUri:
    parsed = urlparse(uri)
    bad = InvalidInput(f"Not a proper models:/ URI: {uri}. {MODELS_URI_HELP}")
    if parsed.scheme != "models" or parsed.netloc or parsed.query or parsed.fragment:
        raise bad
    path = parsed.path.lstrip("/")
    if not path:
        raise bad
    first, _, rest = path.partition("/")
    if "@" in first:
        name, _, alias = first.rpartition("@")
        if not name or not alias:
            raise bad
        return ModelsUri(name=name, alias=alias, subpath=_clean_subpath(rest, uri))
    suffix, _, sub = rest.partition("/")
    if first and not rest and _LOGGED_MODEL_ID.match(first):
        return ModelsUri(name="", model_id=first)
    if not first or not suffix:
        raise bad
    subpath = _clean_subpath(sub, uri)
    if suffix.isdigit():
        return ModelsUri(name=first, version=int(suffix), subpath=subpath)
    if suffix.lower() == "latest":
        return ModelsUri(name=first, latest=True, subpath=subpath)
    try:
        return ModelsUri(name=first, stage=canonical_stage(suffix), subpath=subpath)
    except InvalidInput:
        raise InvalidInput(
            f"Not a proper models:/ URI: {uri}. '{suffix}' is not a version number, a stage "
            f"(None, Staging, Production, Archived) or 'latest'. {MODELS_URI_HELP}"
        ) from None


def parse_runs_uri(uri: str) -> RunsUri:
    parsed = urlparse(uri)
    if parsed.scheme != "runs" or parsed.netloc or parsed.query or parsed.fragment:
        raise InvalidInput(f"Not a proper runs:/ URI: {uri}. {RUNS_URI_HELP}")
    run_id, _, path = parsed.path.lstrip("/").partition("/")
    if not run_id:
        raise InvalidInput(f"Not a proper runs:/ URI: {uri}. {RUNS_URI_HELP}")
    try:
        validate_run_id(run_id)
    except InvalidInput as e:
        raise InvalidInput(
            f"Not a proper runs:/ URI: {uri} ({e.message}). {RUNS_URI_HELP}"
        ) from None
    return RunsUri(run_id=run_id, path=_clean_subpath(path, uri))


def _client(client):
    """A tracking.Client for `client` (None -> the current tracking URI)."""
    from mlcadence.tracking.client import Client

    if client is None:
        return Client()
    if isinstance(client, str):
        return Client(client)
    return client


def _version_for(client, ref: ModelsUri, uri: str) -> ModelVersion:
    if ref.version is not None:
        return client.get_model_version(ref.name, ref.version)
    if ref.alias is not None:
        return client.get_model_version_by_alias(ref.name, ref.alias)
    versions = client.registry_store.search_model_versions(ref.name)
    if ref.stage is not None:
        versions = [v for v in versions if v.current_stage == ref.stage]
    if not versions:
        client.get_registered_model(ref.name)  # NotFound when the model itself is missing
        which = f"stage '{ref.stage}'" if ref.stage is not None else "any stage"
        raise NotFound(
            f"No versions of model with name '{ref.name}' and {which} found (URI '{uri}'). "
            "Register a version or transition one into that stage first."
        )
    return max(versions, key=lambda v: v.version)


def _logged_model_dir(client, model_id: str, uri: str) -> Path | ServerModelFiles:
    """Artifacts of an MLflow 3 LoggedModel: on a tracking server, where it
    says they are; in a file store, <root>/<experiment>/models/<model_id>/
    meta.yaml names their location."""
    from mlcadence.tracking.artifacts import artifact_root, is_local
    from mlcadence.tracking.tracking_uri import is_file_store_uri

    tracking_uri = getattr(client, "tracking_uri", "")
    get_logged_model = getattr(getattr(client, "backend", None), "get_logged_model", None)
    if uri_scheme(tracking_uri) in ("http", "https") and get_logged_model is not None:
        location = get_logged_model(model_id).artifact_location
        if is_local(location):
            return artifact_root(location)
        return ServerModelFiles(tracking_uri, location)
    if not is_file_store_uri(tracking_uri):
        raise InvalidInput(
            f"'{uri}' names an MLflow 3 logged model, which can only be found in an MLflow file "
            "store. Register the model from a runs:/ URI or a path instead."
        )
    root = artifact_root(tracking_uri)
    for meta in sorted(root.glob(f"*/models/{model_id}/meta.yaml")):
        location = (yaml.safe_load(meta.read_text()) or {}).get("artifact_location")
        if location:
            return artifact_root(location)
    raise NotFound(f"Logged model '{model_id}' (from '{uri}') not found under '{root}'.")


def _resolve_models(uri: str, client, hops: int) -> ResolvedModel:
    ref = parse_models_uri(uri)
    client = _client(client)
    if ref.model_id is not None:
        return ResolvedModel(_logged_model_dir(client, ref.model_id, uri))
    mv = _version_for(client, ref, uri)
    if hops >= _MAX_SOURCE_HOPS:
        raise InvalidInput(
            f"Model version {mv.name}/{mv.version} has source '{mv.source}', which leads through "
            f"more than {_MAX_SOURCE_HOPS} models:/ URIs (a cycle?). Re-register it from a "
            "runs:/ URI or a path."
        )
    inner = _resolve(mv.source, client, hops + 1)
    path = inner.location / ref.subpath if ref.subpath else inner.location
    return ResolvedModel(path, mv.name, mv.version, mv, mv.run_id or inner.run_id)


def _resolve_runs(uri: str, client, hops: int) -> ResolvedModel:
    ref = parse_runs_uri(uri)
    client = _client(client)
    if not client.artifacts_are_local(ref.run_id):
        files = ServerModelFiles(
            client.tracking_uri, client.artifact_location(ref.run_id), ref.path
        )
        return ResolvedModel(files, run_id=ref.run_id)
    # artifact_path() refuses paths that leave the run's artifact directory.
    return ResolvedModel(client.artifact_path(ref.run_id, ref.path), run_id=ref.run_id)


def _resolve_file(uri: str, client, hops: int) -> ResolvedModel:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        raise InvalidInput(
            f"'{uri}' names a remote host; only local file:// URIs are supported. Copy the "
            "model locally and pass its path."
        )
    return ResolvedModel(Path(url2pathname(unquote(parsed.path))))


def _resolve_path(uri: str, client, hops: int) -> ResolvedModel:
    return ResolvedModel(Path(uri).expanduser().absolute())


RESOLVERS: dict[str, Callable[[str, object, int], ResolvedModel]] = {
    "runs": _resolve_runs,
    "models": _resolve_models,
    "file": _resolve_file,
    "": _resolve_path,
}


def _resolve(uri: str, client, hops: int) -> ResolvedModel:
    uri = str(uri)
    scheme = uri_scheme(uri)
    resolver = RESOLVERS.get(scheme)
    if resolver is None:
        raise InvalidInput(
            f"Cannot resolve model URI '{uri}': scheme '{scheme}' is not supported. Use "
            "runs:/<run_id>/<path>, models:/<name>/<version|stage|latest>, "
            "models:/<name>@<alias>, a file:// URI or a local path."
        )
    return resolver(uri, client, hops)


def resolve_model_uri(uri, client=None) -> ResolvedModel:
    """The local directory `uri` names. `client` is a tracking.Client, a
    tracking URI, or None for the current tracking URI."""
    if not uri:
        raise InvalidInput("Missing model URI: give runs:/..., models:/... or a path.")
    return _resolve(str(uri), client, 0)
