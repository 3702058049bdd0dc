"""The exceptions mfastats raises, and the exit codes they become.

    MfastatsError                 root: anything mfastats reports on purpose
     ├── UserError                 bad flag, config key, DSN, time zone or date (exit 1)
     └── SourceError               a database is down, refuses us, or lacks a table (exit 2)

Only `cli.py` turns these into exit codes; library code raises and never exits.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_DOMAIN_FAILED = 2


class MfastatsError(Exception):
    """Root of every error mfastats raises deliberately."""


class UserError(MfastatsError):
    """Configuration or usage error: the message names the key, the bad value and the fix."""


class SourceError(MfastatsError):
    """A data source could not be read (connection refused, missing table, query failed)."""
