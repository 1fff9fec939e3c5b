"""Keep tokens out of the server's logs: uvicorn logs each request's path with its query string
(``uvicorn.access``) and each WebSocket handshake likewise (``uvicorn.error``), and access and
tracking tokens travel as ``?token=``. The filter rewrites the value to ``***`` before any handler
formats the record."""
from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(r"([?&](?:access_)?token=)[^&#\s\"]*", re.IGNORECASE)
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return SECRET_PARAMS.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Rewrites ``token=...`` in the record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install() -> None:
    """Put the filter on uvicorn's loggers, once per process (each worker calls it from ``create_app``)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
