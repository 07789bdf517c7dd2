"""Translate the client's errors into Home Assistant's, raising repairs and reauth on the way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .api import (
    SerwerSmsAccessDeniedError,
    SerwerSmsAuthError,
    SerwerSmsConnectionError,
    SerwerSmsCreditsExhaustedError,
    SerwerSmsError,
    SerwerSmsIpNotAllowedError,
    SerwerSmsMmsNotPermittedError,
    SerwerSmsNotFoundError,
    SerwerSmsOutcomeUnknownError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
)
from .const import DOMAIN, ISSUE_CREDITS_EXHAUSTED, ISSUE_MMS_NOT_PERMITTED
from .issue import raise_issue

_KEYS: tuple[tuple[type[SerwerSmsError], str], ...] = (
    (SerwerSmsAuthError, "auth_failed"),
    (SerwerSmsAccessDeniedError, "api_access_denied"),
    (SerwerSmsIpNotAllowedError, "ip_not_allowed"),
    (SerwerSmsCreditsExhaustedError, "credits_exhausted"),
    (SerwerSmsMmsNotPermittedError, "mms_not_permitted"),
    (SerwerSmsNotFoundError, "file_not_on_gateway"),
    (SerwerSmsOutcomeUnknownError, "outcome_unknown"),
    (SerwerSmsRateLimitError, "rate_limited"),
    (SerwerSmsResponseError, "invalid_response"),
    (SerwerSmsConnectionError, "cannot_connect"),
    (SerwerSmsServerError, "cannot_connect"),
)


def invalid(key: str, **placeholders: str) -> ServiceValidationError:
    """A caller's mistake, translated (`translation_key` `key`): nothing was uploaded or sent.

    The one way the integration refuses a call, so every refusal reaches the user in their language.
    """
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders or None
    )


def gateway_error(hass: HomeAssistant, entry: ConfigEntry, err: SerwerSmsError) -> HomeAssistantError:
    """The translated error for `err`; also starts reauth on 1001 and raises the matching repair issue."""
    if isinstance(err, SerwerSmsAuthError):
        entry.async_start_reauth(hass)
    elif isinstance(err, SerwerSmsCreditsExhaustedError):
        raise_issue(hass, entry, ISSUE_CREDITS_EXHAUSTED)
    elif isinstance(err, SerwerSmsMmsNotPermittedError):
        raise_issue(hass, entry, ISSUE_MMS_NOT_PERMITTED)
    key = next((key for kind, key in _KEYS if isinstance(err, kind)), "gateway_error")
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"code": str(err.code or ""), "message": err.gateway_message},
    )


@contextmanager
def gateway_errors_translated(hass: HomeAssistant, entry: ConfigEntry) -> Iterator[None]:
    """Run a block that talks to the gateway, raising its failures as translated errors."""
    try:
        yield
    except SerwerSmsError as err:
        raise gateway_error(hass, entry, err) from err
