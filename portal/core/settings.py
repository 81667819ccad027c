"""The one Settings object, read once from the environment (prefix AICOMMONS_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

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
    # Quota: bookings wait for an administrator; administrators may decide their own organisation's requests.
    booking_requires_approval: bool = False
    allow_self_approval: bool = False

    # External identity provider (Keycloak). When oidc_issuer is set, bearer tokens from that issuer
    # are accepted, users and memberships are mirrored from their claims, and organisations created
    # in the portal are created in Keycloak as groups under oidc_org_group_root.
    oidc_issuer: str | None = None
    oidc_audience: str = "aicommons-portal"
    oidc_client_id: str = "aicommons-portal"
    oidc_client_secret: str | None = None
    oidc_cli_client_id: str = "aicommons-cli"
    oidc_org_group_root: str = "/orgs"
    oidc_jwks_ttl_s: int = 300

    mlflow_port: int = 8601
    ray_gcs_port: int = 8602
    ray_dashboard_port: int = 8265
    ray_client_port: int = 10001

    # aicommons up
    # Ray's dashboard agent listens on a fixed port (52365) by default, which collides with a
    # second Ray on the same machine; 0 means "pick a free port at start".
    ray_dashboard_agent_port: int = 0
    ray_object_store_bytes: int = 256 * 1024 * 1024
    mlflow_workers: int = 1
    # Niceness added to the Ray head and everything it starts, so that on a small machine MLflow and
    # the portal are not starved while Ray boots (Ray already runs its job workers at niceness 15).
    ray_nice: int = 10
    # With `up --external`, the MLflow and Ray dashboard the portal should use instead of children.
    mlflow_external_url: str | None = None
    ray_external_dashboard_url: str | None = None
    up_start_timeout_s: float = 120.0
    up_stop_grace_s: float = 20.0

    # datasets: object storage ("local" directory under data_dir, or any S3 store via the minio SDK)
    datasets_storage: str = "local"
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "aicommons-datasets"
    datasets_part_size: int = 16 * 1024 * 1024
    datasets_upload_url_ttl_s: int = 6 * 3600
    datasets_download_url_ttl_s: int = 900
    datasets_max_files: int = 100_000
    datasets_max_file_bytes: int = 5 * 1024**4
    datasets_job_credential_max_s: int = 12 * 3600
    # an `uploading` version untouched this long is swept back to draft (never below the URL TTL)
    datasets_upload_abandon_after_s: int = 24 * 3600
    # The background worker that verifies (sha256), scans and validates completed uploads, and
    # sweeps abandoned ones; it runs in every portal process, replicas share the work by lease.
    datasets_worker_enabled: bool = True
    datasets_worker_period_s: float = 2.0  # between cycles when no completed upload nudges it
    datasets_lease_s: float = 60.0  # a replica's claim on a version; renewed by its heartbeat
    datasets_sweep_period_s: float = 3600.0  # how often abandoned uploads are swept

    # jobs and the scheduler's reconcile loop
    scheduler_enabled: bool = True  # run the loop inside the portal process (the embedded default)
    scheduler_period_s: float = 2.0  # between cycles when nothing nudges the loop
    scheduler_lease_s: float = 30.0  # a replica's claim on a job; renewed by its heartbeat
    scheduler_usage_half_life_s: float = 7 * 24 * 3600.0  # fair share forgets past use at this rate
    scheduler_policy: str = "fair"  # or "fifo"
    jobs_launcher: str = "ray"
    jobs_require_balance: bool = True
    # Admit when the balance covers this many GPU-seconds even if not the whole time limit (unset: the limit).
    jobs_min_balance_s: int | None = None
    jobs_max_time_limit_s: int = 7 * 24 * 3600
    jobs_workdir_max_bytes: int = 100 * 1024 * 1024
    jobs_stop_grace_s: float = 10.0
    jobs_token_ttl_extra_s: int = 3600  # a job's MLflow token outlives its time limit by this much

    # KubeRay launcher (jobs_launcher = "kuberay"): one RayJob per job in the namespace
    # <prefix><organisation id>. Kubeconfig unset: the pod's service account (in-cluster).
    kuberay_kubeconfig: str | None = None
    kuberay_context: str | None = None
    kuberay_namespace_prefix: str = "aicommons-"
    kuberay_image: str = "rayproject/ray:2.49.0"
    # Flavour name -> {"resource": "nvidia.com/gpu", "node_selector": {...}, "tolerations": [...]};
    # JSON in the environment. A flavour not listed runs on CPU nodes without a device resource.
    kuberay_flavours: dict[str, dict[str, Any]] = Field(default_factory=dict)
    kuberay_ttl_after_finished_s: int = 3600
    kuberay_kueue_queue: str | None = None  # Kueue mode: the LocalQueue name put on every RayJob
    # Working directories travel through S3 (the s3_* settings): uploaded once per archive, handed
    # to Ray as a presigned https URL. Unset endpoint: the cluster must reach s3_endpoint.
    kuberay_workdir_bucket: str = "aicommons-workdirs"
    kuberay_workdir_public_endpoint: str | None = None

    @property
    def ray_dashboard_url(self) -> str:
        return (self.ray_external_dashboard_url or f"http://127.0.0.1:{self.ray_dashboard_port}").rstrip("/")

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'aicommons.db'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def mlflow_url(self) -> str:
        return (self.mlflow_external_url or f"http://{self.host}:{self.mlflow_port}").rstrip("/")

    @property
    def oidc_server_and_realm(self) -> tuple[str, str] | None:
        """Split ".../realms/NAME" into Keycloak's base URL and the realm name."""
        if not self.oidc_issuer or "/realms/" not in self.oidc_issuer:
            return None
        base, realm = self.oidc_issuer.rstrip("/").rsplit("/realms/", 1)
        return base, realm

    @property
    def issuer(self) -> str:
        return self.token_issuer or self.base_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
