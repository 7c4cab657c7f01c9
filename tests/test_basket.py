"""A basket payment split by partner, with the service's own client fees."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.basket import price_line, split_basket
from pes_sdk.fees import FeePlan, PercentPlan, SubscriptionPlan
from pes_sdk.models import FeeTerms, Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO, round_money

D = Decimal
PLANS: dict[str, FeePlan] = {"percent": PercentPlan(), "subscription": SubscriptionPlan()}
# Valid ИНН (check digits verified in test_identifiers.py).
INNS = ["7707083893", "500100732259", "7736050003", "7702070139"]
WHEN = dt.datetime(2026, 3, 15, 12, 30, tzinfo=dt.UTC)

kopecks = st.integers(min_value=1, max_value=10**8).map(lambda k: D(k).scaleb(-2))
fees = st.integers(min_value=0, max_value=10**5).map(lambda k: D(k).scaleb(-2))

# Properties beyond the ones issue 2 asks 10,000 examples of: at most 2,000 even in CI.
MEDIUM = settings(max_examples=min(settings.default.max_examples, 2000))
lines = st.builds(
    PaymentLine,
    partner_inn=st.sampled_from(INNS),
    account=st.sampled_from(["000123", "1", "77/5", "ЛС-9"]) | st.integers(0, 10**12).map(str),
    amount=kopecks,
    service=st.sampled_from(["", "Электроэнергия", "ХВС", "Вывоз ТКО"]),
    client_fee=fees,
)


def payment(*payment_lines: PaymentLine) -> Payment:
    return Payment(uuid.uuid4(), WHEN, PaymentMethod.SBP, payment_lines)


def test_split_known_answer() -> None:
    p = payment(
        PaymentLine("7707083893", "001", D("1000.00"), client_fee=D("10.00")),
        PaymentLine("7736050003", "77", D("272.26"), client_fee=D("2.72")),
        PaymentLine("7707083893", "002", D("0.50")),
    )
    split = split_basket(p)
    assert split.to_partners == {"7707083893": D("1000.50"), "7736050003": D("272.26")}
    assert split.service_fees == D("12.72")
    assert split.total == p.total == D("1285.48")


# Cheap to draw: three integers a line. 10,000 baskets in CI are spent on the sums, not on
# hypothesis building rich objects.
raw_lines = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=len(INNS) - 1),
        st.integers(min_value=1, max_value=10**8),
        st.integers(min_value=0, max_value=10**5),
    ),
    min_size=1,
    max_size=12,
)


@given(raw_lines)
def test_split_parts_and_fees_sum_to_the_payment(raw: list[tuple[int, int, int]]) -> None:
    basket = [
        PaymentLine(INNS[p], f"{i:06d}", D(k).scaleb(-2), client_fee=D(f).scaleb(-2))
        for i, (p, k, f) in enumerate(raw)
    ]
    p = payment(*basket)
    split = split_basket(p)
    assert sum(split.to_partners.values(), ZERO) + split.service_fees == p.total
    assert split.total == p.total
    assert p.total == D(sum(k + f for _, k, f in raw)).scaleb(-2)
    assert split.service_fees == sum((ln.client_fee for ln in basket), ZERO)
    for inn, part in split.to_partners.items():
        assert part == sum((ln.amount for ln in basket if ln.partner_inn == inn), ZERO)
    assert set(split.to_partners) == {ln.partner_inn for ln in basket}


@MEDIUM
@given(st.lists(lines, min_size=1, max_size=20), st.integers(min_value=0, max_value=500))
def test_priced_basket_adds_exactly_the_plan_fees(basket: list[PaymentLine], bp: int) -> None:
    # Partners 0 and 2 are on the subscription plan (client pays), the others on percent.
    rate = D(bp).scaleb(-4)
    terms = {
        inn: FeeTerms(plan="subscription", rate=rate) if i % 2 == 0 else FeeTerms()
        for i, inn in enumerate(INNS)
    }
    priced = [price_line(ln, terms[ln.partner_inn], PLANS) for ln in basket]
    p = payment(*priced)
    split = split_basket(p)
    expected_fees = sum(
        (
            round_money(ln.amount * rate)
            for ln in basket
            if terms[ln.partner_inn].plan == "subscription"
        ),
        ZERO,
    )
    assert split.service_fees == expected_fees
    assert p.total == sum((ln.amount for ln in basket), ZERO) + expected_fees
    assert split.total == p.total


def test_price_line_known_answers() -> None:
    line = PaymentLine("7707083893", "001", D("50.50"), client_fee=D("9.99"))
    sub = price_line(line, FeeTerms(plan="subscription", rate=D("0.01")), PLANS)
    assert sub.client_fee == D("0.51")  # 0.505 → 0.51, half-up
    assert sub.amount == line.amount
    # The percent plan replaces any fee with none: the partner pays, not the client.
    assert price_line(line, FeeTerms(), PLANS).client_fee == ZERO


def test_price_line_unknown_plan() -> None:
    line = PaymentLine("7707083893", "001", D("1.00"))
    with pytest.raises(KeyError, match="flat"):
        price_line(line, FeeTerms(plan="flat"), PLANS)
