"""mlcadence: the ML lifecycle as Prefect flows, in MLflow's formats."""

__version__ = "0.1.0"
