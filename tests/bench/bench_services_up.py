"""Benchmark: how long `infra/services.sh up` takes from stopped and when everything already runs.

    python tests/bench/bench_services_up.py [--runs N]

Stops the services first (`down`), so do not run it while others use them; it leaves them running.
The last line of output is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SERVICES_SH = Path(__file__).resolve().parents[2] / "infra" / "services.sh"
TARGET_FROM_STOPPED_S = 90
TARGET_RUNNING_S = 5


def timed(command: str) -> float:
    started = time.monotonic()
    result = subprocess.run(["bash", str(SERVICES_SH), command], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"`services.sh {command}` failed with exit code {result.returncode}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="down/up cycles (the best is reported)")
    args = parser.parse_args()

    timed("up")  # make sure everything is built and initialised: we measure starts, not installs
    from_stopped, running, down = [], [], []
    for _ in range(args.runs):
        down.append(timed("down"))
        from_stopped.append(timed("up"))
        running.append(timed("up"))
    best_stopped, best_running = min(from_stopped), min(running)
    print(f"down:                {min(down):6.1f} s")
    print(
        f"up from stopped:     {best_stopped:6.1f} s (target <= {TARGET_FROM_STOPPED_S} s) "
        f"runs={[round(r, 1) for r in from_stopped]}"
    )
    print(f"up when running:     {best_running:6.2f} s (target <= {TARGET_RUNNING_S} s)")
    print(
        json.dumps(
            {
                "bench": "services_up",
                "up_from_stopped_s": round(best_stopped, 2),
                "up_when_running_s": round(best_running, 2),
                "down_s": round(min(down), 2),
                "target_from_stopped_s": TARGET_FROM_STOPPED_S,
                "target_running_s": TARGET_RUNNING_S,
                "ok": best_stopped <= TARGET_FROM_STOPPED_S and best_running <= TARGET_RUNNING_S,
            }
        )
    )


if __name__ == "__main__":
    main()
