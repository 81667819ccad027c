"""The CLI against a real portal served by uvicorn: login, whoami, organisations, users, tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.portal_server import ServedPortal, serve_portal


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    with serve_portal(tmp_path_factory.mktemp("served")) as portal:
        yield portal


def test_cli_end_to_end(served: ServedPortal) -> None:
    assert served.cli("whoami").returncode == 2, "not signed in yet"

    login = served.cli(
        "login", "--username", "admin", "--password", served.admin_password, "--server", served.url
    )
    assert login.returncode == 0, login.stderr
    assert "admin" in login.stdout

    whoami = served.cli("whoami")
    assert whoami.returncode == 0 and "admin" in whoami.stdout

    assert served.cli("orgs", "create", "acme", "Acme Robotics").returncode == 0
    duplicate = served.cli("orgs", "create", "acme", "Acme again")
    assert duplicate.returncode == 1 and "org.slug_taken" in duplicate.stderr
    duplicate_zh = served.cli("orgs", "create", "acme", "Acme again", lang="zh")
    assert "已存在" in duplicate_zh.stderr

    created = served.cli("users", "create", "alice", "--password", "alice-password-1")
    assert created.returncode == 0, created.stderr
    added = served.cli("orgs", "add-member", "acme", "alice", "--role", "steward")
    assert added.returncode == 0, added.stderr
    members = served.cli("orgs", "members", "acme")
    assert "alice" in members.stdout and "steward" in members.stdout

    token = served.cli("tokens", "create", "ci-bot", "--days", "30")
    assert token.returncode == 0, token.stderr
    secret = next(line for line in token.stdout.split() if line.startswith("aic_"))
    listed = served.cli("tokens", "list")
    assert "ci-bot" in listed.stdout and secret not in listed.stdout

    by_token = served.cli("whoami", extra_env={"AICOMMONS_TOKEN": secret, "AICOMMONS_SERVER": served.url})
    assert by_token.returncode == 0 and "admin" in by_token.stdout


def test_cli_bad_input_is_a_clear_message(served: ServedPortal) -> None:
    bad = served.cli("login", "--username", "admin", "--password", "wrong-password", "--server", served.url)
    assert bad.returncode == 1
    assert "Wrong username or password" in bad.stderr and "Traceback" not in bad.stderr
    served.cli("login", "--username", "admin", "--password", served.admin_password, "--server", served.url)
    invalid = served.cli("orgs", "create", "Not A Slug", "x")
    assert invalid.returncode == 2 and "slug" in invalid.stderr and "Traceback" not in invalid.stderr
    unreachable = served.cli(
        "whoami", extra_env={"AICOMMONS_SERVER": "http://127.0.0.1:9", "AICOMMONS_TOKEN": "x"}
    )
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
