"""vLLM's error body: `{"error": {"message", "type", "param", "code"}}` with code = HTTP status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

ERROR_TYPES_BY_STATUS = {
    400: "BadRequestError",
    404: "NotFoundError",
    413: "BadRequestError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class SimRequestError(Exception):
    """A request the simulator refuses, with the HTTP status vLLM would answer."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def __reduce__(self) -> tuple[type, tuple[int, str, str | None]]:
        # Raised in parser processes: pickle with all three fields.
        return (SimRequestError, (self.status, self.message, self.param))


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """The JSON object vLLM sends for an error with this HTTP status."""
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES_BY_STATUS.get(status, "InternalServerError"),
            "param": param,
            "code": status,
        }
    }


def error_response(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """vLLM's error body as an HTTP response with that status."""
    return web.json_response(error_body(status, message, param), status=status, headers=headers)
