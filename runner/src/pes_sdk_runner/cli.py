"""``pes runner``: check the configuration, ingest, close days, show the state, serve the API.

``serve`` runs the background work beside the API (inbox scans, billing polls, the payment
backstop, day closes and deliveries) as durable workflows on the job engine
(:mod:`pes_sdk_runner.jobs`), on SQLite alone and on PostgreSQL beside any number of
``worker`` processes; ``run-once`` makes one pass of the stages (:mod:`pes_sdk_runner.daemon`)
and exits. ``daemon.engine = "thread"`` (deprecated) runs them on the old scheduler thread.

The runner adds this group to ``pes`` through the ``pes_cli_commands`` hook
(:mod:`pes_sdk_runner.plugin`). The store, the ingest, the day close and the HTTP stack are
imported when a command runs, not when the plugin loads: every ``pes`` command loads every
plugin.

Exit codes: 0 done; 1 something was refused, conflicted or failed (a day's close, a
delivery); 2 the command could not run (bad configuration, a day not yet over or out of
day order, an unusable store).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pes_sdk.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    ISO_DATE,
    LANG_OPTION,
    fail,
    host_of,
)
from pes_sdk.errors import PesError
from pes_sdk.i18n import translate
from pes_sdk_runner.i18n import tr, tr_n

if TYPE_CHECKING:
    from pes_sdk.operations import Progress
    from pes_sdk_runner.close import DayClose
    from pes_sdk_runner.config import PartnerConfig, RunnerConfig
    from pes_sdk_runner.daemon import Pass
    from pes_sdk_runner.ingest import IngestOutcome, Stray
    from pes_sdk_runner.store import SqlStore

__all__ = ["runner"]

_CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The runner configuration (TOML, see docs/runner-config.md).",
)


def _load(ctx: click.Context, path: Path) -> RunnerConfig:
    """The configuration at ``path``, or exit 2 listing every problem (no traceback)."""
    from pes_sdk_runner.config import RunnerConfigError, load_runner_config
    from pes_sdk_runner.config.loader import problems_head

    try:
        return load_runner_config(path, host_of(ctx))
    except RunnerConfigError as exc:
        head = problems_head(str(path), len(exc.problems))
        click.echo(f"pes: error: {translate(head)}", err=True)
        for problem in exc.problems:
            click.echo(f"  {translate(problem)}", err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from None


@contextmanager
def _store(config: RunnerConfig) -> Iterator[SqlStore]:
    """The configured store, migrated, with the configured partners upserted; closed after."""
    from pes_sdk_runner.store import open_store

    try:
        if config.store.sqlite_path is not None:
            # The data folder is created on first use: loading the configuration creates nothing.
            config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = open_store(config.store.url, group_commit=config.store.group_commit)
    except (PesError, OSError) as exc:
        fail(f"store {config.store.display_url}: {exc}", EXIT_USAGE)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        yield store
    finally:
        store.close()


def _make_folders(config: RunnerConfig) -> list[Path]:
    """Create the folders the runner works in that do not exist yet; return those made.

    The data folder, each partner's inbox with its ``processed/`` and ``rejected/``, and
    each outbox: an operator who starts the runner finds every folder a partner's files go
    to, before the first file comes (loading the configuration creates nothing).
    """
    from pes_sdk_runner.ingest import PROCESSED, REJECTED

    wanted = [config.service.data]
    for p in config.partners:
        if p.source.is_inbox and p.source.folder is not None:
            wanted += [p.source.folder / PROCESSED, p.source.folder / REJECTED]
        if p.channel.is_outbox and p.channel.folder is not None:
            wanted.append(p.channel.folder)
    made: list[Path] = []
    for folder in wanted:
        # Parents first, so that every folder made is reported (an inbox before its rejected/).
        for each in [*reversed(folder.parents), folder]:
            if each.is_dir():
                continue
            try:
                each.mkdir()
            except FileExistsError:
                if not each.is_dir():
                    fail(tr("{folder} exists and is not a folder", folder=each), EXIT_USAGE)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                fail(
                    tr("cannot create the folder {folder}: {reason}", folder=each, reason=reason),
                    EXIT_USAGE,
                )
            else:
                made.append(each)
    return made


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _chosen(config: RunnerConfig, inn: str | None) -> tuple[PartnerConfig, ...]:
    if inn is None:
        return config.partners
    chosen = tuple(p for p in config.partners if p.inn == inn)
    if not chosen:
        known = ", ".join(p.inn for p in config.partners) or "none"
        fail(f"no partner with ИНН {inn} in the configuration (partners: {known})", EXIT_USAGE)
    return chosen


@click.group()
@LANG_OPTION
def runner() -> None:
    """The reference runner (эталонный исполнитель): ingest, close days, serve the API.

    \b
    Exit codes:
      0  done
      1  a registry was refused or conflicted, or a day's close or a delivery failed
      2  usage error: bad configuration, a day not yet over or out of day order,
         an unusable store
    """


# -- init ----------------------------------------------------------------------------------

#: The name ``pes runner init`` gives the configuration it writes.
CONFIG_NAME = "runner.toml"

_INIT_HEADER = """\
# pes-sdk runner configuration — format version 1 (see docs/runner-config.md).
# Written by `pes runner init` from the example shipped with the runner. The service and
# the three partners below are examples: put your own name, ИНН, КПП and bank accounts,
# and one [[partners]] table per partner with its formats, folders and cut-off; then
# `pes runner check --config runner.toml` lists every problem left, each with its key.
# Folders are relative to the data folder; the runner creates missing ones when it starts.
# Secrets are never written here: the tokens come from PES_CLIENT_TOKENS and
# PES_OPERATOR_TOKENS (comma-separated, each at least 16 characters).
"""


def _init_text() -> str:
    """The shipped example (config/example.toml) under a header for an operator's copy."""
    from pes_sdk_runner.config import example_config_path

    text = example_config_path().read_text(encoding="utf-8")
    # The example's own header speaks of the demo: the body starts at its first key.
    return _INIT_HEADER + text[text.index("\nversion = ") + 1 :]


