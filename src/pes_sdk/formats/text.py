"""What every registry file must be before its lines are read: not empty, and (for a text
format) plausibly in the encoding its format declares.

Strict decoding alone does not catch a wrong encoding: cp1251, cp866 and KOI8-R give a
character for (nearly) every byte, so a UTF-8 or cp866 file read as cp1251 decodes without
an error into mojibake (``12Р°``, ``РЎРѕРґРµСЂР¶Р°РЅРёРµ``, ``‘®¤Ґа¦ ­ЁҐ``). The rule here
judges a sample of the file's first bytes (:func:`judge_encoding`); a text format refuses
the file whole when it finds one, naming the encoding the text most likely is and the first
line that shows it. docs/dialects.md ("Encodings") states the rule for partners;
docs/performance.md has its measurements against charset-normalizer.

The rule, in full (the figures behind each threshold: docs/performance.md):

1. A UTF-8 or UTF-16 byte-order mark proves the file Unicode.
2. The sample is decoded as UTF-8 (if it is valid UTF-8), cp1251, KOI8-R and cp866, and
   each reading is scored over its characters outside ASCII (ASCII reads the same in all
   of them and says nothing):

   * a Russian letter scores by how common it is in Russian text, ``ln(33 × share)``
     (о +1.3 … ъ −4.3);
   * −6 for each capital after a lower-case letter, in a run of capitals that does not go
     on in lower case (``уПДЕТЦБОЙЕ``: KOI8-R read as cp1251); camel case
     (``ЖилКомСервис``, ``кВт``) is not penalised;
   * −6 for each letter Russian spelling does not put there: ``ь ъ ы`` starting a word,
     ``ь ъ`` after a vowel, ``й``, ``ь`` or ``ъ``, ``й`` after a consonant, ``ы ю я``
     after ``ж ш ч щ``;
   * ``№ « » — – … “ ” „ ‘ ’ · °`` and the no-break space score 0, or −6 between two
     letters (where only mojibake puts them);
   * anything else (box drawing, Serbian or Ukrainian letters, ``®``, a byte the encoding
     lacks) scores −6.

   A reading *reads as Russian* when it has at least :data:`MIN_LETTERS` Russian letters,
   a mean score per character of at least :data:`RUSSIAN_MEAN`, and vowels making up a
   share of its letters within :data:`VOWELS`. Russian text read right scores about +0.37
   a character; mojibake, and random letters, about −2.
3. A one-byte declared encoding is wrong when the sample is valid UTF-8 whose reading has
   at least :data:`MIN_UTF8_LETTERS` Russian letters and scores no lower than the declared
   reading (Russian text in a one-byte encoding is practically never valid UTF-8, so this
   settles even ``12а`` read as ``12Р°``); or when the declared reading's mean is at most
   :data:`MOJIBAKE_MEAN` and another one-byte reading reads as Russian and scores at least
   :data:`MARGIN` more. Declared UTF-8 is wrong when the sample is not valid UTF-8 (strict
   decoding refuses that anyway); the rule then names the one-byte encoding that reads as
   Russian, if one does.

Every condition leans towards accepting. A one-byte file that is not valid UTF-8 and whose
declared reading scores above 0 a character is never refused; a sample with too little
Cyrillic to tell (a few words, or abbreviations only, such as ``ГУП «ТЭК СПб»``) is
accepted as declared. Random letters can, rarely, look like mojibake of Russian: 7 of
20,000 random registries (up to five cells of up to 40 characters drawn from Cyrillic
letters and ASCII) were refused in their own one-byte encoding.

A sample without a byte outside ASCII is plain ASCII, the same text in every encoding here:
it is always accepted.
"""

from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from pathlib import Path

import attrs

from pes_sdk.errors import Issue, RegistryRefused
from pes_sdk.i18n import tr

__all__ = [
    "EMPTY_FILE",
    "MARGIN",
    "SAMPLE_BYTES",
    "WrongEncoding",
    "judge_encoding",
    "read_sample",
    "refuse_empty",
    "text_file_issue",
    "wrong_encoding",
]

#: The message of :func:`refuse_empty`.
EMPTY_FILE: str = tr("the file is empty")

