"""stockpred with MLflow: acquire → validate → prepare → train → evaluate →
log → register (alias challenger) → gate (alias champion).

The ML steps are mlcadence's Prefect-free `mlcadence.pipeline` functions, so
the benchmark compares the lifecycle tooling (MLflow vs mlcadence on Prefect),
not two implementations of the model.
"""

from __future__ import annotations

import argparse

import mlflow
from mlflow import MlflowClient
from mlflow.models import infer_signature

from mlcadence.pipeline import estimators, evaluation, features, gate, sources, validation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--window", type=int, default=14)
    parser.add_argument("--register-as", default="stockpred")
    parser.add_argument("--metric", default="accuracy")
    args = parser.parse_args()

    dataset = sources.load(f"synthetic:{args.seed}")
    validation.validate(dataset.frame, args.window, features.DEFAULT_TEST_SIZE)
    split = features.prepare(dataset.frame, args.window)
    params = estimators.resolve_hyperparameters("random_forest")
    with mlflow.start_run() as run:
        mlflow.log_params({f"data_{k}": v for k, v in dataset.describe().items()})
        mlflow.set_tag("mlcadence.dataset.digest", dataset.digest)
        model = estimators.fit("random_forest", None, split.X_train, split.y_train)
        scored = evaluation.evaluate(model, split.X_test, split.y_test, split.y_train)
        mlflow.log_params({"model": "random_forest", "window": args.window, **params})
        mlflow.log_metrics(scored.metrics)
        mlflow.log_text(scored.report, "evaluation/classification_report.txt")
        mlflow.log_dict(scored.confusion_dict(), "evaluation/confusion_matrix.json")
        example = split.X_test.head(5)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            serialization_format="cloudpickle",  # as mlcadence's default
        )
        model_uri = f"runs:/{run.info.run_id}/model"

    client = MlflowClient()
    version = int(mlflow.register_model(model_uri, args.register_as).version)
    client.set_registered_model_alias(args.register_as, "challenger", version)
    champion_version = client.get_registered_model(args.register_as).aliases.get("champion")
    champion_score = None
    if champion_version is not None:
        champion = client.get_model_version(args.register_as, champion_version)
        champion_score = client.get_run(champion.run_id).data.metrics.get(args.metric)
    decision = gate.decide(
        args.metric,
        scored.metrics[args.metric],
        champion_score,
        int(champion_version) if champion_version is not None else None,
    )
    client.set_model_version_tag(
        args.register_as, version, "mlcadence.gate.decision", decision.outcome
    )
    if decision.promote:
        client.set_registered_model_alias(args.register_as, "champion", version)
    print(f"run {run.info.run_id} version {version} {decision.outcome}: {decision.reason}")


if __name__ == "__main__":
    main()