@runner.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@LANG_OPTION
@click.pass_context
def init(ctx: click.Context, folder: Path) -> None:
    """Write a commented configuration, DIR/runner.toml, and the folders it names.

    The configuration is the runner's example, to edit: the service, the partners, their
    formats and folders. An existing DIR/runner.toml is never overwritten. The data
    folder, inboxes (with processed/ and rejected/) and outboxes are created when the
    installed plugins can load the file; otherwise the runner creates them when it starts.
    """
    from pes_sdk_runner.config import RunnerConfigError, load_runner_config

    path = folder / CONFIG_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = tr("it exists and is not a folder") if folder.exists() else exc.strerror or str(exc)
        fail(tr("cannot make the folder {folder}: {reason}", folder=folder, reason=why), EXIT_USAGE)
    try:
        # "x": refused if the file exists, even one written since the check.
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(_init_text())
    except FileExistsError:
        fail(
            tr("{path} exists: it is not overwritten (edit it, or init another folder)", path=path),
            EXIT_USAGE,
        )
    except OSError as exc:
        fail(
            tr("cannot write {path}: {reason}", path=path, reason=exc.strerror or str(exc)),
            EXIT_USAGE,
        )
    click.echo(translate(tr("wrote {path}", path=path)))
    # Tokens are checked at load but play no part in the folders: stand-ins, never stored.
    env = {"PES_CLIENT_TOKENS": "x" * 16 + "-client", "PES_OPERATOR_TOKENS": "x" * 16 + "-op"}
    try:
        config = load_runner_config(path, host_of(ctx), env=env)
    except RunnerConfigError as exc:
        click.echo(
            translate(tr("folders: not created yet; the runner creates them when it starts.")),
            err=True,
        )
        click.echo(translate(tr("the file needs what this installation lacks:")), err=True)
        for problem in exc.problems:
            click.echo(f"  {translate(problem)}", err=True)
    else:
        for made in _make_folders(config):
            click.echo(translate(tr("created {folder}/", folder=made)))
    click.echo(
        translate(
            tr(
                "next:\n"
                "  1. edit {path}: your service, partners, formats, folders and cut-offs\n"
                "  2. export PES_CLIENT_TOKENS=… PES_OPERATOR_TOKENS=… (each ≥16 characters)\n"
                "  3. pes runner check --config {path}\n"
                "  4. pes runner serve --config {path}",
                path=path,
            )
        )
    )
    ctx.exit(EXIT_OK)


# -- check ---------------------------------------------------------------------------------


@runner.command()
@_CONFIG
@LANG_OPTION
@click.pass_context
def check(ctx: click.Context, config_path: Path) -> None:
    """Load the configuration strictly and print what it sets up."""
    config = _load(ctx, config_path)
    http = config.http
    details = config.service.details
    click.echo(translate(tr("configuration: {path}", path=config_path)))
    click.echo(translate(tr("service: {name} (ИНН {inn})", name=details.name, inn=details.inn)))
    click.echo(translate(tr("time zone: {zone}", zone=config.service.time_zone)))
    click.echo(translate(tr("data: {folder}", folder=config.service.data)))
    click.echo(translate(tr("store: {url}", url=config.store.display_url)))
    click.echo(translate(tr("gateway: {name}", name=config.gateway.name)))
    webhooks = tr(
        "http: {host}:{port} (webhooks at {path})",
        host=http.host,
        port=http.port,
        path=http.webhook_path,
    )
    click.echo(translate(webhooks))
    click.echo(translate(tr("partners: {count}", count=len(config.partners))))
    for p in config.partners:
        kpp = f" КПП {p.kpp}" if p.kpp else ""
        click.echo(f"  {p.inn}{kpp} {p.name}")
        source = p.source.kind
        if p.source.folder is not None:
            source += f" {p.source.folder}"
        if p.format:
            source += f" ({p.format})"
        click.echo(translate(tr("    source: {source}", source=source)))
        channel = p.channel.kind
        if p.channel.folder is not None:
            channel += f" {p.channel.folder}"
        if p.channel.format:
            channel += f" ({p.channel.format})"
        click.echo(translate(tr("    channel: {channel}", channel=channel)))
        transfer = p.transfer_format or tr("none")
        click.echo(
            translate(
                tr(
                    "    cut-off: {cutoff:%H:%M}; transfer order: {transfer}",
                    cutoff=p.cutoff,
                    transfer=transfer,
                )
            )
        )
    click.echo(translate(tr("daemon: {schedule}", schedule=_schedule(config))))
    ctx.exit(EXIT_OK)


# -- status --------------------------------------------------------------------------------


def _strays(config: RunnerConfig) -> list[tuple[str, Stray]]:
    """What sits in each partner's inbox and is not a regular file: never read, never moved."""
    from pes_sdk_runner.ingest import inbox_strays

    found: list[tuple[str, Stray]] = []
    for p in config.partners:
        if p.source.is_inbox and p.source.folder is not None:
            try:
                found += [(p.inn, s) for s in inbox_strays(p.source.folder)]
            except OSError as exc:
                fail(f"inbox {p.source.folder}: {exc.strerror or exc}", EXIT_USAGE)
    return found


def _fleet_of(store: SqlStore, config: RunnerConfig, now: dt.datetime) -> dict[str, Any]:
    """The processes by their heartbeats and what waits in the store (JSON-ready)."""
    from pes_sdk_runner.fleet import read_fleet

    fleet = read_fleet(store, config, now)
    zone = config.service.time_zone

    def at(moment: dt.datetime | None) -> str | None:
        # In the service's zone, as every time the runner shows: never the host's.
        return None if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")

    q = fleet.queues
    return {
        "at": at(fleet.at),
        "processes": [
            {
                "id": s.process.id,
                "role": s.process.role,
                "host": s.process.host,
                "pid": s.process.pid,
                "version": s.process.version,
                "started_at": at(s.process.started_at),
                "last_beat": at(s.process.beat_at),
                "alive": s.alive,
                "silent_seconds": int(s.silent_for.total_seconds()),
            }
            for s in fleet.processes
        ],
        "waiting": {
            "payments": fleet.waiting_payments,
            "oldest_payment_created_at": at(fleet.oldest_waiting_payment),
            "deliveries": dict(fleet.deliveries),
        },
        # None without the job engine (daemon.engine = "thread"), or when its database
        # did not answer (queues_error: the error's type)
        "queues": None
        if q is None
        else {
            "depths": dict(q.depths),
            "running": dict(q.running),
            "oldest_waiting_seconds": None
            if q.oldest_waiting is None
            else int(q.oldest_waiting.total_seconds()),
            "failed": q.failed,
        },
        "queues_error": fleet.queues_error,
    }


