"""Serve the same deployments as prefect.yaml without a work pool or worker:

    export PREFECT_API_URL=http://127.0.0.1:4200/api
    python -m mlcadence.flows.serve

This process registers the deployments (`training/train`, `retraining/retrain`
on its daily schedule, `sweep/sweep`, `deploy/deploy` on the promotion event),
then runs their flow runs as its own subprocesses until stopped (Ctrl-C
pauses the schedules). Restart it to pick up code changes.
"""

from __future__ import annotations

PROMOTED_EVENT = "mlcadence.model.promoted"
RETRAIN_CRON = "0 6 * * *"
DEFAULTS = {"source": "synthetic:42", "register_as": "stockpred"}


def deployments() -> list:
    from prefect.events import DeploymentEventTrigger

    from mlcadence.flows.retraining import retraining
    from mlcadence.flows.sweep import sweep
    from mlcadence.flows.training import training

    served = [
        training.to_deployment(name="train", parameters=DEFAULTS, tags=["mlcadence", "training"]),
        retraining.to_deployment(
            name="retrain",
            cron=RETRAIN_CRON,
            parameters={**DEFAULTS, "refresh_data": True, "deploy": "event"},
            tags=["mlcadence", "retraining"],
        ),
        sweep.to_deployment(
            name="sweep", parameters={"source": "synthetic:42"}, tags=["mlcadence"]
        ),
    ]
    try:
        from mlcadence.flows.deployment import deploy
    except ImportError:  # the serving stack is optional for training-only setups
        return served
    served.append(
        deploy.to_deployment(
            name="deploy",
            tags=["mlcadence", "deployment"],
            triggers=[
                DeploymentEventTrigger(
                    expect={PROMOTED_EVENT},
                    match={"prefect.resource.id": "mlcadence.model.*"},
                    parameters={
                        "model_uri": "{{ event.payload.model_uri }}",
                        "model_name": "{{ event.payload.name }}",
                        "version": "{{ event.payload.version }}",
                    },
                )
            ],
        )
    )
    return served


def main() -> None:
    from prefect import serve

    serve(*deployments(), limit=4)


if __name__ == "__main__":
    main()
