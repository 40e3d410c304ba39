"""NodeExecutor keeps a busy, GIL-holding callback group from starving the node: every callback task is
queued once (rclpy 9.1.2's MultiThreadedExecutor queues waiting tasks again and again, ros2/rclpy#1452),
and a second callback group keeps its rate while the first one works."""
from __future__ import annotations

import threading
import time

from depth_anything_ros.ros.executor import NodeExecutor

RATE_HZ = 30.0
WORK_S = 0.02  # per frame, holding the GIL (the Python side of a frame)
RUN_S = 2.0


def test_every_task_is_queued_once_and_groups_keep_their_rates(ros_context):
    import rclpy
    from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
    from std_msgs.msg import Header

    ctx = rclpy.Context()  # its own context: the executor is shut down at the end
    rclpy.init(context=ctx)
    node = rclpy.create_node("executor_test", context=ctx)
    frames, other = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
    runs = {"frame": 0, "tick": 0, "publish": 0}

    def on_frame(_msg):
        end = time.perf_counter() + WORK_S
        while time.perf_counter() < end:
            pass
        runs["frame"] += 1

    def tick():
        runs["tick"] += 1

    pub = node.create_publisher(Header, "frames", 1)

    def publish():
        runs["publish"] += 1
        pub.publish(Header())

    node.create_subscription(Header, "frames", on_frame, 1, callback_group=frames)
    node.create_timer(0.01, tick, callback_group=other)
    node.create_timer(1.0 / RATE_HZ, publish, callback_group=other)
    executor = NodeExecutor(num_threads=3, context=ctx)
    executor.add_node(node)
    submitted = [0]
    pool_submit = executor._executor.submit

    def counting_submit(fn, *args, **kwargs):  # counts, then hands over to the real thread pool
        submitted[0] += 1
        return pool_submit(fn, *args, **kwargs)

    executor._executor.submit = counting_submit
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        time.sleep(RUN_S)
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(5.0)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    executed = sum(runs.values())
    print("callbacks run:", runs, "calls queued:", submitted[0])
    assert not spinner.is_alive()
    # one queued call per task (a few tasks may be cut short by the shutdown)
    assert submitted[0] <= executed + 10, (submitted[0], runs)
    # the busy group kept up with its input, and the other group kept running beside it
    assert runs["frame"] >= 0.6 * runs["publish"] >= 0.6 * 0.5 * RATE_HZ * RUN_S, runs
    assert runs["tick"] >= 0.25 * RUN_S / 0.01, runs
