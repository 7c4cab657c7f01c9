"""``pes gis lookup`` on answers built to the official 16.3 schema (issue 11).

The answers are written here by hand, element by element as ``hcs-payment-types.xsd``
orders them, and validated in the test against the shared XSD (lxml, independently of the
adapter's own schema code); the simulator serves them as they are (and validates them
again). What the CLI and ``--json`` show is then checked against them:

* a document ГИС ЖКХ answered with an error (revoked) and a payee's error are shown, and
  the revoked document is never offered for payment;
* "total due" is what ГИС ЖКХ states is owed (``TotalWithDebtAndAdvance``): 4481.17, not
  the sum of every period charge, the revoked one included (5729.67);
* an answer with services instead of charges (``ServiceForAggregator``) is read;
* every field ГИС ЖКХ gives is read and shown.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from lxml import etree

IPD = "12АБ123456-01-6101"
REVOKED = "12АБ123456-01-6102"
ELS = "12АБ123456"
DOC_GUID = "6a1f0c11-2b3c-4d5e-8f70-8192a3b4c5d6"
DETAILS_GUID = "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
REPAIR_GUID = "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
SERVICE_GUID = "0f0e2b8e-3c3a-4f57-8d1e-5b7c6a2e9d01"
HOUSE = "5b1e3c4d-2a6f-4e8b-9c0d-1e2f3a4b5c6d"

NSMAP = (
    'xmlns:pm="http://dom.gosuslugi.ru/schema/integration/payment/" '
    'xmlns:base="http://dom.gosuslugi.ru/schema/integration/base/" '
    'xmlns:pb="http://dom.gosuslugi.ru/schema/integration/payments-base/" '
    'xmlns:ab="http://dom.gosuslugi.ru/schema/integration/account-base/" '
    'xmlns:bb="http://dom.gosuslugi.ru/schema/integration/bills-base/" '
    'xmlns:ob="http://dom.gosuslugi.ru/schema/integration/organizations-base/"'
)

PAYEE = """
  <pb:RecipientINN>5003012349</pb:RecipientINN>
  <pb:RecipientKPP>500301001</pb:RecipientKPP>
  <pb:BankName>АО «ТБанк»</pb:BankName>
  <pb:PaymentRecipient>ООО «УК Дом»</pb:PaymentRecipient>
  <pb:BankBIK>044525974</pb:BankBIK>
  <pb:operatingAccountNumber>40702810200000005678</pb:operatingAccountNumber>
  <pb:CorrespondentBankAccount>30101810145250000974</pb:CorrespondentBankAccount>
"""

EXECUTOR = """
 <ob:INN>5003012349</ob:INN>
 <pm:Legal><ob:KPP>500301001</ob:KPP><pm:Name>ООО «УК Дом»</pm:Name></pm:Legal>
