"""``pes runner``: the commands run through the real ``pes`` group on a real SQLite store.

The example configuration is copied into ``tmp_path`` with its data folder there; inbox
files are written by the real formats; payments are put in the store the way the processor
records them. ``serve`` runs as a real process and is stopped by a signal.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result
from example_inputs import (
    DAY,
    PERIOD,
    TEPLOSET,
    UK_DOM,
    VODOKANAL,
    debt,
    local,
    pay_basket,
    write_sber_debts,
)
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.store import DeliveryStatus, open_store
from runner_proc import ENV, config_of, serving, write_config

from pes_sdk.cli.main import cli
from pes_sdk.models.payments import (
    PaymentRecord,
    PaymentRegistry,
)
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.plugins import hookimpl
from pes_sdk.plugins.manager import PluginHost, get_host


def run(args: Sequence[str], env: Mapping[str, str] = ENV, obj: object = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=dict(env), obj=obj)


def pay(config: RunnerConfig, inn: str, at: dt.datetime, *amounts: str) -> None:
    """A basket paid and credited at ``at``, as the processor records it."""
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        pay_basket(store, inn, at, *amounts)
    finally:
        store.close()


# -- check ----------------------------------------------------------------------------------


def test_check_prints_the_setup(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    result = run(["runner", "check", "--config", str(path)])

    assert result.exit_code == 0, result.output
    out = result.output
    for inn in (UK_DOM, VODOKANAL, TEPLOSET):
        assert inn in out
    assert "ООО «УК Дом»" in out
    assert f"store: sqlite:///{tmp_path / 'data' / 'pes.db'}" in out
    assert "gateway: sandbox" in out
    assert f"channel: outbox {tmp_path / 'data' / 'outbox' / 'uk-dom'} (sber-payments)" in out
    assert ENV["PES_CLIENT_TOKENS"] not in out and ENV["PES_OPERATOR_TOKENS"] not in out


def test_check_masks_the_store_password(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        replace={'url = "sqlite:///pes.db"': 'url = "postgresql://pes:s3cret@db.example/pes"'},
    )

    result = run(["runner", "check", "--config", str(path)])

    assert result.exit_code == 0, result.output
    assert "store: postgresql://pes:***@db.example/pes" in result.output
    assert "s3cret" not in result.output


def test_check_lists_every_problem_without_a_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path, replace={'cutoff = "18:00"': 'cutoff = "25:00"\ncolour = "red"'})

    result = run(["runner", "check", "--config", str(path)], env={"PES_CLIENT_TOKENS": "short"})

    assert result.exit_code == 2
    err = result.stderr
    assert "problems" in err
    assert "partners[1].cutoff:" in err
    assert "partners[1].colour: unknown key" in err
    assert "http.client_tokens_env:" in err and "http.operator_tokens_env:" in err
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["runner", "status", "--config", str(tmp_path / "nope.toml")])

    assert result.exit_code == 2
    assert "cannot be read" in result.stderr


# -- check and init in Russian (issue 13) ---------------------------------------------------

#: No locale variable: what a developer's shell without a Russian locale gives.
NO_LOCALE: dict[str, str | None] = {
    "LANGUAGE": None,
    "LC_ALL": None,
    "LC_MESSAGES": None,
    "LANG": None,
}


def run_in(args: Sequence[str], **locale: str) -> Result:
    env: dict[str, str | None] = {**ENV, **NO_LOCALE, **locale}
    return CliRunner().invoke(cli, list(args), env=env)


def _bad_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, replace={'cutoff = "18:00"': 'cutoff = "25:00"\ncolour = "red"'})


def test_check_lists_the_problems_in_russian_with_lang_ru(tmp_path: Path) -> None:
    path = _bad_config(tmp_path)

    result = run_in(["runner", "check", "--config", str(path), "--lang", "ru"])

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"pes: error: {path}: 2 проблемы:"
    assert "  partners[1].cutoff: должно быть местным временем HH:MM" in lines[2]
    assert lines[1] == (
        "  partners[1].colour: неизвестный ключ; здесь допустимы: bank, channel, cutoff, "
        "empty_registry, fee, format, inn, kpp, name, notifications, promotions, "
        "readings_format, receipt_phone, receipt_vat, source, transfer_format"
    )
    assert " problems:" not in result.stderr and "Traceback" not in result.output


def test_check_prints_the_setup_in_russian(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    for args in (
        ["--lang", "ru", "runner", "check", "--config", str(path)],
        ["runner", "--lang", "ru", "check", "--config", str(path)],
        ["runner", "check", "--config", str(path), "--lang", "ru"],
    ):
        result = run_in(args)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0] == f"конфигурация: {path}"
        assert lines[1].startswith("сервис: ") and "(ИНН " in lines[1]
        assert lines[2] == "часовой пояс: Asia/Yekaterinburg"
        assert "партнёры: 3" in lines
        assert any(line.startswith("    источник: inbox ") for line in lines)
        assert any(line.startswith("    канал: outbox ") for line in lines)
        assert "    время отсечения: 21:30; платёжное поручение: нет" in lines
        assert lines[3] == f"папка данных: {tmp_path / 'data'}"
        assert lines[4] == f"хранилище: sqlite:///{tmp_path / 'data' / 'pes.db'}"
        assert lines[5] == "платёжный шлюз: sandbox"
        assert lines[6] == "http: 127.0.0.1:8080 (вебхуки по адресу /webhooks/sandbox)"
        assert lines[-1].startswith("планировщик: входящие папки — каждые ")
        assert "до 7 дней назад" in lines[-1] and "всего 10 попыток" in lines[-1]
        for english in ("configuration:", "time zone:", "store:", "cut-off:", "webhooks at"):
            assert english not in result.output


def test_a_russian_locale_chooses_russian_and_english_is_the_default(tmp_path: Path) -> None:
    good, bad = write_config(tmp_path / "good"), _bad_config(tmp_path / "bad")

    russian = run_in(["runner", "check", "--config", str(good)], LANG="ru_RU.UTF-8")
    refused = run_in(["runner", "check", "--config", str(bad)], LANG="ru_RU.UTF-8")
    english = run_in(["runner", "check", "--config", str(good)])
    english_refused = run_in(["runner", "check", "--config", str(bad)])
    chosen = run_in(["runner", "check", "--config", str(good), "--lang", "en"], LANG="ru_RU.UTF-8")

    assert russian.exit_code == 0 and russian.output.startswith(f"конфигурация: {good}\n")
    assert refused.exit_code == 2 and f"{bad}: 2 проблемы:" in refused.stderr
    assert english.exit_code == 0 and english.output.startswith(f"configuration: {good}\n")
    assert "transfer order: none" in english.output
    assert english.output.splitlines()[-1].startswith("daemon: inboxes every ")
    assert english_refused.exit_code == 2
    assert english_refused.stderr.startswith(f"pes: error: {bad}: 2 problems:\n")
    assert "  partners[1].colour: unknown key; allowed here: bank," in english_refused.stderr
    assert chosen.output.startswith(f"configuration: {good}\n")


def test_init_speaks_russian(tmp_path: Path) -> None:
    target = tmp_path / "pes"

    result = run_in(["runner", "init", str(target), "--lang", "ru"])
    again = run_in(["runner", "init", str(target)], LANG="ru_RU.UTF-8")

    assert result.exit_code == 0, result.output
    path = target / "runner.toml"
    assert result.output.startswith(f"записан {path}\nсоздана ")
    assert f"  1. отредактируйте {path}: " in result.output
    assert f"  3. pes runner check --config {path}" in result.output
    assert again.exit_code == 2
    assert f"pes: error: {path} уже существует и не перезаписывается" in again.stderr


# -- scan and status -----------------------------------------------------------------------


def test_scan_ingests_reports_refusals_and_status_shows_the_registry(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    inbox = tmp_path / "data" / "inbox"
    good = write_sber_debts(inbox / "uk-dom", 7, [debt("1001", "1500.00"), debt("1002", "230.45")])
    # pes-debts needs the registry's number in its name or header: without one it is refused
    no_number = inbox / "vodokanal" / "debts.csv"
    no_number.parent.mkdir(parents=True)
    get_host().format("pes-debts").write(
        no_number, RegistryHeader(kind=RegistryKind.DEBTS), [debt("2001", "10.00")]
    )

    result = run(["runner", "scan", "--config", str(path)])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"{UK_DOM} {good.name}: activated; № 7; 2026-10; 2 records, total 1730.45" in lines[0]
    assert lines[1].startswith(f"{VODOKANAL} debts.csv: refused")
    assert (inbox / "uk-dom" / "processed" / good.name).is_file()
    assert (inbox / "vodokanal" / "rejected" / "debts.csv").is_file()

    again = run(["runner", "scan", "--config", str(path)])
    assert again.exit_code == 0, again.output
    assert again.output == "nothing to ingest\n"

    status = run(["runner", "status", "--config", str(path), "--json"])
    assert status.exit_code == 0, status.output
    state = json.loads(status.output)
    assert state["store"] == config.store.display_url
    by_inn = {p["inn"]: p for p in state["partners"]}
    assert list(by_inn) == [UK_DOM, VODOKANAL, TEPLOSET]
    registry = by_inn[UK_DOM]["debt_registry"]
    assert {k: registry[k] for k in ("period", "number", "records", "total")} == {
        "period": str(PERIOD),
        "number": 7,
        "records": 2,
        "total": "1730.45",
    }
    assert by_inn[VODOKANAL]["debt_registry"] is None
    assert by_inn[UK_DOM]["last_payment_registry"] is None
    assert by_inn[UK_DOM]["deliveries"] == {"pending": 0, "failed": 0}

    text = run(["runner", "status", "--config", str(path)])
    assert text.exit_code == 0, text.output
    assert f"debt registry: {PERIOD} № 7, 2 records, total 1730.45" in text.output


# -- close-day -----------------------------------------------------------------------------


def test_close_day_writes_the_registry_and_status_shows_it(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    pay(config, UK_DOM, local(config, DAY, 9, 30), "1000.00", "234.56")
    pay(config, UK_DOM, local(config, DAY, 20, 0), "99.00")  # after the cut-off: the next day

    args = ["runner", "close-day", "--config", str(path), "--date", f"{DAY}"]
    result = run([*args, "--partner", UK_DOM])

    assert result.exit_code == 0, result.output
    outbox = tmp_path / "data" / "outbox" / "uk-dom"
    files = [p for p in outbox.iterdir() if p.is_file()]
    assert len(files) == 1
    with get_host().format("sber-payments").open(files[0]) as reader:
        records = [r for r in reader if isinstance(r, PaymentRecord)]
    assert len(records) == 2
    assert sum((r.amount for r in records), Decimal(0)) == Decimal("1234.56")
    head = result.output.splitlines()[0]
    match = re.fullmatch(
        rf"{UK_DOM}: registry № 1 of {DAY}, 2 payments, paid 1234\.56, commission (\S+), "
        r"VAT (\S+), transfer (\S+)",
        head,
    )
    assert match is not None, head
    commission, vat, transfer = (Decimal(g) for g in match.groups())
    assert commission + vat + transfer == Decimal("1234.56")
    assert commission > 0 and vat > 0
    assert f"file: {files[0]}" in result.output
    assert "transfer order: " in result.output
    assert VODOKANAL not in result.output  # --partner closes that partner only

    status = json.loads(run(["runner", "status", "--config", str(path), "--json"]).output)
    last = {p["inn"]: p for p in status["partners"]}[UK_DOM]["last_payment_registry"]
    assert last["day"] == f"{DAY}" and last["number"] == 1 and last["amount"] == "1234.56"
    assert Decimal(last["transfer"]) == transfer
    # the outbox file was acknowledged: nothing is left to deliver
    assert {p["inn"]: p for p in status["partners"]}[UK_DOM]["deliveries"]["pending"] == 0

    # a re-run takes no new number and writes the same bytes; all partners this time
    before = files[0].read_bytes()
    again = run(args)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0] == head
    assert files[0].read_bytes() == before
    # Водоканал wants empty registries but has no debt registry and no payment: not served.
    assert f"{VODOKANAL}: no registry for {DAY}: not served yet" in again.output
    assert f"{TEPLOSET}: no payments" in again.output


def test_close_day_refuses_a_day_not_over(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    far = dt.date(2099, 1, 1)

    result = run(["runner", "close-day", "--config", str(path), "--date", f"{far}"])

    assert result.exit_code == 2
    assert "the day is not over yet" in result.stderr
    assert "01.01.2099" in result.stderr
    assert not (tmp_path / "data" / "outbox" / "vodokanal").exists() or not any(
        (tmp_path / "data" / "outbox" / "vodokanal").iterdir()
    )


def test_close_day_names_an_unknown_partner(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    result = run(
        ["runner", "close-day", "--config", str(path), "--date", f"{DAY}", "--partner", "1"]
    )

    assert result.exit_code == 2
    assert f"no partner with ИНН 1 in the configuration (partners: {UK_DOM}" in result.stderr


def test_close_day_rejects_a_bad_date(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    result = run(["runner", "close-day", "--config", str(path), "--date", "20.10.2026"])

    assert result.exit_code == 2
    assert "--date" in result.stderr


@attrs.frozen
class _RefusingChannel:
    def deliver_payments(self, registry: PaymentRegistry) -> None:
        raise ValueError(f"registry № {registry.number} refused by the partner")


@attrs.frozen
class _RefusingFactory:
    name: str = "refusing"
    description: str = "a channel whose partner refuses every registry"

    def create(self, settings: Mapping[str, str]) -> _RefusingChannel:
        return _RefusingChannel()


class _RefusingPlugin:
    @hookimpl
    def pes_delivery_channels(self) -> Sequence[_RefusingFactory]:
        return [_RefusingFactory()]


def test_close_day_exits_1_when_a_delivery_fails(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(_RefusingPlugin(), name="test-refusing")
    path = write_config(
        tmp_path,
        replace={
            'channel = { kind = "outbox", folder = "outbox/teploset", format = "pes-payments" }': (
                'channel = { kind = "refusing" }'
            )
        },
    )
    config = config_of(path, host)
    pay(config, TEPLOSET, local(config, DAY, 12), "500.00")

    result = run(
        ["runner", "close-day", "--config", str(path), "--date", f"{DAY}", "--partner", TEPLOSET],
        obj=host,
    )

    assert result.exit_code == 1, result.output
    assert f"{TEPLOSET}: registry № 1 of {DAY}, 1 payments, paid 500.00" in result.stdout
    assert "failed: ValueError" in result.stderr or "refused by the partner" in result.stderr
    store = open_store(config.store.url)
    try:
        assert [d.status for d in store.deliveries()] == [DeliveryStatus.FAILED]
    finally:
        store.close()

    status = run(["runner", "status", "--config", str(path), "--json"], obj=host)
    failed = {p["inn"]: p for p in json.loads(status.output)["partners"]}[TEPLOSET]
    assert failed["deliveries"] == {"pending": 0, "failed": 1}


# -- serve ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_runs_until_told_to_stop(tmp_path: Path, stop: signal.Signals) -> None:
    path = write_config(tmp_path)
    with serving(path, tmp_path / "serve.log") as served:
        assert served.health()["status"] == "ok"
        out, err = served.stop(stop)
    assert served.proc.returncode == 0, err
    assert "pes runner: stopped" in out
    assert "Traceback" not in err
    assert (tmp_path / "data" / "pes.db").is_file()


def test_an_engine_launch_that_breaks_gives_the_sqlite_lease_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A launch failing in a way the command does not expect (a bug, a stop) must not keep
    the scheduler's lease: another runner would be refused until it expired."""
    from pes_sdk_runner import cli as runner_cli
    from pes_sdk_runner import jobs
    from pes_sdk_runner.lease import LeaseHeld, SchedulerLease

    url = f"sqlite:///{tmp_path / 'pes.db'}"
    config = config_of(write_config(tmp_path, url))
    open_store(url).close()  # migrated, as serve's start-up leaves it

    def broken_launch(*args: object, **kwargs: object) -> object:
        # Stands in for a launch that breaks: nothing real fails this way on demand.
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(jobs, "launch", broken_launch)
    with pytest.raises(RuntimeError), runner_cli._jobs(config, get_host(), "w1"):
        pass
    other = SchedulerLease(url, 30, owner="db-2.example pid 4242 (0badcafe)")
    try:
        other.acquire()
    except LeaseHeld as exc:  # pragma: no cover - the failure this test is for
        pytest.fail(f"the lease was kept: {exc}")
    finally:
        other.release()
