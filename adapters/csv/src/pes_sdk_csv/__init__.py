"""CSV and Sberbank-style text registries for pes-sdk, each layout a dialect defined as data.

A dialect is a TOML file (schema in ``docs/dialects.md``); :func:`find_dialects` collects
the built-in ones and those in the folders of ``PES_DIALECT_PATH``; :class:`DialectFormat`
turns one into a :class:`pes_sdk.formats.RegistryFormat`.
"""

from pes_sdk_csv.dialect import (
    DIALECT_PATH_ENV,
    ENCODINGS,
    Column,
    ColumnType,
    Dialect,
    Footer,
    HeaderBlock,
    builtin_dialect_dir,
    collect_dialects,
    dialect_dirs,
    find_dialects,
    load_dialect,
    parse_dialect,
)
from pes_sdk_csv.engine import DialectFormat, DialectReader
from pes_sdk_csv.filename import FileNameTemplate

__all__ = [
    "DIALECT_PATH_ENV",
    "ENCODINGS",
    "Column",
    "ColumnType",
    "Dialect",
    "DialectFormat",
    "DialectReader",
    "FileNameTemplate",
    "Footer",
    "HeaderBlock",
    "builtin_dialect_dir",
    "collect_dialects",
    "dialect_dirs",
    "find_dialects",
    "load_dialect",
    "parse_dialect",
]
