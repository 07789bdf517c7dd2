"""Config flow: an account (API token or API user), its options, and its recipients."""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import ipaddress
import logging
import re
from typing import Any

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    FlowType,
    OptionsFlow,
    SubentryFlowContext,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol
from yarl import URL

from . import create_client
from .api import (
    DEFAULT_BASE_URL,
    SerwerSmsAccessDeniedError,
    SerwerSmsAuthError,
    SerwerSmsConnectionError,
    SerwerSmsError,
    SerwerSmsIpNotAllowedError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
)
from .const import (
    AUTH_CREDENTIALS,
    AUTH_TOKEN,
    CONF_ADVANCED,
    CONF_API_TOKEN,
    CONF_API_URL,
    CONF_AUTH_METHOD,
    CONF_DAILY_LIMIT,
    CONF_DEFAULT_TITLE,
    CONF_HEARTBEAT,
    CONF_HEARTBEAT_MINUTES,
    CONF_KEEP_UPLOADS_DAYS,
    CONF_LEGACY_SERVICE,
    CONF_LOOKBACK_CAMERAS,
    CONF_LOOKBACK_SECONDS,
    CONF_LOOKBACK_WHILE,
    CONF_MAX_IMAGE_KB,
    CONF_OUTBOX_MINUTES,
    CONF_PHONE,
    CONF_SMS_SENDER,
    DEFAULT_DAILY_LIMIT,
    DEFAULT_HEARTBEAT_MINUTES,
    DEFAULT_KEEP_UPLOADS_DAYS,
    DEFAULT_MAX_IMAGE_KB,
    DEFAULT_OUTBOX_MINUTES,
    DEFAULT_TITLE,
    DOMAIN,
    MAX_DAILY_LIMIT,
    MAX_HEARTBEAT_MINUTES,
    MAX_IMAGE_KB,
    MAX_KEEP_UPLOADS_DAYS,
    MAX_OUTBOX_MINUTES,
    MAX_TITLE_LENGTH,
    MIN_HEARTBEAT_MINUTES,
    MIN_IMAGE_KB,
    SUBENTRY_RECIPIENT,
)
from .legacy_notify import legacy_service_names, next_legacy_service_name
from .mms.lookback import MAX_LOOKBACK_CAMERAS, MAX_LOOKBACK_SECONDS
from .mms.recipients import InvalidPhoneNumberError, normalize_phones

_LOGGER = logging.getLogger(__name__)

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off"))
_TEXT = TextSelector()
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


class InvalidApiUrlError(ValueError):
    """The API URL is neither https nor http to a loopback host."""


def normalize_api_url(value: str) -> str:
    """Return the API base URL with a trailing slash; plain http only for loopback hosts."""
    url = URL(value.strip())
    if not url.host or url.scheme not in ("http", "https"):
        raise InvalidApiUrlError(value)
    if url.scheme == "http":
        host = url.host
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise InvalidApiUrlError(value)
    text = str(url)
    return text if text.endswith("/") else f"{text}/"


def account_unique_id(data: Mapping[str, Any]) -> str:
    """A stable id for the account that never reveals a secret: a hash of gateway, method and identity."""
    method = data[CONF_AUTH_METHOD]
    identity = data[CONF_API_TOKEN] if method == AUTH_TOKEN else str(data[CONF_USERNAME]).strip().lower()
    host = URL(data.get(CONF_API_URL, DEFAULT_BASE_URL)).host or ""
    return hashlib.sha256(f"{host}|{method}|{identity}".encode()).hexdigest()[:32]


def _advanced_section(api_url: str = DEFAULT_BASE_URL) -> dict[vol.Marker, Any]:
    return {
        vol.Optional(CONF_ADVANCED, default={CONF_API_URL: api_url}): section(
            vol.Schema({vol.Required(CONF_API_URL, default=api_url): _URL}), {"collapsed": True}
        )
    }


def _auth_schema(method: str, api_url: str = DEFAULT_BASE_URL) -> vol.Schema:
    if method == AUTH_TOKEN:
        fields: dict[vol.Marker, Any] = {vol.Required(vol.Secret(CONF_API_TOKEN)): _PASSWORD}
    else:
        fields = {vol.Required(CONF_USERNAME): _TEXT, vol.Required(vol.Secret(CONF_PASSWORD)): _PASSWORD}
    return vol.Schema({**fields, **_advanced_section(api_url)})


