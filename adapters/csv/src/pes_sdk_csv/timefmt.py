"""Date and time formats of a dialect: a small strftime subset, parsed without strptime.

Only ``%Y %m %d %H %M %S %%`` are allowed. Each format compiles once into a regular
expression (for reading) and a list of parts (for writing), because ``strptime`` costs
microseconds a cell and pads years differently from one platform to another.
"""

from __future__ import annotations

import datetime as dt
import re

from pes_sdk_csv.i18n import tr

__all__ = ["TimeFormat"]

_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


class TimeFormat:
    """One compiled format such as ``%d.%m.%Y`` or ``%H-%M-%S``."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._parts: list[tuple[str, str]] = []  # ("lit", text) or ("dir", letter)
        pattern = []
        self._order: list[str] = []
        for literal, directive in re.findall(r"([^%]*)(%.|$)", fmt):
            if literal:
                self._parts.append(("lit", literal))
                pattern.append(re.escape(literal))
            if not directive:
                continue
            letter = directive[1]
            if letter == "%":
                self._parts.append(("lit", "%"))
                pattern.append("%")
            elif letter in _WIDTH:
                if letter in self._order:
                    raise ValueError(tr("{fmt!r} repeats %{letter}", fmt=fmt, letter=letter))
                self._parts.append(("dir", letter))
                self._order.append(letter)
                pattern.append(f"([0-9]{{{_WIDTH[letter]}}})")
            else:
                raise ValueError(
                    tr("{fmt!r}: unsupported directive %{letter}", fmt=fmt, letter=letter)
                )
        self.pattern = "".join(pattern)
        self._match = re.compile(self.pattern).fullmatch

    def has(self, letters: str) -> bool:
        """Whether the format carries every one of ``letters`` (e.g. ``"Ymd"``)."""
        return all(letter in self._order for letter in letters)

    def _fields(self, text: str) -> dict[str, int]:
        m = self._match(text)
        if m is None:
            raise ValueError(
                tr("{text!r} does not match the format {fmt!r}", text=text, fmt=self.fmt)
            )
        return dict(zip(self._order, map(int, m.groups()), strict=True))

    def parse_date(self, text: str) -> dt.date:
        f = self._fields(text)
        try:
            return dt.date(f["Y"], f["m"], f["d"])
        except ValueError:
            raise ValueError(tr("{text!r} is not a real date", text=text)) from None

    def parse_time(self, text: str) -> dt.time:
        f = self._fields(text)
        try:
            return dt.time(f.get("H", 0), f.get("M", 0), f.get("S", 0))
        except ValueError:
            raise ValueError(tr("{text!r} is not a real time of day", text=text)) from None

    def parse_datetime(self, text: str) -> dt.datetime:
        f = self._fields(text)
        try:
            return dt.datetime(f["Y"], f["m"], f["d"], f.get("H", 0), f.get("M", 0), f.get("S", 0))
        except ValueError:
            raise ValueError(tr("{text!r} is not a real date and time", text=text)) from None

    def format(self, value: dt.date | dt.time) -> str:
        """Write ``value`` (a date, time or datetime) in this format, zero-padded."""
        out = []
        for kind, part in self._parts:
            if kind == "lit":
                out.append(part)
                continue
            number = {
                "Y": "year",
                "m": "month",
                "d": "day",
                "H": "hour",
                "M": "minute",
                "S": "second",
            }[part]
            out.append(f"{getattr(value, number):0{_WIDTH[part]}d}")
        return "".join(out)
