"""Errors raised by the SerwerSMS client; none of them carries a secret in its text."""

from __future__ import annotations


class SerwerSmsError(Exception):
    """Base class of every error the client raises."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        """Keep the gateway code (if any) and its message."""
        super().__init__(message if code is None else f"[{code}] {message}")
        self.code = code
        self.gateway_message = message


class SerwerSmsConnectionError(SerwerSmsError):
    """The gateway could not be reached, or the connection broke."""


class SerwerSmsNotReachedError(SerwerSmsConnectionError):
    """The request provably never reached the gateway (DNS failure, connection refused): nothing happened."""


class SerwerSmsTimeoutError(SerwerSmsConnectionError):
    """The gateway did not answer in time."""


class SerwerSmsServerError(SerwerSmsError):
    """The gateway answered with an HTTP 5xx (or another unexpected status)."""

    def __init__(self, message: str, *, status: int) -> None:
        """Remember the HTTP status."""
        super().__init__(message, code=None)
        self.status = status


class SerwerSmsRateLimitError(SerwerSmsError):
    """The gateway answered HTTP 429; `retry_after` is its advice in seconds."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        """Remember the gateway's Retry-After advice."""
        super().__init__(message)
        self.retry_after = retry_after


class SerwerSmsResponseError(SerwerSmsError):
    """The gateway's reply could not be understood."""


class SerwerSmsOutcomeUnknownError(SerwerSmsError):
    """A send request reached the gateway but no clear answer came back: the MMS may have been sent."""


class SerwerSmsApiError(SerwerSmsError):
    """The gateway refused the request with an error code."""


class SerwerSmsAuthError(SerwerSmsApiError):
    """Wrong API token or login/password (1001, HTTP 401)."""


class SerwerSmsAccessDeniedError(SerwerSmsApiError):
    """The account has no HTTPS API access (1002)."""


class SerwerSmsIpNotAllowedError(SerwerSmsApiError):
    """The caller's IP address is not on the account's allowlist (1003)."""


class SerwerSmsNotFoundError(SerwerSmsApiError):
    """An id (for example a file id) is unknown to the gateway (1004)."""


class SerwerSmsMessageGoneError(SerwerSmsNotFoundError):
    """`messages/delete`: the message is not scheduled at the gateway (any more): sent, deleted or unknown."""


class SerwerSmsValidationError(SerwerSmsApiError):
    """The gateway refused the parameters (1006, 2000, 2001, 3101, 3102, …)."""


class SerwerSmsCreditsExhaustedError(SerwerSmsApiError):
    """No MMS credits left (3004)."""


class SerwerSmsMmsNotPermittedError(SerwerSmsApiError):
    """The account may not send MMS (3005)."""


_ERRORS_BY_CODE: dict[int, type[SerwerSmsApiError]] = {
    1001: SerwerSmsAuthError,
    1002: SerwerSmsAccessDeniedError,
    1003: SerwerSmsIpNotAllowedError,
    1004: SerwerSmsNotFoundError,
    1006: SerwerSmsValidationError,
    2000: SerwerSmsValidationError,
    2001: SerwerSmsValidationError,
    3004: SerwerSmsCreditsExhaustedError,
    3005: SerwerSmsMmsNotPermittedError,
    3101: SerwerSmsValidationError,
    3102: SerwerSmsValidationError,
    3103: SerwerSmsValidationError,
}


def error_for_code(code: int, message: str) -> SerwerSmsApiError:
    """Return the exception that stands for a gateway error code."""
    return _ERRORS_BY_CODE.get(code, SerwerSmsApiError)(message, code=code)
