"""The Arabic catalog is complete and the code speaks through it.

- every msgid of ``locales/messages.pot`` has an Arabic translation (all plural forms, none fuzzy), and the
  translation keeps the msgid's ``{placeholders}`` (a missing one would raise, a new one would leak a brace);
- the committed ``.pot`` is exactly what extraction finds in the code today (an extraction diff): a new
  ``_()`` string that nobody extracted and translated fails here, and so does a stale msgid;
- a translated module shows no English that bypasses the catalog: every prose string constant in it is inside
  ``_()`` / ``ngettext`` / ``N_`` / ``say``. Modules not yet routed through the catalog are listed in
  ``NOT_YET_TRANSLATED`` — an honest, shrinking allowlist (a module that becomes clean must leave it).
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dashboard import i18n
from dashboard.i18n import _, ngettext

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "locales" / "messages.pot"
PO = ROOT / "locales" / "ar" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None, "say": None, "gettext": None}

# Pages and modules still speaking English only; the lead routes them through the catalog after the neighbouring
# issues (#13, #14, #16, #19) merge their edits to them. Shrink this list; never grow it.
NOT_YET_TRANSLATED: set[str] = set()  # empty: every staff-facing module speaks through the catalog
# Not staff-facing: operators' CLIs and settings errors, the customer's own pages (bilingual on their own),
# server plumbing. They are not scanned.
NOT_STAFF_FACING = {
    "dashboard/__main__.py", "dashboard/demo.py", "dashboard/demo_args.py", "dashboard/cli_sync.py",
    "dashboard/settings.py", "dashboard/customer_pages.py", "dashboard/receipt.py", "dashboard/routes.py",
    "dashboard/runtime.py", "dashboard/startup.py", "dashboard/background.py", "dashboard/i18n.py",
    "dashboard/safe.py", "dashboard/reads.py", "dashboard/page_entry.py",
}
BRANDS = {"Souq Desk", "Apple Pay", "Google Pay", "Samsung Pay", "KNET", "Amex", "English", "UPayments"}
# keyword arguments whose text is never shown
NOT_SHOWN_KWARGS = {"key", "type", "icon", "format", "mime", "file_name", "width", "height", "selection_mode",
                    "vertical_alignment", "icon_position", "on_click", "on_change", "label_visibility", "state",
                    "gap", "border", "url_path", "visibility", "layout", "page_icon", "unsafe_allow_javascript",
                    # plotly: code words and d3 format patterns (patterns, like strftime's), as a keyword or a key
                    "hovermode", "colorscale", "family", "tickformat", "hoverformat"}
# calls whose string arguments are patterns or keys, not shown text
NOT_SHOWN_CALLS = {"format_datetime", "format_date", "strftime", "get", "pop", "setdefault"}
_PROSE = re.compile(r"[A-Za-z]{2,}")


def _ids(catalog_path: Path) -> dict[str, object]:
    with catalog_path.open("rb") as f:
        catalog = read_po(f)
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _s, _c in string.Formatter().parse(text) if f is not None}


def test_every_msgid_has_an_arabic_translation_that_keeps_its_placeholders() -> None:
    pot, po = _ids(POT), _ids(PO)
    missing = sorted(set(pot) - set(po))
    assert not missing, f"msgids not in the Arabic catalog (run scripts/i18n extract): {missing}"
    problems = []
    for msgid in pot:
        message = po[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        if message.fuzzy or not all(strings):  # type: ignore[attr-defined]
            problems.append(f"untranslated: {msgid!r}")
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)  # type: ignore[attr-defined]
        wanted = set().union(*(_fields(i) for i in ids))
        for text in strings:
            if _fields(text) != wanted and not (len(ids) > 1 and _fields(text) <= wanted):
                problems.append(f"placeholders differ: {msgid!r} → {text!r}")
    assert not problems, "\n".join(problems)


def _extracted() -> set[str]:
    method_map = [("app.py", "python"), ("dashboard/**.py", "python"), ("pages/**.py", "python"),
                  ("services/**.py", "python")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_committed_template_is_what_the_code_says_today() -> None:
    code, pot = _extracted(), set(_ids(POT))
    assert not code - pot, f"in the code but not extracted (run scripts/i18n extract, translate): {sorted(code - pot)}"
    assert not pot - code, f"in locales/messages.pot but gone from the code: {sorted(pot - code)}"


def _inside_catalog_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Call):
            func = parent.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in KEYWORDS or name in NOT_SHOWN_CALLS:
                return True
            if name in {"debug", "info", "warning", "exception", "error"} and isinstance(func, ast.Attribute) \
                    and isinstance(func.value, ast.Name) and func.value.id in {"log", "logger", "logging"}:
                return True
        if isinstance(parent, ast.keyword) and parent.arg in NOT_SHOWN_KWARGS:
            return True
        if isinstance(parent, ast.Subscript) and node is parent.slice:
            return True  # st.session_state["..."], row["column"]: keys
        if isinstance(parent, ast.Compare):
            return True  # comparing with a fixed code word
        if isinstance(parent, ast.Dict) and node in parent.values:  # {"hovermode": "x unified"}: as a keyword
            key = parent.keys[parent.values.index(node)]
            if isinstance(key, ast.Constant) and key.value in NOT_SHOWN_KWARGS:
                return True
        if isinstance(parent, ast.Dict) and node in parent.keys:  # a code word keying a label: {"pending": N_(…)}
            value = parent.values[parent.keys.index(node)]
            return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in KEYWORDS
        node = parent
    return False


def bypasses(path: Path) -> list[str]:
    """Prose string constants in ``path`` that do not go through the catalog."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        text = node.value.strip()
        if not _PROSE.search(text) or text in BRANDS or text.startswith((":material/", "pages/", "http", "<")):
            continue
        prose = " " in text or bool(re.match(r"^[A-Z][a-z]", text))
        if prose and not _inside_catalog_call(node, parents):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {text[:60]!r}")
    return found


