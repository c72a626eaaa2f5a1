"""How a spoken answer plays: from each audio chunk's arrival and length, what a listener gets.

Pure arithmetic, shared by the client's records, the simulator's ground truth and the report's
playback timeline, so all three agree by construction:

- TTFA: the first chunk's arrival after the request was sent.
- Real-time factor: the time until the last chunk arrived per second of audio (below 1: the
  server speaks faster than a listener hears).
- Playback start: the earliest start (after the send) from which a player never runs dry
  (the latest of each chunk's arrival minus the audio that precedes it).
- Underruns: a player that starts at the first chunk and plays every chunk as soon as it has
  it runs dry whenever a chunk arrives after the audio before it has played out; each such
  gap is an underrun, and their lengths add up to the underrun seconds. A gap shorter than
  UNDERRUN_MIN_S is not one: a player's output buffer (10-20 ms for most audio devices)
  covers it, and it keeps a clock difference of a millisecond between two observers from
  turning a seamless answer into a stuttering one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

UNDERRUN_MIN_S = 0.010


@dataclass(frozen=True)
class Playback:
    """A spoken answer as a listener gets it; times in seconds after the request was sent."""

    ttfa_s: float | None  # None: no audio arrived
    audio_s: float  # seconds of audio received
    chunks: int
    rtf: float | None  # last chunk's arrival per second of audio; None without audio
    start_s: float | None  # the earliest start that never runs dry
    underruns: int
    underrun_s: float


def playback(arrivals_s: Sequence[float], durations_s: Sequence[float]) -> Playback:
    """`arrivals_s`: each chunk's arrival after the send, in order; `durations_s`: each chunk's audio seconds."""
    if not arrivals_s:
        return Playback(None, 0.0, 0, None, None, 0, 0.0)
    audio_s = sum(durations_s)
    start_s = max(arrival - before for arrival, before in zip(arrivals_s, _cumulative(durations_s), strict=True))
    dry = underruns(arrivals_s, durations_s)
    rtf = arrivals_s[-1] / audio_s if audio_s > 0 else None
    return Playback(arrivals_s[0], audio_s, len(arrivals_s), rtf, start_s, len(dry), sum(gap for _, gap in dry))


def underruns(arrivals_s: Sequence[float], durations_s: Sequence[float]) -> list[tuple[float, float]]:
    """Each time a player started at the first chunk ran dry: (when, for how long), in seconds."""
    dry = []
    played_out_s = arrivals_s[0] if arrivals_s else 0.0  # when what has arrived so far will have played out
    for arrival_s, duration_s in zip(arrivals_s, durations_s, strict=True):
        gap_s = arrival_s - played_out_s
        if gap_s >= UNDERRUN_MIN_S:
            dry.append((played_out_s, gap_s))
        played_out_s = max(played_out_s, arrival_s) + duration_s
    return dry


def _cumulative(durations_s: Sequence[float]) -> list[float]:
    """The audio before each chunk."""
    before, total = [], 0.0
    for duration_s in durations_s:
        before.append(total)
        total += duration_s
    return before