def _status_of(
    store: SqlStore, config: RunnerConfig, last_ended: Callable[[PartnerConfig], dt.date]
) -> dict[str, Any]:
    from pes_sdk_runner.store import DeliveryStatus

    deliveries = store.deliveries()
    without_house = store.debts_without_house()
    strays = _strays(config)
    partners: list[dict[str, Any]] = []
    for p in config.partners:
        active = [r for r in store.debt_registries(p.inn) if r.active]
        debt: dict[str, Any] | None = None
        if active:
            newest = max(active, key=lambda r: (r.period, r.number))
            debt = {
                "period": str(newest.period),
                "number": newest.number,
                "records": newest.count,
                "total": _money(newest.total),
                "received_at": newest.received_at.isoformat(),
            }
        registries = store.payment_registries(p.inn)
        last: dict[str, Any] | None = None
        if registries:
            newest_pay = max(registries, key=lambda r: r.number)
            last = {
                "day": newest_pay.day.isoformat(),
                "number": newest_pay.number,
                "count": newest_pay.count,
                "amount": _money(newest_pay.amount),
                "fee": _money(newest_pay.fee),
                "transfer": _money(newest_pay.transfer),
            }
        ids = {r.id for r in registries}
        mine = [d for d in deliveries if d.registry_id in ids]
        ended = last_ended(p)
        partners.append(
            {
                "inn": p.inn,
                "name": p.name,
                "debt_registry": debt,
                "last_payment_registry": last,
                # the newest day whose window (and daemon.close_grace) is over: a registry
                # far behind it is a close that does not happen (a partner without empty
                # registries has none for days without payments)
                "last_ended_day": ended.isoformat(),
                "days_after_last_registry": (ended - newest_pay.day).days if registries else None,
                "deliveries": {
                    "pending": sum(1 for d in mine if d.status is DeliveryStatus.PENDING),
                    "failed": sum(1 for d in mine if d.status is DeliveryStatus.FAILED),
                },
                # debts whose registry gave no address: found by account only
                "debts_without_address": without_house.get(p.inn, 0),
                # inbox entries that are not regular files: the ingest never takes them
                "left_alone": [
                    {"file": s.path.name, "kind": s.kind} for inn, s in strays if inn == p.inn
                ],
            }
        )
    return {
        "store": config.store.display_url,
        "houses": store.house_count(),
        "partners": partners,
        # partners some of whose services a client cannot find at an address
        "not_found_by_address": [p["inn"] for p in partners if p["debts_without_address"]],
    }


def _print_fleet(fleet: dict[str, Any]) -> None:
    processes = fleet["processes"]
    alive = sum(1 for p in processes if p["alive"])
    click.echo(
        translate(
            tr(
                "processes: {alive} alive, {dead} stopped beating (at {at})",
                alive=alive,
                dead=len(processes) - alive,
                at=fleet["at"],
            )
        )
    )
    for p in processes:
        facts = {k: p[k] for k in ("role", "host", "pid", "version", "started_at", "last_beat")}
        if p["alive"]:
            line = tr(
                "  {role} on {host}, pid {pid}, version {version}, since {started_at}", **facts
            )
        else:
            line = tr(
                "  {role} on {host}, pid {pid}: dead, last beat {last_beat}"
                " ({seconds} s ago; killed, or its host is down)",
                seconds=p["silent_seconds"],
                **facts,
            )
        click.echo(translate(line))
    if not processes:
        click.echo(translate(tr("  none: no `pes runner serve` or `worker` runs on this store")))
    waiting = fleet["waiting"]
    oldest = waiting["oldest_payment_created_at"]
    click.echo(
        translate(
            tr_n(
                "waiting: {n} payment not settled by the acquirer",
                "waiting: {n} payments not settled by the acquirer",
                waiting["payments"],
            )
            if oldest is None
            else tr_n(
                "waiting: {n} payment not settled by the acquirer, the oldest created {oldest}",
                "waiting: {n} payments not settled by the acquirer, the oldest created {oldest}",
                waiting["payments"],
                oldest=oldest,
            )
        )
    )
    d = waiting["deliveries"]
    click.echo(
        translate(
            tr(
                "deliveries not done: {pending} pending, {failed} failed",
                pending=d.get("pending", 0),
                failed=d.get("failed", 0),
            )
        )
    )
    q = fleet["queues"]
    if fleet["queues_error"] is not None:
        message = tr(
            "task queues: the job engine's database did not answer ({error})",
            error=fleet["queues_error"],
        )
        click.echo(translate(message))
        return
    if q is None:
        click.echo(translate(tr("task queues: none (the scheduler runs in `serve`)")))
        return

    def per_queue(counts: dict[str, int]) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "0"

    click.echo(
        translate(
            tr(
                "task queues: waiting {waiting}; running {running}; failed tasks: {failed}",
                waiting=per_queue(q["depths"]),
                running=per_queue(q["running"]),
                failed=q["failed"],
            )
        )
    )
    if q["oldest_waiting_seconds"] is not None:
        click.echo(
            translate(
                tr(
                    "  the oldest waiting task waits for {seconds} s",
                    seconds=q["oldest_waiting_seconds"],
                )
            )
        )


