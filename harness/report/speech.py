"""The report's spoken answers (--audio-output): a playback timeline per stage, and the first answers to play.

The timeline shows one answer of each stage (the one that ran dry longest, else the one with the median
time to first audio): the audio received against the time after the send, the audio a player that
started at the first chunk has played (flat where it ran dry), and each underrun marked where it began
(harness/playback.py's rules). The players embed the answers the load processes kept whole (a few per
stage) as WAV data URLs: the report plays them offline.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from markupsafe import Markup

from harness.playback import underruns
from harness.records import RequestRecord
from harness.report import charts
from harness.report.render import sections, svg
from harness.results import PROBE_CLASS

PLAYERS_PER_STAGE = 2
MAX_PLAYERS = 8  # the page's size: about 200 KB a player for 3 s of 24 kHz speech
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def speech_section(records: Sequence[RequestRecord]) -> Markup:
    """The section, or nothing when no request spoke."""
    by_stage: dict[int, list[RequestRecord]] = defaultdict(list)
    for record in records:
        if record.audio_chunk_at_s and not record.warmup and record.request_class != PROBE_CLASS:
            by_stage[record.stage].append(record)
    if not by_stage:
        return Markup()
    figures = [svg(timeline(stage, _shown(spoken))) for stage, spoken in sorted(by_stage.items())]
    players = []
    for stage, spoken in sorted(by_stage.items()):
        kept = [record for record in spoken if record.audio_sample and _BASE64.fullmatch(record.audio_sample)]
        for record in kept[:PLAYERS_PER_STAGE]:
            players.append(
                {
                    "label": f"stage {stage + 1} · {record.request_id} · TTFA {1000 * (record.ttfa_s or 0):.0f} ms · "
                    f"{record.audio_out_s or 0:.1f} s · {record.underruns} underruns",
                    "src": f"data:audio/wav;base64,{record.audio_sample}",
                }
            )
    return sections().speech(figures, players[:MAX_PLAYERS])


def _shown(spoken: list[RequestRecord]) -> RequestRecord:
    """The stage's answer to draw: the one dry longest, else the median by time to first audio."""
    driest = max(spoken, key=lambda record: record.underrun_s)
    if driest.underrun_s > 0:
        return driest
    return sorted(spoken, key=lambda record: record.ttfa_s or 0.0)[len(spoken) // 2]


def timeline(stage: int, record: RequestRecord) -> str:
    """Audio received and played against the time after the send, underruns marked."""
    arrivals, durations = record.audio_chunk_at_s, record.audio_chunk_s
    received: list[charts.Point] = []
    played: list[charts.Point] = []
    total = 0.0
    clock_s = arrivals[0]  # a player started at the first chunk: when it is free to play the next one
    for arrival_s, duration_s in zip(arrivals, durations, strict=True):
        received += [(arrival_s, total), (arrival_s, total + duration_s)]
        clock_s = max(clock_s, arrival_s)
        played += [(clock_s, total), (clock_s + duration_s, total + duration_s)]
        clock_s += duration_s
        total += duration_s
    dry = [(at_s, _played_by(played, at_s)) for at_s, _ in underruns(arrivals, durations)]
    series = [("received", received), ("played", played)]
    if dry:
        series.append(("underrun", dry))
    return charts.line_chart(
        f"Stage {stage + 1}: playback of {record.request_id} ({record.underruns} underruns, "
        f"{record.underrun_s:.2f} s dry)",
        "seconds after the send",
        "audio seconds",
        series,
        points_only=frozenset({"underrun"}),
    )


def _played_by(played: list[charts.Point], at_s: float) -> float:
    """The audio played by `at_s` (the played line's last corner at or before it: where a player ran dry)."""
    return max((audio_s for time_s, audio_s in played if time_s <= at_s), default=0.0)
