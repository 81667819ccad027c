"""The one Settings object, read once from the environment (prefix AICOMMONS_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AICOMMONS_", env_file=None, extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".aicommons")
    database_url: str | None = None

    host: str = "127.0.0.1"
    port: int = 8600
    public_url: str | None = None

    # Tokens: the portal signs its own JWTs and publishes the keys at a JWKS endpoint, so that
    # tokens from an external OIDC provider later travel through the same validation path.
    token_issuer: str | None = None
    token_audience: str = "aicommons-portal"
    access_token_ttl_s: int = 3600
    signing_key_rotation_days: int = 30
    api_token_max_days: int = 365
    local_accounts_enabled: bool = True
    bootstrap_admin_username: str = "admin"
    # Several replicas on one PostgreSQL migrate through a dedicated job instead (the Helm chart).
    migrate_on_start: bool = True

    mlflow_port: int = 8601
    ray_gcs_port: int = 8602
    ray_dashboard_port: int = 8265
    ray_client_port: int = 10001

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'aicommons.db'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def issuer(self) -> str:
        return self.token_issuer or self.base_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
