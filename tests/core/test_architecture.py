"""The layout the build enforces (docs/architecture.md): every write in a services module, no
module over 600 lines, no admin class over 200 lines, and the import contracts in force.

The write scan reads every module of the apps as an AST (tests, benchmarks and migrations
aside) and reports each call that changes the database outside a `services` package: the ORM's
writing methods, a model form's or formset's `save()`, and raw SQL that inserts, updates,
deletes or moves a sequence.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "core",
    "ledger",
    "governance",
    "allocations",
    "service_requests",
    "participants",
    "exchange",
    "integrations",
    "oversight",
    "hms_portal",
)
MAX_MODULE_LINES = 600
MAX_ADMIN_CLASS_LINES = 200

# Methods that write whatever object they are called on.
ALWAYS_WRITES = frozenset({"bulk_create", "bulk_update", "get_or_create", "update_or_create"})
# Methods that write when called on a manager or a queryset (`Model.objects...`, a related
# manager, a chain of queryset calls), not on a dict, a cache or a session.
WRITES_ON_QUERYSETS = frozenset({"create", "update", "delete"})
NOT_THE_DATABASE = frozenset({"cache", "caches", "session", "data", "headers", "meta"})
# Names that make a chain a manager or a queryset.
QUERYSET_NAMES = frozenset(
    {"objects", "_default_manager", "history", "filter", "exclude", "all", "select_for_update"}
)
SQL_WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|setval\s*\()")

# The places that may write without a services module, each for a reason of its own.
ALLOWED: dict[str, str] = {
    # Sets the role groups' permissions; data migrations call it with historical models, which
    # no service can take.
    "core/roles.py:sync_roles": "get_or_create",
    # Creates the named system user on first use: history needs an actor before any service
    # can run, and core imports no app's services.
    "core/audit.py:system_user": "get_or_create",
}


@dataclass(frozen=True)
class Write:
    path: str
    function: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}(): {self.what}"


def _modules() -> list[Path]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            found.append(path)
    return found


def _exempt(path: Path) -> bool:
    """Services hold the writes; models may write inside their own methods."""
    parts = path.relative_to(ROOT).parts
    return "services" in parts or parts[-1] == "models.py" or "models" in parts[:-1]


def _receiver_root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _chain_names(node: ast.expr) -> list[str]:
    names: list[str] = []
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return names


def _is_write(call: ast.Call) -> str | None:
    if not isinstance(call.func, ast.Attribute):
        return None
    method = call.func.attr
    receiver = call.func.value
    names = _chain_names(receiver)
    if NOT_THE_DATABASE & set(names):
        return None
    if method in ALWAYS_WRITES:
        return method
    if method == "save":
        if any(k.arg == "commit" for k in call.keywords):
            return None  # `form.save(commit=False)` builds the object without saving it
        if call.args:
            return None  # a file or a workbook saved to a path or a buffer, not a row
        if isinstance(receiver, ast.Call) and _chain_names(receiver)[-1:] == ["super"]:
            return None
        return "save"
    if method in WRITES_ON_QUERYSETS:
        on_queryset = bool(QUERYSET_NAMES & set(names))
        on_related = isinstance(receiver, ast.Attribute) and receiver.attr.endswith("_set")
        named = isinstance(receiver, ast.Name) and receiver.id.endswith(("queryset", "qs"))
        if on_queryset or on_related or named:
            return method
    return None


def _scan(path: Path) -> list[Write]:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(ROOT).as_posix()
    writes: list[Write] = []
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call) and (what := _is_write(child)):
                writes.append(Write(relative, name, child.lineno, what))
            if (
                isinstance(child, ast.Constant)
                and isinstance(child.value, str)
                and id(child) not in docstrings
                and (match := SQL_WRITE.search(child.value))
            ):
                writes.append(Write(relative, name, child.lineno, f"SQL {match.group(1)}"))
            visit(child, name)

    visit(tree, "<module>")
    return writes


def writes_outside_services() -> list[Write]:
    found = []
    for path in _modules():
        if _exempt(path):
            continue
        for write in _scan(path):
            if ALLOWED.get(f"{write.path}:{write.function}") == write.what:
                continue
            found.append(write)
    return found


def test_every_write_lives_in_a_services_module() -> None:
    found = writes_outside_services()
    assert not found, "Writes outside services:\n" + "\n".join(map(str, found))


def test_the_allow_list_stays_short_and_every_entry_is_still_needed() -> None:
    assert len(ALLOWED) <= 3
    for place, what in ALLOWED.items():
        path, function = place.split(":")
        assert any(w.function == function and w.what == what for w in _scan(ROOT / path)), place


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Thing.objects.filter(a=1).update(b=2)", ["update"]),
        ("Thing.objects.create(a=1)", ["create"]),
        ("obj.save(update_fields=['a'])", ["save"]),
        ("form.save(commit=False)", []),
        ("workbook.save(buffer)", []),
        ("super().save(*args, **kwargs)", []),
        ("cache.delete('key')", []),
        ("request.session.update({'a': 1})", []),
        ("values.update({'a': 1})", []),
        ("options.setdefault('a', {}).update({'b': 1})", []),
        ("globals().update(config)", []),
        ("pending_qs.delete()", ["delete"]),
        ("service_request.comment_set.create(text='x')", ["create"]),
        ("Thing.objects.bulk_create(rows)", ["bulk_create"]),
        ("cursor.execute('UPDATE ledger_account SET x = 1')", ["SQL UPDATE ledger_account SET"]),
        ("cursor.execute(\"SELECT setval('s', 3)\")", ["SQL setval("]),
        ("cursor.execute('SELECT 1 FROM t')", []),
    ],
)
def test_the_scan_tells_writes_from_other_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: list[str]
) -> None:
    module = tmp_path / "probe.py"
    module.write_text(f"def probe():\n    {source}\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert [w.what for w in _scan(module)] == expected


def test_no_module_is_over_600_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): count
        for path in _modules()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"Modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_admin_class_is_over_200_lines() -> None:
    long = {}
    for path in _modules():
        if path.name != "admin.py" and "admin" not in path.parts:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_ADMIN_CLASS_LINES:
                    long[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = size
    assert not long, f"Admin classes over {MAX_ADMIN_CLASS_LINES} lines: {long}"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["lint-imports", "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the apps' Python files and the import contracts, to break on purpose."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for path in _modules():
        target = tree / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    for app in APPS:
        for init in (ROOT / app).rglob("__init__.py"):
            target = tree / init.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(init, target)
    return tree


def test_the_import_contracts_hold(source_tree: Path) -> None:
    result = _lint_imports(source_tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The upward imports the layers used to have, put back one at a time.
        ("allocations/models.py", "from integrations import events", "allocations is not allowed"),
        ("service_requests/models.py", "import integrations.models", "service_requests is not"),
        ("governance/models/__init__.py", "from core import money", None),
        ("governance/models/__init__.py", "import ledger.models", "governance is not allowed"),
        ("ledger/models.py", "import governance.models", "ledger is not allowed"),
        ("core/money.py", "import ledger.models", "core is not allowed"),
        ("participants/apps.py", "import allocations.models", "participants"),
        ("ledger/models.py", "import hms_portal.settings", "ledger is not allowed"),
    ],
)
def test_an_upward_import_breaks_the_build(
    source_tree: Path, module: str, line: str, broken: str | None
) -> None:
    path = source_tree / module
    original = path.read_text()
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = _lint_imports(source_tree)
    finally:
        path.write_text(original)
    if broken is None:
        assert result.returncode == 0, result.stdout
    else:
        assert result.returncode != 0
        assert broken in result.stdout


def test_an_import_circle_inside_an_app_breaks_the_build(source_tree: Path) -> None:
    path = source_tree / "ledger" / "selectors.py"
    original = path.read_text()
    path.write_text(f"{original}\n\ndef _circle() -> None:\n    from ledger import tasks  # noqa\n")
    tasks = source_tree / "ledger" / "tasks.py"
    tasks_original = tasks.read_text()
    back = "\n\ndef _back() -> None:\n    from ledger import selectors\n"
    tasks.write_text(tasks_original + back)
    try:
        result = _lint_imports(source_tree)
    finally:
        path.write_text(original)
        tasks.write_text(tasks_original)
    assert result.returncode != 0
    assert "No cycles are allowed in ledger" in result.stdout
