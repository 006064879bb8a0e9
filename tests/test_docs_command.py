"""`dbtool docs`: the committed schema documents (docs/schema/) are what the committed snapshot
gives, the picture names every table, the command documents any database (a small schema of its
own here) deterministically, `--check` names what is stale, and without Graphviz the Markdown is
still written and the skipped pictures are said."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbtool import catalog
from dbtool.cli import app
from dbtool.commands import docs as docs_cmd
from dbtool import snapshots as snap_cmd
from dbtool.schemadoc import diagram, markdown, model

runner = CliRunner()
COMMITTED = "docs/schema"
REGENERATE = "make schema-docs"


def committed_inputs(project):
    """What `make schema-docs` documents, and the texts it writes into README.md."""
    out = project.root / COMMITTED
    snap, source, regenerate = docs_cmd.load(project, out, snapshot_file=project.root / "schema" / "snapshot.yaml")
    return snap, source, regenerate, out


def test_committed_schema_docs_are_what_the_committed_snapshot_gives(project):
    snap, source, regenerate, out = committed_inputs(project)
    res = docs_cmd.docs(snap, project, out, source=source, regenerate=regenerate, check=True)
    assert not res.stale, (f"{COMMITTED}/ is stale ({', '.join(res.stale)}): run `{REGENERATE}` and commit it "
                           "(tests/test_snapshot.py checks that schema/snapshot.yaml, its source, is fresh)")
    assert {"README.md", "schema.dot", "public.deals.md", "timeline.activity_timeline.md"} <= set(res.files)


def test_every_table_and_column_of_the_schema_says_what_it_holds(project):
    """COMMENT ON is where the documents take their descriptions from (migration 0020 and sql/views)."""
    data = snap_cmd.read_file(project.root / "schema" / "snapshot.yaml").data
    bare = [n for kind in ("table", "view", "column") for n, a in data[kind].items() if not a.get("comment")]
    assert not bare, f"no COMMENT ON for: {', '.join(bare[:20])}"


def test_the_rendered_svg_is_well_formed_and_names_every_table(project):
    dot = diagram.dot_binary()
    if not dot:
        pytest.skip("Graphviz's dot is not installed (scripts/install-postgres.sh installs it)")
    snap = snap_cmd.read_file(project.root / "schema" / "snapshot.yaml")
    m = model.build(snap.data, project.section("rls"), snap.version, snap.edition)
    svg = ET.fromstring(diagram.render(dot, diagram.dot_source(m), "svg"))
    ns = "{http://www.w3.org/2000/svg}"
    titles = {t.text for g in svg.iter(f"{ns}g") if g.get("class") == "node" for t in g.iter(f"{ns}title")}
    texts = " ".join(t.text or "" for t in svg.iter(f"{ns}text"))
    tables = set(snap.data["table"])
    assert tables <= titles, f"not drawn: {sorted(tables - titles)}"
    assert all(name.split(".", 1)[1] in texts for name in tables)
    private = set(re.findall(r"schema (\w+)\s+\(private\)", texts))  # the private schemas' clusters
    assert private == {"timeline", "app_private", "audit"}
    assert "public.activity_timeline" in titles  # the tenant-filtered view in front of the private hypertable


SMALL = """
CREATE SCHEMA crm;
CREATE SCHEMA vault;
CREATE TABLE crm.accounts (id integer PRIMARY KEY, name text NOT NULL);
COMMENT ON TABLE crm.accounts IS 'Customer accounts';
CREATE TABLE crm.contacts (
    id integer PRIMARY KEY,
    tenant_id integer NOT NULL REFERENCES crm.accounts (id),
    email text NOT NULL DEFAULT 'x@example.org',
    manager_id integer REFERENCES crm.contacts (id)
);
COMMENT ON COLUMN crm.contacts.email IS 'Where | to write';
ALTER TABLE crm.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY by_tenant ON crm.contacts USING (tenant_id = current_setting('app.tenant')::integer);
CREATE INDEX contacts_email ON crm.contacts (lower(email));
CREATE TABLE crm.notes (id integer PRIMARY KEY, tenant_id integer NOT NULL, body text);
CREATE TABLE vault.secrets (id integer PRIMARY KEY, tenant_id integer NOT NULL, secret bytea);
CREATE VIEW crm.contact_emails AS SELECT c.id, c.email FROM crm.contacts AS c;
COMMENT ON COLUMN crm.contact_emails.email IS 'the contact''s address';
CREATE MATERIALIZED VIEW crm.account_sizes AS SELECT a.id, count(c.id) AS contacts
    FROM crm.accounts AS a LEFT JOIN crm.contacts AS c ON c.tenant_id = a.id GROUP BY a.id;
