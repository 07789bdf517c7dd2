"""A local SerwerSMS.pl HTTPS API v2 simulator: a real aiohttp server for tests and the demo."""

from .server import (
    MAX_CALL_TEXT,
    NO_ANSWER_NUMBER,
    NO_MMS_NUMBER,
    Fault,
    ReceivedSms,
    RecordedRequest,
    SentCall,
    SentMms,
    SentSms,
    SerwerSmsSimulator,
    StoredFile,
)

__all__ = [
    "MAX_CALL_TEXT",
    "NO_ANSWER_NUMBER",
    "NO_MMS_NUMBER",
    "Fault",
    "ReceivedSms",
    "RecordedRequest",
    "SentCall",
    "SentMms",
    "SentSms",
    "SerwerSmsSimulator",
    "StoredFile",
]
