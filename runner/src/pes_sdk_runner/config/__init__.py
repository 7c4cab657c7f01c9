"""The runner's configuration: one TOML file, loaded strictly into typed models.

``load_runner_config(path)`` returns a :class:`RunnerConfig` or raises
:class:`RunnerConfigError` listing every problem of the file with its key path. The format
is documented in ``docs/runner-config.md``; ``example_config_path()`` is the example the
demo uses.
"""

from pes_sdk_runner.config.loader import (
    CONFIG_VERSION,
    DEFAULT_TIME_ZONE,
    MIN_TOKEN_LENGTH,
    RunnerConfigError,
    example_config_path,
    load_runner_config,
    parse_runner_config,
)
from pes_sdk_runner.config.models import (
    INBOX,
    OUTBOX,
    AdapterSettings,
    CabinetConfig,
    ChannelConfig,
    DaemonConfig,
    GatewayConfig,
    HttpConfig,
    PartnerConfig,
    RunnerConfig,
    ServiceConfig,
    SourceConfig,
    StoreConfig,
    StoreKind,
    mask_url,
)

__all__ = [
    "CONFIG_VERSION",
    "DEFAULT_TIME_ZONE",
    "INBOX",
    "MIN_TOKEN_LENGTH",
    "OUTBOX",
    "AdapterSettings",
    "CabinetConfig",
    "ChannelConfig",
    "DaemonConfig",
    "GatewayConfig",
    "HttpConfig",
    "PartnerConfig",
    "RunnerConfig",
    "RunnerConfigError",
    "ServiceConfig",
    "SourceConfig",
    "StoreConfig",
    "StoreKind",
    "example_config_path",
    "load_runner_config",
    "mask_url",
    "parse_runner_config",
]
