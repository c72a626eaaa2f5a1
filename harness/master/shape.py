"""The load shape Locust runs: a sweep's stages, or plain -u/-r/-t when there is none.

Locust uses a shape class whenever the locustfile defines one (and then ignores -t
itself), so this shape also plays a plain run (`use_common_options`): Locust's users and
spawn rate until `-t`, or until stopped when there is no -t.
In a sweep each stage spawns its users at once and the master opens its budget when
they are all up; `tick()` runs only on the master (or the single process).
"""

from __future__ import annotations

from locust import LoadTestShape
from locust.runners import MasterRunner

from harness.master.master import MASTERS


class SweepShape(LoadTestShape):
    """Asks the master (harness/master/master.py) for the users of each second."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        users = self._users_now()
        if users is None and isinstance(self.runner, MasterRunner):
            # Locust's headless master quits without waiting for its workers' last records;
            # stopping first sends the workers "stop" and waits until their users are done,
            # so every request in flight reaches requests.jsonl before the reports are written.
            self.runner.stop()
        return users

    def _users_now(self) -> tuple[int, float] | None:
        assert self.runner is not None  # Locust sets it before it asks the shape for users
        environment = self.runner.environment
        master = MASTERS.get(environment)
        if master is not None:
            master.update_gauges()
            if master.sweep.stages or master.stop_reason is not None:
                return master.tick()
        options = environment.parsed_options
        assert options is not None
        if options.run_time and self.get_run_time() >= options.run_time:
            return None
        return (options.num_users or 1), float(options.spawn_rate or 1)
