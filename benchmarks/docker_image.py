"""Model-server image: ours vs `mlflow models generate-dockerfile`, same model, same base.

    python benchmarks/docker_image.py [--base local/python-base:3.11] [--keep]

Registers one scikit-learn model (v1) and a retrained one (v2) in a temporary
store, then for each side measures:
  cold  wheels prepared from an empty wheelhouse folder + `docker build` with no
        layer cache (the base image is present for both)
  warm  build of v2 right after v1 (caches warm): what a new model version costs
and prints image sizes, times and ratios.

What was changed in MLflow's generated Dockerfile, and why (nothing else is):
  1. FROM python:3.11.7-slim -> FROM <base>: no registry is reachable here.
  2. After FROM: `RUN python3 -m venv /opt/venv` and `ENV PATH=/opt/venv/bin:$PATH`:
     the Debian base has `python3` but no `python`/`pip` on PATH (python:slim has
     both in /usr/local/bin); PEP 668 forbids pip into Debian's system Python.
  3. `COPY wheels/ /tmp/wheels/` and `ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheels`
     before `pip install mlflow==3.17.2`: containers here cannot use pip over
     HTTPS, so MLflow gets the same host-built wheelhouse trick (mlflow,
     gunicorn[gevent] and the model's requirements and python_env build
     dependencies, which `_install_pyfunc_deps` installs). That COPY layer's
     size (from `docker history`) is subtracted from MLflow's image size.
apt-get (nginx) runs unchanged over HTTP against the Debian mirror in the base.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Run as a script, this folder comes first on sys.path, and a sibling benchmark
# named like a package (benchmarks/tracking.py) would shadow it.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]


def train_and_register(store: str, name: str, seed: int) -> str:
    from sklearn.ensemble import RandomForestClassifier

    from mlcadence import tracking
    from mlcadence.tracking.models import log_model

    tracking.set_tracking_uri(store)
    rng = np.random.RandomState(seed)
    X = rng.rand(200, 8)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    with tracking.start_run():
        info = log_model(
            RandomForestClassifier(n_estimators=20, random_state=seed).fit(X, y),
            "model",
            input_example=X[:3],
            registered_model_name=name,
        )
    return f"models:/{name}/{info.registered_version}"


def image_size(client, tag: str) -> int:
    return int(client.images.get(tag).attrs["Size"])


def mb(n: int) -> str:
    return f"{n / 1e6:7.1f} MB"


# ---------------------------------------------------------------- ours


def build_ours(model_uri: str, store: str, base: str, cache: Path, nocache: bool):
    from mlcadence.serving import docker_image
    from mlcadence.tracking import Client
    from mlcadence.tracking.uris import resolve_model_uri

    resolved = resolve_model_uri(model_uri, Client(store))
    t0 = time.perf_counter()
    image = docker_image.build_server_image(
        Path(resolved.local_path), resolved.name, resolved.version, base, cache, nocache=nocache
    )
    return image, time.perf_counter() - t0


# ---------------------------------------------------------------- MLflow


def mlflow_wheelhouse(model_dir: Path, dest: Path) -> float:
    """Wheels for `pip install mlflow`, and for `_install_pyfunc_deps`, which
    installs the model's python_env.yaml build_dependencies (pip, setuptools,
    wheel pins) and then its requirements.txt."""
    import yaml

    env = yaml.safe_load((model_dir / "python_env.yaml").read_text()) or {}
    t0 = time.perf_counter()
    groups = [
        ["mlflow==3.17.2", "gunicorn[gevent]", "-r", str(model_dir / "requirements.txt")],
        list(env.get("build_dependencies") or []),
        # The pip that build_dependencies pins (23.2.1) finds no usable candidate
        # among the newest gevent wheels; an older gevent that gunicorn accepts
        # lets `pip install gunicorn[gevent]` complete.
        ["gevent>=24.10.1,<25"],
    ]
    for group in groups:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--prefer-binary",
                "--wheel-dir",
                str(dest),
                *group,
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - t0


def mlflow_context(model_dir: Path, out: Path, base: str, wheels: Path) -> None:
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true")
    subprocess.run(
        ["mlflow", "models", "generate-dockerfile", "-m", str(model_dir), "-d", str(out)],
        check=True,
        env=env,
        capture_output=True,
    )
    dockerfile = out / "Dockerfile"
    text = dockerfile.read_text()
    text, n = re.subn(
        r"^FROM python:[^\n]+$",
        f"FROM {base}\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH",
        text,
        flags=re.M,
    )
    assert n == 1, "MLflow's Dockerfile changed: no FROM python:... line"
    text, n = re.subn(
        r"^RUN pip install mlflow",
        "COPY wheels/ /tmp/wheels/\nENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheels\n"
        "RUN pip install mlflow",
        text,
        flags=re.M,
    )
    assert n == 1, "MLflow's Dockerfile changed: no `RUN pip install mlflow` line"
    dockerfile.write_text(text)
    shutil.copytree(wheels, out / "wheels")


def wheel_layer(client, tag: str) -> int:
    """Size of the layer that COPYs the wheelhouse into MLflow's image; it is
    subtracted from MLflow's size (a build with network access has no such layer)."""
    for layer in client.images.get(tag).history():
        if "COPY dir:" in layer.get("CreatedBy", "") and layer.get("Size", 0) > 10_000_000:
            return int(layer["Size"])
    raise RuntimeError("no wheelhouse COPY layer found in MLflow's image")


