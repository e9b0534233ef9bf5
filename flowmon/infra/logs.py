"""How flowmon writes its log: one handler on the root logger, in ``text`` or ``json`` (``FLOWMON_LOG_FORMAT``).

``json`` writes one object a line for log collectors: ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``msg``,
``exc`` (the traceback) for an exception, and ``execution_id``, ``workflow_id``, ``delivery_id`` when the line is
about one: from the line's ``extra=`` or else from the context of the task that logged it
(:mod:`flowmon.engine.core.log_context`). Every logger ends at this one handler, uvicorn's too (the server is run
with ``log_config=None``, so its loggers keep no handlers of their own and propagate), and the redaction filter
(:mod:`flowmon.infra.logredact`) on the handler sees each record before it is formatted, in either format.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import IO

from flowmon.engine.core import log_context

LOG_FORMATS = ('text', 'json')
TEXT_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
SERVER_LOGGERS = ('uvicorn', 'uvicorn.error', 'uvicorn.access')
HANDLER_NAME = 'flowmon'

log = logging.getLogger('flowmon')


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ASCII only, so no message can break the line or the encoding."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            'ts': datetime.fromtimestamp(record.created, UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            'level': record.levelname,
            'logger': record.name,
            'msg': record.getMessage(),
        }
        entry.update(log_context.current().fields())
        for name in log_context.FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry['exc'] = record.exc_text
        if record.stack_info:
            entry['stack'] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure(level: str, fmt: str, *, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record to flowmon's handler on ``stream`` (stderr by default) in format ``fmt``.

    Call it first thing in ``main``. The handler goes on the root logger (replacing the one an earlier call put
    there; a test runner's capturing handlers stay); uvicorn's loggers are emptied and propagate to it; Python
    warnings become log records. With ``json``, an uncaught exception (main thread or another) is logged as one
    line too, rather than printed as a bare traceback.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f'log format must be one of {", ".join(LOG_FORMATS)}, not {fmt!r}')
    handler = logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == 'json' else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        if old.get_name() == HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        server = logging.getLogger(name)
        server.handlers.clear()
        server.propagate = True
    logging.captureWarnings(True)
    if fmt == 'json':
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    return handler


def _log_uncaught(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
    log.critical('uncaught exception', exc_info=(kind, value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else '?'
    log.critical('uncaught exception in thread %s', name, exc_info=args.exc_value)
