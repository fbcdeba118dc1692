"""A checklist's rows, shared by doctor's SMTP and IMAP steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from protest_dispatch.errors import ProtestError
from protest_dispatch.vocabulary import CheckStatus, ExitCode


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    hint: str | None = None
    exit_code: int = ExitCode.OK


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The first failure's: steps run in order, and later ones depend on earlier ones."""
        return next((c.exit_code for c in self.checks if c.status == CheckStatus.FAIL), ExitCode.OK)


def failed(name: str, exc: ProtestError) -> Check:
    return Check(name, CheckStatus.FAIL, exc.message, exc.hint, exc.exit_code)


def skipped(names: tuple[str, ...]) -> list[Check]:
    return [Check(n, CheckStatus.SKIP, "skipped: fix the problem above first") for n in names]
