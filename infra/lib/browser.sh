#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: Debian's Chromium and the Playwright
# Python package in the project's virtual environment. Never runs `playwright install`: the
# browser download is blocked on our machines, and the tests drive the system Chromium
# (/usr/bin/chromium) through `executable_path`.
#
#   infra/lib/browser.sh            install what is missing
#   VENV=/path/to/venv infra/lib/browser.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CHROMIUM="${AICOMMONS_CHROMIUM:-/usr/bin/chromium}"

say() { printf '[browser] %s\n' "$1"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        say "need root to run: $*" >&2
        return 1
    fi
}

install_chromium() {
    if [[ -x "$CHROMIUM" ]]; then
        say "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
        return 0
    fi
    say "installing chromium from the Debian archive"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
    say "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
}

install_cjk_fonts() {
    # Without a CJK font Chinese pages render as boxes in screenshots.
    if fc-list 2>/dev/null | grep -qi 'cjk\|wqy\|han sans'; then
        return 0
    fi
    say "installing CJK fonts"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null || \
        say "could not install fonts-noto-cjk; Chinese screenshots may show boxes"
}

install_playwright() {
    local python="$VENV/bin/python"
    if [[ ! -x "$python" ]]; then
        python="$(command -v python3)"
    fi
    if "$python" -c 'import playwright.sync_api' 2>/dev/null; then
        say "playwright (python) present"
        return 0
    fi
    say "installing the playwright python package (no browser download)"
    "$python" -m pip install -q playwright
}

install_chromium
install_cjk_fonts
install_playwright
