"""`dbtool docs`: the schema as documents a DBA would rather look at than read: README.md with an
ER diagram (Mermaid, and an SVG and PNG rendered by Graphviz's `dot`), one Markdown page per
table, view and materialized view, and the tenant boundary; or, with `check=True`, which of the
files in the output folder differ from what would be written (`dbtool docs --check`).

The documents are made from a catalog snapshot (dbtool.catalog, the same reading as `dbtool
snapshot` and `dbtool drift`): of a live database, of what migrations/ build, or of a snapshot
file. They are sorted and carry no timestamp or OID, so they can be committed and compared; the
repository's own (docs/schema/) come from the committed snapshot of the Apache edition,
schema/snapshot.yaml (`make schema-docs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Project
from ..errors import FINDINGS, UsageError
from ..schemadoc import diagram, markdown, model
from ..snapshots import Snapshot

DEFAULT_OUT = "docs/schema"
IMAGES = ("schema.svg", "schema.png")
NO_DOT = ("Graphviz's `dot` is not installed: install it (Debian: `apt-get install graphviz`, or `make setup`) "
          "and run again")


@dataclass
class Result:
    out: Path
    files: list[str]  # the files written (or compared), sorted
    stale: list[str] = field(default_factory=list)  # --check: differing, missing or left-over files
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    check: bool = False  # compared, not written
    regenerate: str = ""  # the command that writes the same documents again

    @property
    def exit_code(self) -> int:
        return FINDINGS if self.stale else 0

    def as_dict(self) -> dict:
        return {"out": str(self.out), "files": self.files, "stale": self.stale, "notes": self.notes}

    def lines(self, quiet: bool = False) -> list[str]:
        stale = [f"stale  {self.out / name}" for name in self.stale]
        if not self.check:
            return stale + [f"wrote {self.out} ({len(self.files)} files)"]
        return stale or [f"{self.out} is up to date ({len(self.files)} files compared)"]

    def remarks(self) -> list[str]:
        notes = [f"note: {note}" for note in self.notes]
        if not self.stale:
            return notes
        shown = ", ".join(self.stale[:8]) + (f" and {len(self.stale) - 8} more" if len(self.stale) > 8 else "")
        return notes + [f"error: {self.out} is stale: {shown} differ{'s' if len(self.stale) == 1 else ''} from "
                        "what the schema gives", f"hint: regenerate with {self.regenerate} and commit the result"]


def render(snap: Snapshot, project: Project, source: str, regenerate: str,
           dot: str | None = None) -> dict[str, bytes]:
    """Every file of the documents, by name. The pictures only when `dot` (Graphviz) is given."""
    m = model.build(snap.data, project.section("rls"), snap.version, snap.edition)
    files = {"README.md": markdown.readme(m, source, regenerate), "schema.dot": diagram.dot_source(m)}
    files.update({markdown.page_name(r.name): markdown.page(r, m) for r in m.relations.values()})
    out = {name: text.encode("utf-8") for name, text in files.items()}
    if dot:
        for name in IMAGES:
            out[name] = diagram.render(dot, files["schema.dot"], name.rsplit(".", 1)[1])
    return dict(sorted(out.items()))


def docs(snap: Snapshot, project: Project, out: Path, *, source: str, regenerate: str,
         check: bool = False) -> Result:
    """Write the documents of `snap` into `out`, or (check) compare them with what is there."""
    dot = diagram.dot_binary()
    files = render(snap, project, source, regenerate, dot)
    result = Result(out, list(files), check=check, regenerate=regenerate)
    if not dot:
        result.notes.append(f"{' and '.join(IMAGES)} {'not compared' if check else 'not rendered'}: {NO_DOT}")
    elif check and not _same_graphviz(out, dot):
        result.notes.append(f"{' and '.join(IMAGES)} not compared: they were rendered by another Graphviz version "
                            f"than this machine's ({diagram.dot_version(dot)}); schema.dot, their source, was")
        files = {k: v for k, v in files.items() if k not in IMAGES}
    if check:
        result.stale = stale(files, out)
        return result
    _write(files, out)
    return result


def stale(files: dict[str, bytes], out: Path) -> list[str]:
    """Names of files that differ from `files`, are missing, or are generated pages no longer made."""
    differ = [n for n, data in files.items() if not (out / n).is_file() or (out / n).read_bytes() != data]
    return sorted(differ + _left_over(files, out))


def _left_over(files: dict[str, bytes], out: Path) -> list[str]:
    """Pages of relations that are gone: .md files in `out` that `dbtool docs` wrote (its mark on the
    first line) and would not write now. Other files are never touched."""
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.glob("*.md") if p.name not in files and _generated(p))


def _generated(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as f:
        return f.readline().rstrip("\n") == markdown.MARK


def _write(files: dict[str, bytes], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in _left_over(files, out):
        (out / name).unlink()
    for name, data in files.items():
        path = out / name
        if path.is_file() and path.read_bytes() == data:
            continue
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


def _same_graphviz(out: Path, dot: str) -> bool:
    """Whether the committed SVG was written by this machine's Graphviz (it says which in its
    second comment line): only then are the pictures compared byte for byte."""
    svg = out / "schema.svg"
    if not svg.is_file():
        return True  # nothing to compare with: the missing files are stale
    return f"graphviz version {diagram.dot_version(dot)}" in svg.read_text(encoding="utf-8", errors="replace")[:300]


def shown_path(path: Path, project: Project) -> str:
    """`path` as the documents name it: relative to the project when inside it (no machine's own
    folders in committed text), else as given."""
    resolved = path.resolve()
    return str(resolved.relative_to(project.root)) if resolved.is_relative_to(project.root) else str(path)


def run(project: Project, out: Path, *, check: bool = False, **source) -> Result:
    """`dbtool docs`: the documents of the snapshot `load(**source)` gives, written or (check) compared."""
    snap, where, regenerate = load(project, out, **source)
    return docs(snap, project, out, source=where, regenerate=regenerate, check=check)


def load(project: Project, out: Path, *, database_url: str | None = None, from_migrations: bool = False,
         server_url: str | None = None, snapshot_file: Path | None = None) -> tuple[Snapshot, str, str]:
    """The snapshot to document, where it comes from (said in README.md) and the command that
    writes the same documents again."""
    from .. import db
    from .. import snapshots as snapshot_cmd

    if sum([database_url is not None, from_migrations, snapshot_file is not None]) > 1:
        raise UsageError("give one source: --database-url, --from-migrations or --snapshot FILE")
    if server_url is not None and not from_migrations:
        raise UsageError("--server-url only makes sense with --from-migrations",
                         hint="it names the server to build the schema on; the live database is --database-url")
    target = f"--out {shown_path(out, project)}"
    if snapshot_file is not None:
        name = shown_path(snapshot_file, project)
        return snapshot_cmd.read_file(snapshot_file), f"`{name}`", f"`dbtool docs --snapshot {name} {target}`"
    if from_migrations:
        return (snapshot_cmd.from_migrations(server_url, project), "what `migrations/` and `sql/` build",
                f"`dbtool docs --from-migrations {target}`")
    url = db.resolve_url(database_url)
    name = db.parse(url).get("dbname") or "?"
    return snapshot_cmd.take(url, project), f"the database `{name}`", f"`dbtool docs -d URL {target}`"
