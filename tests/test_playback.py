"""How a spoken answer plays (harness/playback.py), on chunk timings worked out by hand."""

from __future__ import annotations

import pytest

from harness.playback import UNDERRUN_MIN_S, playback, underruns


def test_a_steady_answer_faster_than_real_time_never_runs_dry() -> None:
    # 4 chunks of 0.5 s, one every 0.25 s from 0.2 s: made at twice the speed it plays
    heard = playback([0.2, 0.45, 0.7, 0.95], [0.5] * 4)
    assert heard.ttfa_s == 0.2 and heard.audio_s == 2.0 and heard.chunks == 4
    assert heard.rtf == pytest.approx(0.95 / 2.0)
    assert heard.start_s == pytest.approx(0.2)  # no later start is needed
    assert (heard.underruns, heard.underrun_s) == (0, 0.0)


def test_a_late_chunk_is_one_underrun_of_its_gap() -> None:
    # played out at 0.1 + 0.4 = 0.5 s; the second chunk comes at 1.2 s: dry 0.7 s, then again on time
    arrivals, durations = [0.1, 1.2, 1.3], [0.4, 0.4, 0.4]
    heard = playback(arrivals, durations)
    assert (heard.underruns, heard.underrun_s) == (1, pytest.approx(0.7))
    assert underruns(arrivals, durations) == [(0.5, pytest.approx(0.7))]
    # starting at 0.8 s (1.2 - 0.4 of audio before it) would never have run dry
    assert heard.start_s == pytest.approx(0.8)


def test_gaps_below_a_players_buffer_are_not_underruns() -> None:
    just_under = playback([0.0, 0.5 + UNDERRUN_MIN_S * 0.9], [0.5, 0.5])
    just_over = playback([0.0, 0.5 + UNDERRUN_MIN_S * 1.1], [0.5, 0.5])
    assert just_under.underruns == 0 and just_over.underruns == 1


def test_no_audio_has_no_figures() -> None:
    heard = playback([], [])
    assert (heard.ttfa_s, heard.rtf, heard.start_s, heard.underruns, heard.audio_s) == (None, None, None, 0, 0.0)
