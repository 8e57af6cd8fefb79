"""Entry point of the stockpred project: run mlcadence's training pipeline.

The project runner has already opened a tracking run and passed its id in
MLCADENCE_RUN_ID (and MLFLOW_RUN_ID); the training flow resumes that run, so
params, metrics and the model land in the run `mlcadence project run` shows.
"""

import argparse
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--source", default="synthetic:42")
parser.add_argument("--window", type=float, default=14)
parser.add_argument("--model", default="random_forest")
parser.add_argument("--register-as", default="stockpred")
parser.add_argument("--no-register", action="store_true")
args = parser.parse_args()

command = [
    "mlcadence",
    "train",
    "--source",
    args.source,
    "--window",
    str(int(args.window)),
    "--model",
    args.model,
    "--quiet",
]
command += ["--no-register"] if args.no_register else ["--register-as", args.register_as]
print("+", " ".join(command), flush=True)
sys.exit(subprocess.call(command))
