"""The one place that knows endpoints, keys, container names and ports.

Everything is read from environment variables prefixed ``LAKEHOUSE_`` (and an optional ``.env`` file), so
the ``local`` and ``azure`` profiles differ only in settings:

* ``local`` talks to the project's own emulators (Azurite + the DFS endpoint, the Event Hubs endpoint) with
  the well-known development keys that Azurite and Microsoft's Event Hubs emulator publish.
* ``azure`` names accounts only; credentials come from ``azure-identity``'s ``DefaultAzureCredential``, and no
  secret is ever stored in a file of this repository.

The zone map (``landing``, ``bronze``, ``silver``, ``gold``) lives here too: :meth:`Settings.lake_url` gives
the ``abfs(s)://`` URL Spark reads, :meth:`Settings.lake_path` the filesystem + path the DataLake SDK takes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Zone = Literal["landing", "bronze", "silver", "gold"]
ZONES: tuple[Zone, ...] = ("landing", "bronze", "silver", "gold")

# The Prefect work pool of prefect.yaml's deployments (process locally; ACI or Kubernetes on Azure).
PREFECT_WORK_POOL = "lakehouse-process"

# Azurite's published development account and key (the same for every Azurite install; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# Microsoft's Event Hubs emulator default key (documented in its Config/connection-string samples).
EVENTHUBS_EMULATOR_KEY = "SAS_KEY_VALUE"
# Capture's window: what infra/azure deploys (Azure accepts 60-900 s), and the emulator's default.
AZURE_CAPTURE_WINDOW_SECONDS = 60.0
LOCAL_CAPTURE_WINDOW_SECONDS = 5.0
# The one namespace name of Microsoft's emulator (and of infra/local/Config.json).
EVENTHUBS_EMULATOR_NAMESPACE = "emulatorNs1"


@dataclass(frozen=True)
class LakePath:
    """Where a zone path lives for the DataLake SDK: a filesystem (container) and a path inside it."""

    filesystem: str
    path: str


class Settings(BaseSettings):
    """Typed settings of the lakehouse. Field ``x`` is read from ``LAKEHOUSE_X``."""

    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    profile: Literal["local", "azure"] = "local"

    # --- folders of the project (git-ignored) -------------------------------------------------
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    # Spark's Ivy cache and resolved-jar list: set up once by `make setup`, shared by every run and test.
    jars_cache_dir: Path = PROJECT_ROOT / ".cache"

    # --- storage (ADLS Gen2) ----------------------------------------------------------------
    storage_account: str = AZURITE_ACCOUNT
    # Only the local profile uses a key; on Azure leave it unset and DefaultAzureCredential signs in.
    storage_key: SecretStr | None = None
    # Azure: client id of the user-assigned managed identity the flow runs carry (Spark's ABFS driver asks
    # the instance metadata endpoint for that identity's token; infra/azure outputs it).
    managed_identity_client_id: str | None = None
    # "abfs" is the main road (DFS endpoint locally, ADLS Gen2 on Azure); "file" keeps zones in a local
    # folder for fast unit tests of Spark code only.
    storage_backend: Literal["abfs", "file"] = "abfs"
    local_lake_dir: Path | None = None
    # Where clients find the local services. In docker-compose each service has its own host name, so
    # `blob_host`, `amqp_host` and `api_host` override `host` per service; `bind_host` is what servers
    # listen on (0.0.0.0 in containers).
    host: str = "127.0.0.1"
    bind_host: str | None = None
    blob_host: str | None = None
    amqp_host: str | None = None
    api_host: str | None = None
    blob_port: int = 10000
    dfs_port: int = 10004
    # When Azurite (or anything else) serves DFS itself, point here and leave the gateway off.
    dfs_endpoint: str | None = None
    landing_container: str = "landing"
    bronze_container: str = "bronze"
    silver_container: str = "silver"
    gold_container: str = "gold"

    # --- Event Hubs -------------------------------------------------------------------------
    eventhubs_namespace: str = EVENTHUBS_EMULATOR_NAMESPACE
    # Azure: "<namespace>.servicebus.windows.net"; local: the AMQP endpoint below.
    eventhubs_fully_qualified_namespace: str | None = None
    amqp_port: int = 5672
    eventhubs_health_port: int = 5300
    eventhubs_key_name: str = "RootManageSharedAccessKey"
    eventhubs_key: SecretStr | None = None
    eventhubs_config: Path = PROJECT_ROOT / "infra" / "local" / "Config.json"
    reviews_hub: str = "product-reviews"
    eventhubs_retention_hours: float = 24.0
    # fsync each appended batch of a partition log (slower; survives a power loss, not just a crash).
    eventhubs_fsync: bool = False
    capture_enabled: bool = True
    # How often Capture closes a file per partition. Azure takes 60-900 s (AZURE_CAPTURE_WINDOW_SECONDS is
    # what the Bicep deploys); the local emulator has no minimum, and a short window keeps the inner loop
    # short (the pipeline waits for the window to close before it lands reviews).
    capture_window_seconds: float = 0.0  # 0 = the profile's default (above)
    capture_window_bytes: int = 300 * 1024 * 1024
    capture_skip_empty: bool = True

    # --- app_events API -----------------------------------------------------------------------
    api_port: int = 8087
    api_token: SecretStr | None = None
    # The simulated API of the local stack (infra/local/app_events_api.py): what it serves, how it misbehaves.
    api_sf: float = 0.01
    api_seed: int = 7
    api_days: int = 1
    api_first_day: int = 0  # the feed holds batch days first_day .. days - 1 (day 0 spans a year)
    api_bad_fraction: float = 0.02
    api_start: date = date(2026, 1, 1)
    api_faults: str = ""  # e.g. "429:0.1,500:0.1,slow:0.05,truncate:0.05,duplicate:0.1,poison:1500"
    api_fault_seed: int = 0
    api_slow_seconds: float = 30.0
    api_retry_after_seconds: int = 1
    api_default_limit: int = 1000
    api_max_limit: int = 5000

    # --- Prefect ------------------------------------------------------------------------------
    prefect_port: int = 4200
    # Another Prefect API instead of the stack's (Prefect Cloud, a shared server): Prefect's own variable.
    prefect_api: str | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_PREFECT_API", "PREFECT_API_URL")
    )

    # --- alerts -------------------------------------------------------------------------------
    # Where Prefect's automations post failed runs and failed data-quality checks: a Slack, Teams or any
    # webhook URL on Azure (it holds a token: keep it in the environment or Key Vault, never in a file).
    # Unset locally = the stack's own webhook receiver (`lakehouse alerts` shows what it got).
    alert_webhook_url: SecretStr | None = None
    alerts_port: int = 4280

    # --- dashboard ----------------------------------------------------------------------------
    # The local Streamlit view of gold, data quality and the stream (infra/local/dashboard).
    dashboard_port: int = 8501

    # --- notebooks ----------------------------------------------------------------------------
    # The instant "the future" starts (no-future checks, RFM recency); fixed, a notebook run is repeatable.
    as_of: datetime | None = None
    notebook_out: Path | None = None  # where notebooks save figures (default <state>/notebooks)

    # --- Spark --------------------------------------------------------------------------------
    # `local[*]` runs executors inside the flow's JVM; `spark://host:port` (e.g. `lakehouse up spark`),
    # `k8s://...` or any other master URL sends them to a cluster.
    spark_master: str = "local[*]"
    spark_shuffle_partitions: int = 8
    spark_driver_memory: str = "4g"
    # Independent small Spark jobs (gold tables, table checks) submitted at once from driver threads.
    spark_concurrent_writes: int = 4
    # Rows per Parquet file of a gold table when it is rewritten: one file up to this many rows (Power BI and
    # delta-rs read a few large files fastest), then as many as needed, written by that many tasks in
    # parallel (about 100-150 MB a file for the facts).
    gold_rows_per_file: int = 4_000_000
    # Per executor on a cluster (local[*] has none: its tasks share the driver's memory).
    spark_executor_memory: str = "1g"
    # The address executors call the driver back on (its RPC, block manager and jar server); unset, Spark
    # takes the machine's host name. The local cluster's workers listen on `host`, so the local profile
    # defaults it to `host` too.
    spark_driver_host: str | None = None
    # Where reliable checkpoints (frozen intermediate results as files) go. Unlike local checkpoints they
    # survive the loss of the executor that computed them. Unset: none in local mode, on a cluster
    # `silver/_checkpoints` on the lake (infra/spark.py).
    spark_checkpoint_dir: str | None = None
    # Below this much bronze, the medallion runs Spark for a small lake (infra/spark.py: volume_conf):
    # projections interpreted instead of compiled per task, and static plans over one shuffle partition
    # instead of adaptive ones; faster on a small lake, slower on a large one.
    spark_interpreted_below_mb: int = 32
    # The JDK pyspark launches (its own rule: $JAVA_HOME/bin/java, else the java on PATH); the class archive
    # is named after it.
    java_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_JAVA_HOME", "JAVA_HOME")
    )
    # Start the driver JVM from the archive of its classes that `make setup` writes (infra/spark.py:
    # archive_classes): about 4 s faster per start. False starts it without.
    spark_class_archive: bool = True
    # Attach to the local stack's shared driver (service `spark-driver` of `lakehouse up`) when it runs with
    # the same launch settings and no other run holds it, instead of starting a JVM (infra/spark.py). False:
    # every run starts its own, and `lakehouse up` starts no shared driver.
    spark_shared_driver: bool = True
    # Warm a new driver JVM up while it would wait (infra/spark_warmup.py): the shared driver right after it
    # starts, a run's driver beside ingestion; either stops between two steps once real work needs Spark.
    # Only where the driver runs on this machine (a local master or the stack's own cluster).
    spark_warm_up: bool = True
    # Any further Spark settings, applied last (they win over the ones above), e.g.
    # LAKEHOUSE_SPARK_CONF='{"spark.sql.codegen.factoryMode": "FALLBACK"}'.
    spark_conf: dict[str, str] = Field(default_factory=dict)

    # --- the local Spark standalone cluster (`lakehouse up spark`) ------------------------------
    spark_master_port: int = 7077
    spark_master_ui_port: int = 8080
    # One worker per UI port. Sized for a 2-core, 24 GB laptop: each worker offers one core and 2 GB, enough
    # for one executor of `spark_executor_memory`.
    spark_worker_ui_ports: list[int] = Field(default_factory=lambda: [8081, 8082])
    spark_worker_cores: int = 1
    spark_worker_memory: str = "2g"

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        if not self.capture_window_seconds:
            by_profile = {"local": LOCAL_CAPTURE_WINDOW_SECONDS, "azure": AZURE_CAPTURE_WINDOW_SECONDS}
            self.capture_window_seconds = by_profile[self.profile]
        if self.profile == "local":
            # Well-known emulator keys are the local defaults; nothing secret is involved.
            if self.storage_key is None:
                self.storage_key = SecretStr(AZURITE_KEY)
            if self.eventhubs_key is None:
                self.eventhubs_key = SecretStr(EVENTHUBS_EMULATOR_KEY)
            if self.api_token is None:
                self.api_token = SecretStr("local-dev-token")
            if self.spark_driver_host is None:
                self.spark_driver_host = self.host
        else:
            if self.storage_account == AZURITE_ACCOUNT:
                raise ValueError(
                    "profile 'azure' needs LAKEHOUSE_STORAGE_ACCOUNT set to your ADLS Gen2 account name"
                )
            if self.storage_backend != "abfs":
                raise ValueError(
                    "profile 'azure' reads and writes ADLS Gen2; set LAKEHOUSE_STORAGE_BACKEND=abfs"
                )
            keys = [n for n in ("storage_key", "eventhubs_key") if getattr(self, n) is not None]
            if keys:
                names = ", ".join(f"LAKEHOUSE_{n.upper()}" for n in keys)
                raise ValueError(
                    f"profile 'azure' signs in with DefaultAzureCredential and takes no key: unset {names}"
                )
            fqdn = self.eventhubs_fully_qualified_namespace
            if fqdn and self.eventhubs_namespace == EVENTHUBS_EMULATOR_NAMESPACE:
                # Capture's {Namespace} path segment is the namespace's name: the first label of its host.
                self.eventhubs_namespace = fqdn.split(".", 1)[0]
        return self

    # --- derived endpoints -------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return self.profile == "local"

    @property
    def blob_url(self) -> str:
        """Blob service URL of the account (Azurite locally)."""
        if self.is_local:
            return f"http://{self.blob_host or self.host}:{self.blob_port}/{self.storage_account}"
        return f"https://{self.storage_account}.blob.core.windows.net"

    @property
    def listen_host(self) -> str:
        """Address the local servers bind to."""
        return self.bind_host or self.host

    @property
    def dfs_url(self) -> str:
        """DFS (ADLS Gen2) service URL the DataLake SDK talks to."""
        if self.dfs_endpoint:
            return self.dfs_endpoint.rstrip("/")
        if self.is_local:
            return f"http://{self.host}:{self.dfs_port}/{self.storage_account}"
        return f"https://{self.storage_account}.dfs.core.windows.net"

    @property
    def dfs_hostport(self) -> str:
        """``host:port`` of the local DFS endpoint, the form Hadoop's ``fs.azure.abfs.endpoint`` takes."""
        from urllib.parse import urlsplit

        return urlsplit(self.dfs_url).netloc

    @property
    def eventhubs_host(self) -> str:
        if self.eventhubs_fully_qualified_namespace:
            return self.eventhubs_fully_qualified_namespace
        return f"{self.amqp_host or self.host}:{self.amqp_port}"

    @property
    def eventhubs_connection_string(self) -> str:
        """Emulator-form connection string (local profile only; Azure uses DefaultAzureCredential)."""
        if not self.is_local:
            raise ValueError("profile 'azure' connects with DefaultAzureCredential, not a connection string")
        key = self.eventhubs_key.get_secret_value() if self.eventhubs_key else ""
        return (
            f"Endpoint=sb://{self.amqp_host or self.host}:{self.amqp_port};"
            f"SharedAccessKeyName={self.eventhubs_key_name};"
            f"SharedAccessKey={key};UseDevelopmentEmulator=true;"
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host or self.host}:{self.api_port}"

    @property
    def stack_prefect_api_url(self) -> str:
        """The API of the local stack's Prefect server."""
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_api_url(self) -> str:
        """The Prefect API the flows and the CLI use: ``PREFECT_API_URL`` if set, else the stack's."""
        return self.prefect_api or self.stack_prefect_api_url

    @property
    def prefect_ui_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def spark_cluster_url(self) -> str:
        """Master URL of the local standalone cluster (`lakehouse up spark`)."""
        return f"spark://{self.host}:{self.spark_master_port}"

    @property
    def spark_master_ui_url(self) -> str:
        return f"http://{self.host}:{self.spark_master_ui_port}"

    @property
    def alerts_receiver_url(self) -> str:
        """The local webhook receiver (local profile)."""
        return f"http://{self.host}:{self.alerts_port}"

    @property
    def dashboard_url(self) -> str:
        """The local dashboard (Streamlit)."""
        return f"http://{self.host}:{self.dashboard_port}"

    @property
    def alert_target(self) -> str:
        """The URL alerts are posted to: the setting, else the local receiver."""
        if self.alert_webhook_url is not None:
            return self.alert_webhook_url.get_secret_value()
        if not self.is_local:
            raise ValueError(
                "profile 'azure' posts alerts to LAKEHOUSE_ALERT_WEBHOOK_URL (a Slack, Teams or any webhook);"
                " set it in the environment or from Key Vault"
            )
        return f"{self.alerts_receiver_url}/alerts"

    # --- zone map -----------------------------------------------------------------------------
    def container(self, zone: Zone) -> str:
        """Container (ADLS filesystem) that holds ``zone``."""
        if zone not in ZONES:
            raise ValueError(f"unknown zone {zone!r}; expected one of {', '.join(ZONES)}")
        return getattr(self, f"{zone}_container")

    def lake_path(self, zone: Zone, *parts: str) -> LakePath:
        """Filesystem + path of ``parts`` inside ``zone``, for the DataLake SDK."""
        return LakePath(self.container(zone), _join(parts))

    def lake_url(self, zone: Zone, *parts: str) -> str:
        """URL of ``parts`` inside ``zone`` for Spark: ``abfs://`` locally, ``abfss://`` on Azure."""
        path = _join(parts)
        if self.storage_backend == "file":
            root = (self.local_lake_dir or self.state_dir / "lake").resolve()
            return (root / self.container(zone) / path).as_uri()
        scheme = "abfs" if self.is_local else "abfss"
        return f"{scheme}://{self.container(zone)}@{self.storage_account}.dfs.core.windows.net/{path}"

    def to_env(self) -> dict[str, str]:
        """These settings as ``LAKEHOUSE_*`` variables, so a child process builds the same Settings."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, dict | list):
                env[f"LAKEHOUSE_{name.upper()}"] = json.dumps(value, default=str)
                continue
            env[f"LAKEHOUSE_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    # --- folders ------------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def ivy_dir(self) -> Path:
        return self.jars_cache_dir / "ivy"


def _join(parts: tuple[str, ...]) -> str:
    cleaned = [p.strip("/") for p in parts if p and p.strip("/")]
    for part in cleaned:
        if ".." in part.split("/"):
            raise ValueError(f"lake paths may not contain '..': {part!r}")
    return "/".join(cleaned)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once. Tests build ``Settings(...)`` directly instead."""
    return Settings()