def build_mlflow(client, context: Path, tag: str, nocache: bool) -> float:
    from mlcadence.containers.docker import build_image

    t0 = time.perf_counter()
    build_image(client, context, tag, output=lambda text: None, nocache=nocache)
    return time.perf_counter() - t0


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=None, help="base image (default: the setting)")
    parser.add_argument("--keep", action="store_true", help="keep the images afterwards")
    args = parser.parse_args()

    from mlcadence.containers.docker import docker_client
    from mlcadence.settings import get_settings
    from mlcadence.tracking import Client
    from mlcadence.tracking.uris import resolve_model_uri

    base = args.base or get_settings().docker_base_image
    client = docker_client()
    work = Path(tempfile.mkdtemp(prefix="bench-docker-image-"))
    store = str(work / "mlruns")
    name = f"benchimg{os.getpid()}"
    v1 = train_and_register(store, name, 1)
    v2 = train_and_register(store, name, 2)
    model_dirs = {v: Path(resolve_model_uri(v, Client(store)).local_path) for v in (v1, v2)}
    results: dict[str, dict[str, float]] = {"ours": {}, "mlflow": {}}
    try:
        # -- ours: cold (empty wheel cache, no layer cache), then warm v2
        cache = work / "cache"
        image, t = build_ours(v1, store, base, cache, nocache=True)
        results["ours"]["cold_s"] = t
        results["ours"]["size"] = image_size(client, image.tags[0])
        image2, t = build_ours(v2, store, base, cache, nocache=False)
        results["ours"]["warm_s"] = t
        results["ours"]["warm_size"] = image_size(client, image2.tags[0])
        print("ours:", results["ours"], flush=True)

        # -- MLflow: cold (empty wheelhouse + no layer cache), then warm v2
        wheels = work / "mlflow-wheels"
        wheels.mkdir()
        prep = mlflow_wheelhouse(model_dirs[v1], wheels)
        ctx1, ctx2 = work / "mlflow-ctx1", work / "mlflow-ctx2"
        mlflow_context(model_dirs[v1], ctx1, base, wheels)
        mlflow_context(model_dirs[v2], ctx2, base, wheels)
        tag1, tag2 = f"mlflow-{name}:1", f"mlflow-{name}:2"
        results["mlflow"]["cold_s"] = prep + build_mlflow(client, ctx1, tag1, nocache=True)
        results["mlflow"]["size"] = image_size(client, tag1) - wheel_layer(client, tag1)
        print("mlflow cold:", results["mlflow"], flush=True)
        results["mlflow"]["warm_s"] = build_mlflow(client, ctx2, tag2, nocache=False)
        results["mlflow"]["warm_size"] = image_size(client, tag2) - wheel_layer(client, tag2)
    finally:
        if not args.keep:
            for tag in (f"{name}:1", f"{name}:2", f"mlflow-{name}:1", f"mlflow-{name}:2"):
                try:
                    client.images.remove(tag, force=True)
                except Exception:
                    pass
        shutil.rmtree(work, ignore_errors=True)

    ours, theirs = results["ours"], results["mlflow"]
    base_size = image_size(client, base)
    print(f"base image {base}: {mb(base_size)}")
    print(f"{'':28}{'mlcadence':>14}{'mlflow':>14}{'ratio':>9}")
    rows = [
        ("image size (total)", ours["size"], theirs["size"], mb),
        ("size above the base", ours["size"] - base_size, theirs["size"] - base_size, mb),
        ("cold build, s", ours["cold_s"], theirs["cold_s"], lambda v: f"{v:10.1f} s"),
        ("warm build of v2, s", ours["warm_s"], theirs["warm_s"], lambda v: f"{v:10.1f} s"),
    ]
    for label, a, b, fmt in rows:
        print(f"{label:28}{fmt(a):>14}{fmt(b):>14}{a / b:9.2f}")
    print(
        "targets: size <= 0.5 x MLflow: "
        f"{'met' if ours['size'] <= theirs['size'] / 2 else 'MISSED'}"
        f"; warm rebuild <= 10 s: {'met' if ours['warm_s'] <= 10 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
