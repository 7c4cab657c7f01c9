"""Every message the CSV adapter shows a person has its Russian (issue 13).

Bad inputs of every built-in dialect (the conformance malformed corpus and hand-made bad
rows), bad dialect files and bad file-name templates are read with Russian chosen; every
message shown must come out of a catalog, in Cyrillic. A message site left as an f-string,
or a template without its translation, fails here.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pes_sdk_conformance.corpus import MalformedSample
from pes_sdk_conformance.formats import FormatConformance
from pes_sdk_csv import DIALECT_PATH_ENV, FileNameTemplate, load_dialect

from pes_sdk.cli.main import cli
from pes_sdk.errors import ConfigError, PesError, RegistryRefused
from pes_sdk.formats.base import Policy, RegistryFormat
from pes_sdk.i18n import collect_untranslated, translate, using_language
from pes_sdk.plugins import PluginHost, get_host

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


def _conformance_classes() -> dict[str, type[FormatConformance]]:
    """The fixture class of each built-in dialect, as test_conformance.py declares it (its
    partial dialects say which fields they carry, which the corpus needs)."""
    spec = importlib.util.spec_from_file_location(
        "_csv_conformance_for_russian", HERE / "test_conformance.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = {}
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, FormatConformance) and value.format_name:
            found[value.format_name] = value
    return found


CLASSES = _conformance_classes()


def _shown(source: Any) -> Iterator[str]:
    """What a person sees of an error or a report, said in the current language."""
    if isinstance(source, PesError):
        yield str(source)
        if isinstance(source, RegistryRefused):
            for issue in source.issues:
                yield translate(issue.message)
    else:
        for issue in source.issues:
            yield translate(issue.message)
        if source.refused:
            yield translate(source.refused)


def _read_all(fmt: RegistryFormat, path: Path, policy: Policy) -> Any:
    try:
        with fmt.open(path, policy=policy, rejects_path=path.with_name("rejects.csv")) as reader:
            for _ in reader:
                pass
            return reader.report
    except PesError as exc:
        return exc


def _assert_russian(texts: list[str], missed: list[str]) -> None:
    assert texts
    assert missed == []
    for text in texts:
        assert CYRILLIC.search(text), text


def test_every_builtin_dialect_is_covered():
    assert set(CLASSES) == set(get_host().formats()) & set(CLASSES)
    assert len(CLASSES) == 12


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_malformed_corpus_speaks_russian(name: str, tmp_path: Path):
    fmt = get_host().format(name)
    try:
        corpus = CLASSES[name]().malformed_samples(fmt, tmp_path / "valid")
    except PesError as exc:
        # The corpus's own valid file must be writable; that is test_conformance's concern.
        pytest.skip(f"the conformance corpus cannot be built for {name}: {exc}")
    valid_name = next((tmp_path / "valid").iterdir()).name
    texts: list[str] = []
    with using_language("ru"), collect_untranslated() as missed:
        for sample_name, sample in corpus.items():
            if not isinstance(sample, MalformedSample):
                continue
            folder = tmp_path / sample_name
            folder.mkdir()
            path = folder / valid_name
            path.write_bytes(sample.data)
            for policy in (Policy.STRICT, Policy.QUARANTINE):
                texts.extend(_shown(_read_all(fmt, path, policy)))
            rejects = folder / "rejects.csv"
            if rejects.exists():
                texts.extend(rejects.read_text(encoding="utf-8-sig").splitlines()[1:])
    _assert_russian(texts, missed)


# Hand-made bad files: each reaches a refusal or a row issue the corpus does not.
BAD_FILES = [
    ("pes-debts", b"wrong;header\r\n"),
    ("pes-debts", b""),
    (
        "pes-debts",
        b"account;house_id;premises;amount;period;service\r\n"
        b"0001;8f41a1c2-7b4e-4d1a-9c3e-2b5f6a7d8e90;12;x;2026-13;water\r\n"
        b"0001;8f41a1c2-7b4e-4d1a-9c3e-2b5f6a7d8e90;12;5.00;2026-11;water\r\n"
        b"0001;8f41a1c2-7b4e-4d1a-9c3e-2b5f6a7d8e90;12;5.00;2026-11;water\r\n"
        b"0002;;12;5.00;2026-11;water;extra\r\n"
        b"0003\r\n",
    ),
    ("sber-debts", b"0001;1;2\r\n=1;100.00;7\r\n"),
    ("sber-debts", b"0001;1;2\r\n=x;100.00\r\n"),
    ("sber-debts", b"0001;1;2\r\n=1;1,2,3\r\n"),
    ("sber-debts", b"0001;1;2\r\n=1;100.00\r\n0002;1;2\r\n"),
    ("sber-debts", b"0001;1;2\r\n"),
    ("sber-debts", "0001;адрес;10.00;112026\r\n=2;99.00\r\n".encode("cp1251")),
    ("excel-debts", b"\xef\xbb\xbf\xff\xfe\r\n"),
]


@pytest.mark.parametrize(("name", "data"), BAD_FILES)
def test_hand_made_bad_files_speak_russian(name: str, data: bytes, tmp_path: Path):
    fmt = get_host().format(name)
    path = tmp_path / "7707083893_40702810900000000001_001_1126.txt"
    path.write_bytes(data)
    texts: list[str] = []
    with using_language("ru"), collect_untranslated() as missed:
        for policy in (Policy.STRICT, Policy.QUARANTINE):
            texts.extend(_shown(_read_all(fmt, path, policy)))
    _assert_russian(texts, missed)


def _minimal(**over: str) -> str:
    top = {"name": '"mine"', "kind": '"debts"', "encoding": '"utf-8"'}
    top.update(over)
    text = "".join(f"{k} = {v}\n" for k, v in top.items())
    for name, field, typ in (
        ("account", "account", "account"),
        ("house_id", "house_id", "guid"),
        ("amount", "amount", "amount"),
    ):
        text += f'[[columns]]\nname = "{name}"\nfield = "{field}"\ntype = "{typ}"\n'
    return text


BAD_DIALECTS = [
    _minimal(extra="1"),
    _minimal(encoding='"latin-1"'),
    _minimal(kind='"readings"'),
    _minimal(kind="3"),
    _minimal(header="1"),
    _minimal(delimiter='","', decimal_separator='","'),
    _minimal(decimal_separator='","', read_decimal_separators='["."]'),
    _minimal(read_decimal_separators="[]"),
    _minimal(delimiter='"ab"'),
    _minimal(period_format='"YY"'),
    _minimal(date_format='"%d.%m.%y"'),
    _minimal(date_format='"%d.%m"'),
    _minimal(date_format='"%d.%d.%Y"'),
    _minimal(date_format='"%d;%m;%Y"'),
    _minimal(time_zone='"Mars/Olympus"'),
    _minimal(max_line_length="10"),
    _minimal(name='"Has Space"'),
    _minimal(tag_key_pattern='"("'),
    _minimal(tag_key_pattern='".*"'),
    _minimal(header='""'),
    _minimal(filename='"{inn}_{nope}.txt"'),
    _minimal(filename='"{period:MM}.txt"'),
    _minimal(filename='"{inn}{inn}.txt"'),
    _minimal(filename='"{inn:x}.txt"'),
    _minimal(filename='"{number:3}.txt"'),
    _minimal(filename='"{date}.txt"'),
    _minimal(filename='"a/{inn}.txt"'),
    _minimal(filename='"{inn.txt"'),
    _minimal(encodings='["koi8-r"]'),
    _minimal(encodings='["utf-8", "utf8"]'),
    _minimal(columns="[]").replace("[[columns]]", "[[nope]]"),
    _minimal().replace('type = "guid"', 'type = "amount"'),
    _minimal().replace('field = "house_id"', 'field = "colour"'),
    _minimal().replace('name = "amount"\n', 'name = "amount"\nrequired = false\n'),
    _minimal().replace('name = "amount"\n', 'name = "amount"\nrequired = "no"\n'),
    _minimal().replace('name = "amount"\n', 'name = "account"\n'),
    _minimal().replace('name = "amount"\n', 'name = ""\n'),
    _minimal()
    .replace('field = "amount"', 'field = "account"')
    .replace('type = "amount"', 'type = "account"'),
    _minimal(delimiter='","').replace('type = "guid"', 'type = "guid_premises"'),
    _minimal() + '[[columns]]\nname = "fio"\ntype = "personal"\nfield = "service"\n',
    _minimal() + '[[columns]]\nname = "fio"\ntype = "personal"\ncheck = "age"\n',
    _minimal() + '[footer]\nfields = ["count", "service"]\n',
    _minimal() + '[footer]\nfields = ["count", "count"]\n',
    _minimal() + '[footer]\nfields = ["count", "Bad"]\n',
    _minimal() + '[footer]\nfields = ["count"]\nprefix = ""\n',
    _minimal() + "[footer]\nfields = []\n",
    _minimal() + "[footer]\n",
    _minimal() + "[header_block]\nkeys = {}\n",
    _minimal() + '[header_block]\nkeys = { SUM = "account" }\n',
    _minimal() + '[header_block]\nkeys = { SUM = "Bad" }\n',
    _minimal() + '[header_block]\nkeys = { A = "amount", B = "amount" }\n',
    _minimal() + '[header_block]\nprefix = "# "\nkeys = { A = "amount" }\n',
    _minimal() + '[header_block]\nseparator = "ab"\nkeys = { A = "amount" }\n',
    _minimal() + '[header_block]\nkeys = { A = "amount" }\n[footer]\nfields = ["count"]\n',
    _minimal() + "[[columns]]\n",
    _minimal() + "columns = 1\n",
    "name = [",
]


def test_bad_dialect_files_speak_russian(tmp_path: Path):
    texts: list[str] = []
    with using_language("ru"), collect_untranslated() as missed:
        for i, text in enumerate(BAD_DIALECTS):
            path = tmp_path / f"d{i}.toml"
            path.write_text(text, encoding="utf-8")
            with pytest.raises(ConfigError) as err:
                load_dialect(path)
            texts.append(translate(str(err.value)))
        with pytest.raises(ConfigError) as err:
            load_dialect(tmp_path / "absent.toml")
        texts.append(translate(str(err.value)))
    _assert_russian(texts, missed)
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    "template",
    ["{inn", "{inn:x}.txt", "{number:3}.txt", "{date}.txt", "a/{inn}.txt", "{x}", "{inn}{inn}"],
)
def test_bad_file_name_templates_speak_russian(template: str):
    with using_language("ru"), collect_untranslated() as missed:
        with pytest.raises(ValueError) as err:
            FileNameTemplate(template)
        texts = [translate(str(err.value))]
    _assert_russian(texts, missed)


def test_withheld_personal_value_stays_translatable(tmp_path: Path):
    """A bad cell of a layout with personal data is withheld in both languages."""
    fmt = get_host().format("sber-ls-fio-sum")
    path = tmp_path / "7707083893_40702810900000000001_001_1126.txt"
    path.write_bytes("0001;Иванов Иван;1,2,3\r\n".encode("cp1251"))
    report = _read_all(fmt, path, Policy.QUARANTINE)
    assert not isinstance(report, PesError), report
    [issue] = report.issues
    assert "***" in issue.message and "1,2,3" not in issue.message
    with using_language("ru"), collect_untranslated() as missed:
        russian = translate(issue.message)
    assert missed == []
    assert CYRILLIC.search(russian) and "***" in russian and "1,2,3" not in russian


def _cli_bad_registry(tmp_path: Path) -> Path:
    path = tmp_path / "7707083893_40702810900000000001_001_1126.txt"
    path.write_bytes(b"0001;1;2\r\n=1;1,2,3\r\n")
    return path


def _host_with_bad_dialect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PluginHost:
    folder = tmp_path / "dialects"
    folder.mkdir()
    (folder / "bad.toml").write_text(_minimal(delimiter='"ab"'), encoding="utf-8")
    monkeypatch.setenv(DIALECT_PATH_ENV, str(folder))
    return PluginHost()


@pytest.mark.parametrize("how", ["option", "env"])
def test_cli_in_russian(how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    host = _host_with_bad_dialect(monkeypatch, tmp_path)
    path = _cli_bad_registry(tmp_path)
    args = ["validate", "--format", "sber-debts", str(path)]
    if how == "option":
        result = CliRunner().invoke(cli, ["--lang", "ru", *args], obj=host, env={"LANG": "C"})
    else:
        result = CliRunner().invoke(cli, args, obj=host, env={"LANG": "ru_RU.UTF-8"})
    assert result.exit_code != 0
    # The footer's bad amount (the core's words inside the adapter's) and the bad dialect.
    assert "1,2,3" in result.output
    assert "итоговой строке" in result.output, result.output
    [warning] = [ln for ln in result.stderr.splitlines() if "bad.toml" in ln]
    assert "delimiter" in warning and CYRILLIC.search(warning), warning
    assert "этот диалект не загружен" in warning


def test_cli_in_english_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    host = _host_with_bad_dialect(monkeypatch, tmp_path)
    path = _cli_bad_registry(tmp_path)
    args = ["validate", "--format", "sber-debts", str(path)]
    for env in ({"LANG": "C", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}, {}):
        result = CliRunner().invoke(cli, args, obj=host, env=env)
        assert "the footer's amount" in result.output, result.output
        assert not CYRILLIC.search(result.output)
        [warning] = [ln for ln in result.stderr.splitlines() if "bad.toml" in ln]
        assert "that dialect is left out" in warning and not CYRILLIC.search(warning)
