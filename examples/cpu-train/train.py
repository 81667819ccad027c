"""A small CPU training job for aicommons: a linear classifier (scikit-learn) trained epoch by epoch on
a synthetic data set, tracked in MLflow when the platform says where.

What it reads from its environment (the platform sets these for every job):

  MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_WORKSPACE
        where to track (the portal's MLflow gateway), as whom, and the organisation's workspace;
        the stock MLflow client honours all three by itself. Without MLFLOW_TRACKING_URI, or
        without mlflow installed, the script only prints its metrics.
  MLFLOW_EXPERIMENT_NAME   the experiment (default "examples")
  AICOMMONS_JOB_ID, AICOMMONS_ATTEMPT, AICOMMONS_DATASET_VERSIONS   tagged on the run
  AICOMMONS_CHECKPOINT_DIR a checkpoint is written there after every epoch and read back on start,
                           so a preempted job resumes where it stopped

Run it locally:   python train.py --epochs 3
Submit it:        aicommons jobs submit --org ORG --flavour FLAVOUR --time-limit 10m \
                      --workdir . --experiment examples -- python train.py --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

CHECKPOINT_NAME = "checkpoint.pkl"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--register-name", default=None, help="also register the model under this name")
    return parser.parse_args(argv)


def load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = make_classification(
        n_samples=args.samples,
        n_features=args.features,
        n_informative=max(2, args.features // 2),
        random_state=args.seed,
    )
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, random_state=args.seed
    )
    return x_train, x_test, y_train, y_test


def load_checkpoint(folder: Path | None) -> tuple[SGDClassifier | None, int]:
    """The model and the number of epochs already done, from an earlier attempt of the same job."""
    if folder is None or not (folder / CHECKPOINT_NAME).is_file():
        return None, 0
    with open(folder / CHECKPOINT_NAME, "rb") as handle:
        saved = pickle.load(handle)
    return saved["model"], int(saved["epochs_done"])


def save_checkpoint(folder: Path | None, model: SGDClassifier, epochs_done: int) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (CHECKPOINT_NAME + ".tmp")
    with open(partial, "wb") as handle:
        pickle.dump({"model": model, "epochs_done": epochs_done}, handle)
    partial.replace(folder / CHECKPOINT_NAME)  # atomic: a stop mid-write leaves the last good one


class Tracker:
    """MLflow when configured, otherwise nothing; metrics are printed either way."""

    def __init__(self) -> None:
        self.mlflow: Any = None
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            print("MLFLOW_TRACKING_URI is not set: metrics are only printed", flush=True)
            return
        try:
            import mlflow
        except ImportError:
            print("mlflow is not installed: metrics are only printed", flush=True)
            return
        self.mlflow = mlflow
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or "examples")
        mlflow.start_run(tags=run_tags())
        print(f"tracking in MLflow run {mlflow.active_run().info.run_id}", flush=True)

    def params(self, values: dict[str, Any]) -> None:
        if self.mlflow:
            self.mlflow.log_params(values)

    def metrics(self, values: dict[str, float], epoch: int) -> None:
        print(f"epoch {epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in values.items()), flush=True)
        if self.mlflow:
            self.mlflow.log_metrics(values, step=epoch)

    def model(self, model: SGDClassifier, sample: np.ndarray, register_name: str | None) -> None:
        if not self.mlflow:
            return
        import sklearn
        from mlflow.models import infer_signature

        self.mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(sample, model.predict(sample)),
            registered_model_name=register_name,
            # Named here, so MLflow does not spend seconds inferring them.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"],
        )

    def finish(self) -> None:
        if self.mlflow:
            self.mlflow.end_run()


def run_tags() -> dict[str, str]:
    names = {
        "aicommons.job_id": "AICOMMONS_JOB_ID",
        "aicommons.attempt": "AICOMMONS_ATTEMPT",
        "aicommons.dataset_versions": "AICOMMONS_DATASET_VERSIONS",
    }
    return {tag: os.environ[var] for tag, var in names.items() if os.environ.get(var)}


def train_one_epoch(
    model: SGDClassifier, features: np.ndarray, labels: np.ndarray, args: argparse.Namespace, epoch: int
) -> None:
    order = np.random.default_rng(args.seed + epoch).permutation(len(features))
    for start in range(0, len(order), args.batch_size):
        batch = order[start : start + args.batch_size]
        model.partial_fit(features[batch], labels[batch], classes=np.array([0, 1]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    x_train, x_test, y_train, y_test = load_data(args)
    checkpoint_dir = os.environ.get("AICOMMONS_CHECKPOINT_DIR")
    checkpoints = Path(checkpoint_dir) if checkpoint_dir else None
    model, done = load_checkpoint(checkpoints)
    if model is None:
        model = SGDClassifier(
            loss="log_loss", learning_rate="constant", eta0=args.learning_rate, random_state=args.seed
        )
    elif done:
        print(f"resuming after epoch {done} from {checkpoints}", flush=True)
    tracker = Tracker()
    try:
        tracker.params({k: v for k, v in vars(args).items() if k != "register_name"} | {"resumed_at": done})
        for epoch in range(done + 1, args.epochs + 1):
            train_one_epoch(model, x_train, y_train, args, epoch)
            tracker.metrics(evaluate(model, x_train, y_train, x_test, y_test), epoch)
            save_checkpoint(checkpoints, model, epoch)
        tracker.model(model, x_test[:5], args.register_name)
    finally:
        tracker.finish()
    scores = evaluate(model, x_train, y_train, x_test, y_test)
    summary = {"epochs": args.epochs, **scores, "seconds": round(time.monotonic() - started, 2)}
    print("summary " + json.dumps(summary), flush=True)
    return 0


def evaluate(
    model: SGDClassifier, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, float]:
    return {
        "train_loss": float(log_loss(y_train, model.predict_proba(x_train))),
        "test_loss": float(log_loss(y_test, model.predict_proba(x_test))),
        "test_accuracy": float(accuracy_score(y_test, model.predict(x_test))),
    }


if __name__ == "__main__":
    sys.exit(main())
