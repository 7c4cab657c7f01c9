"""File-name templates: ``{inn}_{account}_{number:03}_{period:MMYY}.txt``.

A template is literal text with placeholders, each bound to a fact of
:class:`~pes_sdk.models.RegistryHeader`:

=====================  ==================  ====================================
placeholder            header field        written / read as
=====================  ==================  ====================================
``{inn}``              ``partner_inn``     ИНН, 10 or 12 digits, check digits
``{account}``          ``partner_account`` р/с, 20 digits
``{number}``           ``number``          digits; ``{number:03}`` pads to 3
``{period:FORM}``      ``period``          FORM is ``MMYY``, ``MMYYYY``,
                                           ``YYYY-MM`` or ``YYYYMM``
``{date:FORMAT}``      ``date``            strftime subset, e.g. ``%d%m%Y``
=====================  ==================  ====================================

Writing fills the placeholders from a header (no name when a fact is missing); reading
matches a file name against the template and returns the facts it carries.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pes_sdk.errors import FormatError
from pes_sdk.identifiers import check_inn
from pes_sdk.models.registry import RegistryHeader
from pes_sdk.period import Period
from pes_sdk_csv.i18n import tr
from pes_sdk_csv.timefmt import TimeFormat

__all__ = ["FileNameTemplate"]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^{}]*))?\}")
_PERIOD_FORMS = {
    "MMYY": r"(?:0[1-9]|1[0-2])[0-9]{2}",
    "MMYYYY": r"(?:0[1-9]|1[0-2])[0-9]{4}",
    "YYYY-MM": r"[0-9]{4}-(?:0[1-9]|1[0-2])",
    "YYYYMM": r"[0-9]{4}(?:0[1-9]|1[0-2])",
}
_FIELD_OF = {
    "inn": "partner_inn",
    "account": "partner_account",
    "number": "number",
    "period": "period",
    "date": "date",
}


class FileNameTemplate:
    """A compiled file-name template; raises :class:`ValueError` for a bad one."""

    def __init__(self, template: str) -> None:
        self.template = template
        self._parts: list[tuple[str, str, str]] = []  # (placeholder or "", spec, literal)
        pattern = []
        pos = 0
        seen = set()
        for m in _PLACEHOLDER.finditer(template):
            literal = template[pos : m.start()]
            if "{" in literal or "}" in literal:
                raise ValueError(tr("stray brace in {template!r}", template=template))
            if literal:
                self._parts.append(("", "", literal))
                pattern.append(re.escape(literal))
            name, spec = m.group(1), m.group(2) or ""
            if name not in _FIELD_OF:
                raise ValueError(
                    tr(
                        "unknown placeholder {{{name}}}; known: {known}",
                        name=name,
                        known=", ".join(_FIELD_OF),
                    )
                )
            if name in seen:
                raise ValueError(tr("placeholder {{{name}}} appears twice", name=name))
            seen.add(name)
            pattern.append(f"(?P<{name}>{self._regex(name, spec)})")
            self._parts.append((name, spec, ""))
            pos = m.end()
        tail = template[pos:]
        if "{" in tail or "}" in tail:
            raise ValueError(tr("stray brace in {template!r}", template=template))
        if tail:
            self._parts.append(("", "", tail))
            pattern.append(re.escape(tail))
        if "/" in template or "\\" in template:
            raise ValueError(tr("a file-name template names a file, not a folder"))
        self._match = re.compile("".join(pattern)).fullmatch

    @staticmethod
    def _regex(name: str, spec: str) -> str:
        if name == "inn":
            _no_spec(name, spec)
            return r"[0-9]{10}|[0-9]{12}"
        if name == "account":
            _no_spec(name, spec)
            return r"[0-9]{20}"
        if name == "number":
            if spec and not re.fullmatch(r"0[1-9]", spec):
                raise ValueError(tr("{{number}} takes a width like {{number:03}}"))
            return f"[0-9]{{{int(spec)}}}" if spec else r"[0-9]+"
        if name == "period":
            if spec not in _PERIOD_FORMS:
                raise ValueError(
                    tr("{{period:…}} takes one of {forms}", forms=", ".join(_PERIOD_FORMS))
                )
            return _PERIOD_FORMS[spec]
        if not spec:
            raise ValueError(tr("{{date:…}} needs a format such as {{date:%d%m%Y}}"))
        return TimeFormat(spec).pattern.replace("(", "(?:")

    def format(self, header: RegistryHeader) -> str | None:
        """The file name for ``header``, or None when a fact the template needs is unknown."""
        out = []
        for name, spec, literal in self._parts:
            if not name:
                out.append(literal)
                continue
            value = getattr(header, _FIELD_OF[name])
            if value is None:
                return None
            out.append(_render(name, spec, value))
        return "".join(out)

    def parse(self, filename: str) -> dict[str, Any] | None:
        """The header facts ``filename`` carries, or None when it does not fit the template.

        A name whose ИНН fails its check digits, or whose date is not a real one, does not
        fit either.
        """
        m = self._match(filename)
        if m is None:
            return None
        facts: dict[str, Any] = {}
        try:
            for name, spec, _ in self._parts:
                if name:
                    facts[_FIELD_OF[name]] = _read(name, spec, m.group(name))
        except ValueError:
            return None
        return facts


def _no_spec(name: str, spec: str) -> None:
    if spec:
        raise ValueError(tr("{{{name}}} takes no format", name=name))


def _render(name: str, spec: str, value: Any) -> str:
    if name == "number":
        text = f"{value:0{int(spec)}d}" if spec else str(value)
        if spec and len(text) != int(spec):
            raise FormatError(
                tr(
                    "registry number {value} does not fit {width} digits",
                    value=value,
                    width=int(spec),
                )
            )
        return text
    if name == "period":
        assert isinstance(value, Period)
        return {
            "MMYY": value.format_mmyy(),
            "MMYYYY": value.format_mmyyyy(),
            "YYYY-MM": str(value),
            "YYYYMM": f"{value.year:04d}{value.month:02d}",
        }[spec]
    if name == "date":
        assert isinstance(value, dt.date)
        return TimeFormat(spec).format(value)
    return str(value)


def _read(name: str, spec: str, text: str) -> Any:
    if name == "inn":
        return check_inn(text)
    if name == "number":
        number = int(text)
        if number < 1:
            raise ValueError(tr("a registry number starts at 1"))
        return number
    if name == "period":
        if spec == "MMYY":
            return Period.parse_mmyy(text)
        if spec == "MMYYYY":
            return Period.parse_mmyyyy(text)
        if spec == "YYYY-MM":
            return Period.parse(text)
        return Period(int(text[:4]), int(text[4:]))
    if name == "date":
        return TimeFormat(spec).parse_date(text)
    return text
