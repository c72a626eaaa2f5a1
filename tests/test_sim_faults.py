import pytest

from harness.sim.faults import FaultPicker, parse_fault


def test_parse_specs() -> None:
    assert parse_fault("http_503").http_status == 503
    assert parse_fault("http_429").seconds == 1
    assert parse_fault("http_429:7").seconds == 7
    stall = parse_fault("stall:0.5@10")
    assert (stall.kind, stall.seconds, stall.at_token) == ("stall", 0.5, 10)
    assert parse_fault("disconnect@3").at_token == 3
    assert parse_fault("no_done").http_status is None
    talker = parse_fault("talker_stall:1.5@2")
    assert (talker.kind, talker.seconds, talker.at_token) == ("talker_stall", 1.5, 2)
    assert parse_fault("audio_cut@3").at_token == 3


@pytest.mark.parametrize(
    "spec", ["bogus", "stall@3", "disconnect", "delay", "no_done@2", "http_500:3", "talker_stall@2", "audio_cut"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(spec)


def test_picker_rate_is_seeded_and_header_wins() -> None:
    faults = [parse_fault("http_500")]
    picker = FaultPicker(faults, 0.3, seed=1)
    chosen = sum(picker.pick(None) is not None for _ in range(1000))
    assert 250 <= chosen <= 350
    again = FaultPicker(faults, 0.3, seed=1)
    assert sum(again.pick(None) is not None for _ in range(1000)) == chosen
    assert FaultPicker([], 0.0, seed=1).pick("short@2").kind == "short"
