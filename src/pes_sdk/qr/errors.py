"""The error of a payment string that breaks the standard, and a deviation forgiven."""

from __future__ import annotations

import enum

import attrs

from pes_sdk.errors import FormatError
from pes_sdk.i18n import translate

__all__ = ["Deviation", "QrFormatError", "Rule"]


class Rule(enum.Enum):
    """The rule of the standard (or of the kit's checks) a string or a value breaks.

    Every :class:`QrFormatError` and every :class:`Deviation` names one, so that a program
    can tell them apart without parsing the message.
    """

    #: The string does not start with ``ST0001``, a charset digit and a separator.
    HEADER = "header"
    #: The bytes are not text in the charset the header names, or a value cannot be
    #: written in that charset.
    CHARSET = "charset"
    #: No character is left to separate the fields (every candidate is in some value), or
    #: the separator asked for is one a value holds or one that cannot separate.
    SEPARATOR = "separator"
    #: A field is not ``Key=Value``.
    PAIR = "pair"
    #: The key is not one of the standard's.
    UNKNOWN_KEY = "unknown-key"
    #: The key is the standard's, but not spelt as the standard spells it.
    KEY_CASE = "key-case"
    #: Spaces around the ``=`` of a field.
    SPACES = "spaces"
    #: The same key twice: the last one wins.
    REPEATED = "repeated"
    #: A required field is missing.
    REQUIRED = "required"
    #: The required fields are not the first five, in the standard's order.
    ORDER = "order"
    #: A field with an empty value (or two separators in a row).
    EMPTY = "empty"
    #: The string ends with a separator.
    TRAILING_SEPARATOR = "trailing-separator"
    #: Blank characters around the whole string.
    BLANKS = "blanks"
    #: A value longer than the standard allows.
    MAX_LENGTH = "max-length"
    #: The service block and the required fields take more than 300 bytes.
    REQUIRED_BLOCK_SIZE = "required-block-size"
    #: A value of the wrong form: not digits, not a date, not a code of the list.
    FORM = "form"
    #: Check digits or a control key are wrong (ИНН, р/с or к/с against the БИК).
    CHECK_DIGITS = "check-digits"


class QrFormatError(FormatError, ValueError):
    """A payment string, or a value for one, breaks the standard.

    ``field`` is the key the problem is in (``PayeeINN``), or ``""`` for the string as a
    whole; ``rule`` says which rule was broken. It is a :class:`ValueError` too, as the
    kit's model validators raise, so code that builds details from user input catches one
    thing.
    """

    def __init__(self, message: str, *, field: str = "", rule: Rule) -> None:
        super().__init__(message, field=field)
        self.rule = rule


@attrs.frozen
class Deviation:
    """One departure from the standard that tolerant decoding forgave.

    ``field`` is the key concerned (as the string spelt it), or ``""`` for the string as
    a whole; ``message`` says what was found and what was done about it.
    """

    field: str
    rule: Rule
    message: str

    def __str__(self) -> str:
        message = translate(self.message)
        return f"{self.field}: {message}" if self.field else message
