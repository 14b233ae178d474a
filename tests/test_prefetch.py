"""The loader's read-ahead thread: order kept, errors re-raised in the consumer, no runaway producer."""

from __future__ import annotations

import threading

import pytest
from tthc.load.loader import prefetch


def test_items_arrive_in_order_and_all():
    assert list(prefetch(iter(range(50)))) == list(range(50))


def test_producer_error_reaches_the_consumer_after_the_items_before_it():
    def pages():
        yield 1
        yield 2
        raise ConnectionError("source went away")

    seen = []
    with pytest.raises(ConnectionError, match="source went away"):
        for item in prefetch(pages()):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_stops_the_producer_within_the_read_ahead():
    produced = []

    def pages():
        for i in range(1000):
            produced.append(i)
            yield i

    items = prefetch(pages(), depth=2)
    assert next(items) == 0
    items.close()  # the consumer gives up (a failed COPY, a rollback)
    assert not [t for t in threading.enumerate() if t.name == "tthc-prefetch"]
    assert len(produced) <= 4  # the item taken, the read-ahead slots, and the one being put
