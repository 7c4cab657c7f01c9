"""``pes runner receipts list|resend``: failed e-receipts (54-ФЗ) for an operator at a shell.

A receipt the cloud register refused or did not register stays ``failed``
(:mod:`pes_sdk_runner.receipts`); ``list`` says which and why (the register's code and
field, never a contact), ``resend`` puts one back to be sent by the next receipts pass
under its own ``external_id``, once its cause is fixed (a supplier's phone, the
register's settings).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import click

from pes_sdk.cli.common import EXIT_INVALID, EXIT_USAGE, ISO_DATE, fail
from pes_sdk_runner.cli import _CONFIG, _load, _money, _store
from pes_sdk_runner.logs import mask_phone
from pes_sdk_runner.store.receipts import FiscalReceipt, ReceiptStatus

__all__ = ["receipts"]

#: the most rows ``list`` and ``resend --all-failed`` read at once
_LIMIT = 10_000
_PHONE = re.compile(r"\+?\d{10,15}")


def _mask_client(client_id: str | None) -> str | None:
    """The payer's id as an operator may see it: an app's client id may be a phone or an
    e-mail, masked as the runner's logs mask a phone (``+7******4567``) and an e-mail
    (``i***@mail.example``); ``cabinet:<id>`` and other ids as they are."""
    if client_id is None:
        return None
    prefix, _, rest = client_id.rpartition(":")
    head = f"{prefix}:" if prefix else ""
    if "@" in rest:
        local, _, domain = rest.partition("@")
        return f"{head}{local[:1]}***@{domain}"
    if _PHONE.fullmatch(rest):
        return head + mask_phone(rest if rest.startswith("+") else f"+{rest}")
    return client_id


def _key(row: FiscalReceipt) -> str:
    """How ``resend`` names the receipt: the order id (the sale), ``<order id>:<n>`` (its
    n-th refund)."""
    return f"{row.order_id}:{row.refund_no}" if row.refund_no else str(row.order_id)


def _view(row: FiscalReceipt) -> dict[str, object]:
    return {
        "receipt": _key(row),
        "order_id": str(row.order_id),
        "refund_no": row.refund_no,
        "operation": str(row.operation),
        "external_id": row.external_id,
        "register": row.register,
        "client": _mask_client(row.client_id),
        "status": str(row.status),
        "total": str(row.total),
        "error_code": row.error_code,
        "error_field": row.error_field,
        "uuid": row.uuid,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


@click.group()
def receipts() -> None:
    """E-receipts (54-ФЗ) on the cloud register: the failed ones, and sending them again."""


@receipts.command("list")
@_CONFIG
@click.option(
    "--state",
    type=click.Choice([str(ReceiptStatus.FAILED)]),
    default=str(ReceiptStatus.FAILED),
    show_default=True,
    help="The receipts in this state.",
)
@click.option(
    "--since",
    type=ISO_DATE,
    default=None,
    help="Only those that came to it on or after this day, in the service's time zone.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(
    ctx: click.Context, config_path: Path, state: str, since: dt.date | None, as_json: bool
) -> None:
    """Failed receipts, the longest failed first: what, and why (the register's code and
    the field it named; no contact)."""
    config = _load(ctx, config_path)
    start = None
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=config.service.time_zone)
    with _store(config) as store:
        found = store.fiscal_receipts_by_status(ReceiptStatus(state), _LIMIT, since=start)
    if as_json:
        click.echo(json.dumps([_view(r) for r in found], ensure_ascii=False, indent=2))
        return
    zone = config.service.time_zone
    for r in found:
        when = r.updated_at.astimezone(zone)
        why = r.error_code or "-"
        if r.error_field:
            why += f" ({r.error_field})"
        click.echo(
            f"{_key(r)}\t{r.operation}\t{_money(r.total)}\t{when:%Y-%m-%d %H:%M}\t{why}"
            f"\t{r.uuid or '-'}"
        )


def _receipt(value: str) -> tuple[uuid.UUID, int]:
    """``ORDER_ID`` (the sale's receipt) or ``ORDER_ID:N`` (its n-th refund's)."""
    order, _, number = value.partition(":")
    try:
        order_id = uuid.UUID(order)
        refund_no = int(number) if number else 0
    except ValueError:
        fail(f"{value}: not an order id (ORDER_ID, or ORDER_ID:N for its n-th refund)", EXIT_USAGE)
    if refund_no < 0:
        fail(f"{value}: a refund's number is 1 or more", EXIT_USAGE)
    return order_id, refund_no


@receipts.command()
@_CONFIG
@click.argument("orders", metavar="ORDER_ID...", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every failed receipt.")
@click.pass_context
def resend(
    ctx: click.Context, config_path: Path, orders: tuple[str, ...], all_failed: bool
) -> None:
    """Send failed receipts again: each back to waiting, for the next receipts pass to
    register under its own external_id (the register cannot make it twice).

    ORDER_ID is the sale's receipt, ORDER_ID:N the one of its n-th refund, as `list`
    prints them. A receipt that is not failed is refused, and so is one the register took
    and then failed (it holds that document under the key); the exit status is then 1.
    """
    from pes_sdk_runner.daemon import utc_now
    from pes_sdk_runner.receipts import Resent
    from pes_sdk_runner.receipts import resend as resend_one

    if bool(orders) == all_failed:
        fail("name the receipts (ORDER_ID...) or give --all-failed, not both", EXIT_USAGE)
    wanted = [_receipt(o) for o in orders]
    config = _load(ctx, config_path)
    refused = 0
    with _store(config) as store:
        if all_failed:
            failed = store.fiscal_receipts_by_status(ReceiptStatus.FAILED, _LIMIT)
            wanted = [(r.order_id, r.refund_no) for r in failed]
        for order_id, refund_no in wanted:
            done, row = resend_one(store, order_id, utc_now(), refund_no)
            name = f"{order_id}:{refund_no}" if refund_no else str(order_id)
            if done is Resent.RESENT:
                click.echo(f"{name}: to be sent again as {row.external_id if row else '-'}")
                continue
            refused += 1
            if done is Resent.UNKNOWN:
                reason = "no such receipt"
            elif done is Resent.NOT_FAILED:
                reason = f"not failed ({row.status if row else '-'}): nothing to send again"
            else:
                reason = (
                    f"the register took it as document {row.uuid if row else '-'} and failed"
                    f" it; it answers external_id {row.external_id if row else '-'} with that"
                    " document again: not resent"
                )
            click.echo(f"pes: error: {name}: {reason}", err=True)
    if refused:
        ctx.exit(EXIT_INVALID)