"""

#: The issue's case: one valid document (4730.67 for the month, an advance of 249.50:
#: 4481.17 to pay), one revoked (999.00), and a payee whose details ГИС ЖКХ refused.
CHARGES = f"""
<pm:exportForPaymentAggregatorResult {NSMAP}>
 <pm:Charge>
  <pm:PaymentDocumentForAggregator>
   <bb:PaymentDocumentID>{IPD}</bb:PaymentDocumentID>
   <bb:PaymentDocumentNumber>77/2026-10</bb:PaymentDocumentNumber>
   <ab:UnifiedAccountNumber>{ELS}</ab:UnifiedAccountNumber>
   <ab:AccountNumber>0012345</ab:AccountNumber>
   <ab:ServiceID>1234567890123</ab:ServiceID>
   <pm:PaymentDocumentForAggregatorDetails>
    <pm:ConsumerInformation>
     <pm:address>
      <pm:region>59</pm:region>
      <pm:FIASHouseGuid>{HOUSE}</pm:FIASHouseGuid>
      <pm:apartment>12</pm:apartment>
      <pm:address_string>г. Пермь, ул. Ленина, д. 1, кв. 12</pm:address_string>
     </pm:address>
     <pm:address>
      <pm:region>59</pm:region>
      <pm:FIASHouseGuid>{HOUSE}</pm:FIASHouseGuid>
      <pm:apartment>12а</pm:apartment>
      <pm:address_string>г. Пермь, ул. Ленина, д. 1, кв. 12а</pm:address_string>
     </pm:address>
    </pm:ConsumerInformation>
    <pm:ExecutorInformation>{EXECUTOR}
     <pm:PaymentInformationForAggregator>{PAYEE}
      <pm:PaymentInformationGuid>{DETAILS_GUID}</pm:PaymentInformationGuid>
      <pm:Reminder>336300</pm:Reminder>
      <ab:AccountNumber>0012345</ab:AccountNumber>
      <ab:ServiceID>1234567890123</ab:ServiceID>
      <pm:DebtOrAdvance>-24950</pm:DebtOrAdvance>
      <pm:TotalWithDebtAndAdvance>311350</pm:TotalWithDebtAndAdvance>
     </pm:PaymentInformationForAggregator>
     <pm:PaymentInformationForAggregator>
      <pb:RecipientINN>5003012349</pb:RecipientINN>
      <pb:RecipientKPP>500301001</pb:RecipientKPP>
      <pb:BankName>ПАО Сбербанк</pb:BankName>
      <pb:PaymentRecipient>ООО «УК Дом» (спецсчёт)</pb:PaymentRecipient>
      <pb:BankBIK>044525225</pb:BankBIK>
      <pb:operatingAccountNumber>40705810500000000017</pb:operatingAccountNumber>
      <pb:CorrespondentBankAccount>30101810400000000225</pb:CorrespondentBankAccount>
      <pb:IsCapitalRepair>true</pb:IsCapitalRepair>
      <pm:PaymentInformationGuid>{REPAIR_GUID}</pm:PaymentInformationGuid>
      <pm:Reminder>136767</pm:Reminder>
      <ab:AccountNumber>0012345</ab:AccountNumber>
      <pm:DebtOrAdvance>0</pm:DebtOrAdvance>
      <pm:TotalWithDebtAndAdvance>136767</pm:TotalWithDebtAndAdvance>
     </pm:PaymentInformationForAggregator>
     <pm:PaymentInformationForAggregator>
      <pb:RecipientINN>7720123457</pb:RecipientINN>
      <pb:PaymentRecipient>АО «Водоканал»</pb:PaymentRecipient>
      <base:ErrorMessage>
       <base:ErrorCode>SRV012002</base:ErrorCode>
       <base:Description>Платёжные реквизиты не найдены</base:Description>
      </base:ErrorMessage>
     </pm:PaymentInformationForAggregator>
     <pm:MailingAddress>614000, г. Пермь, ул. Сибирская, д. 5</pm:MailingAddress>
    </pm:ExecutorInformation>
    <pm:Reminder>473067</pm:Reminder>
    <pm:Debt>-24950</pm:Debt>
    <pm:TotalWithDebtAndAdvance>448117</pm:TotalWithDebtAndAdvance>
    <pm:Purpose>Оплата ЖКУ за октябрь 2026, ЛС 0012345</pm:Purpose>
    <pm:PDServiceName>Содержание жилого помещения</pm:PDServiceName>
   </pm:PaymentDocumentForAggregatorDetails>
   <base:Year>2026</base:Year>
   <base:Month>10</base:Month>
   <pm:PaymentDocumentGUID>{DOC_GUID}</pm:PaymentDocumentGUID>
  </pm:PaymentDocumentForAggregator>
  <pm:PaymentDocumentForAggregator>
   <bb:PaymentDocumentID>{REVOKED}</bb:PaymentDocumentID>
   <ab:UnifiedAccountNumber>{ELS}</ab:UnifiedAccountNumber>
   <ab:AccountNumber>0012345</ab:AccountNumber>
   <pm:PaymentDocumentForAggregatorDetails>
    <pm:ExecutorInformation>{EXECUTOR}
     <pm:PaymentInformationForAggregator>{PAYEE}
      <pm:Reminder>99900</pm:Reminder>
     </pm:PaymentInformationForAggregator>
     <pm:MailingAddress>614000, г. Пермь, ул. Сибирская, д. 5</pm:MailingAddress>
    </pm:ExecutorInformation>
    <pm:Reminder>99900</pm:Reminder>
    <base:ErrorMessage>
     <base:ErrorCode>SRV012001</base:ErrorCode>
     <base:Description>Платёжный документ отозван</base:Description>
    </base:ErrorMessage>
   </pm:PaymentDocumentForAggregatorDetails>
   <base:Year>2026</base:Year>
   <base:Month>10</base:Month>
  </pm:PaymentDocumentForAggregator>
 </pm:Charge>
