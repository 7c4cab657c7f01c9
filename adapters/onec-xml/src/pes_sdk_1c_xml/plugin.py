"""Entry point of the 1C registry XML adapter (entry-point group ``pes_sdk``, name ``1c-xml``)."""

from __future__ import annotations

from collections.abc import Sequence

from pes_sdk.formats.base import RegistryFormat
from pes_sdk.plugins.hookspecs import hookimpl
from pes_sdk_1c_xml.formats import all_formats


@hookimpl
def pes_registry_formats() -> Sequence[RegistryFormat]:
    return all_formats()