async def _async_check(flow: ConfigFlow, data: dict[str, Any]) -> str | None:
    """Verify credentials with a read-only call; returns an error key or None."""
    try:
        await create_client(flow.hass, data).account_limits()
    except SerwerSmsAuthError:
        return "invalid_auth"
    except SerwerSmsAccessDeniedError:
        return "api_access_denied"
    except SerwerSmsIpNotAllowedError:
        return "ip_not_allowed"
    except (
        SerwerSmsConnectionError,
        SerwerSmsServerError,
        SerwerSmsResponseError,
        SerwerSmsRateLimitError,
    ):
        return "cannot_connect"
    except SerwerSmsError as err:
        _LOGGER.warning("SerwerSMS refused the account check: %s", err)
        return "unknown"
    except Exception:
        _LOGGER.exception("Unexpected error while checking the SerwerSMS account")
        return "unknown"
    return None


def _entry_data(method: str, user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Config entry data from a form: raises InvalidApiUrlError."""
    advanced = user_input.get(CONF_ADVANCED) or {}
    data: dict[str, Any] = {
        CONF_AUTH_METHOD: method,
        CONF_API_URL: normalize_api_url(str(advanced.get(CONF_API_URL) or DEFAULT_BASE_URL)),
    }
    if method == AUTH_TOKEN:
        data[CONF_API_TOKEN] = str(user_input[CONF_API_TOKEN]).strip()
    else:
        data[CONF_USERNAME] = str(user_input[CONF_USERNAME]).strip()
        data[CONF_PASSWORD] = str(user_input[CONF_PASSWORD])
    return data


class SerwerSmsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a SerwerSMS account."""

    VERSION = 1
    # 1.2: recipients own their devices; the legacy notify service name is stored with the account.
    MINOR_VERSION = 2

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> SerwerSmsOptionsFlow:
        """Options: default title and image budget."""
        return SerwerSmsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Recipients are subentries."""
        return {SUBENTRY_RECIPIENT: RecipientSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose how to sign in: API token (recommended) or API user."""
        return self.async_show_menu(step_id="user", menu_options=[AUTH_TOKEN, AUTH_CREDENTIALS])

    async def async_step_token(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Sign in with an API token."""
        return await self._async_step_auth(AUTH_TOKEN, user_input)

    async def async_step_credentials(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Sign in with an API user's login and password."""
        return await self._async_step_auth(AUTH_CREDENTIALS, user_input)

    async def _async_step_auth(self, method: str, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                data = _entry_data(method, user_input)
            except InvalidApiUrlError:
                errors["base"] = "invalid_api_url"
            else:
                await self.async_set_unique_id(account_unique_id(data))
                self._abort_if_unique_id_configured()
                if (error := await _async_check(self, data)) is None:
                    taken = legacy_service_names(self.hass)
                    data[CONF_LEGACY_SERVICE] = next_legacy_service_name(taken)
                    return self.async_create_entry(title=self._title(), data=data)
                errors["base"] = error
        schema = self.add_suggested_values_to_schema(_auth_schema(method), user_input or {})
        return self.async_show_form(step_id=method, data_schema=schema, errors=errors)

    async def async_on_create_entry(self, result: ConfigFlowResult) -> ConfigFlowResult:
        """Go straight on to the account's first recipient, as core ntfy does."""
        subentry = await self.hass.config_entries.subentries.async_init(
            (result["result"].entry_id, SUBENTRY_RECIPIENT),
            context=SubentryFlowContext(source=SOURCE_USER),
        )
        result["next_flow"] = (FlowType.CONFIG_SUBENTRIES_FLOW, subentry["flow_id"])
        return result

    def _title(self) -> str:
        count = len(self._async_current_entries(include_ignore=False))
        return "SerwerSMS" if count == 0 else f"SerwerSMS {count + 1}"

    async def _async_update_entry(self, entry: ConfigEntry, data: dict[str, Any]) -> ConfigFlowResult:
        """Store new credentials; a new token means a new unique id, which must not be another account's."""
        unique_id = account_unique_id(data)
        if unique_id != entry.unique_id:
            await self.async_set_unique_id(unique_id)
            self._abort_if_unique_id_configured()
        return self.async_update_reload_and_abort(entry, unique_id=unique_id, data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The gateway refused the stored secret."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for a new token, or the API user's new password."""
        entry = self._get_reauth_entry()
        method = entry.data.get(CONF_AUTH_METHOD, AUTH_TOKEN)
        secret_key = CONF_API_TOKEN if method == AUTH_TOKEN else CONF_PASSWORD
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, secret_key: str(user_input[secret_key]).strip()}
            if (error := await _async_check(self, data)) is None:
                return await self._async_update_entry(entry, data)
            errors["base"] = error
        placeholders = {"account": entry.title}
        if method == AUTH_CREDENTIALS:
            placeholders["username"] = entry.data.get(CONF_USERNAME, "")
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(vol.Secret(secret_key)): _PASSWORD}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the API URL or the credentials (secrets left empty stay as they are)."""
        entry = self._get_reconfigure_entry()
        method = entry.data.get(CONF_AUTH_METHOD, AUTH_TOKEN)
        errors: dict[str, str] = {}
        if user_input is not None:
            merged = {**user_input}
            for key in (CONF_API_TOKEN, CONF_PASSWORD):
                if key in entry.data and not merged.get(key):
                    merged[key] = entry.data[key]
            try:
                data = _entry_data(method, merged)
            except InvalidApiUrlError:
                errors["base"] = "invalid_api_url"
            else:
                if (error := await _async_check(self, data)) is None:
                    return await self._async_update_entry(entry, {**entry.data, **data})
                errors["base"] = error
        api_url = entry.data.get(CONF_API_URL, DEFAULT_BASE_URL)
        if method == AUTH_TOKEN:
            fields: dict[vol.Marker, Any] = {vol.Optional(vol.Secret(CONF_API_TOKEN)): _PASSWORD}
        else:
            fields = {
                vol.Required(CONF_USERNAME, default=entry.data.get(CONF_USERNAME, "")): _TEXT,
                vol.Optional(vol.Secret(CONF_PASSWORD)): _PASSWORD,
            }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema({**fields, **_advanced_section(api_url)}),
            errors=errors,
        )


def _number(minimum: int, maximum: int, step: int, unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum, max=maximum, step=step, mode=NumberSelectorMode.BOX, unit_of_measurement=unit
        )
    )


# Every option with its default; the form shows the stored value (or the default) as a suggestion.
OPTION_DEFAULTS: dict[str, Any] = {
    CONF_DEFAULT_TITLE: DEFAULT_TITLE,
    CONF_MAX_IMAGE_KB: DEFAULT_MAX_IMAGE_KB,
    CONF_OUTBOX_MINUTES: DEFAULT_OUTBOX_MINUTES,
    CONF_DAILY_LIMIT: DEFAULT_DAILY_LIMIT,
    CONF_KEEP_UPLOADS_DAYS: DEFAULT_KEEP_UPLOADS_DAYS,
    CONF_SMS_SENDER: "",
    CONF_HEARTBEAT_MINUTES: DEFAULT_HEARTBEAT_MINUTES,
}

OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_DEFAULT_TITLE): _TEXT,
        vol.Required(CONF_MAX_IMAGE_KB): _number(MIN_IMAGE_KB, MAX_IMAGE_KB, 10, "KB"),
        vol.Required(CONF_OUTBOX_MINUTES): _number(0, MAX_OUTBOX_MINUTES, 1, "min"),
        vol.Required(CONF_DAILY_LIMIT): _number(0, MAX_DAILY_LIMIT, 1, "MMS"),
        vol.Required(CONF_KEEP_UPLOADS_DAYS): _number(0, MAX_KEEP_UPLOADS_DAYS, 1, "d"),
        vol.Optional(CONF_SMS_SENDER): _TEXT,
        # 0 (off) or MIN_HEARTBEAT_MINUTES..MAX_HEARTBEAT_MINUTES, checked in the step.
        vol.Required(CONF_HEARTBEAT_MINUTES): _number(0, MAX_HEARTBEAT_MINUTES, 1, "min"),
        vol.Optional(CONF_LOOKBACK_CAMERAS): EntitySelector(
            EntitySelectorConfig(domain=["camera", "image"], multiple=True)
        ),
        vol.Optional(CONF_LOOKBACK_SECONDS): _number(0, MAX_LOOKBACK_SECONDS, 1, "s"),
        vol.Optional(CONF_LOOKBACK_WHILE): EntitySelector(),
    }
)
# Options that are text, kept as typed (stripped); every other option is a whole number.
_TEXT_OPTIONS = (CONF_DEFAULT_TITLE, CONF_SMS_SENDER)
# A sender name the gateway can register: up to 11 letters and digits (or a phone number).
_SENDER_NAME = re.compile(r"[A-Za-z0-9 .\-]{1,11}|\+?[0-9]{3,15}")
# Lookback: which cameras, how many seconds (0 = off), while which entity is on (none = always).
LOOKBACK_DEFAULTS: dict[str, Any] = {CONF_LOOKBACK_CAMERAS: [], CONF_LOOKBACK_SECONDS: 0}


def _lookback_options(user_input: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The lookback options as stored, and the form's errors (too many cameras)."""
    cameras = list(dict.fromkeys(user_input.get(CONF_LOOKBACK_CAMERAS) or []))
    if len(cameras) > MAX_LOOKBACK_CAMERAS:
        return {}, {CONF_LOOKBACK_CAMERAS: "too_many_lookback_cameras"}
    options: dict[str, Any] = {
        CONF_LOOKBACK_CAMERAS: cameras,
        CONF_LOOKBACK_SECONDS: int(user_input.get(CONF_LOOKBACK_SECONDS) or 0),
    }
    if user_input.get(CONF_LOOKBACK_WHILE):
        options[CONF_LOOKBACK_WHILE] = str(user_input[CONF_LOOKBACK_WHILE])
    return options, {}


class SerwerSmsOptionsFlow(OptionsFlow):
    """Default title, MMS size budget, outbox, daily limit and gateway storage; applied on the next send."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form; the account is not reloaded, every send reads the options afresh."""
        errors: dict[str, str] = {}
        if user_input is not None:
            title = str(user_input[CONF_DEFAULT_TITLE]).strip()
            sender = str(user_input.get(CONF_SMS_SENDER) or "").strip()
            heartbeat = int(user_input.get(CONF_HEARTBEAT_MINUTES, DEFAULT_HEARTBEAT_MINUTES))
            lookback, errors = _lookback_options(user_input)
            if not title or len(title) > MAX_TITLE_LENGTH:
                errors[CONF_DEFAULT_TITLE] = "title_too_long" if title else "title_empty"
            elif sender and not _SENDER_NAME.fullmatch(sender):
                errors[CONF_SMS_SENDER] = "invalid_sender"
            elif heartbeat and not MIN_HEARTBEAT_MINUTES <= heartbeat <= MAX_HEARTBEAT_MINUTES:
                errors[CONF_HEARTBEAT_MINUTES] = "heartbeat_range"
            elif not errors:
                options: dict[str, Any] = {
                    key: int(user_input[key]) for key in OPTION_DEFAULTS if key not in _TEXT_OPTIONS
                }
                return self.async_create_entry(
                    data={CONF_DEFAULT_TITLE: title, CONF_SMS_SENDER: sender, **options, **lookback}
                )
        current = {**OPTION_DEFAULTS, **LOOKBACK_DEFAULTS, **self.config_entry.options, **(user_input or {})}
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(OPTIONS_SCHEMA, current),
            errors=errors,
        )


def _validate_recipient(user_input: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str], str]:
    """Recipient data from the form, or the form's errors and the offending number."""
    name = str(user_input.get(CONF_NAME, "")).strip()
    try:
        phones = normalize_phones(user_input.get(CONF_PHONE) or [])
    except InvalidPhoneNumberError as err:
        return None, {CONF_PHONE: "invalid_phone"}, err.number
    if not phones:
        return None, {CONF_PHONE: "invalid_phone"}, ""
    if not name:
        return None, {CONF_NAME: "name_required"}, ""
    return {CONF_NAME: name, CONF_PHONE: phones, CONF_HEARTBEAT: bool(user_input.get(CONF_HEARTBEAT))}, {}, ""