@runner.command()
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@LANG_OPTION
@click.pass_context
def status(ctx: click.Context, config_path: Path, as_json: bool) -> None:
    """Show the processes on the store (by their heartbeats) and what waits in it; each
    partner's active debt registry, last payment registry and deliveries, and what sits
    in its inbox that is not a file (never read)."""
    from pes_sdk_runner.daemon import Daemon, utc_now

    config = _load(ctx, config_path)
    now = utc_now()
    with _store(config) as store:
        # The daemon's own rule says which day of a partner has ended (cut-off and grace).
        daemon = Daemon(store, config, host_of(ctx))
        state = _status_of(store, config, lambda p: daemon.last_ended_day(p, now))
        fleet = _fleet_of(store, config, now)
    if as_json:
        click.echo(json.dumps({**state, "fleet": fleet}, ensure_ascii=False, indent=2))
        ctx.exit(EXIT_OK)
    _print_fleet(fleet)
    click.echo(f"store: {state['store']}")
    for p in state["partners"]:
        click.echo(f"{p['inn']} {p['name']}")
        debt = p["debt_registry"]
        if debt is None:
            click.echo("  debt registry: none")
        else:
            click.echo(
                f"  debt registry: {debt['period']} № {debt['number']}, "
                f"{debt['records']} records, total {debt['total']}"
            )
        last = p["last_payment_registry"]
        if last is None:
            click.echo("  last payment registry: none")
        else:
            click.echo(
                f"  last payment registry: {last['day']} № {last['number']}, "
                f"{last['count']} payments, paid {last['amount']}, fee {last['fee']}, "
                f"transfer {last['transfer']}"
            )
        d = p["deliveries"]
        click.echo(f"  deliveries: {d['pending']} pending, {d['failed']} failed")
        behind = p["days_after_last_registry"]
        if behind is not None and behind > 0:
            message = tr_n(
                "  {n} ended day after the last registry (the last ended: {day})",
                "  {n} ended days after the last registry (the last ended: {day})",
                behind,
                day=p["last_ended_day"],
            )
            click.echo(translate(message))
        if p["debts_without_address"]:
            click.echo(
                f"  found by account only: {p['debts_without_address']} debts have no address"
            )
        for stray in p["left_alone"]:
            click.echo(
                f"  left alone in the inbox: {stray['file']} ({stray['kind']}, not a file:"
                " never read; remove it, or put the registry there as a file)"
            )
    click.echo(f"house directory: {state['houses']} houses")
    if state["not_found_by_address"]:
        names = {p["inn"]: p["name"] for p in state["partners"]}
        click.echo("services that cannot be found by address (clients link the account):")
        for inn in state["not_found_by_address"]:
            click.echo(f"  {inn} {names[inn]}")
    ctx.exit(EXIT_OK)


# -- houses --------------------------------------------------------------------------------


@runner.group()
def houses() -> None:
    """The house directory (справочник домов): GUID → address, for registries that write
    the address as text (docs/house-directory.md)."""


@houses.command("import-csv")
@_CONFIG
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def houses_import_csv(ctx: click.Context, config_path: Path, file: Path) -> None:
    """Load a guid;address file (UTF-8) into the directory; repeating it is harmless."""
    from pes_sdk_runner.houses import import_csv

    config = _load(ctx, config_path)
    with _store(config) as store:
        try:
            count = import_csv(store, file)
        except (PesError, OSError) as exc:
            fail(str(exc), EXIT_INVALID)
        total = store.house_count()
    click.echo(f"{file}: {count} houses loaded; the directory holds {total}")
    ctx.exit(EXIT_OK)


@houses.command("import-gar")
@_CONFIG
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def houses_import_gar(ctx: click.Context, config_path: Path, folder: Path) -> None:
    """Load a region's ФНС ГАР (ФИАС) XML export folder (AS_ADDR_OBJ, AS_HOUSES,
    AS_MUN_HIERARCHY or AS_ADM_HIERARCHY). Streamed; re-run it after a crash."""
    from pes_sdk_runner.houses import import_gar

    config = _load(ctx, config_path)
    with _store(config) as store:
        try:
            result = import_gar(store, folder)
        except (PesError, OSError) as exc:
            fail(str(exc), EXIT_INVALID)
        total = store.house_count()
    click.echo(
        f"{folder}: {result.objects} address objects, {result.houses} houses read;"
        f" {result.loaded} loaded, {result.unplaced} with no street or locality left out;"
        f" the directory holds {total}"
    )
    ctx.exit(EXIT_OK)


# -- scan ----------------------------------------------------------------------------------


def _describe(out: IngestOutcome) -> str:
    what = out.file.name if out.file is not None else "billing source"
    facts = [f"{out.partner} {what}: {out.outcome}"]
    if out.registry_number is not None:
        facts.append(f"№ {out.registry_number}")
    if out.period is not None:
        facts.append(str(out.period))
    if out.ingested:
        facts.append(f"{out.records} records, total {_money(out.total)}")
        if out.rejected:
            facts.append(f"{out.rejected} rows rejected")
    if out.message:
        facts.append(out.message)
    return "; ".join(facts)


@runner.command()
@_CONFIG
@click.pass_context
def scan(ctx: click.Context, config_path: Path) -> None:
    """One ingest pass: every inbox file, then every billing source.

    A large file gets a progress bar on stderr when that is a terminal, as in 'pes
    validate'. What sits in an inbox and is not a regular file (a symbolic link, a folder,
    a FIFO) is left where it is and named on stderr.
    """
    from pes_sdk.cli.common import progress_for
    from pes_sdk_runner.ingest import Outcome, poll_sources, scan_inboxes

    host = host_of(ctx)
    config = _load(ctx, config_path)
    _make_folders(config)

    def bar(path: Path) -> contextlib.AbstractContextManager[Progress | None]:
        return progress_for(path, f"ingesting {path.name}")

    with _store(config) as store:
        outcomes = [
            *scan_inboxes(store, config, host, progress=bar),
            *poll_sources(store, config, host),
        ]
    for inn, stray in _strays(config):
        click.echo(f"{inn} {stray.path.name}: left alone: {stray.kind}, not a file", err=True)
    for out in outcomes:
        click.echo(_describe(out))
    if not outcomes:
        click.echo("nothing to ingest")
    bad = {Outcome.REFUSED, Outcome.CONFLICT, Outcome.FAILED}
    ctx.exit(EXIT_INVALID if any(o.outcome in bad for o in outcomes) else EXIT_OK)


# -- close-day -----------------------------------------------------------------------------


