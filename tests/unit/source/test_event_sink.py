"""The Kafka sink fails loudly when records are not delivered (no broker needed)."""

from __future__ import annotations

import os
import signal

import pytest

from condolake.source.event_sink import DeliveryError, KafkaSink
from condolake.source.simulator import stop_on_interrupt

NOWHERE = "127.0.0.1:1"  # nothing listens on port 1


def test_undelivered_records_fail_the_flush() -> None:
    with KafkaSink(NOWHERE, config={"message.timeout.ms": 300}) as sink:
        sink.publish("condomanage.public.transacoes", b'{"transacao_id":1}', b"{}")
        sink.publish("condomanage.public.transacoes", b'{"transacao_id":1}', None)
        with pytest.raises(DeliveryError, match="2 events were not delivered"):
            sink.flush()


def test_a_failure_stops_the_next_publish() -> None:
    with KafkaSink(NOWHERE, config={"message.timeout.ms": 300}) as sink:
        sink.publish("t", b"k", b"v")
        with pytest.raises(DeliveryError):
            sink.flush()
        with pytest.raises(DeliveryError, match="1 events were not delivered"):
            sink.publish("t", b"k", b"v")


def test_ctrl_c_only_asks_to_stop() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stop_on_interrupt() as stop:
        assert stop() is False
        os.kill(os.getpid(), signal.SIGINT)
        assert stop() is True
    assert signal.getsignal(signal.SIGINT) is before
