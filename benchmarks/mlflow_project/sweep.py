"""The MLflow peer of `mlcadence sweep --no-register`, for benchmarks/sweep.py:
one process, MLflow's fluent API, the candidates one after another.

Same work as the sweep flow: the data acquired and validated once, each
window prepared once, one nested run per window × model (params, metrics,
classification report, confusion matrix), then the best candidate's model
logged (signature, input example) into its own run. The ML steps are
mlcadence's Prefect-free `mlcadence.pipeline` functions, so only the
lifecycle tooling differs.
"""

from __future__ import annotations

import argparse

import mlflow
from mlflow.models import infer_signature

from mlcadence.pipeline import estimators, evaluation, features, sources, validation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="synthetic:42")
    parser.add_argument("--windows", default="7,14,28")
    parser.add_argument("--models", default="random_forest,logistic_regression")
    parser.add_argument("--metric", default="accuracy")
    parser.add_argument("--experiment", default="stockpred-mlflow")
    args = parser.parse_args()
    windows = sorted({int(w) for w in args.windows.split(",")})
    models = args.models.split(",")

    mlflow.set_experiment(args.experiment)
    dataset = sources.load(args.source)
    validation.validate(dataset.frame, max(windows), features.DEFAULT_TEST_SIZE)
    splits = {w: features.prepare(dataset.frame, w) for w in windows}
    best = None
    with mlflow.start_run(tags={"mlcadence.sweep": "true"}):
        mlflow.log_params({"windows": args.windows, "models": args.models})
        for window in windows:
            split = splits[window]
            for model in models:
                with mlflow.start_run(run_name=f"{model}-w{window}", nested=True) as child:
                    params = estimators.resolve_hyperparameters(model)
                    mlflow.log_params({"model": model, "window": window, **split.sizes, **params})
                    fitted = estimators.fit(model, None, split.X_train, split.y_train)
                    scored = evaluation.evaluate(fitted, split.X_test, split.y_test, split.y_train)
                    mlflow.log_metrics(scored.metrics)
                    mlflow.log_text(scored.report, "evaluation/classification_report.txt")
                    mlflow.log_dict(scored.confusion_dict(), "evaluation/confusion_matrix.json")
                score = scored.metrics[args.metric]
                if best is None or score > best[0]:
                    best = (score, child.info.run_id, fitted, split)
        score, run_id, fitted, split = best
        mlflow.log_metric(f"best_{args.metric}", score)
    with mlflow.start_run(run_id=run_id):
        example = split.X_test.head(5)
        mlflow.sklearn.log_model(
            fitted,
            name="model",
            signature=infer_signature(example, fitted.predict(example)),
            input_example=example,
            serialization_format="cloudpickle",  # as mlcadence's default
        )
    print(f"best run {run_id} {args.metric}={score:.4f}")


if __name__ == "__main__":
    main()
