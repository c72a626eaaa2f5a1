"""Where requests go: the server's base URL, the chat completions path, the model, the key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.argparsing import BadOption

DEFAULT_API_PATH = "/v1/chat/completions"
API_KEY_ENV = "OPENAI_API_KEY"  # where the key comes from when no --api-key is given
CHAT_COMPLETIONS_SUFFIX = "/chat/completions"
OPENAI_VERSION_SEGMENT = "/v1"


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat endpoint. Used by the load client and the OmniBench pass."""

    base_url: str  # scheme://host:port, no trailing slash
    model: str
    api_key: str = field(repr=False)
    api_path: str = DEFAULT_API_PATH

    @property
    def chat_url(self) -> str:
        return self.base_url + self.api_path

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header when there is a key (never logged)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def checked_base_url(url: str | None, flag: str, credentials_allowed: bool = False) -> str:
    """The URL without a trailing slash; BadOption naming `flag` unless it is http(s)://host.

    A server URL carrying user:password is refused (it would be written into every
    report): the key goes in --api-key. --grafana-url may carry them (it is a secret flag).
    """
    if not url:
        raise BadOption(flag, "required (the server's base URL, e.g. http://127.0.0.1:8801)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise BadOption(flag, "is not an http(s) URL with a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadOption(flag, "is not an http(s) URL" + ("" if parts.username else f": {url!r}"))
    if (parts.username or parts.password) and not credentials_allowed:
        raise BadOption(
            flag,
            "carries credentials (user:password@), which would be written into the reports; "
            "remove them and pass the key with --api-key (sent as a Bearer token)",
        )
    return url.rstrip("/")


def server_root(url: str) -> str:
    """A base URL given with or without its OpenAI `/v1` segment, without it (never doubled)."""
    return url.removesuffix(OPENAI_VERSION_SEGMENT)


def endpoint_from_url(url: str, model: str, api_key: str, flag: str) -> Endpoint:
    """An endpoint from a base URL or a full chat completions URL (OmniBench's --api-url)."""
    base_url = checked_base_url(url, flag)
    if base_url.endswith(CHAT_COMPLETIONS_SUFFIX):
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return Endpoint(origin, model, api_key, base_url[len(origin) :])
    return Endpoint(server_root(base_url), model, api_key)


def is_loopback(host: str) -> bool:
    """Whether a listening address is this machine only (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
