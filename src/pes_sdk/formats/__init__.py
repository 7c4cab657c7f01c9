"""Registry formats: the contract (:mod:`.base`) and the helpers every format shares."""

from pes_sdk.formats.base import (
    SERVICE_FIELDS,
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.formats.quarantine import RejectSink, default_rejects_path
from pes_sdk.formats.spreadsheet import escape_formula, unescape_formula

__all__ = [
    "SERVICE_FIELDS",
    "FormatCapabilities",
    "Policy",
    "ReadReport",
    "Record",
    "RegistryFormat",
    "RegistryReader",
    "RejectSink",
    "WriteReport",
    "default_rejects_path",
    "escape_formula",
    "unescape_formula",
]
