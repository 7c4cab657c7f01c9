"""Test set-up shared by every distribution in this repository: hypothesis profiles, and
messages in English whatever the host's locale.

This file sits at the root so that it applies however the tests are run: ``make test``
(all folders at once) or tox's per-distribution environments (one folder alone).

Two profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:

``default``
    for a developer's run: 200 examples per property, hypothesis' usual deadline.
``ci``
    what ``.ci/run`` sets: 10,000 examples per property and no deadline, as issue 2 asks
    for the money, settlement, allocation, basket-split and parser properties.

Properties that are costly per example (a file written and read back, say) cap themselves
in their module with ``settings(max_examples=min(settings.default.max_examples, N))``:
test modules cannot import this file under ``--import-mode=importlib``, and as it is loaded
before them, ``settings.default`` there is the profile loaded here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from pes_sdk.i18n import language_from_environment, set_language

# No deadline in any profile: hypothesis' per-example deadline is a wall-clock assertion,
# and a loaded machine (a CI host shared with other jobs) fails it without any bug.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile(
    "ci",
    max_examples=10_000,
    deadline=None,
    # 10,000 examples of a slow strategy are still what we want in CI.
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts in English, whatever the host's locale (LANG=ru_RU.UTF-8 included),
    and one that switches ``pes`` to Russian leaves no trace for the next."""
    for key in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(key, raising=False)
    if language_from_environment() != "en":
        monkeypatch.setenv("LANGUAGE", "en")
    set_language("en")
    yield
    set_language("en")
