"""The pes-sdk reference runner (эталонный исполнитель): the SDK wired into a service.

This distribution is separate from ``pes-sdk`` on purpose: partner developers who embed the
SDK must not get a server, SQL drivers and an ASGI stack. See ``runner/README.md``.
"""

from __future__ import annotations

__all__: list[str] = []
