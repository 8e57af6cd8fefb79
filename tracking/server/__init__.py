"""The tracking server: MLflow's REST API over any of our backends.

`create_app(backend_uri, artifacts_destination, auth)` gives the FastAPI app;
`main.serve(settings)` runs it under uvicorn (`mlcadence server`). It lives in the tracking layer: it imports
settings, errors and tracking only (and never needs the `mlflow` package).
"""

from mlcadence.tracking.server.app import create_app
from mlcadence.tracking.server.auth import TokenAuth, load_auth

__all__ = ["TokenAuth", "create_app", "load_auth"]