def _staff_facing() -> list[Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "dashboard").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]
    return [f for f in files if str(f.relative_to(ROOT)) not in NOT_STAFF_FACING and f.name != "__init__.py"]


@pytest.mark.parametrize("path", [p for p in _staff_facing() if str(p.relative_to(ROOT)) not in NOT_YET_TRANSLATED],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_translated_modules_show_no_english_outside_the_catalog(path: Path) -> None:
    assert not bypasses(path), "\n".join(bypasses(path))


def test_the_not_yet_translated_allowlist_only_holds_modules_that_still_need_it() -> None:
    for name in sorted(NOT_YET_TRANSLATED):
        assert (ROOT / name).exists(), f"{name} is gone: drop it from NOT_YET_TRANSLATED"
        assert bypasses(ROOT / name), f"{name} is clean now: drop it from NOT_YET_TRANSLATED"


def test_the_scan_catches_a_bare_label() -> None:
    probe = ROOT / "tests" / "unit" / "_catalog_probe.py"
    probe.write_text('import streamlit as st\nst.title(_("Fine"))\nst.button("Send it", key="send_it")\n')
    try:
        assert [b.split(" ", 1)[1] for b in bypasses(probe)] == ["'Send it'"]
    finally:
        probe.unlink()


def test_arabic_comes_from_the_catalog_per_context() -> None:
    with i18n.use("ar"):
        assert _("Audit log") == "سجل التدقيق"
        assert i18n.is_rtl()
        with i18n.use("en"):
            assert _("Audit log") == "Audit log"
        assert ngettext("{n} day ago", "{n} days ago", 2).format(n=2) != "2 days ago"
    assert _("Audit log") == "Audit log"  # nothing leaked out of the block


def test_compile_writes_mo_files_that_gettext_reads(tmp_path: Path) -> None:
    written = i18n.compile_catalogs()
    assert [p.relative_to(ROOT).as_posix() for p in written] == ["locales/ar/LC_MESSAGES/messages.mo"]
    i18n.translations.cache_clear()
    with i18n.use("ar"):
        assert _("Log out") == "تسجيل الخروج"
