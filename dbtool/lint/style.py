"""Layer 1, style and parse: sqlfluff (dialect postgres) with the project's committed .sqlfluff.

Two settings are forced whatever the project's config says, because getting them wrong is silent:
the dialect (dbtool is PostgreSQL only) and large_file_skip_byte_limit = 0 (otherwise sqlfluff
skips files over 20 KB and reports them clean). sqlfluff does not look inside $$ bodies; the
bodies layer checks PL/pgSQL against the migrated schema instead.

sqlfluff is most of `dbtool lint`'s time (about 0.2 s a 100 lines, and 0.5 s to import it and
load its postgres dialect), so its findings are kept per file in `.dbtool/cache/lint-style.json`,
keyed by the sha256 of the file's text, its path, sqlfluff's version and plugins, and every config
file sqlfluff would read for it (.sqlfluff, pyproject.toml, setup.cfg, tox.ini, pep8.ini and
.sqlfluffignore in the file's folder and every folder above it, the user's own). A file whose key
is in the cache is not linted again; when every file is, sqlfluff is not even imported.
DBTOOL_LINT_CACHE=off turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import migrations
from .files import Workspace
from .model import ERROR, WARNING, Finding

FORCED = {"dialect": "postgres", "large_file_skip_byte_limit": 0}
PARSE_CODES = {"PRS", "TMP", "LXR"}
LINE_LENGTH = "LT05"

CACHE_FILE = Path(".dbtool") / "cache" / "lint-style.json"
CACHE_FORMAT = 1  # bump when what is stored, or how a key is made, changes
CONFIG_FILES = ("setup.cfg", "tox.ini", "pep8.ini", ".sqlfluff", "pyproject.toml", ".sqlfluffignore")
# sqlfluff starts its worker processes with "spawn": each imports sqlfluff and its dialect again
# (about a second), so a few files are linted faster in this process than in parallel.
PARALLEL_FROM_BYTES = 48_000


def check(ws: Workspace, selected: set[str]) -> list[Finding]:
    rels = [rel for rel in sorted(selected) if rel.endswith(".sql")]
    if not rels:
        return []
    by_rel = {f.rel: f for f in ws.files}
    texts = {rel: by_rel[rel].text if rel in by_rel else (ws.root / rel).read_text(errors="replace") for rel in rels}
    cache = Cache(ws.root) if os.environ.get("DBTOOL_LINT_CACHE", "on").lower() not in ("off", "0", "no") else None
    keys = {rel: cache.key(rel, texts[rel]) for rel in rels} if cache else {}
    found: dict[str, list[dict]] = {}
    todo = []
    for rel in rels:
        hit = cache.get(rel, keys[rel]) if cache else None
        if hit is None:
            todo.append(rel)
        else:
            found[rel] = hit
    if todo:
        linted = _sqlfluff(ws.root, todo, sum(len(texts[rel]) for rel in todo))
        found.update(linted)
        if cache:
            for rel in todo:
                cache.put(rel, keys[rel], linted.get(rel, []))
            cache.save()
    out = []
    for rel in rels:
        for v in found.get(rel, []):
            if v["code"] == LINE_LENGTH and rel in by_rel and \
                    migrations.is_accept_line(by_rel[rel].line_text(v["line"])):
                continue  # a sha256 and its reason must share the line: it cannot be wrapped
            out.append(_finding(rel, v))
    return out


def _sqlfluff(root: Path, rels: list[str], size: int) -> dict[str, list[dict]]:
    """sqlfluff's violations of each file, as the few fields dbtool reports."""
    from sqlfluff.core import FluffConfig, Linter  # imported here: it takes ~0.5 s to load

    config = FluffConfig.from_path(str(root), overrides=dict(FORCED))
    processes = None if size >= PARALLEL_FROM_BYTES else 1  # None: the config's `processes`
    result = Linter(config=config).lint_paths(tuple(str(root / rel) for rel in rels), processes=processes)
    by_abs = {str(root / rel): rel for rel in rels}
    out: dict[str, list[dict]] = {rel: [] for rel in rels}
    for record in result.as_records():
        rel = by_abs.get(record["filepath"], record["filepath"])
        out.setdefault(rel, []).extend(
            {"code": v["code"], "name": v.get("name") or v["code"], "description": v["description"],
             "line": v["start_line_no"], "col": v["start_line_pos"], "fixes": bool(v.get("fixes"))}
            for v in record["violations"])
    return out