def _numbers_taken(entry: ConfigEntry, phones: list[str], *, except_id: str | None = None) -> bool:
    """Whether another recipient of the account already has exactly this set of numbers."""
    wanted = set(phones)
    return any(
        set(sub.data.get(CONF_PHONE, [])) == wanted
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_RECIPIENT and sub.subentry_id != except_id
    )


def _recipient_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME): _TEXT,
            vol.Required(CONF_PHONE): _TEXT,
            vol.Optional(CONF_HEARTBEAT, default=False): BooleanSelector(),
        }
    )


class RecipientSubentryFlow(ConfigSubentryFlow):
    """Add or edit a recipient: a name, one or more phone numbers, and whether it gets the heartbeat."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a recipient."""
        errors: dict[str, str] = {}
        number = ""
        if user_input is not None:
            data, errors, number = _validate_recipient(user_input)
            if data is not None:
                if _numbers_taken(self._get_entry(), data[CONF_PHONE]):
                    return self.async_abort(reason="already_configured")
                return self.async_create_entry(title=data[CONF_NAME], data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_recipient_schema(), user_input or {}),
            errors=errors,
            description_placeholders={"number": number},
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Edit a recipient."""
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        number = ""
        if user_input is not None:
            data, errors, number = _validate_recipient(user_input)
            if data is not None:
                if _numbers_taken(self._get_entry(), data[CONF_PHONE], except_id=subentry.subentry_id):
                    return self.async_abort(reason="already_configured")
                return self.async_update_and_abort(
                    self._get_entry(), subentry, title=data[CONF_NAME], data=data
                )
        current = user_input or {
            CONF_NAME: subentry.data.get(CONF_NAME, subentry.title),
            CONF_PHONE: ", ".join(subentry.data.get(CONF_PHONE, [])),
            CONF_HEARTBEAT: bool(subentry.data.get(CONF_HEARTBEAT, False)),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(_recipient_schema(), current),
            errors=errors,
            description_placeholders={"number": number},
        )
