"""Read gettext catalogues without GNU gettext or polib: a small .po parser and the message
extraction of the public pages (Django's `makemessages` in a throw-away copy of the sources).
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPANISH_PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
SPANISH_MO = SPANISH_PO.with_suffix(".mo")

# The civilian-facing sources (the same scope as scripts/makemessages.sh): every template but
# the staff screens, and the code of service_requests, participants and exchange but their staff
# admin, API and migrations.
PUBLIC_PACKAGES = ("service_requests", "participants", "exchange")
PUBLIC_TEMPLATE_EXCLUDES = ("governance", "allocations", "admin", "oversight")
PUBLIC_PYTHON_EXCLUDES = ("admin", "admin.py", "api.py", "migrations", "management")


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    msgctxt: str | None = None
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        if self.msgid_plural is not None:
            return bool(self.msgstr_plural) and all(self.msgstr_plural.values())
        return bool(self.msgstr)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


def _unquote(text: str) -> str:
    value = ast.literal_eval(text.strip())
    if not isinstance(value, str):
        raise ValueError(f"not a string: {text!r}")
    return value


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header, msgid "", included)."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None
    flags: set[str] = set()

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            flags = set()
            target = None
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        if line.startswith("msgctxt "):
            finish()
            current = Entry(msgid="", msgctxt=_unquote(line[8:]), flags=flags, obsolete=obsolete)
            target = ("msgctxt", None)
        elif line.startswith("msgid_plural "):
            assert current is not None
            current.msgid_plural = _unquote(line[13:])
            target = ("msgid_plural", None)
        elif line.startswith("msgid "):
            if current is None or current.msgid or target != ("msgctxt", None):
                finish()
                current = Entry(msgid="", flags=flags, obsolete=obsolete)
            current.msgid = _unquote(line[6:])
            target = ("msgid", None)
        elif line.startswith("msgstr["):
            assert current is not None
            index = int(line[7 : line.index("]")])
            current.msgstr_plural[index] = _unquote(line[line.index("]") + 1 :])
            target = ("msgstr_plural", index)
        elif line.startswith("msgstr "):
            assert current is not None
            current.msgstr = _unquote(line[7:])
            target = ("msgstr", None)
        elif line.startswith('"'):
            assert current is not None
            assert target is not None
            name, index = target
            more = _unquote(line)
            if name == "msgstr_plural" and index is not None:
                current.msgstr_plural[index] += more
            elif name == "msgctxt":
                current.msgctxt = (current.msgctxt or "") + more
            else:
                setattr(current, name, getattr(current, name) + more)
    finish()
    return entries


def _public_sources(destination: Path) -> None:
    """Copy the civilian-facing templates and Python sources under `destination`."""
    templates = ROOT / "templates"
    for path in templates.rglob("*"):
        relative = path.relative_to(templates)
        if path.is_dir() or relative.parts[0] in PUBLIC_TEMPLATE_EXCLUDES:
            continue
        if path.suffix not in (".html", ".txt"):
            continue
        target = destination / "templates" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for name in PUBLIC_PACKAGES:
        package = ROOT / name
        for path in package.rglob("*.py"):
            relative = path.relative_to(package)
            if relative.parts[0] in PUBLIC_PYTHON_EXCLUDES or "__pycache__" in relative.parts:
                continue
            target = destination / name / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def extract_with_makemessages(workdir: Path) -> list[Entry]:
    """Run Django's makemessages (GNU xgettext) over a copy of the public sources in `workdir`
    and return the messages it found. Nothing is written outside `workdir`."""
    import os

    from django.core.management import call_command
    from django.test import override_settings

    _public_sources(workdir)
    locale = workdir / "locale"
    locale.mkdir()
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        with override_settings(LOCALE_PATHS=[str(locale)]):
            call_command(
                "makemessages",
                locale=["es"],
                domain="django",
                extensions=["html", "txt", "py"],
                no_location=True,
                verbosity=0,
            )
    finally:
        os.chdir(previous)
    return parse_po(locale / "es" / "LC_MESSAGES" / "django.po")


GETTEXT_FUNCTIONS = {
    # name: (index of the context argument or None, number of message arguments)
    "_": (None, 1),
    "gettext": (None, 1),
    "gettext_lazy": (None, 1),
    "gettext_noop": (None, 1),
    "ngettext": (None, 2),
    "ngettext_lazy": (None, 2),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 2),
    "npgettext_lazy": (0, 2),
}


def _calls(source: str) -> list[Entry]:
    """The gettext calls with literal arguments in Python-like `source` (Python files, and
    templates after Django's `templatize`), found with the tokenizer as xgettext does."""
    import io
    import tokenize

    found: list[Entry] = []
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT)
        and t.type != tokenize.DEDENT
    ]
    for index, token in enumerate(tokens[:-2]):
        if token.type != tokenize.NAME or token.string not in GETTEXT_FUNCTIONS:
            continue
        if index and tokens[index - 1].string in (".", "def"):
            continue
        if tokens[index + 1].string != "(":
            continue
        context_at, wanted = GETTEXT_FUNCTIONS[token.string]
        arguments: list[str] = []
        position = index + 2
        while len(arguments) < wanted + (context_at is not None):
            parts = []
            while position < len(tokens) and tokens[position].type == tokenize.STRING:
                parts.append(ast.literal_eval(tokens[position].string))
                position += 1
            if not parts:
                break
            arguments.append("".join(parts))
            if position < len(tokens) and tokens[position].string == ",":
                position += 1
        if len(arguments) < wanted + (context_at is not None):
            continue  # a variable, not a literal: nothing to extract
        context = arguments.pop(0) if context_at is not None else None
        entry = Entry(msgid=arguments[0], msgctxt=context)
        if wanted == 2:
            entry.msgid_plural = arguments[1]
        found.append(entry)
    return found


def extract_in_python() -> list[Entry]:
    """The same scope as `extract_with_makemessages`, without GNU gettext: Python files are
    tokenized; templates go through Django's own `templatize` first (what makemessages does
    before it calls xgettext)."""
    import tempfile

    from django.utils.translation.template import templatize

    entries: list[Entry] = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        _public_sources(copy)
        for path in sorted(copy.rglob("*")):
            if path.suffix == ".py":
                entries += _calls(path.read_text(encoding="utf-8"))
            elif path.suffix in (".html", ".txt"):
                entries += _calls(templatize(path.read_text(encoding="utf-8"), origin=str(path)))
    return entries
