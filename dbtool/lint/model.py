"""What every lint layer produces: findings with a rule id, a place in a file, a message and a hint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import FINDINGS

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the project root, with forward slashes
    line: int  # 1-based
    col: int  # 1-based
    severity: str
    rule: str
    message: str
    hint: str | None = None
    layer: str = ""

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity} {self.rule} {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def key(self) -> tuple:
        return (self.path, self.line, self.col, self.rule, self.message)


@dataclass(frozen=True)
class Rule:
    """One of dbtool's own rules; each has a page docs/rules/<id>.md."""
    id: str
    severity: str
    summary: str
    hint: str


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0
    layers: dict[str, str] = field(default_factory=dict)  # layer -> "ran" or why it was skipped
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def sort(self) -> None:
        self.findings = sorted(set(self.findings), key=lambda f: f.key)

    def summary(self) -> str:
        errors = sum(f.severity == ERROR for f in self.findings)
        warnings = len(self.findings) - errors
        skipped = [k for k, v in self.layers.items() if v != "ran"]
        text = (f"{len(self.files)} file(s) linted: {errors} error(s), {warnings} warning(s), "
                f"{self.suppressed} suppressed, in {self.seconds:.1f} s")
        return text + (f"; skipped: {', '.join(skipped)}" if skipped else "")

    @property
    def exit_code(self) -> int:
        return 0 if self.clean else FINDINGS

    def lines(self, quiet: bool = False) -> list[str]:
        return [f.text() for f in self.findings] + [self.summary()]

    def remarks(self) -> list[str]:
        return ([f"note: {name} layer {state}" for name, state in self.layers.items() if state != "ran"]
                + [f"note: {note}" for note in self.notes])

    def as_dict(self) -> dict:
        return {"clean": self.clean, "files": self.files, "findings": [f.as_dict() for f in self.findings],
                "suppressed": self.suppressed, "layers": self.layers, "notes": self.notes,
                "seconds": round(self.seconds, 3), "summary": self.summary()}