#: How far ahead of the declared reading another must score (a few letters' worth).
MARGIN = 6.0
#: What a reading needs to read as Russian: this many Russian letters, this mean score per
#: character outside ASCII, and vowels making up this share of the letters (Russian: ~42%;
#: registry text with abbreviations goes down to 20%).
MIN_LETTERS = 8
RUSSIAN_MEAN = 0.0
VOWELS = (0.15, 0.7)
#: The highest mean score per character a declared reading may have and still be refused.
MOJIBAKE_MEAN = 0.0
#: A one-byte text that is valid UTF-8 is UTF-8 once its UTF-8 reading has this many
#: Russian letters.
MIN_UTF8_LETTERS = 3

#: The sample: the first 16 KiB, more (16 KiB at a time, up to :data:`SAMPLE_LIMIT`) while
#: it holds fewer than :data:`SAMPLE_EVIDENCE` bytes outside ASCII (some 2,000 Cyrillic
#: letters: far more than the rule needs, and judged in about 2 ms).
SAMPLE_BYTES = 1 << 14
SAMPLE_LIMIT = 1 << 20
SAMPLE_EVIDENCE = 4096

_UNICODE_BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_ONE_BYTE = ("cp1251", "koi8-r", "cp866")
_NAMES = {"utf-8": "UTF-8", "cp1251": "cp1251", "koi8-r": "KOI8-R", "cp866": "cp866"}

# Letter shares in Russian text, per cent (Russian National Corpus, as usually quoted);
# ё is given a registry's share rather than a novel's: "твёрдые", "учёт", "счёт".
_SHARES = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47,
    "р": 4.73, "в": 4.54, "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81,
    "у": 2.62, "я": 2.01, "ы": 1.90, "ь": 1.74, "г": 1.70, "з": 1.65, "б": 1.59,
    "ч": 1.44, "й": 1.21, "х": 0.97, "ж": 0.94, "ш": 0.73, "ю": 0.64, "ц": 0.48,
    "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04, "ё": 0.30,
}  # fmt: skip
_BAD = -6.0
_NEUTRAL = "№«»—–…“”„‘’·°\xa0"
_WEIGHTS: dict[str, float] = {}
for _letter, _share in _SHARES.items():
    _WEIGHTS[_letter] = _WEIGHTS[_letter.upper()] = math.log(33 * _share / 100)
_WEIGHTS.update(dict.fromkeys(_NEUTRAL, 0.0))
_LETTERS = frozenset(_WEIGHTS) - frozenset(_NEUTRAL)
_VOWELS = frozenset("аеёиоуыэюяАЕЁИОУЫЭЮЯ")
_LOWER = "а-яё"
_UPPER = "А-ЯЁ"
_LETTER = _LOWER + _UPPER
# Capitals after a lower-case letter that do not go on in lower case (not camel case).
_CASE_FLIPS = re.compile(f"(?<=[{_LOWER}])[{_UPPER}]+(?![{_LOWER}])")
# Punctuation between two letters: only mojibake puts it there.
_INSIDE_WORDS = re.compile(f"(?<=[{_LETTER}])[{re.escape(_NEUTRAL)}](?=[{_LETTER}])")
# Letter sequences Russian spelling does not have: ь, ъ, ы starting a word; ь, ъ after a
# vowel, й, ь or ъ; й after a consonant; ы, ю, я after ж, ш, ч, щ (жюри and брошюра aside).
_MISSPELT = re.compile(
    f"(?<![{_LETTER}])[ьъы]|(?<=[аеёиоуыэюяйьъ])[ьъ]|(?<=[бвгджзклмнпрстфхцчшщ])й|(?<=[жшчщ])[ыюя]",
    re.IGNORECASE,
)
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")
# Where a cell ends in any of these encodings: ASCII, the same byte in each.
_CELL_END = re.compile(rb"[;|\t\r\n]")
_HIGH_BYTES = bytes(range(0x80, 0x100))


@attrs.frozen
class WrongEncoding:
    """A text that is not plausibly in its declared encoding, and what it most likely is.

    ``line`` is the first line (1-based, in the sample) that shows it, ``declared_text``
    a piece of that line as the declared encoding reads it and ``likely_text`` the same
    bytes in the likely encoding.
    """

    declared: str
    likely: str
    line: int
    declared_text: str = ""
    likely_text: str = ""
    reason: str = ""  #: set when the proof is not the text itself (a byte-order mark)

    @property
    def message(self) -> str:
        """One sentence for a person: the encodings, and the line as each reads it."""
        declared, likely = _name(self.declared), _name(self.likely)
        if self.reason:
            return tr(
                "{reason}: it is {likely}, not {declared}",
                reason=self.reason,
                likely=likely,
                declared=declared,
            )
        return tr(
            "the text is not {declared}: it is most likely {likely} "
            "(line {line} reads {likely_text!r} in {likely}, "
            "{declared_text!r} in {declared})",
            declared=declared,
            likely=likely,
            line=self.line,
            likely_text=self.likely_text,
            declared_text=self.declared_text,
        )


