"""Errors of the ГИС ЖКХ adapter, all within the SDK's one hierarchy (:class:`PesError`)."""

from __future__ import annotations

from pes_sdk.errors import ConfigError, PesError

__all__ = [
    "GisConfigError",
    "GisError",
    "GisFault",
    "GisMessageFailed",
    "GisPollTimeout",
    "GisTransportError",
]


class GisError(PesError):
    """Base class of every error the ГИС ЖКХ adapter raises."""


class GisConfigError(ConfigError, GisError):
    """``GIS.toml`` (or the settings given in code) is invalid, or the format package is missing."""


class GisTransportError(GisError):
    """The exchange failed in transport (connection, timeout, HTTP 5xx) after every retry.

    ``attempts`` says how many times the call was tried; ``operation`` names it.
    """

    def __init__(self, message: str, *, operation: str, attempts: int) -> None:
        self.operation = operation
        self.attempts = attempts
        super().__init__(f"{operation}: {message} (after {attempts} attempt(s))")


class GisFault(GisError):
    """ГИС ЖКХ answered with a SOAP fault (``base:Fault``): ``code`` is its ``ErrorCode``.

    ``transient`` says whether the code is configured as worth retrying (it then reached
    the caller only because the retries ran out).
    """

    def __init__(self, code: str, message: str, *, operation: str, transient: bool = False) -> None:
        self.code = code
        self.message = message
        self.operation = operation
        self.transient = transient
        super().__init__(f"{operation}: SOAP fault {code}: {message}")


class GisMessageFailed(GisError):
    """ГИС ЖКХ processed a message and refused it whole (``ErrorMessage`` in ``getState``)."""

    def __init__(self, code: str, description: str, *, message_guid: str) -> None:
        self.code = code
        self.description = description
        self.message_guid = message_guid
        super().__init__(f"message {message_guid} refused: {code}: {description}")


class GisPollTimeout(GisError):
    """``getState`` still said "processing" when the poll deadline passed.

    Nothing is lost: keep ``message_guid`` and call :meth:`GisClient.poll` later; the
    message is not sent again.
    """

    def __init__(self, message_guid: str, *, polls: int, deadline: float) -> None:
        self.message_guid = message_guid
        #: messages of the same send that completed before this one (``BatchResult``s)
        self.completed: tuple[object, ...] = ()
        self.polls = polls
        self.deadline = deadline
        super().__init__(
            f"message {message_guid} still processing after {polls} poll(s) "
            f"and the {deadline:g} s deadline; poll it again later"
        )
