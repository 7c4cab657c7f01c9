"""pes_sdk.notifications.simulation: faults on demand and the record of a provider's simulator,
and the harness's plumbing, on a real loopback server with a toy protocol."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from pes_sdk.gateways.simulation import SimulatorHandler
from pes_sdk.notifications import Notification, NotificationChannel, SendResult
from pes_sdk.notifications.simulation import STALL, ProviderHarness, ProviderSimulator

FAULTS = {"gone": 410, "busy": 503}


class _Handler(SimulatorHandler):
    """``POST /<recipient>``: 200 and the body recorded, or the fault's status."""

    sim: ToySimulator

    def _dispatch(self, method: str) -> None:
        body = self._body()
        self.sim.count_request()
        fault, retry_after = self.sim.next_fault()
        if fault == STALL:
            self.close_connection = True
            return
        fault = fault or self.sim.fault_for(self.path[1:])
        if fault is not None:
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._send(FAULTS[fault], b"", "text/plain", **extra)
            return
        self.sim.record(self.path[1:], body)
        self._send(200, b"", "text/plain")


class ToySimulator(ProviderSimulator[str]):
    def __init__(self) -> None:
        super().__init__(_Handler, faults=FAULTS, name="toy-simulator")


def post(sim: ToySimulator, recipient: str, timeout: float = 5.0) -> tuple[int, str | None]:
    request = urllib.request.Request(f"{sim.endpoint}/{recipient}", data=b"hi", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


@pytest.fixture
def sim() -> Iterator[ToySimulator]:
    with ToySimulator() as simulator:
        yield simulator


def test_faults_next_then_always_then_healed(sim: ToySimulator) -> None:
    sim.fail_next("busy", times=2, retry_after=7)
    sim.fail_always("gone")
    answers = [post(sim, "a") for _ in range(4)]
    assert answers == [(503, "7"), (503, "7"), (410, None), (410, None)]
    sim.heal()
    assert post(sim, "a") == (200, None)
    assert (sim.requests, sim.messages, sim.raw) == (5, ["a"], [b"hi"])
    with pytest.raises(ValueError, match="unknown fault 'nope'; known: gone, busy, stall"):
        sim.fail_next("nope")


def test_a_fault_for_one_recipient(sim: ToySimulator) -> None:
    sim.fail_for("dead", "gone")
    assert (post(sim, "dead"), post(sim, "alive")) == ((410, None), (200, None))
    assert sim.fault_for("dead") == "gone" and sim.fault_for("alive") is None


def test_a_stall_answers_nothing_until_healed(sim: ToySimulator) -> None:
    sim.fail_next(STALL)
    outcome: list[object] = []
    caller = threading.Thread(target=lambda: outcome.append(_catch(lambda: post(sim, "a"))))
    caller.start()
    caller.join(0.5)
    assert caller.is_alive(), "a stalled request is not answered"
    sim.heal()
    caller.join(5)
    assert not caller.is_alive() and isinstance(outcome[0], Exception)
    assert post(sim, "a") == (200, None)


def _catch(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as exc:  # the connection closed without an answer
        return exc


class _Channel(NotificationChannel):
    name = "toy"
    kinds = ("push",)

    def send(self, notification: Notification) -> SendResult:
        raise NotImplementedError


ANSWERS = {"dead": "gone", "unavailable": "busy", "stall": STALL}


class ToyHarness(ProviderHarness[ToySimulator, _Channel]):
    answers = ANSWERS
    retry_after = False

    def __init__(self) -> None:
        super().__init__()
        self.simulator = ToySimulator().start()
        self.channel = _Channel()
        self.set_env("PES_TOY_TOKEN", "tok")


def test_the_harness_maps_answers_and_restores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PES_TOY_TOKEN", raising=False)
    with ToyHarness() as harness:
        assert os.environ["PES_TOY_TOKEN"] == "tok"
        assert not harness.fail_next("unavailable", retry_after=3), "no Retry-After here"
        assert harness.fail_next("dead") and harness.fail_always("unavailable")
        assert post(harness.simulator, "a")[0] == 410
        assert post(harness.simulator, "a")[0] == 503
        harness.heal()
        assert post(harness.simulator, "a")[0] == 200
        assert (harness.requests(), harness.received()) == (3, 1)
    assert "PES_TOY_TOKEN" not in os.environ
