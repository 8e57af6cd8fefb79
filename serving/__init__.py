"""The scoring server and deployments (no Prefect, no MLflow imports).

protocol      request bodies -> Payload, predictions -> JSON (MLflow protocol)
convert       Payload + signature -> the model's input (checked, coerced)
batching      adaptive micro-batching of concurrent requests
model         loading a model URI into the fastest predict callable
fastpath      verified lean predict for tree ensembles
reload        the served model and hot reload of aliases
scoring       parse -> convert -> predict -> encode, without HTTP
metrics       Prometheus metrics; openapi: the /invocations schema
app           create_app(settings) -> FastAPI; routes: handlers reading app.state
settings      read_settings(): ServingSettings from env + explicit values
server        the uvicorn process (`python -m mlcadence.serving.server`)
predict       batch scoring of files through the same path
deploy        deploy targets (table); local_target: detached local servers;
              docker_target + docker_image: model-server containers
"""
