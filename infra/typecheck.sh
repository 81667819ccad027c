#!/usr/bin/env bash
# mypy sees the same module names as users (aicommons.portal, aicommons.scheduler, aicommons.datasets):
# a throw-away tree of symlinks mirrors the setuptools package-dir mapping.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .typecheck/aicommons
for pkg in portal scheduler datasets; do ln -sfn "../../$pkg" ".typecheck/aicommons/$pkg"; done
MYPYPATH=.typecheck exec mypy -p aicommons.portal -p aicommons.scheduler -p aicommons.datasets "$@"
