"""The payment state machine, and how a reported snapshot moves a payment.

Direct moves::

    created ──► pending ──► succeeded ──► partially_refunded ──► refunded
       │           ├──────► failed            │    ▲ (again)         ▲
       │           └──────► cancelled         └────┴─────────────────┘
       └──► failed | cancelled                succeeded ──► refunded

Webhooks arrive at least once and in any order, and one may be lost, so a reported state
is compared with the current one rather than applied blindly (:func:`advance`):

* the same state (and the same refunded sum) again: a **duplicate**, nothing changes;
* a state the payment has already passed (``pending`` after ``succeeded``, a smaller refunded
  sum): an older event that arrived late, **stale**, nothing changes: state never moves back;
* a state reachable from the current one, also over states whose event was lost
  (``created → succeeded``): **applied**;
* anything else (``failed → succeeded``, ``refunded → cancelled``): :class:`IllegalTransition`.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from functools import cache

import attrs

from pes_sdk.gateways.errors import IllegalTransition
from pes_sdk.gateways.models import PaymentState

__all__ = ["TRANSITIONS", "Move", "Outcome", "advance", "can_move", "check_move", "reachable"]

S = PaymentState

#: The direct moves of the machine. A move to the same state is allowed only for
#: ``partially_refunded`` (a further partial refund).
TRANSITIONS: dict[PaymentState, frozenset[PaymentState]] = {
    S.CREATED: frozenset({S.PENDING, S.FAILED, S.CANCELLED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


def can_move(current: PaymentState, target: PaymentState) -> bool:
    """True when ``current → target`` is one direct move of the machine."""
    return target in TRANSITIONS[current]


def check_move(current: PaymentState, target: PaymentState) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is a direct move."""
    if not can_move(current, target):
        raise IllegalTransition(current.value, target.value)


@cache
def reachable(current: PaymentState) -> frozenset[PaymentState]:
    """Every state reachable from ``current`` in one or more moves."""
    seen: set[PaymentState] = set()
    todo = list(TRANSITIONS[current])
    while todo:
        state = todo.pop()
        if state not in seen:
            seen.add(state)
            todo.extend(TRANSITIONS[state])
    return frozenset(seen)


class Outcome(enum.StrEnum):
    APPLIED = "applied"  #: the payment moved forward
    DUPLICATE = "duplicate"  #: the same news again: nothing changed
    STALE = "stale"  #: older news than what is known: nothing changed


@attrs.frozen
class Move:
    """What one reported snapshot did to a payment."""

    before: PaymentState
    after: PaymentState
    outcome: Outcome
    refunded_before: Decimal
    refunded_after: Decimal

    @property
    def credited(self) -> bool:
        """True exactly once per payment: when it first reaches a paid state."""
        return self.outcome is Outcome.APPLIED and self.after.is_paid and not self.before.is_paid

    @property
    def refund_delta(self) -> Decimal:
        """Money given back by this move (zero unless applied)."""
        return self.refunded_after - self.refunded_before


def advance(
    current: PaymentState,
    current_refunded: Decimal,
    reported: PaymentState,
    reported_refunded: Decimal,
) -> Move:
    """Compare a reported state with the current one; see the module docstring for the rules.

    Refunded sums order the refund states: a report with less refunded than known is stale.
    """
    if reported == current and reported_refunded == current_refunded:
        return Move(current, current, Outcome.DUPLICATE, current_refunded, current_refunded)
    same_partial = reported == current == S.PARTIALLY_REFUNDED
    # partially_refunded reaches itself: between two of them the refunded sums decide
    older = reported_refunded < current_refunded if same_partial else current in reachable(reported)
    if older:
        return Move(current, current, Outcome.STALE, current_refunded, current_refunded)
    forward = same_partial or reported in reachable(current)
    # a forward move never lowers the refunded sum, and only paid states carry one
    if (
        forward
        and reported_refunded >= current_refunded
        and (reported_refunded == 0 or reported.is_paid)
    ):
        return Move(current, reported, Outcome.APPLIED, current_refunded, reported_refunded)
    raise IllegalTransition(current.value, reported.value)
