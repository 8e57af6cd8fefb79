"""The scoring server and deployments (no Prefect, no MLflow imports).

protocol   request bodies -> Payload, predictions -> JSON (MLflow protocol)
schema     the model signature, read from MLmodel
convert    Payload + signature -> the model's input (checked, coerced)
batching   adaptive micro-batching of concurrent requests
model      loading a model URI into the fastest predict callable
fastpath   verified lean predict for tree ensembles
reload     the served model and hot reload of aliases
metrics    Prometheus metrics; openapi: the /invocations schema
app        create_app(model_uri) -> FastAPI; server: uvicorn process
predict    batch scoring of files through the same path
deploy     deploy targets (table), local_target: detached local servers
"""
