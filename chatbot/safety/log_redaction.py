"""Every log line through :func:`chatbot.safety.redact.redact` before any handler writes it.

:class:`RedactingFilter` redacts a record's message, arguments and exception text in place;
:class:`RedactingFormatter` and :class:`RedactingStream` cover what a filter cannot see;
:func:`install_log_redaction` puts them on every handler (third-party loggers included).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from chatbot.safety.redact import redact


def _redact_arg(value: Any) -> Any:
    """A log argument with identifiers replaced; other values unchanged, so ``%d`` still works."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "surrogateescape")
        cleaned = redact(text)
        return value if cleaned == text else cleaned.encode("utf-8", "surrogateescape")
    if value is None or isinstance(value, bool | int | float):
        # Numbers are measurements and status codes; a long one that is an identifier is caught
        # in the final check on the formatted line.
        return value
    try:
        shown = str(value)
    except Exception:  # an argument whose __str__ fails is logging's problem to report, not ours
        return value
    cleaned = redact(shown)
    return value if cleaned == shown else cleaned


def _format(msg: Any, args: Any) -> str:
    text = str(msg)
    return text % args if args else text


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments and exception text in place.

    ``record.args`` keeps its shape (a tuple of the same length, or the same mapping keys), since
    formatters may read it: uvicorn's access formatter unpacks five arguments. Each string
    argument is redacted, and so is ``record.msg``; when identifiers only appear in the
    formatted line (split across arguments) or redaction broke the %-format, the message
    becomes the redacted line and the arguments redacted strings it ignores.

    Attach it to handlers (not loggers): handler filters see records from child loggers too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_healthbot_redacted", False):
            return True
        self._redact_message(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._healthbot_redacted = True
        return True

    @staticmethod
    def _redact_message(record: logging.LogRecord) -> None:
        msg, args = record.msg, record.args
        try:
            original = _format(msg, args)
        except Exception:  # a malformed %-format must not kill logging; log the raw parts
            original = f"{msg} {args}"
        if isinstance(args, Mapping):
            new_args: Any = {k: _redact_arg(v) for k, v in args.items()}
        elif isinstance(args, tuple):
            new_args = tuple(_redact_arg(a) for a in args)
        else:
            new_args = args
        new_msg = redact(msg) if isinstance(msg, str) else _redact_arg(msg)
        try:
            line = _format(new_msg, new_args)
        except Exception:
            line = None
        if line is not None and redact(line) == line:
            record.msg, record.args = new_msg, new_args
            return
        line = redact(original)
        if isinstance(new_args, tuple) and new_args:
            # "%.0s" consumes an argument and prints nothing: the line reads right and the
            # tuple keeps its length for formatters that unpack it.
            strings = tuple(redact(str(a)) for a in new_args)
            record.msg, record.args = line.replace("%", "%%") + "%.0s" * len(strings), strings
        elif isinstance(new_args, Mapping) and new_args:
            # A mapping with no %(key)s in the message formats to the message itself.
            record.msg, record.args = line.replace("%", "%%"), {k: redact(str(v)) for k, v in new_args.items()}
        else:
            record.msg, record.args = line, (args if not args else None)


class RedactingFormatter(logging.Formatter):
    """Wraps another formatter and redacts its whole output (covers fields filters can't see)."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class RedactingStream:
    """A text stream that redacts each complete line before writing it to ``target``."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        if "\n" in self._buffer:
            done, self._buffer = self._buffer.rsplit("\n", 1)
            self.target.write(redact(done) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self.target.write(redact(self._buffer))
            self._buffer = ""
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def _handlers(loggers: Iterable[logging.Logger]) -> list[logging.Handler]:
    seen: list[logging.Handler] = []
    for lg in loggers:
        for handler in lg.handlers:
            if handler not in seen:
                seen.append(handler)
    return seen


def install_log_redaction(*, wrap_std_streams: bool = False) -> None:
    """Redact every log line from now on; idempotent.

    Records are redacted when created (a log-record factory), so handlers added later by
    uvicorn or gradio are covered too; existing handlers also get a :class:`RedactingFilter`
    for records made before installation. ``wrap_std_streams`` also redacts plain ``print``
    output on stdout and stderr.
    """
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_healthbot_redacting", False):

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            _FILTER.filter(record)
            return record

        redacting_factory._healthbot_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(redacting_factory)
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for handler in _handlers(loggers):
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(_FILTER)
    if wrap_std_streams:
        if not isinstance(sys.stdout, RedactingStream):
            sys.stdout = RedactingStream(sys.stdout)
        if not isinstance(sys.stderr, RedactingStream):
            sys.stderr = RedactingStream(sys.stderr)


_FILTER = RedactingFilter()

__all__ = [
    "RedactingFilter",
    "RedactingFormatter",
    "RedactingStream",
    "install_log_redaction",
]