GRANT SELECT ON crm.contacts TO PUBLIC;
"""


@pytest.fixture
def small_db(empty_db, conn_to, tmp_project):
    conn_to(empty_db).execute(SMALL)
    tmp_project.write("pyproject.toml", '[tool.dbtool]\ndatabase = "scratch"\n[tool.dbtool.rls]\n'
                                        'private_schemas = ["vault"]\n')
    return empty_db, tmp_project.path


def run_docs(url: str, root: Path, out: Path, *extra: str):
    return runner.invoke(app, ["docs", "-d", url, "--out", str(out), "--project", str(root), *extra])


def test_docs_documents_a_schema_of_its_own_deterministically(small_db, tmp_path):
    url, root = small_db
    first = tmp_path / "docs"
    assert run_docs(url, root, first).exit_code == 0
    written = {p.name: p.read_bytes() for p in first.iterdir()}
    res = run_docs(url, root, first)
    assert res.exit_code == 0, res.output
    assert {p.name: p.read_bytes() for p in first.iterdir()} == written  # same schema, same bytes
    names = sorted(written)
    assert {"README.md", "schema.dot", "crm.accounts.md", "crm.contacts.md", "crm.notes.md", "vault.secrets.md",
            "crm.contact_emails.md", "crm.account_sizes.md"} <= set(names)
    readme = (first / "README.md").read_text()
    assert 'crm__accounts ||--o{ crm__contacts : "tenant_id"' in readme
    assert 'crm__contacts |o--o{ crm__contacts : "manager_id"' in readme
    contacts = (first / "crm.contacts.md").read_text()
    assert "**tenant-isolated**: Row-level security enabled and forced" in contacts and "by_tenant" in contacts
    assert r"| `email` | `text` |  | `'x@example.org'::text` | NOT NULL | Where \| to write |" in contacts
    assert "contacts_email" in contacts and "| PUBLIC | SELECT |" in contacts
    assert "**tenant data without RLS**" in (first / "crm.notes.md").read_text()
    assert "**private**: Private schema `vault`" in (first / "vault.secrets.md").read_text()
    view = (first / "crm.contact_emails.md").read_text()
    assert "the contact's address" in view and "```sql" in view
    assert "| reads | [crm.contacts](crm.contacts.md) |" in view
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|oid", readme + contacts)  # no dates, no OIDs


def test_check_names_stale_and_left_over_files_and_the_command_that_regenerates(small_db, tmp_path, conn_to):
    url, root = small_db
    out = tmp_path / "docs"
    assert run_docs(url, root, out).exit_code == 0
    ok = run_docs(url, root, out, "--check")
    assert ok.exit_code == 0 and "is up to date" in ok.stdout
    (out / "crm.notes.md").write_text((out / "crm.notes.md").read_text() + "edited\n")
    conn_to(url).execute("DROP TABLE crm.notes")
    res = run_docs(url, root, out, "--check")
    assert res.exit_code == 1
    assert "stale" in res.stdout and "crm.notes.md" in res.stdout  # its table is gone: a left-over page
    said = " ".join(res.stderr.split())
    assert "is stale: README.md, crm.notes.md, schema.dot" in said
    assert f"hint: regenerate with `dbtool docs -d URL --out {out}`" in said
    assert run_docs(url, root, out).exit_code == 0
    assert not (out / "crm.notes.md").exists()  # the page of the dropped table is removed
    (out / "mine.md").write_text("# a file of the user's\n")
    assert run_docs(url, root, out, "--check").exit_code == 0 and (out / "mine.md").exists()  # never touched


def test_without_graphviz_the_markdown_is_written_and_the_skipped_pictures_are_said(small_db, tmp_path, monkeypatch):
    url, root = small_db
    monkeypatch.setattr(diagram, "dot_binary", lambda: None)
    out = tmp_path / "docs"
    res = run_docs(url, root, out)
    assert res.exit_code == 0, res.output
    assert not (out / "schema.svg").exists() and not (out / "schema.png").exists()
    assert (out / "schema.dot").is_file() and "```mermaid" in (out / "README.md").read_text()
    said = " ".join(res.stderr.split())
    assert "note: schema.svg and schema.png not rendered: Graphviz's `dot` is not installed" in said
    assert "apt-get install graphviz" in said


def test_view_column_comments_are_schema_and_drift(empty_db, conn_to):
    """A view's column comments (and grants) are in the snapshot, kind view_column, so the documents
    can show them and drift sees them change."""
    conn = conn_to(empty_db)
    conn.execute("CREATE VIEW public.v AS SELECT 1 AS a, 'x'::text AS b; COMMENT ON COLUMN public.v.b IS 'bee'")
    before = snap_cmd.take(empty_db).data
    assert before["view_column"]["public.v.b"] == {"position": 2, "type": "text", "comment": "bee"}
    conn.execute("COMMENT ON COLUMN public.v.b IS 'wasp'")
    changes = catalog.diff(before, snap_cmd.take(empty_db).data)
    assert [(c.action, c.kind, c.name) for c in changes] == [("changed", "view_column", "public.v.b")]


def test_a_pipe_or_newline_in_catalog_text_stays_in_its_table_cell():
    assert markdown.cell("a | b\nc") == r"a \| b c"
    assert markdown.code(True) == "`true`" and markdown.code({"b": 1, "a": None}) == '`{"a": null, "b": 1}`'
