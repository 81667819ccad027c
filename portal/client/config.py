"""The CLI user's config file: server URL and token, readable only by its owner."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_SERVER = "http://127.0.0.1:8600"


def config_path() -> Path:
    explicit = os.environ.get("AICOMMONS_CONFIG")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "aicommons" / "config.json"


@dataclass
class ClientConfig:
    server: str = DEFAULT_SERVER
    token: str | None = None
    username: str | None = None
    lang: str | None = None
    # Set when signed in through the identity provider, so the CLI can refresh short-lived tokens.
    refresh_token: str | None = None
    token_endpoint: str | None = None
    client_id: str | None = None

    @classmethod
    def load(cls) -> ClientConfig:
        path = config_path()
        data: dict[str, object] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        config = cls(**known)  # type: ignore[arg-type]
        config.server = os.environ.get("AICOMMONS_SERVER", config.server)
        config.token = os.environ.get("AICOMMONS_TOKEN", config.token)
        return config

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=2)
        os.replace(tmp, path)
        return path
