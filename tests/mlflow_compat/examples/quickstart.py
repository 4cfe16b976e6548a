"""The shape of MLflow's quickstart (examples/quickstart/mlflow_tracking.py in the MLflow
repository, Apache-2.0): module-level fluent calls with no explicit run (MLflow starts one),
a metric logged three times, a key with a space, and a folder of artifacts. Written for
these tests; seeded, and the values drawn before the first call (MLflow draws its random
run name from the global ``random`` state), so two tracking systems record the same values."""

import os
from random import randint, random, seed

from mlflow import log_artifacts, log_metric, log_param

if __name__ == "__main__":
    seed(7)
    param1, a, b, c, acc = randint(0, 100), random(), random(), random(), random()
    log_param("param1", param1)
    log_metric("foo", a)
    log_metric("foo", b + 1)
    log_metric("foo", c + 2)
    log_metric("accuracy 2", acc)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/test.txt", "w") as f:
        f.write("hello world!")
    log_artifacts("outputs")
