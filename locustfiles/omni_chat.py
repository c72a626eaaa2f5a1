"""The locustfile of a source checkout: `locust -f locustfiles/omni_chat.py ...`.

The same classes as the installed package's own locustfile (`omniload locustfile`
prints its path; `omniload run ...` uses it).
"""

import harness.hooks  # noqa: F401  (flags and event hooks)
from harness.load.user import OmniChatUser
from harness.master.shape import SweepShape

__all__ = ["OmniChatUser", "SweepShape"]
