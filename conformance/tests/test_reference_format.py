"""The suite passes a correct format: the baseline the broken formats are measured against."""

from __future__ import annotations

from pathlib import Path

import pytest
from pes_sdk_conformance.corpus import MalformedSample, NotApplicable
from pes_sdk_conformance.formats import FormatConformance
from reference_format import ReferenceFormat

from pes_sdk.formats.base import RegistryFormat
from pes_sdk.models.registry import RegistryKind

# A debt registry refuses a repeated (account, service): the reader keeps one hash a row.
REPEAT_KEY_BYTES = 128


class TestReferenceDebts(FormatConformance):
    conformance_level = "latest"
    streaming_bytes_per_row = REPEAT_KEY_BYTES

    @pytest.fixture
    def registry_format(self) -> RegistryFormat:
        return ReferenceFormat(RegistryKind.DEBTS)

    def malformed_samples(
        self, fmt: RegistryFormat, folder: Path
    ) -> dict[str, MalformedSample | NotApplicable]:
        """How an author adds a sample of their own layout: a footer whose count is text."""
        corpus = super().malformed_samples(fmt, folder)
        valid = next(folder.iterdir()).read_bytes()
        lines = valid.splitlines(keepends=True)
        lines[-1] = b"=eight;" + lines[-1].split(b";", 1)[1]
        corpus["footer_count_not_a_number"] = MalformedSample(
            b"".join(lines), "the footer's record count is not a number", len(lines)
        )
        return corpus


class TestReferencePayments(FormatConformance):
    conformance_level = "latest"

    @pytest.fixture
    def registry_format(self) -> RegistryFormat:
        return ReferenceFormat(RegistryKind.PAYMENTS)


class TestReferenceReadings(FormatConformance):
    """Meter readings: the suite's golden readings, count-only totals, value samples."""

    conformance_level = "latest"

    @pytest.fixture
    def registry_format(self) -> RegistryFormat:
        return ReferenceFormat(RegistryKind.READINGS)
