"""The one exception root. The CLI catches it once and prints `error: message` and `hint: hint`."""

OK = 0
FINDINGS = 1
USAGE = 2
FAILURE = 3
INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report a process the signal ended


class DbtoolError(Exception):
    """A failure the user can act on: a one-line message, an optional hint, an exit code."""

    exit_code = FAILURE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None,
                 detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail
        if exit_code is not None:
            self.exit_code = exit_code

    def as_dict(self) -> dict:
        return {"error": self.message, "detail": self.detail, "hint": self.hint,
                "exit_code": self.exit_code}


class UsageError(DbtoolError):
    """Bad options, a bad URL, bad configuration: exit 2. (An unsound migration folder is a
    migration failure, exit 3, like a migration that fails on the server.)"""

    exit_code = USAGE


class DatabaseFailure(DbtoolError):
    """The server refused, was unreachable, or a migration failed: exit 3."""

    exit_code = FAILURE
