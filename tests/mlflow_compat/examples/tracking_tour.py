"""The tracking calls MLflow's documentation and examples use most, in one script: an
experiment by name, a parent run with nested child runs (a small sweep), params, per-step
metrics (log_metric and log_metrics), tags, log_dict (YAML and JSON), log_text, a client's
metric history and a search with filter and order_by. Written for these tests (the calls
follow MLflow's docstring examples, Apache-2.0)."""

import json
import math

import mlflow
from mlflow import MlflowClient

if __name__ == "__main__":
    mlflow.set_experiment("tour")
    with mlflow.start_run(run_name="sweep") as parent:
        mlflow.set_tags({"team": "vision", "stage": "dev"})
        mlflow.log_dict({"layers": [64, 32], "act": "relu"}, "config.yaml")
        mlflow.log_dict({"seed": 1}, "meta.json")
        for lr in (0.1, 0.01, 0.001):
            with mlflow.start_run(run_name=f"lr={lr}", nested=True):
                mlflow.log_params({"lr": lr, "epochs": 5})
                for epoch in range(5):
                    loss = math.exp(-lr * 10 * (epoch + 1))
                    mlflow.log_metric("loss", loss, step=epoch)
                    mlflow.log_metrics({"acc": 1 - loss, "lr_now": lr}, step=epoch)
                mlflow.set_tag("best", "yes" if lr == 0.1 else "no")
        mlflow.log_text("sweep done", "notes/summary.txt")
    client = MlflowClient()
    exp = mlflow.get_experiment_by_name("tour")
    best = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string="metrics.loss < 0.5 and tags.best = 'yes'",
        order_by=["metrics.loss ASC"],
    )
    history = client.get_metric_history(best["run_id"][0], "loss")
    print(json.dumps({"best": best["params.lr"].tolist(), "steps": [m.step for m in history]}))
