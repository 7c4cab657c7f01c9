"""Debt registries polled from partners' billing systems through billing source plugins.

A partner whose ``source.kind`` names a billing source (``soap-billing``, …) has no inbox:
:func:`poll_sources` asks the source for the current period's registry and ingests it as
an inbox file would be, its sha256 taken over a canonical serialization of the records
(:func:`registry_sha256`), so polling the same registry again is a ``duplicate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import attrs

from pes_sdk.errors import PesError
from pes_sdk.formats.base import ReadReport
from pes_sdk.models.debts import DebtRegistry
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost, get_host
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.i18n import tr
from pes_sdk_runner.ingest.outcome import IngestOutcome, Outcome
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.store.errors import RegistryConflict

__all__ = ["current_period", "poll_source", "poll_sources", "registry_sha256"]

log = logging.getLogger("pes_sdk_runner.ingest")


def _line(value: object) -> bytes:
    # One JSON array per line: unambiguous whatever the text holds (``;``, quotes, newlines).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def registry_sha256(registry: DebtRegistry) -> str:
    """The sha256 of a registry's canonical serialization.

    A line with the partner, period and number, then one line per record in the order the
    source gave them: account, house GUID, premises as written, amount (two places), the
    record's period, service and tags. ``created_at`` is left out: the same registry
    fetched twice is the same content.
    """
    digest = hashlib.sha256()
    digest.update(
        _line(["pes-debts/1", registry.partner_inn, str(registry.period), registry.number])
    )
    for r in registry.records:
        digest.update(
            _line(
                [
                    r.account,
                    r.house_id,
                    r.premises.text,
                    str(r.amount),
                    str(r.period) if r.period is not None else None,
                    r.service,
                    [list(t) for t in r.tags],
                ]
            )
        )
    return digest.hexdigest()


def current_period(config: RunnerConfig, now: dt.datetime | None = None) -> Period:
    """The month it is now in the service's time zone."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(config.service.time_zone)
    return Period(local.year, local.month)


def poll_source(
    store: Store,
    partner: PartnerConfig,
    period: Period,
    host: PluginHost | None = None,
    *,
    received_at: dt.datetime | None = None,
) -> IngestOutcome:
    """Fetch ``partner``'s registry for ``period`` from its billing source and ingest it.

    A source that cannot deliver (unreachable, a fault, pages that do not add up) gives a
    ``failed`` outcome with the reason, and nothing is stored; the next poll tries again.
    """
    host = host or get_host()
    kind = partner.source.kind
    factory = host.billing_sources().get(kind)
    if factory is None:
        return IngestOutcome(
            partner.inn, Outcome.FAILED, period=period, message=f"no billing source {kind!r}"
        )
    try:
        source = factory.create(partner.source.adapter.merged())
        try:
            registry = source.fetch_debts(partner.inn, period)
        finally:
            source.close()
    except PesError as exc:
        # BillingError from the exchange; ConfigError and the like for settings refused.
        log.warning(
            "billing source failed",
            extra={"partner": partner.inn, "source": kind, "error": type(exc).__name__},
        )
        return IngestOutcome(partner.inn, Outcome.FAILED, period=period, message=str(exc))
    total = sum((r.amount for r in registry.records), ZERO)
    sha256 = registry_sha256(registry)
    facts = IngestOutcome(
        partner.inn,
        Outcome.FAILED,
        registry_number=registry.number,
        period=registry.period,
        records=len(registry.records),
        total=total,
        sha256=sha256,
    )
    if registry.partner_inn != partner.inn or registry.period != period:
        msg = tr(
            "asked for {partner} {period}, the source sent {sent_partner} {sent_period}",
            partner=partner.inn,
            period=period,
            sent_partner=registry.partner_inn,
            sent_period=registry.period,
        )
        return attrs.evolve(facts, outcome=Outcome.REFUSED, message=msg)
    header = RegistryHeader(
        kind=RegistryKind.DEBTS,
        partner_inn=registry.partner_inn,
        period=registry.period,
        number=registry.number,
        created_at=registry.created_at,
        control=registry.control,
    )
    host.registry_loaded(
        ReadReport(path=None, header=header, records=len(registry.records), total=total)
    )
    try:
        result = store.ingest_debt_registry(
            partner.inn,
            registry.period,
            registry.number,
            registry.records,
            sha256=sha256,
            received_at=received_at,
        )
    except RegistryConflict as exc:
        return attrs.evolve(facts, outcome=Outcome.CONFLICT, message=str(exc))
    outcome = Outcome(result.outcome.value)
    log.info(
        "registry polled",
        extra={"partner": partner.inn, "source": kind, "outcome": str(outcome)},
    )
    return attrs.evolve(facts, outcome=outcome, registry_id=result.registry.id)


def poll_sources(
    store: Store,
    config: RunnerConfig,
    host: PluginHost | None = None,
    *,
    period: Period | None = None,
    received_at: dt.datetime | None = None,
) -> list[IngestOutcome]:
    """Poll every partner with a billing source for ``period`` (default: the current month).

    One outcome per such partner, in the configuration's order; one partner's failure does
    not stop the others.
    """
    host = host or get_host()
    period = period or current_period(config, received_at)
    return [
        poll_source(store, p, period, host, received_at=received_at)
        for p in config.partners
        if not p.source.is_inbox
    ]
