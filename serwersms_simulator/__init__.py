"""A local SerwerSMS.pl HTTPS API v2 simulator: a real aiohttp server for tests and the demo."""

from .server import Fault, RecordedRequest, SentMms, SerwerSmsSimulator, StoredFile

__all__ = ["Fault", "RecordedRequest", "SentMms", "SerwerSmsSimulator", "StoredFile"]
