"""One error hierarchy for the whole kit.

Every error the SDK raises on bad input is a :class:`PesError`. Errors about data say where
the problem is (file, line, field) so that a person can fix the file without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from pes_sdk.i18n import tr, translate

__all__ = [
    "ConfigError",
    "FormatError",
    "Issue",
    "PesError",
    "PluginError",
    "RegistryRefused",
    "UnknownFormat",
]


@attrs.frozen
class Issue:
    """One problem found in one place of an input.

    ``line`` is 1-based (0 when the problem concerns the file as a whole, e.g. its encoding
    or its control totals); ``field`` names the column or element, or is ``""``.
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        """``line N: field: message`` (``file: …`` for the file as a whole), in the language
        messages are shown in (:mod:`pes_sdk.i18n`)."""
        where = translate(tr("line {line}", line=self.line) if self.line else tr("file"))
        message = translate(self.message)
        return f"{where}: {self.field}: {message}" if self.field else f"{where}: {message}"


class PesError(Exception):
    """Base class of every error raised by pes-sdk on bad input or bad configuration."""


class ConfigError(PesError):
    """A configuration (dialect, partners file, plugin settings) is invalid."""


class PluginError(PesError):
    """A plugin failed to load or broke its contract."""


class UnknownFormat(PesError):
    """No installed plugin provides a registry format of that name."""


class FormatError(PesError):
    """A value or a file does not follow its format.

    Carries the place of the problem: ``path`` (may be ``None`` for in-memory data),
    ``line`` (1-based, 0 for the whole file) and ``field``.
    """

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int = 0, field: str = ""
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        # Rendered when shown, so that it is said in the language chosen by then.
        parts = []
        if self.path is not None:
            parts.append(str(self.path))
        if self.line:
            parts.append(translate(tr("line {line}", line=self.line)))
        if self.field:
            parts.append(self.field)
        parts.append(translate(self.message))
        return ": ".join(parts)

    @property
    def issue(self) -> Issue:
        return Issue(self.line, self.field, self.message)


class RegistryRefused(PesError):
    """A registry was refused whole: it breaks the policy, its control totals or its encoding.

    ``issues`` holds the first problems found (at most the reader's limit); ``issue_count``
    counts all of them.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        issues: Sequence[Issue] = (),
        issue_count: int | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.issues = tuple(issues)
        self.issue_count = len(self.issues) if issue_count is None else issue_count
        super().__init__(message)

    def __str__(self) -> str:
        prefix = f"{self.path}: " if self.path is not None else ""
        return f"{prefix}{translate(self.message)}"
