"""Health probes shared by `up` (waiting) and `status` (reporting)."""

from __future__ import annotations

import socket
from collections.abc import Iterable

import httpx

from .state import HealthCheck


def probe_http(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    try:
        response = httpx.get(url, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    if 200 <= response.status_code < 300:
        return True, str(response.status_code)
    return False, f"HTTP {response.status_code}"


def probe_tcp(address: str, timeout_s: float = 1.0) -> tuple[bool, str]:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True, "open"
    except (OSError, ValueError) as exc:
        return False, type(exc).__name__


def probe(check: HealthCheck, timeout_s: float = 2.0) -> tuple[bool, str]:
    if check.kind == "http":
        return probe_http(check.target, timeout_s)
    if check.kind == "tcp":
        return probe_tcp(check.target, min(timeout_s, 1.0))
    return False, f"unknown check kind {check.kind!r}"


def probe_all(checks: Iterable[HealthCheck], timeout_s: float = 2.0) -> tuple[bool, str]:
    """All checks pass; otherwise the first failure as `target: reason`."""
    for check in checks:
        ok, detail = probe(check, timeout_s)
        if not ok:
            return False, f"{check.target}: {detail}"
    return True, "ok"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
