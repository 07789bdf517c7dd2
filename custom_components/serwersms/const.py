"""Constants shared across the SerwerSMS integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "serwersms"

CONF_AUTH_METHOD: Final = "auth_method"
CONF_API_TOKEN: Final = "api_token"  # noqa: S105 - a field name, not a secret
CONF_API_URL: Final = "api_url"
CONF_ADVANCED: Final = "advanced"
AUTH_TOKEN: Final = "token"  # noqa: S105 - a field name, not a secret
AUTH_CREDENTIALS: Final = "credentials"

CONF_DEFAULT_TITLE: Final = "default_title"
CONF_MAX_IMAGE_KB: Final = "max_image_kb"
DEFAULT_TITLE: Final = "Home Assistant"
DEFAULT_MAX_IMAGE_KB: Final = 300
MIN_IMAGE_KB: Final = 30
MAX_IMAGE_KB: Final = 2000
CONF_OUTBOX_MINUTES: Final = "outbox_minutes"
DEFAULT_OUTBOX_MINUTES: Final = 15
MAX_OUTBOX_MINUTES: Final = 1440
CONF_DAILY_LIMIT: Final = "daily_limit"
DEFAULT_DAILY_LIMIT: Final = 100
MAX_DAILY_LIMIT: Final = 100_000
CONF_KEEP_UPLOADS_DAYS: Final = "keep_uploads_days"
DEFAULT_KEEP_UPLOADS_DAYS: Final = 30
MAX_KEEP_UPLOADS_DAYS: Final = 3650
CONF_SMS_SENDER: Final = "sms_sender"  # empty: ECO (the gateway's shared numbers, repliable)
CONF_HEARTBEAT_MINUTES: Final = "heartbeat_minutes"  # 0: off
DEFAULT_HEARTBEAT_MINUTES: Final = 0
MIN_HEARTBEAT_MINUTES: Final = 15
MAX_HEARTBEAT_MINUTES: Final = 1440
CONF_HEARTBEAT: Final = "heartbeat"  # a recipient's option: it gets the heartbeat SMS
# The name of the account's legacy `notify.<name>` service, fixed when the account is added.
CONF_LEGACY_SERVICE: Final = "legacy_service"

SUBENTRY_RECIPIENT: Final = "recipient"
CONF_PHONE: Final = "phone"

MAX_TITLE_LENGTH: Final = 40
MAX_ATTACHMENTS: Final = 10
MAX_RECIPIENTS: Final = 100_000

EVENT_MMS_SENT: Final = "serwersms_mms_sent"
EVENT_MMS_DELIVERY: Final = "serwersms_mms_delivery"

ATTR_CAMERA: Final = "camera"
ATTR_MEDIA: Final = "media"
ATTR_FILE: Final = "file"
ATTR_URL: Final = "url"
ATTR_VERIFY_SSL: Final = "verify_ssl"
ATTR_FILE_ID: Final = "file_id"
ATTR_DATE: Final = "date"
ATTR_TEST: Final = "test"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
# Spending guard: nothing is sent to a recipient sent the same tag less than `cooldown` seconds ago.
ATTR_COOLDOWN: Final = "cooldown"
ATTR_TAG: Final = "tag"
MAX_COOLDOWN: Final = 86_400
# Motion: several frames per camera, as one animated GIF or as separate pictures, optionally stamped.
ATTR_FRAMES: Final = "frames"
ATTR_FRAME_INTERVAL: Final = "frame_interval"
ATTR_FRAMES_AS: Final = "frames_as"
ATTR_OVERLAY: Final = "overlay"
# Channels: an SMS's options, and an MMS's fallback to an SMS or a call.
ATTR_FLASH: Final = "flash"
ATTR_PRIORITY: Final = "priority"
ATTR_FALLBACK: Final = "fallback"
ATTR_FALLBACK_AFTER: Final = "fallback_after"

ISSUE_CREDITS_EXHAUSTED: Final = "credits_exhausted"
ISSUE_MMS_NOT_PERMITTED: Final = "mms_not_permitted"
ISSUE_DAILY_LIMIT_REACHED: Final = "daily_limit_reached"
ATTR_MESSAGE_KEY: Final = "message"
ATTR_TITLE_KEY: Final = "title"
# Lookback: the frames before the trigger, kept in memory while `lookback_while` says it matters.
CONF_LOOKBACK_CAMERAS: Final = "lookback_cameras"
CONF_LOOKBACK_SECONDS: Final = "lookback_seconds"
CONF_LOOKBACK_WHILE: Final = "lookback_while"
ATTR_LOOKBACK: Final = "lookback"
