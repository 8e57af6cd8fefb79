"""A module imported on first attribute use.

pandas takes longer to import than the rest of a scoring server together, and
a numeric model never touches it: modules on that path name it through
`LazyModule("pandas")`, which imports it the first time an attribute is read.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        module: ModuleType = importlib.import_module(self._name)  # cached after the first
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
