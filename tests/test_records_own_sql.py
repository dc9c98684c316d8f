"""`qc/records` owns every SQL statement (issue #25): no module of the app outside it (the rest of `qc/`, `pages/`,
`app.py`) writes SQL or touches the database directly; they call `store.method(...)` or a function of a records
module (docs/architecture.md, "The records layer").

Read from the source with `ast`, so a comment or a docstring that mentions a table does not count. What counts as
touching the database directly:
- `x.db` (the sqlite-utils `Database` of a `Store`), whatever is done with it;
- `db[...]` (a sqlite-utils table), and `with store.write() as db:` (taking the transaction's database to use it;
  `with store.write():` alone, to make several records calls one transaction, is allowed);
- a call to `.execute`, `.executemany`, `.executescript`, `pandas.read_sql*` or `sqlite3.connect`;
- a string that reads as an SQL statement (select … from, insert into, update … set, delete from, create/alter/drop
  table, pragma).
tests/ and bench/ are not the app: they may read the database to check it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SQL_CALLS = {"execute", "executemany", "executescript", "read_sql", "read_sql_query", "read_sql_table"}
SQL_TEXT = re.compile(
    r"^\s*(select\s.+?\sfrom\s+\w|insert\s+(or\s+\w+\s+)?into\s|update\s+\w+\s+set\s|delete\s+from\s|"
    r"(create|alter|drop)\s+(table|index|trigger|view)\s|pragma\s+\w+)",
    re.IGNORECASE | re.DOTALL,
)


def app_modules() -> list[Path]:
    """Every source file of the app outside the records layer."""
    files = [REPO / "app.py", *sorted((REPO / "pages").rglob("*.py"))]
    files += [p for p in sorted((REPO / "qc").rglob("*.py")) if (REPO / "qc" / "records") not in p.parents]
    return files


def _text_of(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's literal parts joined (its placeholders as `?`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
    return None


def _is_db(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "db") or (isinstance(node, ast.Attribute) and node.attr == "db")


def sql_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for every place where `source` writes SQL or touches the database directly."""
    tree = ast.parse(source)
    skip = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # an f-string is read whole
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "db":
            found.append((node.lineno, f"{ast.unparse(node)} (the store's database)"))
        elif isinstance(node, ast.Subscript) and _is_db(node.value):
            found.append((node.lineno, f"{ast.unparse(node)} (a table)"))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None and isinstance(node.context_expr, ast.Call) \
                and isinstance(node.context_expr.func, ast.Attribute) and node.context_expr.func.attr == "write":
            found.append((node.context_expr.lineno, f"with {ast.unparse(node.context_expr)} as {ast.unparse(node.optional_vars)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in SQL_CALLS or (node.func.attr == "connect" and ast.unparse(node.func.value) == "sqlite3")):
            found.append((node.lineno, f"{ast.unparse(node.func)}(…)"))
        elif id(node) not in skip and (text := _text_of(node)) is not None and SQL_TEXT.match(text):
            found.append((node.lineno, f"SQL text {text[:60]!r}"))
    return found


def test_no_module_outside_records_writes_sql():
    bad = [f"{path.relative_to(REPO)}:{line}: {what}"
           for path in app_modules() for line, what in sql_uses(path.read_text(encoding="utf-8"))]
    assert not bad, "SQL outside qc/records (move it into a records module and call that):\n" + "\n".join(bad)


def test_the_scan_sees_each_kind():
    """The checker itself: each way of reaching the database is caught, and the allowed forms are not."""
    caught = {
        "n = store.db['sessions'].count": 2,  # .db and db[...]
        "rows = store.db.query('select id from sessions')": 2,
        "with store.write() as db:\n    db['inbox'].update(1, {})": 2,
        "cur.execute('update inbox set path = ?', [p])": 2,  # the call and its SQL
        "sql = f\"select * from inbox where state in ({q})\"": 1,
        "conn = sqlite3.connect(path)": 1,
        "df = pd.read_sql_query(sql, conn)": 1,
        "s = 'PRAGMA wal_checkpoint(TRUNCATE)'": 1,
    }
    for source, n in caught.items():
        assert len(sql_uses(source)) == n, (source, sql_uses(source))
    allowed = [
        "with store.write():\n    store.void_session(1, 'x', 'u')",
        "d, j = cKDTree(points).query(predicted)",  # not SQL: a k-d tree's query
        "def f():\n    '''Select the image from the list.'''",
        "msg = 'Sélectionnez les images depuis le dossier'",
        "rows = inbox_rows_in_states(store, ('waiting',))",
    ]
    for source in allowed:
        assert sql_uses(source) == [], (source, sql_uses(source))
