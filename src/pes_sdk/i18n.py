"""Messages people read, in English or in Russian (gettext catalogs).

Partners' accountants read the kit's reports (``pes validate``, the rejects file,
``pes runner check``) in Russian; developers read them in English, the default. A message is
built where the problem is found, from an English template and its values::

    from pes_sdk.i18n import Catalog

    tr = Catalog("pes_sdk_myformat", Path(__file__).parent / "locale")
    raise FormatError(tr("amount {value!r} is not a number", value=raw), line=7, field="sum")

``tr(...)`` returns a :class:`Message`: a ``str`` holding the English text (so code that
compares, logs or stores messages is unchanged), which also keeps its template and values, so
that :func:`translate` can say it again in another language when it is shown. Each
distribution keeps its own catalog (``<package>/locale/ru/LC_MESSAGES/<domain>.mo``), made
from its sources with Babel (``make i18n``; keywords ``tr`` and ``tr_n:1,2``).

The language shown is English unless a program chooses another: :func:`set_language` for the
process (the ``pes`` command does so from ``--lang`` or ``LANGUAGE``/``LC_ALL``/
``LC_MESSAGES``/``LANG``), or :func:`using_language` for a block of code. The library itself
never reads the environment: a program embedding it keeps English until it asks.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Catalog",
    "Message",
    "collect_untranslated",
    "current_language",
    "join",
    "language_from_environment",
    "set_language",
    "tr",
    "tr_n",
    "translate",
    "using_language",
    "verbatim",
]

#: The languages the kit's catalogs cover; English is the language of the sources.
LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"

_process_language = DEFAULT_LANGUAGE
_block_language: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pes_language", default=None
)
_untranslated: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "pes_untranslated", default=None
)


def _checked(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for language {language!r}; the kit has {LANGUAGES}")
    return language


def set_language(language: str) -> None:
    """Choose the language of every message this process shows (every thread)."""
    global _process_language
    _process_language = _checked(language)


@contextlib.contextmanager
def using_language(language: str) -> Iterator[None]:
    """Show messages in ``language`` inside the block (this thread or task only)."""
    token = _block_language.set(_checked(language))
    try:
        yield
    finally:
        _block_language.reset(token)


def current_language() -> str:
    """The language messages are shown in here and now."""
    return _block_language.get() or _process_language


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language a POSIX locale asks for, among :data:`LANGUAGES`; English otherwise.

    Looks where gettext does, first set first: ``LANGUAGE`` (a ``:``-separated list),
    ``LC_ALL``, ``LC_MESSAGES``, ``LANG``; ``ru_RU.UTF-8`` and ``ru`` both mean Russian.
    """
    env = os.environ if environ is None else environ
    for key in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key, "")
        if not value:
            continue
        for item in value.split(":"):
            code = item.split(".")[0].split("@")[0].split("_")[0].lower()
            if code in LANGUAGES:
                return code
        if key != "LANGUAGE":
            # The first locale variable that is set decides, as in gettext; C and POSIX
            # (and any language without a catalog) mean the sources' English.
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


class Catalog:
    """The messages of one distribution and their translations (one gettext domain).

    Call it to build a message; ``plural`` builds one whose words follow a count.
    """

    def __init__(self, domain: str, localedir: Path | str) -> None:
        self.domain = domain
        self.localedir = Path(localedir)

    def __repr__(self) -> str:
        return f"Catalog({self.domain!r}, {str(self.localedir)!r})"

    def __call__(self, template: str, /, **values: Any) -> Message:
        """The message ``template`` (English, ``str.format`` fields) with its ``values``."""
        return Message(self, template, None, values)

    def plural(self, singular: str, plural: str, n: int, /, **values: Any) -> Message:
        """The message for ``n`` of something: ``{n}`` may appear in both templates."""
        return Message(self, singular, (plural, n), {"n": n, **values})

    def translations(self, language: str) -> gettext.NullTranslations | None:
        """The compiled catalog for ``language``, or None when there is none."""
        return _load(self.domain, str(self.localedir), language)


@functools.cache
def _load(domain: str, localedir: str, language: str) -> gettext.NullTranslations | None:
    try:
        return gettext.translation(domain, localedir, languages=[language])
    except OSError:
        return None


def _format(template: str, values: Mapping[str, Any]) -> str:
    return template.format_map(values)