</pm:exportForPaymentAggregatorResult>
"""

#: No charges: the services that can be paid (ServiceForAggregator), an entrepreneur's.
SERVICES = f"""
<pm:exportForPaymentAggregatorResult {NSMAP}>
 <pm:ServiceForAggregator>
  <ab:UnifiedAccountNumber>{ELS}</ab:UnifiedAccountNumber>
  <ab:AccountNumber>0099999</ab:AccountNumber>
  <ab:ServiceID>9876543210987</ab:ServiceID>
  <pm:ServiceIDGuid>{SERVICE_GUID}</pm:ServiceIDGuid>
  <pm:ExecutorInformation>
   <ob:INN>500100732259</ob:INN>
   <pm:Entpr>
    <Surname xmlns="http://dom.gosuslugi.ru/schema/integration/individual-registry-base/">Иванов</Surname>
    <FirstName xmlns="http://dom.gosuslugi.ru/schema/integration/individual-registry-base/">Пётр</FirstName>
   </pm:Entpr>
   <pm:PaymentInformationForAggregator>
    <pb:RecipientINN>500100732259</pb:RecipientINN>
    <pb:BankName>АО «ТБанк»</pb:BankName>
    <pb:PaymentRecipient>ИП Иванов П.</pb:PaymentRecipient>
    <pb:BankBIK>044525974</pb:BankBIK>
    <pb:operatingAccountNumber>40802810200000001111</pb:operatingAccountNumber>
    <pb:CorrespondentBankAccount>30101810145250000974</pb:CorrespondentBankAccount>
    <pm:PaymentInformationGuid>{DETAILS_GUID}</pm:PaymentInformationGuid>
   </pm:PaymentInformationForAggregator>
   <pm:MailingAddress>614000, г. Пермь, ул. Пушкина, д. 3</pm:MailingAddress>
  </pm:ExecutorInformation>
  <pm:Purpose>Вывоз ТКО</pm:Purpose>
  <pm:PDServiceName>Обращение с ТКО</pm:PDServiceName>
 </pm:ServiceForAggregator>
</pm:exportForPaymentAggregatorResult>
"""


@pytest.fixture(scope="module")
def official(package: Path) -> etree.XMLSchema:
    """The payment service's XSD from the shared package, read with lxml as is."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(package / "payment" / "hcs-payment-types.xsd"), parser))


def _answer(official: etree.XMLSchema, text: str) -> etree._Element:
    """The result element, after checking it in a whole getStateResult against the XSD."""
    result = etree.fromstring(text.strip().encode())
    state = etree.fromstring(
        f'<pm:getStateResult {NSMAP} base:version="10.0.1.1"><base:RequestState>3'
        f"</base:RequestState><base:MessageGUID>{uuid.uuid4()}</base:MessageGUID>"
        "</pm:getStateResult>".encode()
    )
    state.append(result)
    official.assertValid(state)
    return result


def _lookup(run, env, *more):
    return run("gis", "lookup", "--ipd", IPD, "--config", str(env), *more)


def test_the_answers_are_valid_per_the_official_schema(official):
    _answer(official, CHARGES)
    _answer(official, SERVICES)
    broken = CHARGES.replace("<pm:Reminder>473067</pm:Reminder>", "", 1)
    with pytest.raises(etree.DocumentInvalid):  # the check has teeth
        _answer(official, broken)


def test_json_shows_errors_the_total_stated_and_every_field(sim, env, run, official):
    sim.serve_export(_answer(official, CHARGES))
    result = _lookup(run, env, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)

    assert data["total_due"] == "4481.17"  # ГИС ЖКХ's own total, not 5729.67
    valid, revoked = data["documents"]
    assert revoked["payment_document_id"] == REVOKED
    assert revoked["payable"] is False and revoked["to_pay"] == "0.00"
    assert revoked["error"] == {"code": "SRV012001", "description": "Платёжный документ отозван"}
    assert revoked["amount_due"] == "999.00"

    assert valid["payable"] is True and valid["error"] is None
    assert (valid["amount_due"], valid["debt"], valid["total"], valid["to_pay"]) == (
        "4730.67",
        "-249.50",
        "4481.17",
        "4481.17",
    )
    assert valid["payment_document_number"] == "77/2026-10"
    assert valid["payment_document_guid"] == DOC_GUID
    assert valid["service_id"] == "1234567890123"
    assert valid["service_name"] == "Содержание жилого помещения"
    assert valid["purpose"] == "Оплата ЖКУ за октябрь 2026, ЛС 0012345"
    assert valid["addresses"] == [
        "г. Пермь, ул. Ленина, д. 1, кв. 12",
        "г. Пермь, ул. Ленина, д. 1, кв. 12а",
    ]
    assert valid["executor"] == {
        "inn": "5003012349",
        "kpp": "500301001",
        "name": "ООО «УК Дом»",
        "mailing_address": "614000, г. Пермь, ул. Сибирская, д. 5",
    }

    main, repair, refused = valid["payees"]
    assert main == {
        "inn": "5003012349",
        "kpp": "500301001",
        "name": "ООО «УК Дом»",
        "bank_name": "АО «ТБанк»",
        "bik": "044525974",
        "account": "40702810200000005678",
        "corr_account": "30101810145250000974",
        "capital_repair": False,
        "payment_information_guid": DETAILS_GUID,
        "account_number": "0012345",
        "service_id": "1234567890123",
        "amount_due": "3363.00",
        "debt_or_advance": "-249.50",
        "total": "3113.50",
        "payable": True,
        "error": None,
    }
    assert repair["capital_repair"] is True
    assert repair["payment_information_guid"] == REPAIR_GUID
    assert (repair["account"], repair["total"]) == ("40705810500000000017", "1367.67")
    assert refused["payable"] is False
    assert refused["error"] == {
        "code": "SRV012002",
        "description": "Платёжные реквизиты не найдены",
    }
    assert data["services"] == []


