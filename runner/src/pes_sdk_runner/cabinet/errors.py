"""The cabinet's refusals: :class:`~pes_sdk_runner.usecases.UseCaseError` with codes of
their own, so that a front end answers them as it answers the other use cases."""

from __future__ import annotations

import datetime as dt
import math

from pes_sdk_runner.usecases import Refused, UseCaseError

__all__ = ["CodeRefused", "InvalidPhone", "LinkRefused", "SmsUnavailable", "TooManyRequests"]


class InvalidPhone(Refused):
    """Not a Russian mobile number in any of the ways people write one."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid-phone", message, "phone")


class TooManyRequests(UseCaseError):
    """A limit is reached; ``retry_after`` is how long until the next attempt may pass."""

    def __init__(self, message: str, retry_after: dt.timedelta, field: str | None = None) -> None:
        super().__init__("too-many-requests", message, field)
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, at least one (the ``Retry-After`` header's value)."""
        return max(1, math.ceil(self.retry_after.total_seconds()))


class CodeRefused(UseCaseError):
    """The login code was not taken: wrong, expired, used, or tried too often. One answer
    for all, so that a guesser learns nothing but "no"."""

    def __init__(self) -> None:
        super().__init__(
            "code-refused",
            "the code is wrong, expired, used or tried too often; ask for a new one",
            "code",
        )


class LinkRefused(UseCaseError):
    """An account was not linked: no such account, or the proof does not match it. One
    answer for both, so that nobody learns which accounts exist."""

    def __init__(self) -> None:
        super().__init__(
            "link-refused",
            "no account matches this partner, account, premises and amount due",
            "account",
        )


class SmsUnavailable(UseCaseError):
    """The notification channel could not take the code now; asking again may work."""

    def __init__(self) -> None:
        super().__init__("sms-unavailable", "the code could not be sent now; try again later")
