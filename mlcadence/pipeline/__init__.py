"""The ML steps of the lifecycle as plain functions (no Prefect, no tracking).

sources → validation → features → estimators → evaluation → gate. `tasks/`
wraps each step for Prefect; everything here is importable and testable alone.
"""
