"""The package version, in a module of its own so the bottom layer can read it
without importing the rest of mlcadence."""

__version__ = "0.1.0"
