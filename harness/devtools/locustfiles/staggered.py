"""OmniChatUser with start times spread evenly, for timing tests against the simulator.

Locust spawns users in batches (floor(spawn rate) per second), so all users of a batch
send at once; with --fixed timing they stay in step forever and the simulator, busy
taking a burst of requests in, stamps the last arrivals late. Spreading the starts
keeps the ground truth honest; the client under test is the product's own user.
"""

import gevent

import os

import harness.hooks  # noqa: F401  (flags and event hooks)
import harness.load.user
from harness.master.shape import SweepShape  # noqa: F401  (sweeps work here too)

STAGGER_S = float(os.environ.get("OMNILOAD_TEST_STAGGER_S", "0.02"))


class StaggeredUser(harness.load.user.OmniChatUser):  # only this class in the namespace
    """OmniChatUser whose start waits user_number x STAGGER_S."""

    def on_start(self) -> None:
        super().on_start()
        gevent.sleep(self.user_number * STAGGER_S)
