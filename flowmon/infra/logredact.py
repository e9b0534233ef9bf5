"""A logging filter that hides the values of named secrets from every log line, whoever writes it.

Nodes that work with secrets log through a redacting logger already
(:class:`flowmon.engine.runtime.secret_refs.RedactingLogger`), but libraries log too: httpx logs every request's
URL at INFO, and an exception's message or traceback may quote a header or a URL. The filter sits on the handlers
of the root logger and of uvicorn's loggers (which do not propagate), formats each record that holds a value,
replaces the value with ``***`` and leaves the record with the finished text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from flowmon.engine.runtime.secret_refs import redact_text

_formatter = logging.Formatter()


class SecretLogFilter(logging.Filter):
    def __init__(self, values: Callable[[], Collection[str]]) -> None:
        super().__init__()
        self._values = values

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._values()
        if not secrets:
            return True
        message = record.getMessage()
        hidden = redact_text(message, secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, secrets)
        return True


_installed = SecretLogFilter(tuple)
LOGGERS = ('', 'uvicorn', 'uvicorn.error', 'uvicorn.access')  # '' is the root logger


def install(values: Callable[[], Collection[str]] | None = None) -> SecretLogFilter:
    """Put the filter on every handler of :data:`LOGGERS`; ``values`` gives the values to hide. Call it once
    logging is configured and again when the server has configured its own loggers; calling it again is cheap and
    only adds the filter where it is missing (with ``values``, it replaces the source: one app per process)."""
    if values is not None:
        _installed._values = values
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if _installed not in handler.filters:
                handler.addFilter(_installed)
    return _installed