def _name(encoding: str) -> str:
    key = codecs.lookup(encoding).name.replace("_", "-")
    if key == "utf-8-sig":
        key = "utf-8"
    return _NAMES.get(key, encoding)


def _codec(encoding: str) -> str:
    name = codecs.lookup(encoding).name.replace("_", "-")
    return "utf-8" if name == "utf-8-sig" else name


@attrs.frozen
class _Reading:
    """One decoding of a sample, scored (see the module's docstring)."""

    score: float
    chars: int  #: characters outside ASCII
    letters: int  #: Russian letters among them
    vowels: int

    @property
    def mean(self) -> float:
        return self.score / self.chars if self.chars else 0.0

    @property
    def russian(self) -> bool:
        """Reads as Russian: enough letters, common ones, vowels where words have them."""
        return (
            self.letters >= MIN_LETTERS
            and self.mean >= RUSSIAN_MEAN
            and VOWELS[0] <= self.vowels / self.letters <= VOWELS[1]
        )

    def far_better_than(self, other: _Reading) -> bool:
        """Reads as Russian, and clearly more so than ``other`` reads."""
        return self.russian and self.score - other.score >= MARGIN


def _read(text: str) -> _Reading:
    """Score ``text`` by its characters outside ASCII."""
    runs = _NOT_ASCII.findall(text)
    chars = Counter("".join(runs))
    weights = _WEIGHTS
    score = sum(n * weights.get(c, _BAD) for c, n in chars.items())
    # ASCII is no letter: a space in its place keeps every context the patterns look at.
    text = " ".join(runs)
    flips = sum(map(len, _CASE_FLIPS.findall(text)))
    inside = len(_INSIDE_WORDS.findall(text))
    misspelt = len(_MISSPELT.findall(text))
    letters = sum(n for c, n in chars.items() if c in _LETTERS)
    vowels = sum(n for c, n in chars.items() if c in _VOWELS)
    score += (flips + inside + misspelt) * _BAD
    return _Reading(score, chars.total(), letters, vowels)


def _decode(sample: bytes, codec: str) -> str | None:
    """``sample`` in ``codec``; None when it is not (UTF-8 only: the others take any byte).

    An incomplete character at the very end (a sample cut mid-character) is dropped.
    """
    if codec == "utf-8":
        try:
            return codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
        except UnicodeDecodeError:
            return None
    return sample.decode(codec, errors="replace")  # U+FFFD (cp1251's 0x98) scores as bad


def judge_encoding(sample: bytes, declared: str, *, first_line: int = 1) -> WrongEncoding | None:
    """The encoding ``sample`` (a file's first bytes) most likely is, when not ``declared``.

    ``declared`` is a codec name (``cp1251``, ``windows-1251``, ``utf-8``, ``utf-8-sig``,
    ``koi8-r``, ``cp866``…). Returns None when the declared encoding is plausible, or when
    no candidate is clearly better (the rule is in this module's docstring). ``first_line``
    is the number of the sample's first line in its file (for a sample from further on).
    """
    codec = _codec(declared)
    for bom, name in _UNICODE_BOMS:
        if sample.startswith(bom) and not (name == "UTF-8" and codec == "utf-8"):
            reason = tr("the file starts with a {name} byte-order mark", name=name)
            return WrongEncoding(declared, name, 1, reason=reason)
    if sample.startswith(codecs.BOM_UTF8):
        sample = sample[len(codecs.BOM_UTF8) :]
    if sample.isascii():
        return None
    texts = {c: _decode(sample, c) for c in ("utf-8", *_ONE_BYTE)}
    if codec not in texts:
        return None  # an encoding this rule does not know: nothing to compare with
    readings = {c: _read(t) for c, t in texts.items() if t is not None}
    mine = readings.get(codec)
    likely: str | None = None
    utf8 = readings.get("utf-8")
    if mine is None:
        # Declared UTF-8, and it is not: name the one-byte encoding that reads as Russian.
        best = max(_ONE_BYTE, key=lambda c: readings[c].score)
        likely = best if readings[best].russian else None
    elif (
        codec != "utf-8"
        and utf8 is not None
        and utf8.letters >= MIN_UTF8_LETTERS
        and utf8.score >= mine.score
    ):
        likely = "utf-8"
    elif codec != "utf-8" and mine.mean <= MOJIBAKE_MEAN:
        best = max(_ONE_BYTE, key=lambda c: readings[c].score)
        if best != codec and readings[best].far_better_than(mine):
            likely = best
    if likely is None:
        return None
    line, declared_text, likely_text = _first_line_showing(sample, codec, likely)
    return WrongEncoding(declared, likely, first_line - 1 + line, declared_text, likely_text)


