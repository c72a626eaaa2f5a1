import subprocess
import sys

import pytest

from harness.sim.config import parse_config


def test_defaults_and_fixed_timing() -> None:
    config = parse_config(["--fixed", "30", "5", "--faults", "http_503", "--fault-rate", "0.5"])
    assert (config.fixed_ttft_ms, config.fixed_itl_ms) == (30.0, 5.0)
    assert config.faults[0].http_status == 503 and config.max_num_seqs == 256


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--max-num-seqs", "0"], "--max-num-seqs"),
        (["--fault-rate", "2"], "--fault-rate"),
        (["--faults", "explode"], "--faults"),
        (["--fault-rate", "0.1"], "--fault-rate"),
        (["--stream-interval", "0"], "--stream-interval"),
        (["--talker-chunk-ms", "0"], "--talker-chunk-ms"),
        (["--talker-rtf", "-1"], "--talker-rtf"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(argv: list[str], flag: str) -> None:
    result = subprocess.run([sys.executable, "-m", "harness.sim", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and flag in error_lines[0]
    assert "serving on" not in result.stdout


def test_talker_settings() -> None:
    config = parse_config(["--talker", "--talker-ttfa-ms", "80", "--talker-rtf", "0.7"])
    assert config.talker.enabled and (config.talker.ttfa_ms, config.talker.rtf) == (80.0, 0.7)
    assert not parse_config([]).talker.enabled
