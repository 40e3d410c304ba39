"""The node's executor: rclpy's MultiThreadedExecutor without its re-submission busy loop.

rclpy 9.1.2 (Kilted, the rclpy on PyPI) yields a callback task again while it still waits in the thread
pool's queue, and `MultiThreadedExecutor` submits it again each time without blocking in between
(ros2/rclpy#1452; fixed upstream in rclpy 10.0.4). Under load this feeds itself: the pool's queue fills
with duplicate no-op calls, the spinning thread holds the GIL, and real callbacks start later and
later. On this 2-core machine the node fell to about 1 frame/s with a core busy (`benchmarks/soak_node.py`).

`NodeExecutor` submits a task only when it is not already queued; when the generator yields a queued
task again, the spinning thread waits for it a moment (releasing the GIL) instead of spinning.
Everything else (thread pool, callback groups, exception propagation, shutdown) is rclpy's.
"""
from __future__ import annotations

import concurrent.futures

from rclpy.executors import (ConditionReachedException, ExternalShutdownException, MultiThreadedExecutor,
                             ShutdownException, TimeoutException)

REQUEUED_WAIT_S = 0.002  # how long the spinning thread waits on a task that is queued but not started


class NodeExecutor(MultiThreadedExecutor):
    """MultiThreadedExecutor that never queues the same task twice (see module docstring)."""

    def __init__(self, num_threads: int | None = None, *, context=None):
        super().__init__(num_threads, context=context)
        self._queued: dict = {}  # rclpy Task -> concurrent.futures.Future of its one queued call

    def _spin_once_impl(self, timeout_sec=None, wait_condition=lambda: False) -> None:
        try:
            task, _, _ = self.wait_for_ready_callbacks(timeout_sec, None, wait_condition)
        except (ExternalShutdownException, ShutdownException, TimeoutException, ConditionReachedException):
            return
        queued = self._queued.get(task)
        if queued is not None and not queued.done():
            concurrent.futures.wait([queued], timeout=REQUEUED_WAIT_S)
            return
        self._queued[task] = self._executor.submit(task)
        for t, call in list(self._queued.items()):
            if call.done():
                del self._queued[t]
                if t.done():
                    t.result()  # re-raise a callback's exception, as MultiThreadedExecutor does
