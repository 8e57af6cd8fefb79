"""Logged-model routes (MLflow 3's `/mlflow/logged-models`)."""

from __future__ import annotations

from mlcadence.tracking.errors import NotImplementedByStore
from mlcadence.tracking.server.context import ServerContext
from mlcadence.tracking.server.request import Fields


def _todo(ctx: ServerContext, f: Fields) -> dict:
    raise NotImplementedByStore("logged models are not stored yet")


create = search = get = finalize = delete = set_tags = delete_tag = log_params = _todo