def _closed(result: DayClose) -> str:
    if result.registry is None:
        if result.reason in ("", "no payments"):
            return f"{result.partner_inn}: no payments; no registry (empty registries are off)"
        return f"{result.partner_inn}: no registry for {result.day:%Y-%m-%d}: {result.reason}"
    t = result.registry.totals
    line = (
        f"{result.partner_inn}: registry № {result.registry.number} of {result.day:%Y-%m-%d}, "
        f"{t.count} payments, paid {_money(t.amount)}, commission {_money(t.commission)}, "
        f"VAT {_money(t.vat)}, transfer {_money(t.transfer)}"
    )
    if result.registry_path is not None:
        line += f"\n  file: {result.registry_path}"
    if result.transfer_path is not None:
        line += f"\n  transfer order: {result.transfer_path}"
    return line


@runner.command("close-day")
@_CONFIG
@click.option(
    "--date",
    "day",
    required=True,
    type=ISO_DATE,
    help="The day to close, in the service's time zone.",
)
@click.option("--partner", "inn", help="Close for this partner (ИНН) only.")
@click.pass_context
def close_day_command(ctx: click.Context, config_path: Path, day: dt.date, inn: str | None) -> None:
    """Close a day: payment registries, transfer orders, ledger entries, deliveries.

    Every partner's day is checked first (over, formats and fee plan installed, not before
    a later closed day): if one fails, nothing is written. Earlier days still open (a close
    cut short, days with payments in no registry) are closed first, oldest first; each
    registry is printed as it is written.
    """
    from pes_sdk_runner.close import (
        DayNotOver,
        check_close,
        close_day,
        close_readings,
        days_to_close_before,
        deliver_pending,
    )
    from pes_sdk_runner.store import DeliveryStatus

    host = host_of(ctx)
    config = _load(ctx, config_path)
    partners = _chosen(config, inn)
    date = day
    _make_folders(config)
    # The real clock decides whether the day is over: a day closed early could miss payments.
    now = dt.datetime.now(dt.UTC)
    failed = False
    with _store(config) as store:
        problems: list[str] = []
        for p in partners:
            try:
                check_close(store, config, host, p, date, now=now)
            except DayNotOver as exc:
                problems.append(f"the day is not over yet: {exc}")
            except PesError as exc:
                problems.append(str(exc))
        if problems:
            for problem in problems:
                click.echo(f"pes: error: {problem}", err=True)
            click.echo("pes: nothing was closed", err=True)
            raise click.exceptions.Exit(EXIT_USAGE)
        for p in partners:
            try:
                # Days are closed in order: a close cut short by a crash, and earlier days
                # with payments in no registry yet, are closed first, so that closing a
                # later day never leaves a payment out of every registry.
                for earlier in days_to_close_before(store, config, p, date):
                    click.echo(f"{p.inn}: closing {earlier:%Y-%m-%d} first (not closed yet)")
                    _print_close(
                        close_day(store, config, host, p, earlier, now=now),
                        close_readings(store, config, host, p, earlier, now=now),
                    )
                _print_close(
                    close_day(store, config, host, p, date, now=now),
                    close_readings(store, config, host, p, date, now=now),
                )
            except (PesError, OSError) as exc:
                # What was closed before stands (and was printed); the others go on.
                click.echo(f"pes: error: partner {p.inn}: {exc}", err=True)
                failed = True
        deliveries = deliver_pending(store, config, host, now=dt.datetime.now(dt.UTC))
    failed_deliveries = [d for d in deliveries if d.status is DeliveryStatus.FAILED]
    waiting = [d for d in deliveries if d.status is DeliveryStatus.PENDING]
    for d in failed_deliveries:
        click.echo(f"delivery {d.id} to {d.target} failed: {d.last_error}", err=True)
    for d in waiting:
        click.echo(f"delivery {d.id} to {d.target} will be retried: {d.last_error}", err=True)
    ctx.exit(EXIT_INVALID if failed or failed_deliveries else EXIT_OK)


def _print_close(result: DayClose, readings: Path | None) -> None:
    click.echo(_closed(result))
    if readings is not None:
        click.echo(f"  readings registry: {readings}")


# -- the scheduler --------------------------------------------------------------------------


def _schedule(config: RunnerConfig) -> str:
    d = config.daemon
    if not d.enabled:
        return tr("off (serve runs the API only)")
    return tr(
        "inboxes every {scan:g} s, billing sources every {poll:g} s; "
        "days closed {grace:g} s after the cut-off, {back}; "
        "deliveries retried every {retry:g} s, {attempts}",
        scan=d.scan_interval,
        poll=d.poll_interval,
        grace=d.close_grace,
        back=tr_n("up to {n} day back", "up to {n} days back", d.catch_up_days),
        retry=d.delivery_interval,
        attempts=tr_n("{n} attempt in all", "{n} attempts in all", d.delivery_max_attempts),
    )


def _pass_lines(done: Pass) -> list[tuple[str, bool]]:
    """What a pass did, one line each, with True for the lines that tell of a problem."""
    from pes_sdk_runner.ingest import Outcome
    from pes_sdk_runner.store import DeliveryStatus

    bad = {Outcome.REFUSED, Outcome.CONFLICT, Outcome.FAILED}
    lines = [(_describe(out), out.outcome in bad) for out in done.ingested]
    lines += [(_closed(result), False) for result in done.registries]
    for d in done.deliveries:
        if d.status is DeliveryStatus.FAILED:
            lines.append((f"delivery {d.id} to {d.target} failed: {d.last_error}", True))
        elif d.status is DeliveryStatus.PENDING:
            lines.append((f"delivery {d.id} to {d.target} will be retried: {d.last_error}", False))
        else:
            lines.append((f"delivery {d.id} to {d.target}: {d.status}", False))
    for check in done.payments:
        if check.changed:
            credited = ", credited: its webhook never came" if check.credited else ""
            lines.append((f"payment {check.order_id} is {check.state}{credited}", False))
    for e in done.errors:
        where = " ".join(x for x in (e.partner, e.subject) if x)
        lines.append((f"error in {e.stage}{' ' + where if where else ''}: {e.message}", True))
    return lines


