"""``[autopay]`` of the runner's file: the notice period, the consent text, the retries.

The law on charges without the client moves (what a notice must say, how long before),
so what rests on it is configuration, not code: docs/autopay.md says what each default
rests on. Read by :func:`~pes_sdk_runner.config.loader.parse_runner_config` like every
other section: each problem noted with its key path.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk_runner.i18n import tr

if TYPE_CHECKING:
    from pes_sdk_runner.config.loader import _Loader

__all__ = ["CONSENT_FIELDS", "DEFAULT_CONSENT_TEXT", "AutopayConfig", "load_autopay"]

#: The consent text agreed to by default. Its fields are filled when the client agrees,
#: and the filled text is what the consent keeps (``{rule}`` reads "when a new period's
#: charges arrive" or "on the N-th of each month").
DEFAULT_CONSENT_TEXT = (
    "Я даю согласие на автоматическое списание (автоплатёж) с карты, которой оплачиваю"
    " этот платёж, суммы к оплате"
    " по лицевому счёту {account} ({partner}) {rule}, не более {limit} в месяц."
    " О каждом списании меня уведомят не позднее чем за {notice_days} дн. до него, с суммой"
    " и способом отказаться. Согласие можно отозвать в любой момент в личном кабинете;"
    " отзыв действует сразу, в том числе для списания, о котором уже пришло уведомление."
)
#: The fields a consent text may use.
CONSENT_FIELDS = frozenset({"account", "partner", "rule", "limit", "notice_days"})
_KEYS = ("enabled", "notice_days", "consent_text", "consent_text_version", "retry_hours")
_WHERE = "autopay"


def _check_text(text: str) -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    unknown = fields - CONSENT_FIELDS
    if unknown:
        raise ValueError(
            f"the consent text names unknown fields {sorted(unknown)};"
            f" it may use {sorted(CONSENT_FIELDS)}"
        )
    if "notice_days" not in fields or "limit" not in fields:
        raise ValueError("the consent text states the notice period and the monthly limit")


def _retry_hours(value: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(value)


@attrs.frozen
class AutopayConfig:
    """Autopay (``[autopay]``): see ``docs/autopay.md``.

    ``retry_hours``: the pauses before each repeat of a declined charge, growing; the
    number of attempts is one more than their count, at most 5.
    """

    enabled: bool = True
    #: days between the notice and the charge: at least this many
    notice_days: int = 3
    consent_text: str = attrs.field(default=DEFAULT_CONSENT_TEXT)
    #: changes whenever the text does: each consent keeps the version it was given
    consent_text_version: str = "2026-12-01"
    retry_hours: tuple[int, ...] = attrs.field(default=(24, 48, 72, 96), converter=_retry_hours)

    @consent_text.validator
    def _text_ok(self, _: attrs.Attribute[str], value: str) -> None:
        _check_text(value)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.notice_days <= 30:
            raise ValueError("the notice comes 1 to 30 days before a charge")
        if len(self.retry_hours) > 4:
            raise ValueError("a charge is attempted at most 5 times: at most 4 pauses")
        if any(h < 1 for h in self.retry_hours) or list(self.retry_hours) != sorted(
            self.retry_hours
        ):
            raise ValueError("the pauses between attempts are whole hours, growing")

    @property
    def attempts(self) -> int:
        """How many times one charge goes to the acquirer at most."""
        return len(self.retry_hours) + 1


def _hours(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(tr("is a list of whole hours, such as [24, 48, 72, 96]"))
    return tuple(value)


def load_autopay(loader: _Loader, data: Mapping[str, Any]) -> AutopayConfig | None:
    """The ``[autopay]`` table (the defaults when there is none); None on a problem."""
    from pes_sdk_runner.config.loader import _bool, _text, _whole

    r = loader.r
    table = r.table(data, "autopay", "")
    if table is None:
        return None
    r.unknown(table, _KEYS, _WHERE)
    problems = len(r.problems)
    readers = {
        "enabled": _bool,
        "notice_days": _whole(1, 30, tr("days")),
        "consent_text": _text,
        "consent_text_version": _text,
        "retry_hours": _hours,
    }
    values: dict[str, Any] = {}
    for key, convert in readers.items():
        if key in table:
            values[key] = r.get(table, key, _WHERE, convert)
    if len(r.problems) > problems:
        return None
    try:
        return AutopayConfig(**values)
    except ValueError as exc:
        r.note(_WHERE, str(exc))
        return None
