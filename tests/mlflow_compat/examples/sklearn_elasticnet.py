"""The shape of MLflow's scikit-learn example (examples/sklearn_elasticnet_wine/train.py in the
MLflow repository, Apache-2.0): an ElasticNet fitted inside ``mlflow.start_run()``, its
hyperparameters and RMSE/MAE/R2 logged, the tracking URI's scheme checked, the model logged
with ``mlflow.sklearn.log_model`` and loaded back to predict. Written for these tests, on a
synthetic regression set (the original downloads the wine-quality CSV; no network here)."""

import json
import sys
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def eval_metrics(actual, pred):
    rmse = np.sqrt(mean_squared_error(actual, pred))
    return rmse, mean_absolute_error(actual, pred), r2_score(actual, pred)


if __name__ == "__main__":
    np.random.seed(40)
    x, y = make_regression(n_samples=300, n_features=8, noise=10.0, random_state=40)
    train_x, test_x, train_y, test_y = train_test_split(x, y, random_state=40)
    alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5

    with mlflow.start_run(run_name="elasticnet") as run:
        lr = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42)
        lr.fit(train_x, train_y)
        rmse, mae, r2 = eval_metrics(test_y, lr.predict(test_x))
        mlflow.log_param("alpha", alpha)
        mlflow.log_param("l1_ratio", l1_ratio)
        mlflow.log_metric("rmse", rmse)
        mlflow.log_metric("r2", r2)
        mlflow.log_metric("mae", mae)
        scheme = urlparse(mlflow.get_tracking_uri()).scheme
        mlflow.sklearn.log_model(lr, name="model")

    loaded = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    same = bool(np.array_equal(loaded.predict(test_x), lr.predict(test_x)))
    print(json.dumps({"scheme": scheme, "same_predictions": same, "rmse": round(rmse, 6)}))
