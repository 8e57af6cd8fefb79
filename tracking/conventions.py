"""Conventions shared by the Client and every backend, declared once.

Plain constants and tiny pure functions only; this module imports nothing
of ours, so any tracking module may use it.
"""

from __future__ import annotations

# Which runs or experiments a listing returns, by lifecycle stage.
VIEW_ACTIVE = "active"
VIEW_DELETED = "deleted"
VIEW_ALL = "all"
VIEWS = (VIEW_ACTIVE, VIEW_DELETED, VIEW_ALL)
