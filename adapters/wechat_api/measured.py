"""Counting and timing calls to WeChat by how they ended (for the Prometheus metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from adapters.wechat_api.errors import failure_code
from domain.errors import DeliveryError


@contextmanager
def measured(timer: Histogram | None, counter: Counter, *labels: str) -> Iterator[None]:
    """Count the call under labels + its outcome code ("0" when it worked), and time it."""
    started = time.perf_counter()
    try:
        yield
    except DeliveryError as failure:
        counter.labels(*labels, failure_code(failure)).inc()
        raise
    finally:
        if timer is not None:
            timer.observe(time.perf_counter() - started)
    counter.labels(*labels, "0").inc()