def _finding(rel: str, v: dict) -> Finding:
    code = v["code"]
    parse = code in PARSE_CODES
    hint = ("sqlfluff cannot parse this: check the SQL, or simplify it" if parse else
            f"sqlfluff rule {v['name']}" + ("; `sqlfluff fix` can repair it" if v["fixes"] else ""))
    return Finding(rel, v["line"], v["col"], ERROR if parse else WARNING,
                   f"sqlfluff/{code}", v["description"], hint=hint, layer="style")


class Cache:
    """sqlfluff's findings per file, by a key of everything they depend on. Unreadable or
    unwritable, it is simply not used: the files are linted."""

    def __init__(self, root: Path):
        self.path = root / CACHE_FILE
        self.root = root
        self.entries: dict[str, dict] = {}
        self.changed = False
        self._dirs: dict[Path, str] = {}
        self._tool = _tool_fingerprint()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") == CACHE_FORMAT and isinstance(data.get("files"), dict):
                self.entries = data["files"]
        except (OSError, ValueError, AttributeError):
            pass

    def key(self, rel: str, text: str) -> str:
        h = hashlib.sha256()
        for part in (str(CACHE_FORMAT), self._tool, self._configs((self.root / rel).parent), rel, text):
            h.update(part.encode("utf-8", "surrogateescape") + b"\0")
        return h.hexdigest()

    def get(self, rel: str, key: str) -> list[dict] | None:
        entry = self.entries.get(rel)
        return entry["violations"] if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, rel: str, key: str, violations: list[dict]) -> None:
        self.entries[rel] = {"key": key, "violations": violations}
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        files = {rel: e for rel, e in self.entries.items() if (self.root / rel).is_file()}  # forget deleted files
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.path.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# dbtool's caches: nothing here belongs in git\n*\n")
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"format": CACHE_FORMAT, "files": files}), encoding="utf-8")
            tmp.replace(self.path)  # whole file or nothing; concurrent runs: the last one's wins
        except OSError:
            pass

    def _configs(self, folder: Path) -> str:
        """A digest of every config file sqlfluff reads for a file in `folder`: those of the folder
        and of every folder above it, and the user's."""
        folder = folder.absolute()
        if folder not in self._dirs:
            h = hashlib.sha256()
            for d in [*reversed(folder.parents), folder, *_user_config_dirs()]:
                for name in CONFIG_FILES:
                    try:
                        h.update(f"{d / name}\0".encode() + (d / name).read_bytes() + b"\0")
                    except OSError:  # absent (or a folder): nothing to read
                        pass
            self._dirs[folder] = h.hexdigest()
        return self._dirs[folder]


def _user_config_dirs() -> list[Path]:
    home = Path.home()
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [home, Path(xdg) / "sqlfluff"]


def _tool_fingerprint() -> str:
    """sqlfluff's version, its plugins' (they can add rules and dialects) and the forced settings."""
    from importlib import metadata

    try:
        parts = [f"sqlfluff {metadata.version('sqlfluff')}"]
    except metadata.PackageNotFoundError:
        parts = ["sqlfluff ?"]
    for ep in sorted(metadata.entry_points(group="sqlfluff"), key=lambda e: (e.name, e.value)):
        dist = getattr(ep, "dist", None)
        parts.append(f"{ep.name}={ep.value} {dist.name if dist else ''} {dist.version if dist else ''}")
    parts.append(json.dumps(FORCED, sort_keys=True))
    return "\n".join(parts)
