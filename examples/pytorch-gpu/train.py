"""A PyTorch training job for aicommons GPU flavours, ready for DistributedDataParallel.

Started directly (`python train.py`) it trains on one device (the first GPU, or the CPU when there is
none). Started by `torchrun --nproc-per-node=N train.py` it trains with N processes under DDP, one
per GPU (NCCL), or several on the CPU (Gloo) for a dry run. The data set is synthetic so the example
runs anywhere; replace `make_data` with a reader of your dataset (see AICOMMONS_DATASETS).

Like every aicommons job it reads its environment:

  MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_WORKSPACE, MLFLOW_EXPERIMENT_NAME
        tracking through the portal's MLflow gateway (rank 0 only); without MLFLOW_TRACKING_URI the
        metrics are only printed
  AICOMMONS_JOB_ID, AICOMMONS_ATTEMPT, AICOMMONS_DATASET_VERSIONS   tagged on the run
  AICOMMONS_CHECKPOINT_DIR   a checkpoint after every epoch, read back on start (preemption resumes)

A stop from the platform arrives as SIGTERM with a grace period before SIGKILL: the script finishes
the batch it is on, writes a checkpoint and exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

CHECKPOINT_NAME = "checkpoint.pt"
stop_requested = False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=1024, help="per process")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--register-name", default=None, help="also register the model under this name")
    return parser.parse_args(argv)


def on_sigterm(signum: int, frame: Any) -> None:
    global stop_requested
    stop_requested = True


class Distributed:
    """Rank, world size and device, from torchrun's variables (a single process without them)."""

    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        if self.world_size > 1:
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def mean(self, value: float) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when one rank says so (a SIGTERM may reach the ranks at different steps)."""
        if self.world_size == 1:
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def close(self) -> None:
        if self.world_size > 1:
            dist.destroy_process_group()


def make_data(args: argparse.Namespace) -> tuple[TensorDataset, TensorDataset]:
    generator = torch.Generator().manual_seed(args.seed)
    weights = torch.randn(args.features, 1, generator=generator)
    features = torch.randn(args.samples, args.features, generator=generator)
    labels = ((features @ weights).squeeze(1) > 0).long()
    split = int(args.samples * 0.9)
    return TensorDataset(features[:split], labels[:split]), TensorDataset(features[split:], labels[split:])


def make_model(args: argparse.Namespace) -> nn.Module:
    return nn.Sequential(
        nn.Linear(args.features, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, 2),
    )  # fmt: skip


class Tracker:
    """MLflow on rank 0 when configured; metrics are printed either way."""

    def __init__(self, leader: bool) -> None:
        self.mlflow: Any = None
        if not leader:
            return
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            print("MLFLOW_TRACKING_URI is not set: metrics are only printed", flush=True)
            return
        import mlflow

        self.mlflow = mlflow
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or "examples")
        names = {
            "aicommons.job_id": "AICOMMONS_JOB_ID",
            "aicommons.attempt": "AICOMMONS_ATTEMPT",
            "aicommons.dataset_versions": "AICOMMONS_DATASET_VERSIONS",
        }
        mlflow.start_run(tags={tag: os.environ[var] for tag, var in names.items() if os.environ.get(var)})

    def params(self, values: dict[str, Any]) -> None:
        if self.mlflow:
            self.mlflow.log_params(values)

    def metrics(self, values: dict[str, float], epoch: int) -> None:
        print(f"epoch {epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in values.items()), flush=True)
        if self.mlflow:
            self.mlflow.log_metrics(values, step=epoch)

    def model(self, model: nn.Module, register_name: str | None) -> None:
        if self.mlflow:
            self.mlflow.pytorch.log_model(model, name="model", registered_model_name=register_name)

    def finish(self, status: str = "FINISHED") -> None:
        if self.mlflow:
            self.mlflow.end_run(status=status)


def checkpoint_path() -> Path | None:
    folder = os.environ.get("AICOMMONS_CHECKPOINT_DIR")
    return Path(folder) / CHECKPOINT_NAME if folder else None


def load_checkpoint(model: nn.Module, optimiser: torch.optim.Optimizer, device: torch.device) -> int:
    path = checkpoint_path()
    if path is None or not path.is_file():
        return 0
    saved = torch.load(path, map_location=device)
    model.load_state_dict(saved["model"])
    optimiser.load_state_dict(saved["optimiser"])
    return int(saved["epochs_done"])


def save_checkpoint(model: nn.Module, optimiser: torch.optim.Optimizer, epochs_done: int) -> None:
    path = checkpoint_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    state = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "epochs_done": epochs_done}
    torch.save(state, partial)
    partial.replace(path)  # atomic: a kill mid-write leaves the last good checkpoint


def train_epoch(
    model: nn.Module, loader: DataLoader, optimiser: torch.optim.Optimizer, world: Distributed
) -> float:
    model.train()
    total, batches = 0.0, 0
    for features, labels in loader:
        if world.any(stop_requested):
            break
        features = features.to(world.device, non_blocking=True)
        labels = labels.to(world.device, non_blocking=True)
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(world.device.type, dtype=torch.bfloat16, enabled=world.device.type == "cuda"):
            loss = nn.functional.cross_entropy(model(features), labels)
        loss.backward()
        optimiser.step()
        total, batches = total + float(loss.item()), batches + 1
    return world.mean(total / max(1, batches))


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, world: Distributed) -> float:
    model.eval()
    correct, seen = 0, 0
    for features, labels in loader:
        predictions = model(features.to(world.device)).argmax(dim=1)
        correct += int((predictions == labels.to(world.device)).sum().item())
        seen += len(labels)
    return world.mean(correct / max(1, seen))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    torch.manual_seed(args.seed)
    world = Distributed()
    train_set, test_set = make_data(args)
    sampler = DistributedSampler(train_set, num_replicas=world.world_size, rank=world.rank, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, pin_memory=True)
    test_loader = DataLoader(test_set, batch_size=args.batch_size)
    model = make_model(args).to(world.device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    done = load_checkpoint(model, optimiser, world.device)
    wrapped: nn.Module = model
    if world.world_size > 1:
        device_ids = [world.local_rank] if world.device.type == "cuda" else None
        wrapped = DistributedDataParallel(model, device_ids=device_ids)
    tracker = Tracker(world.leader)
    params = {k: v for k, v in vars(args).items() if k != "register_name"}
    tracker.params(params | {"world_size": world.world_size, "device": world.device.type, "resumed_at": done})
    epoch = done
    try:
        for epoch in range(done + 1, args.epochs + 1):
            sampler.set_epoch(epoch)
            started = time.monotonic()
            loss = train_epoch(wrapped, train_loader, optimiser, world)
            if world.any(stop_requested):
                epoch -= 1  # the interrupted epoch is not done; it reruns on resume
                break
            accuracy = evaluate(model, test_loader, world)
            if world.leader:
                seconds = time.monotonic() - started
                tracker.metrics({"train_loss": loss, "test_accuracy": accuracy, "seconds": seconds}, epoch)
                save_checkpoint(model, optimiser, epoch)
        if world.leader and not stop_requested:
            tracker.model(model, args.register_name)
    finally:
        tracker.finish("KILLED" if stop_requested else "FINISHED")
        world.close()
    if stop_requested:
        print(f"stopped after epoch {epoch}; the checkpoint resumes from there", flush=True)
        return 143  # the conventional exit status after SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