def test_the_table_shows_errors_and_offers_only_what_is_payable(sim, env, run, official):
    sim.serve_export(_answer(official, CHARGES))
    result = _lookup(run, env)
    assert result.exit_code == 0, result.output
    out = result.output

    assert "total due: 4481.17 (1 of 2 document(s) payable)" in out
    assert "5729.67" not in out
    valid, revoked = out.split(f"ИПД {REVOKED}")
    assert "ERROR SRV012001: Платёжный документ отозван: not payable" in revoked
    assert "; to pay" not in revoked  # the revoked 999.00 is never offered
    assert "due 4730.67, debt -249.50, total 4481.17; to pay 4481.17" in valid
    assert "ERROR SRV012002: Платёжные реквизиты не найдены: not payable" in valid
    for shown in (
        "№ 77/2026-10",
        "ИЖКУ 1234567890123",
        f"GUID: {DOC_GUID}",
        "service: Содержание жилого помещения",
        "address: г. Пермь, ул. Ленина, д. 1, кв. 12а",
        "purpose: Оплата ЖКУ за октябрь 2026",
        "executor: ООО «УК Дом» (ИНН 5003012349, КПП 500301001)",
        "mailing address: 614000, г. Пермь, ул. Сибирская, д. 5",
        "к/с 30101810145250000974",
        "[капремонт]",
        f"details GUID {REPAIR_GUID}",
        "debt/advance -249.50",
    ):
        assert shown in valid, shown


def test_services_without_charges_are_read(sim, env, run, official):
    sim.serve_export(_answer(official, SERVICES))
    raw = _lookup(run, env, "--json")
    assert raw.exit_code == 0, raw.output
    data = json.loads(raw.output)
    assert data["documents"] == []
    assert data["total_due"] is None  # no charge stated: not a total of 0.00
    (service,) = data["services"]
    assert (service["els"], service["account"], service["service_id"]) == (
        ELS,
        "0099999",
        "9876543210987",
    )
    assert service["service_guid"] == SERVICE_GUID
    assert service["service_name"] == "Обращение с ТКО"
    assert service["executor"]["name"] == "Иванов Пётр"
    assert service["executor"]["kpp"] is None
    (payee,) = service["payees"]
    assert (payee["account"], payee["corr_account"], payee["amount_due"]) == (
        "40802810200000001111",
        "30101810145250000974",
        None,
    )

    sim.serve_export(_answer(official, SERVICES))
    table = _lookup(run, env)
    assert table.exit_code == 0, table.output
    assert "documents: []" not in table.output and "0.00" not in table.output
    assert "no charges in ГИС ЖКХ" in table.output
    assert "ИЖКУ 9876543210987 · ЕЛС 12АБ123456 · ЛС 0099999" in table.output
    assert "executor: Иванов Пётр (ИНН 500100732259)" in table.output
    assert "service: Обращение с ТКО" in table.output


def test_the_simulator_answers_a_revoked_document(client, sim):
    """SimDocument's own answer (error instead of debt and total) reads the same way."""
    from decimal import Decimal

    from pes_sdk_gis_zhkh.simulator import SimDocument

    sim.add_document(
        SimDocument(
            house_guid=HOUSE,
            premises="12",
            account="0012345",
            els=ELS,
            payment_document_id=REVOKED,
            executor_inn="5003012349",
            executor_kpp="500301001",
            executor_name="ООО «УК Дом»",
            bik="044525974",
            bank_account="40702810200000005678",
            bank_name="АО «ТБанк»",
            amount_due=Decimal("999.00"),
            corr_account="30101810145250000974",
            error=("SRV012001", "Платёжный документ отозван"),
        )
    )
    result = client.lookup_payment_document(REVOKED)
    (doc,) = result.documents
    assert not doc.payable and doc.error.description == "Платёжный документ отозван"
    assert doc.payments[0].corr_account == "30101810145250000974"
    assert result.total_due == Decimal("0.00")