@runner.command("run-once")
@_CONFIG
@click.pass_context
def run_once_command(ctx: click.Context, config_path: Path) -> None:
    """One pass of the scheduler now: scan, poll, close the ended days, deliver.

    What 'pes runner serve' does on its own, once: for a cron job, or to see what the
    scheduler would do. Exits 1 when a registry was refused or a day, file or delivery
    failed.
    """
    from pes_sdk_runner.daemon import Daemon, utc_now

    host = host_of(ctx)
    config = _load(ctx, config_path)
    _make_folders(config)
    with _store(config) as store:
        done = Daemon(store, config, host).run_once(utc_now())
    lines = _pass_lines(done)
    for line, problem in lines:
        click.echo(line, err=problem)
    if not lines:
        click.echo("nothing to do")
    ctx.exit(EXIT_OK if done.ok else EXIT_INVALID)


def _print_pass(done: Pass) -> None:
    lines = _pass_lines(done)
    if lines:
        click.echo(f"pes runner: pass at {done.at:%Y-%m-%d %H:%M:%S} UTC:")
        for line, _problem in lines:
            click.echo(f"  {line}")


@contextmanager
def _scheduler(
    config: RunnerConfig,
    host: Any,
    metrics: Any,
    check_payment: Callable[[uuid.UUID], Any] | None = None,
) -> Iterator[None]:
    """The scheduler in a thread of its own, on a store of its own, while the block runs.

    Its own store (connection): a long ingest in one transaction must not hold the API's
    connection lock, and on PostgreSQL the API's requests and the pass then run side by
    side. On leaving, the thread is told to stop and joined: a pass in progress finishes
    the file, day or delivery it is at.
    """
    from pes_sdk_runner.daemon import Daemon
    from pes_sdk_runner.lease import LeaseHeld, SchedulerLease
    from pes_sdk_runner.store import open_store

    try:
        store = open_store(config.store.url, migrate=False, group_commit=config.store.group_commit)
    except (PesError, OSError) as exc:
        fail(f"store {config.store.display_url}: {exc}", EXIT_USAGE)
    stop = threading.Event()
    # One scheduler per store: the store's lease decides; a lost lease stops this one.
    try:
        lease = SchedulerLease(
            config.store.url,
            config.daemon.lease_ttl,
            on_lost=stop.set,
            group_commit=config.store.group_commit,
        )
        lease.acquire()
    except LeaseHeld as exc:
        store.close()
        # Not a configuration error (exit 2): a service manager's restart may take over.
        fail(f"store {config.store.display_url}: {exc}", EXIT_INVALID)
    except (PesError, OSError) as exc:
        store.close()
        fail(f"store {config.store.display_url}: {exc}", EXIT_USAGE)
    daemon = Daemon(
        store,
        config,
        host,
        metrics=metrics,
        on_pass=_print_pass,
        check_payment=check_payment,
    )
    # Not a daemon thread: the interpreter must never end a transaction half way.
    thread = threading.Thread(target=daemon.run_forever, args=(stop,), name="pes-runner-daemon")
    thread.start()
    click.echo(f"pes runner: scheduler on: {_schedule(config)}")
    try:
        yield
    finally:
        stop.set()
        while thread.is_alive():
            # A second Ctrl-C or SIGTERM does not cut the pass short: it is waited for.
            with suppress(KeyboardInterrupt):
                thread.join()
        store.close()
        lease.release()
        click.echo("pes runner: scheduler stopped")


# -- serve ---------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


#: What stops serve and worker: a service manager's SIGTERM, and Ctrl-C's SIGINT.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_held() -> Iterator[threading.Event]:
    """While the block runs, a stop (SIGTERM, Ctrl-C) only sets the event it yields.

    The start-up of serve and worker is not cut short wherever the signal lands: before,
    SIGTERM's default action killed the process in the middle of a migration, and a
    KeyboardInterrupt in the engine's launch ended it with "Aborted!" (exit 1), the
    engine half launched and the SQLite store's scheduler lease held until it ran out.
    The start-up looks at the event between its steps (:func:`_stop_if_asked`) and ends
    cleanly, exit 0; once it runs, :func:`_stop_raises` makes a stop immediate. A second
    stop while one is held is an operator insisting (a start-up stuck on an unreachable
    database): it interrupts at once, as a stop always did.
    """
    asked = threading.Event()

    def hold(signum: int, frame: object) -> None:
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()

    previous = {sig: signal.signal(sig, hold) for sig in _STOP_SIGNALS}
    try:
        yield asked
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_if_asked(ctx: click.Context, asked: threading.Event) -> None:
    """End the command, cleanly (exit 0), if a stop came during its start-up so far."""
    if asked.is_set():
        click.echo("pes runner: stopped")
        ctx.exit(EXIT_OK)