class Message(str):
    """A message in English that can say itself in another language (:func:`translate`).

    It is a ``str`` of the English text; ``str()`` of it (or of an exception that carries it
    as its one argument) keeps the message, while an f-string or ``+`` around it makes plain
    English text, untranslatable: build a bigger message with a template or :func:`join`.
    """

    __slots__ = ("_catalog", "_plural", "_template", "_values")

    _catalog: Catalog | None
    _template: str
    _plural: tuple[str, int] | None
    _values: dict[str, Any]

    def __new__(
        cls,
        catalog: Catalog | None,
        template: str,
        plural: tuple[str, int] | None,
        values: dict[str, Any],
    ) -> Message:
        english = template
        if plural is not None and plural[1] != 1:
            english = plural[0]
        self = super().__new__(cls, _format(english, values))
        self._catalog = catalog
        self._template = template
        self._plural = plural
        self._values = values
        return self

    def __str__(self) -> str:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (between processes) as the English text it is.
        return (str, (str.__str__(self),))

    @property
    def template(self) -> str:
        """The English template (the gettext msgid)."""
        return self._template

    @property
    def values(self) -> Mapping[str, Any]:
        """The values the template is filled with (read-only)."""
        return dict(self._values)

    def with_values(self, **changes: Any) -> Message:
        """The same message with some values changed (e.g. a personal value masked)."""
        return Message(self._catalog, self._template, self._plural, {**self._values, **changes})

    def in_language(self, language: str) -> str:
        """This message in ``language``; its English text when the catalog has no entry."""
        values = {k: _translated_value(v, language) for k, v in self._values.items()}
        if language == DEFAULT_LANGUAGE or self._catalog is None:
            return self._english(values)
        catalog = self._catalog.translations(language)
        if catalog is None:
            return self._missed(values)
        if self._plural is None:
            text = catalog.gettext(self._template)
            if text == self._template and self._template.strip():
                return self._missed(values)
        else:
            plural, n = self._plural
            text = catalog.ngettext(self._template, plural, n)
            if text in (self._template, plural):
                return self._missed(values)
        try:
            return _format(text, values)
        except (KeyError, IndexError, ValueError):
            # A translation that names a value the message lacks: English beats a crash.
            return self._missed(values)

    def _english(self, values: Mapping[str, Any]) -> str:
        english = self._template
        if self._plural is not None and self._plural[1] != 1:
            english = self._plural[0]
        return _format(english, values)

    def _missed(self, values: Mapping[str, Any]) -> str:
        _note_untranslated(self._template)
        return self._english(values)


class _Joined(Message):
    """Messages joined by a separator; each part is translated on its own."""

    __slots__ = ("_parts", "_separator")

    _parts: tuple[str, ...]
    _separator: str

    def __new__(cls, separator: str, parts: tuple[str, ...]) -> _Joined:
        self = str.__new__(cls, separator.join(parts))
        self._catalog = None
        self._template = separator.join(parts)
        self._plural = None
        self._values = {}
        self._separator = separator
        self._parts = parts
        return self

    def in_language(self, language: str) -> str:
        return self._separator.join(translate(p, language) for p in self._parts)


def verbatim(template: str, /, **values: Any) -> Message:
    """A message with no words of its own, only layout around other texts (``{key}: {why}``).

    It is said the same in every language (a catalog entry would only repeat it), while its
    values that are messages are translated.
    """
    return Message(None, template, None, values)


def join(separator: str, parts: Iterable[str]) -> Message:
    """``separator.join(parts)`` that stays translatable part by part."""
    return _Joined(separator, tuple(parts))


def _translated_value(value: Any, language: str) -> Any:
    if isinstance(value, Message):
        return value.in_language(language)
    return value


def _note_untranslated(text: str) -> None:
    sink = _untranslated.get()
    if sink is not None:
        sink.append(text)


def _speaks_words(text: str) -> bool:
    # A text with no Latin letters (a number, Russian already) needs no translation.
    return any(c.isascii() and c.isalpha() for c in text)


def translate(text: str, language: str | None = None) -> str:
    """``text`` in ``language`` (default: :func:`current_language`).

    A :class:`Message` is said again from its catalog; any other text is shown as it is.
    """
    language = current_language() if language is None else language
    if isinstance(text, Message):
        return text.in_language(language)
    if language != DEFAULT_LANGUAGE and _speaks_words(text):
        _note_untranslated(text)
    return str(text)


@contextlib.contextmanager
def collect_untranslated() -> Iterator[list[str]]:
    """Gather, inside the block, every text shown in another language that stayed English.

    For tests: a text that is not a :class:`Message`, or a message whose catalog lacks it.
    """
    found: list[str] = []
    token = _untranslated.set(found)
    try:
        yield found
    finally:
        _untranslated.reset(token)


#: The core's own catalog (domain ``pes_sdk``); adapters and plugins make their own.
tr = Catalog("pes_sdk", Path(__file__).parent / "locale")
tr_n = tr.plural
