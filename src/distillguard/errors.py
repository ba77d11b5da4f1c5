"""DistillGuard's one exception hierarchy.

    DistillGuardError             base: anything DistillGuard raises on purpose
    ├── UsageError                bad option values or combinations (CLI exit 2)
    ├── InputError                a whole input cannot be used: unreadable file, unknown format (exit 2)
    │   └── RecordError           one record breaks the contract: FILE:LINE: field: what is wrong
    ├── StoreError                the embedded store cannot be opened or written
    ├── ReportError               detection finished but its rich report.html could not be written
    └── ConfigError               a policy, key or mapping file is invalid

Domain code raises these; only the CLI and HTTP layers turn them into exit codes and responses.
Messages name the file, row and field, and say what to do next.
"""

from __future__ import annotations


class DistillGuardError(Exception):
    """Base class of every error DistillGuard raises on purpose."""


class UsageError(DistillGuardError):
    """An option value or combination that cannot work."""


class InputError(DistillGuardError):
    """An input that cannot be used at all (missing, unreadable, unknown format)."""


class RecordError(InputError):
    """One record that breaks the contract; the rest of the input goes on.

    >>> str(RecordError("log.jsonl", 12, "ts", "not an ISO-8601 time: 'yesterday'"))
    "log.jsonl:12: ts: not an ISO-8601 time: 'yesterday'"
    """

    def __init__(self, source: str, line: int | None, field: str | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")


class StoreError(DistillGuardError):
    """The embedded store cannot be opened, read or written."""


class JournalError(StoreError):
    """The gateway's journal could not make a record durable (disk full, I/O error): the request fails."""


class ReportError(DistillGuardError):
    """The rich report failed after detection wrote its output folder (report.html is the plain one).

    `result` is the detection's result, so a caller that can live without the rich report goes on.
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class ConfigError(DistillGuardError):
    """A configuration file (policy, keys, mapping) is invalid."""
