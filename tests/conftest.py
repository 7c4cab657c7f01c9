"""Shared test set-up for the core: hypothesis profiles.

Two profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:

``default``
    for a developer's run: 200 examples per property, hypothesis' usual deadline.
``ci``
    what ``.ci/run`` sets: 10,000 examples per property and no deadline, as issue 2 asks
    for the money, settlement, allocation, basket-split and parser properties.

Which properties get the full 10,000 in CI: the money ones (amount, parse_amount,
round_money, allocate), the settlement of a partner-day, basket splits and the text parsers
(amounts, periods). The others cap themselves in their module, ``MEDIUM`` (2,000: identifier
check digits, extra money properties) or ``LIGHT`` (500: serialization, premises), written
``settings(max_examples=min(settings.default.max_examples, N))``: test modules cannot import
this file under ``--import-mode=importlib``, and as this file is loaded before them,
``settings.default`` there is the profile loaded here. That keeps the CI run of the core
tests within a few minutes on two cores.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=200)
settings.register_profile(
    "ci",
    max_examples=10_000,
    deadline=None,
    # 10,000 examples of a slow strategy are still what we want in CI.
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
