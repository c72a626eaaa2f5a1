"""Flag validation: each bad input names its flag (the CLI turns it into one line, exit 2)."""

from __future__ import annotations

import pytest
from loadopts import options_from

from harness.options import BadOption


@pytest.mark.parametrize(
    ("argv", "host", "flag"),
    [
        (["--model", "m"], None, "--host"),
        (["--model", "m"], "ftp://x", "--host"),
        ([], "http://127.0.0.1:9", "--model"),
        (["--model", "m", "--min-prompt-length", "0"], "http://127.0.0.1:9", "--min-prompt-length"),
        (["--model", "m", "--min-prompt-length", "100", "--max-prompt-length", "50"], "http://127.0.0.1:9",
         "--max-prompt-length"),
        (["--model", "m", "--min-tokens", "20", "--max-tokens", "10"], "http://127.0.0.1:9", "--min-tokens"),
        (["--model", "m", "--image-width", "0"], "http://127.0.0.1:9", "--image-width"),
        (["--model", "m", "--image-format", "RGBA", "--image-encoding", "jpeg"], "http://127.0.0.1:9", "--image-format"),
        (["--model", "m", "--image-format", "XYZ"], "http://127.0.0.1:9", "--image-format"),
        (["--model", "m", "--extra-args", "{oops"], "http://127.0.0.1:9", "--extra-args"),
        (["--model", "m", "--extra-args", "[1]"], "http://127.0.0.1:9", "--extra-args"),
        (["--model", "m", "--read-timeout", "0"], "http://127.0.0.1:9", "--read-timeout"),
        (["--model", "m", "--api-path", "v1/chat"], "http://127.0.0.1:9", "--api-path"),
    ],
)  # fmt: skip
def test_bad_input_names_the_flag(argv: list[str], host: str | None, flag: str) -> None:
    with pytest.raises(BadOption) as caught:
        options_from(argv, host)
    assert caught.value.flag == flag
    assert str(caught.value).startswith(flag + ": ")


def test_defaults_ask_for_exact_lengths() -> None:
    options = options_from(["--model", "m"])
    assert (options.min_prompt_tokens, options.max_prompt_tokens) == (1024, 1024)
    assert options.min_tokens == options.max_tokens == 1024
    assert options.ignore_eos  # on because a minimum is asked for
    assert (options.image_width_px, options.image_height_px, options.image_mode, options.image_num) == (512, 512, "RGB", 1)
    assert options.stream and options.unique_images


def test_no_minimum_means_no_ignore_eos_and_explicit_flags_win() -> None:
    assert not options_from(["--model", "m", "--min-tokens", "0"]).ignore_eos
    assert not options_from(["--model", "m", "--no-ignore-eos"]).ignore_eos


def test_api_key_stays_out_of_the_public_config(monkeypatch: pytest.MonkeyPatch) -> None:
    options = options_from(["--model", "m", "--api-key", "sk-secret-123"])
    assert options.api_key == "sk-secret-123"
    assert "sk-secret-123" not in repr(options)
    assert "api_key" not in options.public_config()
    assert "sk-secret-123" not in str(options.public_config())