@contextmanager
def _stop_raises(asked: threading.Event) -> Iterator[None]:
    """Started: a stop raises KeyboardInterrupt (which the caller suppresses: Ctrl-C and
    SIGTERM are the normal way out, exit 0), and so does, at once, one held so far."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        if asked.is_set():
            raise KeyboardInterrupt
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@runner.command()
@_CONFIG
@click.option("--host", "bind_host", help="Listen on this address (default: http.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Listen on this port; 0 takes any free one (default: http.port).",
)
@click.option(
    "--no-daemon",
    is_flag=True,
    help="Serve the API only: no inbox scans, day closes or deliveries.",
)
@click.option(
    "--id",
    "executor",
    help=(
        "This serve's name in the fleet when it runs background work: unique, and the same"
        " after a restart (it takes back the work its last run left unfinished). Default:"
        " HOSTNAME-serve-PORT on PostgreSQL, HOSTNAME-serve on SQLite; set it where the host"
        " name or the port changes from one start to the next (a container, port 0)."
    ),
)
@click.pass_context
def serve(
    ctx: click.Context,
    config_path: Path,
    bind_host: str | None,
    port: int | None,
    no_daemon: bool,
    executor: str | None,
) -> None:
    """Serve the HTTP API and run the background work until Ctrl-C (or SIGTERM).

    The background work scans the inboxes, closes each partner's ended days and delivers
    the registries on its own, on the job engine ([daemon] in the configuration);
    --no-daemon, or daemon.enabled = false, serves the API only.
    """
    # First of all: a stop from now on ends the start-up cleanly (_stop_held).
    stopping = ctx.with_resource(_stop_held())
    import attrs

    from pes_sdk_runner.api import create_app, listen, make_server, processor_for
    from pes_sdk_runner.heartbeat import Heartbeat
    from pes_sdk_runner.logs import log_to_stderr

    host = host_of(ctx)
    config = _load(ctx, config_path)
    http = attrs.evolve(
        config.http,
        host=bind_host if bind_host is not None else config.http.host,
        port=port if port is not None else config.http.port,
    )
    config = attrs.evolve(config, http=http)
    _make_folders(config)
    _stop_if_asked(ctx, stopping)
    # The socket is bound first, so that port 0 gives a known port for the webhook URL.
    try:
        sock = listen(http.host, http.port)  # with TCP_NODELAY: answers are not held back
    except OSError as exc:
        fail(f"cannot listen on {http.host}:{http.port}: {exc.strerror or exc}", EXIT_USAGE)
    bound = sock.getsockname()[1]
    base = f"http://{http.host}:{bound}"
    with sock, _store(config) as store:
        _stop_if_asked(ctx, stopping)  # one that came during the migrations
        factory = host.gateways().get(config.gateway.name)
        if factory is None:  # pragma: no cover - the configuration check names it
            fail(f"no payment gateway named {config.gateway.name!r}", EXIT_USAGE)
        settings = config.gateway.adapter.merged()
        if config.gateway.name == "sandbox" and "url" not in settings:
            # The embedded sandbox sends its webhooks to this server unless told otherwise.
            settings.setdefault("webhook_url", base + http.webhook_path)
        try:
            gateway = factory.create(settings)
        except (PesError, ValueError, OSError) as exc:
            fail(f"gateway {config.gateway.name}: {exc}", EXIT_USAGE)
        try:
            processor = processor_for(gateway, store)  # credits and refunds in the ledger
            app = create_app(store, config, host, processor)
            server = make_server(app, config)
            # The API's and the scheduler's events as JSON lines on stderr (no personal
            # data: accounts masked), unless the embedding program set logging up.
            log_to_stderr()
            click.echo(f"pes runner: serving on {base} (store {config.store.display_url})")
            scheduler: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if config.daemon.enabled and not no_daemon:
                api = getattr(app.state, "api", None)
                # The scheduler asks the acquirer about payments whose webhook never came,
                # through this processor: the API's book and its locks.
                if config.daemon.engine == "dbos":
                    from pes_sdk_runner.config.models import StoreKind
                    from pes_sdk_runner.jobs import default_executor_id

                    # One serve per SQLite store: the same id after a restart, whatever the
                    # port, so it takes back at once what its killed predecessor left. On
                    # PostgreSQL the port tells apart the serves of one host.
                    role = "serve" if config.store.kind is StoreKind.SQLITE else f"serve-{bound}"
                    scheduler = _jobs(
                        config,
                        host,
                        executor or default_executor_id(role),
                        processor.refresh,
                        metrics=getattr(api, "metrics", None),
                        processor=processor,
                    )
                else:
                    scheduler = _scheduler(
                        config, host, getattr(api, "metrics", None), processor.refresh
                    )
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again
            # for the previous handler (_stop_raises'): Ctrl-C is the normal way out, not an
            # error. The scheduler is stopped (and joined) after the server.
            # The heartbeat lists this process in the store (pes runner status) until it
            # stops: entered first, left last. A stop while the engine is launched is held
            # until it runs, then stops it as any stop does.
            _stop_if_asked(ctx, stopping)
            with (
                Heartbeat(store, "serve"),
                scheduler,
                suppress(KeyboardInterrupt),
                _stop_raises(stopping),
            ):
                server.run(sockets=[sock])
        finally:
            gateway.close()
    click.echo("pes runner: stopped")
    ctx.exit(EXIT_OK)


@contextmanager
def _jobs(
    config: RunnerConfig,
    host: Any,
    executor: str,
    check_payment: Callable[[uuid.UUID], Any] | None = None,
    take_over: tuple[str, ...] = (),
    metrics: Any = None,
    processor: Any = None,
) -> Iterator[Any]:
    """The job engine (``daemon.engine = "dbos"``) while the block runs; stopped after.

    Each executor id runs in one process at a time (the engine holds the store's lease
    ``jobs:<id>``): a second process under a live id is refused, and so is a ``take_over``
    of a live id. On a SQLite store the engine runs in one process only: the scheduler's
    lease refuses a second one, naming the first.
    """
    from pes_sdk_runner.config.models import StoreKind
    from pes_sdk_runner.jobs import ExecutorAlive, ExecutorTaken, JobsError, launch
    from pes_sdk_runner.lease import LeaseHeld, SchedulerLease

    where = f"store {config.store.display_url}"
    lease: SchedulerLease | None = None
    if config.store.kind is StoreKind.SQLITE:
        try:
            lease = SchedulerLease(
                config.store.url, config.daemon.lease_ttl, group_commit=config.store.group_commit
            )
            lease.acquire()
        except LeaseHeld as exc:
            fail(f"{where}: {exc}", EXIT_INVALID)
        except (PesError, OSError) as exc:
            fail(f"{where}: {exc}", EXIT_USAGE)
    try:
        # A lost executor lease stops the engine (another process took the id); the API of
        # serve goes on.
        engine = launch(
            config,
            host,
            executor_id=executor,
            check_payment=check_payment,
            take_over=take_over,
            metrics=metrics,
            processor=processor,
        )
    except ExecutorTaken as exc:
        if lease is not None:
            lease.release()
        fail(
            tr(
                "{where}: another process runs as {executor}: {holder} (until {until}, renewed"
                " while it runs); give this one another --id",
                where=where,
                executor=executor,
                holder=exc.holder,
                until=exc.until.isoformat(timespec="seconds"),
            ),
            EXIT_INVALID,
        )
    except ExecutorAlive as exc:
        if lease is not None:
            lease.release()
        fail(
            tr(
                "{where}: --take-over {executor}: that process still runs (it renews its"
                " lease); take over only the work of one gone for good",
                where=where,
                executor=", ".join(exc.executors),
            ),
            EXIT_INVALID,
        )
    except JobsError as exc:
        if lease is not None:
            lease.release()
        fail(f"{where}: {exc}", EXIT_USAGE)
    except BaseException:
        # Anything else (a stop, a bug): the lease goes with the attempt, or a restart would
        # be refused until it expired.
        if lease is not None:
            lease.release()
        raise
    click.echo(
        translate(
            tr(
                "pes runner: background work on the job engine as {executor} (tick every {tick} s)",
                executor=executor,
                tick=config.daemon.tick,
            )
        )
    )
    try:
        yield engine
    finally:
        # A second Ctrl-C or SIGTERM does not cut the stop short: the steps in progress end.
        with suppress(KeyboardInterrupt):
            engine.shutdown()
        if lease is not None:
            lease.release()
        click.echo(translate(tr("pes runner: background work stopped")))


def _heartbeat(store: SqlStore, role: str) -> contextlib.AbstractContextManager[Any]:
    """This process's heartbeat in the store (``pes runner status``), where the runner has it."""
    try:
        from pes_sdk_runner.heartbeat import Heartbeat  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return contextlib.nullcontext()
    beat: contextlib.AbstractContextManager[Any] = Heartbeat(store, role)
    return beat


