"""Tracking + registry in one minute.

    python examples/quickstart.py                 # logs into ./mlruns
    MLCADENCE_TRACKING_URI=sqlite:///mlc.db python examples/quickstart.py

Trains a small classifier, logs params, metrics (per step) and an artifact,
logs the model in MLflow's MLmodel format, registers it, points the
`champion` alias at the new version, loads it back through
`models:/quickstart-iris@champion` and prints a summary.
"""

from __future__ import annotations

import mlcadence
from mlcadence.tracking.models import load_model, log_model

EXPERIMENT = "quickstart"
MODEL_NAME = "quickstart-iris"


def main() -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = load_iris(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0
    )
    params = {"C": 1.0, "max_iter": 200}

    mlcadence.set_experiment(EXPERIMENT)
    with mlcadence.start_run(run_name="logreg") as run:
        mlcadence.log_params(params)
        model = LogisticRegression(**params).fit(X_train, y_train)
        # A per-step curve: accuracy on growing slices of the test set.
        for step, n in enumerate(range(10, len(X_test) + 1, 10)):
            mlcadence.log_metric("acc_prefix", model.score(X_test[:n], y_test[:n]), step=step)
        accuracy = model.score(X_test, y_test)
        mlcadence.log_metric("accuracy", accuracy)
        mlcadence.log_dict({"features": list(X_train.columns)}, "features.json")
        info = log_model(
            model, "model", input_example=X_train[:3], registered_model_name=MODEL_NAME
        )

    client = mlcadence.Client()
    client.set_registered_model_alias(MODEL_NAME, "champion", info.registered_version)
    champion = load_model(f"models:/{MODEL_NAME}@champion")
    predictions = champion.predict(X_test[:5])

    stored = client.get_run(run.info.run_id)
    print(f"tracking URI   {mlcadence.get_tracking_uri()}")
    print(f"run            {stored.info.run_id} ({stored.info.run_name}) {stored.info.status.name}")
    print(f"params         {stored.data.params}")
    steps = len(client.get_metric_history(run.info.run_id, "acc_prefix"))
    print(
        f"metrics        accuracy={stored.data.metrics['accuracy']:.3f}, {steps} acc_prefix steps"
    )
    print(f"artifacts      {[f.path for f in client.list_artifacts(run.info.run_id)]}")
    print(f"registered     {MODEL_NAME} v{info.registered_version} (@champion)")
    print(f"champion says  {[int(p) for p in predictions]} for the first 5 test rows")


if __name__ == "__main__":
    main()
