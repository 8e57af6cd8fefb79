"""Which tracking stores a container can log to.

A container started by a Docker worker sees none of the host's files: a file
store or a sqlite file there would be a fresh, empty store inside the
container that vanishes with it. Only a store reached over the network (our
tracking server, PostgreSQL) works, and it must be refused before anything
runs, not discovered missing afterwards.
"""

from __future__ import annotations

from mlcadence.containers.errors import ContainerError
from mlcadence.tracking.conventions import uri_scheme

# Schemes of stores that live in the host's files, with what to call them.
HOST_FILE_STORES = {"": "a file store", "file": "a file store", "sqlite": "a sqlite file"}


class StoreNotReachable(ContainerError):
    """A tracking URI names a store that a container cannot see."""

    error_code = "INVALID_PARAMETER_VALUE"


def require_network_store(uri: str, where: str = "flow runs in Docker containers") -> str:
    """`uri` unchanged when a container can reach it; else a StoreNotReachable
    that names MLCADENCE_TRACKING_URI and says what to use instead."""
    kind = HOST_FILE_STORES.get(uri_scheme(uri))
    if kind is not None:
        raise StoreNotReachable(
            f"MLCADENCE_TRACKING_URI={uri} is {kind} on this machine, which {where} cannot "
            "see. Start a tracking server over it (`mlcadence server --backend-store-uri "
            f"{uri}`, or `mlcadence up`) and set MLCADENCE_TRACKING_URI=http://HOST:PORT to "
            "that server (or to a postgresql:// database)."
        )
    return uri
