"""The audio a request may carry: the choices the flags validate and the load side makes.

Apart from harness/load/audio.py (which synthesizes and encodes clips) so that the flags
(harness/options.py) can check audio settings without importing the load side.
"""

from __future__ import annotations

import shutil

SAMPLE_RATE_HZ = 16_000  # every clip is 16 kHz mono, as Qwen3-Omni's audio encoder takes it
AUDIO_FORMATS = ("wav", "flac", "mp3")
AUDIO_CONTENTS = ("tone", "noise", "speech")
ESPEAK = "espeak-ng"  # speech is synthesized with it


def speech_available() -> bool:
    """Whether speech clips can be made on this machine (espeak-ng installed)."""
    return shutil.which(ESPEAK) is not None
