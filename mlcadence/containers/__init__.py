"""Docker helpers shared by the layers that build images (projects' docker_env
runs, serving's docker deploy target): the engine connection, image building,
and wheelhouses made on the host. Imports nothing above `mlcadence.errors`,
so `serving` and `projects` can both use it without importing each other.

docker      client, image existence, building from a context
wheelhouse  host-built wheels for hermetic image builds
errors      the ContainerError family
"""
