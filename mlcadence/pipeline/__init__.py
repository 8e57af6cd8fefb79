"""The ML steps of the lifecycle as plain functions (no Prefect).

sources → validation → features → estimators → evaluation → gate → promotion.
`tasks/` wraps each step for Prefect; everything here is importable and
testable alone. Only `promotion` touches the tracking store, through the
client its caller passes in.

numpy, pandas and scikit-learn are imported inside the functions that use
them: the parameter vocabulary (estimator and metric names, defaults, the
source pattern) is read by every `mlcadence` command at start-up, which
should not cost a pandas import.
"""
