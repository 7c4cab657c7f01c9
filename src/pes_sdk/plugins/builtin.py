"""The core's own plugin: the built-in fee plans, provided through the public hooks."""

from __future__ import annotations

from collections.abc import Sequence

from pes_sdk.fees import FeePlan, PercentPlan, SubscriptionPlan
from pes_sdk.plugins.hookspecs import hookimpl


@hookimpl
def pes_fee_plans() -> Sequence[FeePlan]:
    return [PercentPlan(), SubscriptionPlan()]