@runner.command()
@_CONFIG
@click.option(
    "--id",
    "executor",
    help=(
        "This worker's name in the fleet: unique, and the same after a restart (it takes back"
        " the work its last run left unfinished). Default: HOSTNAME-worker."
    ),
)
@click.option(
    "--take-over",
    "take_over",
    multiple=True,
    metavar="ID",
    help=(
        "Also finish the work a worker (or serve) of this id left unfinished: one gone for"
        " good, that will not start again under its id. Repeatable."
    ),
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help=(
        "Export this worker's Prometheus metrics at http://HOST:PORT/metrics (0: a free"
        " port, printed); off by default."
    ),
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics are served on.",
)
@click.pass_context
def worker(
    ctx: click.Context,
    config_path: Path,
    executor: str | None,
    take_over: tuple[str, ...],
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run background work only, until Ctrl-C (or SIGTERM): any number on a PostgreSQL store.

    Inbox scans, billing-source polls, the payment backstop, day closes and deliveries as
    durable workflows (daemon.engine = "dbos"; docs/runner-config.md). On a SQLite store
    one `pes runner serve` does all of it: a worker is refused there.
    """
    # First of all: a stop from now on ends the start-up cleanly (_stop_held).
    stopping = ctx.with_resource(_stop_held())
    from pes_sdk_runner.api import processor_for
    from pes_sdk_runner.api.metrics import Metrics, StoreCollector, serve_metrics
    from pes_sdk_runner.config.models import StoreKind
    from pes_sdk_runner.daemon import utc_now
    from pes_sdk_runner.fleet import metric_facts, read_fleet
    from pes_sdk_runner.jobs import WorkerNeedsPostgres, default_executor_id
    from pes_sdk_runner.logs import log_to_stderr

    host = host_of(ctx)
    config = _load(ctx, config_path)
    if config.store.kind is StoreKind.SQLITE:
        fail(WorkerNeedsPostgres(config.store.sqlite_path).message, EXIT_USAGE)
    if config.daemon.engine != "dbos":
        fail(
            tr(
                '{path}: `pes runner worker` runs the job engine: set daemon.engine = "dbos"'
                " (every process of the store: serve and workers alike)",
                path=config_path,
            ),
            EXIT_USAGE,
        )
    _make_folders(config)
    _stop_if_asked(ctx, stopping)
    with _store(config) as store:
        _stop_if_asked(ctx, stopping)  # one that came during the migrations
        factory = host.gateways().get(config.gateway.name)
        if factory is None:  # pragma: no cover - the configuration check names it
            fail(f"no payment gateway named {config.gateway.name!r}", EXIT_USAGE)
        try:
            gateway = factory.create(config.gateway.adapter.merged())
        except (PesError, ValueError, OSError) as exc:
            fail(f"gateway {config.gateway.name}: {exc}", EXIT_USAGE)
        try:
            # The backstop asks the acquirer through a processor of this process; the store
            # decides who credits a payment (serve's webhooks and the workers alike).
            processor = processor_for(gateway, store)
            log_to_stderr()
            name = executor or default_executor_id("worker")
            metrics = Metrics()
            exported: contextlib.AbstractContextManager[int | None] = contextlib.nullcontext()
            if metrics_port is not None:
                # The fleet's facts too, read at each scrape as serve's /metrics reads them.
                metrics.add(
                    StoreCollector(lambda: metric_facts(read_fleet(store, config, utc_now())))
                )
                exported = serve_metrics(metrics, metrics_host, metrics_port)
            _stop_if_asked(ctx, stopping)
            with (
                _heartbeat(store, "worker"),
                exported as bound,
                _jobs(
                    config,
                    host,
                    name,
                    processor.refresh,
                    take_over,
                    metrics=metrics,
                    processor=processor,
                ),
                suppress(KeyboardInterrupt),
                _stop_raises(stopping),
            ):
                if bound is not None:
                    click.echo(
                        translate(
                            tr(
                                "pes runner: metrics on http://{host}:{port}/metrics",
                                host=metrics_host,
                                port=bound,
                            )
                        )
                    )
                threading.Event().wait()
        finally:
            gateway.close()
    click.echo("pes runner: stopped")
    ctx.exit(EXIT_OK)


def _demo_command() -> click.Command:
    from pes_sdk_runner.demo import demo

    return demo


runner.add_command(_demo_command())


def _campaigns_command() -> click.Group:
    from pes_sdk_runner.campaigns_cli import campaigns

    return campaigns


runner.add_command(_campaigns_command())


def _receipts_command() -> click.Group:
    from pes_sdk_runner.receipts_cli import receipts

    return receipts


runner.add_command(_receipts_command())
