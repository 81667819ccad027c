"""Benchmark `aicommons up`: first and second start until everything is healthy, and MLflow's first
start alone with its defaults versus the way `up` starts it.

    .venv/bin/python tests/bench/bench_up.py [--skip-baseline] [--timeout 180]

Ports are free ones and data directories are fresh temporary ones, so a developer's platform is
not disturbed. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from aicommons.portal.core.settings import Settings
from aicommons.portal.server import plan, processes

TARGET_S = 45.0
CLI = [sys.executable, "-m", "aicommons.portal.main"]
PORT_VARS = (
    "AICOMMONS_PORT",
    "AICOMMONS_MLFLOW_PORT",
    "AICOMMONS_RAY_GCS_PORT",
    "AICOMMONS_RAY_DASHBOARD_PORT",
    "AICOMMONS_RAY_CLIENT_PORT",
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_healthy(
    probe: Callable[[], bool], proc: subprocess.Popen[bytes], started: float, timeout: float
) -> float:
    while not probe():
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before it was healthy")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not healthy after {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    processes.stop_group(proc.pid, 20.0, reap=proc.poll)


def time_mlflow(argv: list[str], env: dict[str, str], cwd: Path, port: int, timeout: float) -> float:
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "bench-mlflow.log", "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        return wait_healthy(lambda: http_ok(f"http://127.0.0.1:{port}/health"), proc, started, timeout)
    finally:
        stop_group(proc)


def mlflow_default_first_start(root: Path, timeout: float) -> float:
    """`mlflow server` as documented for a first local try: defaults except the port."""
    port = free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    argv = [sys.executable, "-m", "mlflow", "server", "--port", str(port)]
    return time_mlflow(argv, env, root / "mlflow-default", port, timeout)


def mlflow_tuned_first_start(root: Path, timeout: float) -> float:
    """MLflow exactly as `aicommons up` starts it (same argv and environment), fresh data dir."""
    port = free_ports(1)[0]
    settings = Settings(data_dir=root / "mlflow-tuned", mlflow_port=port)
    service = plan.plan_mlflow(settings, dict(os.environ))
    assert service.spec is not None and service.spec.cwd is not None
    return time_mlflow(service.spec.argv, service.spec.env, service.spec.cwd, port, timeout)


def platform_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(dict(zip(PORT_VARS, map(str, free_ports(len(PORT_VARS))), strict=True)))
    env["AICOMMONS_DATA_DIR"] = str(data_dir)
    return env


def platform_healthy(env: dict[str, str]) -> bool:
    return (
        http_ok(f"http://127.0.0.1:{env['AICOMMONS_PORT']}/api/v1/health")
        and http_ok(f"http://127.0.0.1:{env['AICOMMONS_MLFLOW_PORT']}/health")
        and tcp_open(int(env["AICOMMONS_RAY_GCS_PORT"]))
        and http_ok(f"http://127.0.0.1:{env['AICOMMONS_RAY_DASHBOARD_PORT']}/api/version")
    )


def time_up(env: dict[str, str], log: Path, timeout: float) -> float:
    """From launching `aicommons up --flavor H100-80G=8` until all services answer; then `down`."""
    with open(log, "ab") as out:
        started = time.monotonic()
        proc = subprocess.Popen([*CLI, "up", "--flavor", "H100-80G=8"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    try:
        elapsed = wait_healthy(lambda: platform_healthy(env), proc, started, timeout)
        down = subprocess.run([*CLI, "down"], env=env, capture_output=True, text=True, timeout=120)
        if down.returncode != 0:
            raise RuntimeError(f"`aicommons down` failed: {down.stdout}{down.stderr}")
        proc.wait(timeout=30)
        return elapsed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            stop_group(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-baseline", action="store_true", help="do not time plain `mlflow server`")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="acb-", dir="/tmp"))
    load_start = os.getloadavg()[0]
    try:
        default_s = None if args.skip_baseline else mlflow_default_first_start(root, args.timeout)
        tuned_s = mlflow_tuned_first_start(root, args.timeout)
        data_dir = root / "up"
        env = platform_env(data_dir)
        first_s = time_up(env, root / "up.out", args.timeout)
        second_s = time_up(env, root / "up.out", args.timeout)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    if default_s is not None:
        print(f"MLflow first start, `mlflow server` defaults : {default_s:6.1f} s")
    print(f"MLflow first start, as `aicommons up` runs it: {tuned_s:6.1f} s")
    print(f"aicommons up, first start (fresh data dir)   : {first_s:6.1f} s (target {TARGET_S:.0f} s)")
    print(f"aicommons up, second start (same data dir)   : {second_s:6.1f} s")
    load_end = os.getloadavg()[0]
    print(f"CPUs {os.cpu_count()}, 1-min load average at start {load_start:.2f}, at end {load_end:.2f}")
    result = {
        "bench": "up",
        "first_start_s": round(first_s, 2),
        "second_start_s": round(second_s, 2),
        "target_s": TARGET_S,
        "mlflow_default_first_start_s": None if default_s is None else round(default_s, 2),
        "mlflow_tuned_first_start_s": round(tuned_s, 2),
        "speedup": None if default_s is None else round(default_s / tuned_s, 2),
        "cpus": os.cpu_count(),
        "loadavg_1m_start": round(load_start, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
