"""The catalog of this distribution's messages, said in English or Russian (pes_sdk.i18n).

``tr("template {value}", value=...)`` marks a message; ``make i18n`` gathers the marked
messages into ``locale/ru/LC_MESSAGES/pes_sdk_csv.po``.
"""

from __future__ import annotations

from pathlib import Path

from pes_sdk.i18n import Catalog, verbatim

__all__ = ["tr", "tr_n", "verbatim"]

tr = Catalog("pes_sdk_csv", Path(__file__).parent / "locale")
tr_n = tr.plural
