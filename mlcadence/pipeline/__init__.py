"""The ML steps of the lifecycle as plain functions (no Prefect).

sources → validation → features → estimators → evaluation → gate → promotion.
`tasks/` wraps each step for Prefect; everything here is importable and
testable alone. Only `promotion` touches the tracking store, through the
client its caller passes in.
"""