def _first_line_showing(sample: bytes, codec: str, likely: str) -> tuple[int, str, str]:
    """The first line whose text reads better in ``likely`` than in ``codec``, and the cell
    there (from the first byte outside ASCII) in each."""
    fallback: tuple[int, str, str] | None = None
    for number, raw in enumerate(sample.split(b"\n"), 1):
        if raw.isascii():
            continue
        start = next(i for i, b in enumerate(raw) if b > 0x7F)
        ends = [m.start() for m in _CELL_END.finditer(raw)]
        begin = max((e + 1 for e in ends if e < start), default=0)
        stop = min((e for e in ends if e > start), default=len(raw))
        piece = raw[begin : min(stop, begin + 80)]
        found = (
            number,
            piece.decode(codec, errors="replace"),
            piece.decode(likely, errors="ignore"),
        )
        fallback = fallback or found
        mine, theirs = _decode(raw, codec), _decode(raw, likely)
        if mine is None or (theirs is not None and _read(theirs).score > _read(mine).score):
            return found
    assert fallback is not None  # the sample is not ASCII
    return fallback


def read_sample(path: Path | str) -> bytes:
    """The first bytes of ``path`` to judge: :data:`SAMPLE_BYTES`, or more (up to
    :data:`SAMPLE_LIMIT`) while they hold fewer than :data:`SAMPLE_EVIDENCE` bytes outside
    ASCII; cut after the last line break unless the file ends there.

    Raises :class:`OSError` when the file cannot be read.
    """
    parts: list[bytes] = []
    size = evidence = 0
    with open(path, "rb") as fh:
        while size < SAMPLE_LIMIT:
            chunk = fh.read(SAMPLE_BYTES)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            size += len(chunk)
            if not chunk.isascii():
                evidence += len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
                if evidence >= SAMPLE_EVIDENCE:
                    break
    sample = b"".join(parts)
    cut = sample.rfind(b"\n") + 1
    return sample[:cut] if cut else sample


def wrong_encoding(path: Path | str, declared: str) -> WrongEncoding | None:
    """:func:`judge_encoding` on :func:`read_sample` of ``path``."""
    return judge_encoding(read_sample(path), declared)


def text_file_issue(path: Path | str, declared: str) -> Issue | None:
    """Why ``path`` cannot be a text registry in ``declared``, or None: it is empty
    (:func:`refuse_empty`), or its text is not plausibly in that encoding
    (:func:`wrong_encoding`; the issue's field is ``encoding``).

    What a text format's reader checks before its first line. Raises :class:`OSError`
    when the file cannot be read.
    """
    if _is_empty(path):
        return Issue(0, "", EMPTY_FILE)
    wrong = wrong_encoding(path, declared)
    return None if wrong is None else Issue(wrong.line, "encoding", wrong.message)


def _is_empty(path: Path | str) -> bool:
    return Path(path).stat().st_size == 0


def refuse_empty(path: Path | str) -> None:
    """Refuse a 0-byte file: never a registry, whatever the format.

    What an uploader leaves before it writes. A registry without records still has its
    header or its footer, and an empty file read as one would replace a partner's debts
    with none. Raises :class:`~pes_sdk.errors.RegistryRefused` (:data:`EMPTY_FILE`);
    :class:`OSError` when the file cannot be looked at.
    """
    if _is_empty(path):
        raise RegistryRefused(EMPTY_FILE, path=path, issues=[Issue(0, "", EMPTY_FILE)])
