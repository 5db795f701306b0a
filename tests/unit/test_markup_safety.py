"""Data is never markup: an AST scan of pages/ and dashboard/ for Streamlit calls that would render data as Markdown.

Streamlit renders most strings as Markdown (see ``dashboard/safe.py`` for the list, checked in a browser). This test
finds every such call and proves, from the source alone, that each piece of its text is either fixed text or went
through ``md()``. What counts as safe (anything else is an offence):

- string constants, ``UPPER_CASE`` names and ``UPPER_CASE[...]`` look-ups (fixed label tables);
- f-string parts formatted as numbers (``{n:d}``, ``{n:,}``, ``{r:.1%}``: the spec raises on a string);
- calls to ``md``, ``money``, ``kuwait_time``, ``ago``, ``len``, or to a function of the same module whose every
  ``return`` is safe; ``+``, ``x if c else y``, ``a or b`` and ``"sep".join(...)`` of safe parts;
- a local name whose every assignment in the same function (or module) is safe.

Also: ``st.table`` gets ``md_cells(...)`` (its cells are Markdown),
``st.dataframe`` gets ``cells(...)``, ``st.text``/``st.code`` get ``plain(...)``/``md``-free text, selectbox and
multiselect ``format_func`` lambdas return ``plain``/safe text, and ``unsafe_allow_html`` carries no data.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SAFE_CALLS = {"md", "money", "kuwait_time", "ago", "len", "urlencode", "quote",  # the last two: %-encoded URLs
              # our own: md() then a bidi isolate; digits only; Babel's day names; explain() escapes its data
              "md_iso", "number", "short_day", "month_name", "kuwait_day", "explain_md",
              "percent", "decimal_text",  # digits, separators and a per cent sign only
              "said_md"}  # a service's sentence: translated, its values escaped (as explain_md)
# In a plain-text context (st.text, selectbox options) these are enough: bidi controls stripped (and, for the
# second, the value wrapped in our own isolate).
PLAIN_CALLS = {"plain", "plain_iso", "said_plain"}
# The catalog: our own text when what is looked up is; ``.format`` of it is safe when every value is.
CATALOG_CALLS = {"_", "ngettext", "N_"}
# method name → positional argument indexes that Streamlit renders as Markdown (None: all of them)
MARKDOWN_ARGS: dict[str, tuple[int, ...] | None] = {
    "markdown": (0,), "caption": (0,), "write": None, "info": (0,), "warning": (0,), "error": (0,),
    "success": (0,), "toast": (0,), "title": (0,), "header": (0,), "subheader": (0,), "exception": (0,),
    "button": (0,), "link_button": (0,), "download_button": (0,), "form_submit_button": (0,),
    "expander": (0,), "dialog": (0,), "status": (0,), "popover": (0,), "metric": (0, 1, 2), "badge": (0,),
    "radio": (0,), "pills": (0,), "segmented_control": (0,), "selectbox": (0,), "multiselect": (0,),
    "text_input": (0,), "text_area": (0,), "number_input": (0,), "date_input": (0,), "toggle": (0,),
    "checkbox": (0,), "slider": (0,), "select_slider": (0,), "progress": (), "update": (), "tabs": (0,),
}
MARKDOWN_KEYWORDS = {"help", "label", "text", "delta", "body", "title"}
MARKDOWN_OPTIONS = {"radio", "pills", "segmented_control"}  # their option labels are Markdown too
PLAIN_OPTIONS = {"selectbox", "multiselect"}  # option labels are text: bidi-clean them with plain()
PLAIN_TEXT = {"text", "code"}
# ``tables``: dashboard.tables, whose dataframe/table pass every cell through cells()/md_cells() themselves
NOT_STREAMLIT = {"log", "logger", "logging", "out", "writer", "spool", "sys", "tables"}


class Checker:
    """Collects offences in one module."""

    def __init__(self, source: str, name: str) -> None:
        self.tree = ast.parse(source, filename=name)
        self.name = name
        self.offences: list[str] = []
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.functions = {n.name: n for n in ast.walk(self.tree)
                          if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self._checking: set[str] = set()
        self.plain_context = False  # inside a plain-text option label, plain(...) is enough

    # ------------------------------------------------------------------ what is safe

    def scope_of(self, node: ast.AST) -> ast.AST:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return node
        return self.tree

    def assignments(self, scope: ast.AST, name: str) -> list[ast.expr] | None:
        """Values assigned to ``name`` directly in ``scope``; None when it is also bound otherwise (loop, param)."""
        values: list[ast.expr] = []
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            params = scope.args
            if name in {a.arg for a in [*params.posonlyargs, *params.args, *params.kwonlyargs]}:
                return None
        for node in ast.walk(scope):
            if node is not scope and self.scope_of(node) is not scope:
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == name:
                        values.append(node.value)
                    elif any(isinstance(t, ast.Name) and t.id == name for t in ast.walk(target)):
                        return None  # tuple unpacking: unknown
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                    and node.target.id == name:
                if node.value is None:
                    continue
                values.append(node.value)
            elif isinstance(node, (ast.For, ast.comprehension, ast.With, ast.NamedExpr)):
                bound = [node.target] if isinstance(node, (ast.For, ast.comprehension, ast.NamedExpr)) else \
                    [i.optional_vars for i in node.items if i.optional_vars is not None]
                if any(isinstance(t, ast.Name) and t.id == name for b in bound for t in ast.walk(b)):
                    return None
        return values

    def returns_safe(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        if func.name in self._checking:
            return True  # recursion: judged by the other returns
        self._checking.add(func.name)
        try:
            returns = [n for n in ast.walk(func) if isinstance(n, ast.Return) and self.scope_of(n) is func]
            return bool(returns) and all(r.value is None or self.safe(r.value) for r in returns)
        finally:
            self._checking.discard(func.name)

    def safe(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(self.safe(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            spec = "".join(str(v.value) for v in getattr(node.format_spec, "values", [])
                           if isinstance(v, ast.Constant))
            numeric = bool(spec) and (spec[-1] in "bdeEfFgGnoxX%" or "," in spec or "_" in spec)
            return numeric or self.safe(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.safe(node.left) and self.safe(node.right)
        if isinstance(node, ast.IfExp):
            return self.safe(node.body) and self.safe(node.orelse)
        if isinstance(node, ast.BoolOp):
            return all(self.safe(v) for v in node.values)
        if isinstance(node, (ast.List, ast.Tuple)):
            return all(self.safe(e) for e in node.elts)
        if isinstance(node, ast.Starred):
            return self.safe(node.value)
        if isinstance(node, ast.Name):
            if node.id.isupper():
                return True
            scope = self.scope_of(node)
            while True:
                values = self.assignments(scope, node.id)
                if values is None:
                    return False
                if values:
                    return all(self.safe(v) for v in values)
                if scope is self.tree:
                    return False
                scope = self.scope_of(scope)
        if isinstance(node, ast.Subscript):
            return _upper(node.value)
        if isinstance(node, ast.Call):
            return self.safe_call(node)
        return False

    def safe_call(self, node: ast.Call) -> bool:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in SAFE_CALLS or (self.plain_context and name in PLAIN_CALLS):
            return True
        if isinstance(func, ast.Name) and name == "isolate":  # safe.isolate adds a bidi isolate to safe text
            return all(self.safe(a) for a in node.args)
        if isinstance(func, ast.Name) and name in CATALOG_CALLS:
            texts = node.args[:2] if name == "ngettext" else node.args  # ngettext's third argument is a count
            return all(self.safe(a) for a in texts) and not node.keywords
        if isinstance(func, ast.Attribute) and name == "format":
            return self.safe(func.value) and all(self.safe(a) for a in node.args) \
                and all(k.arg is not None and self.safe(k.value) for k in node.keywords)
        if isinstance(func, ast.Attribute) and name == "join" and isinstance(func.value, ast.Constant):
            arg = node.args[0] if node.args else None
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                return self.safe(arg.elt)
            return arg is not None and self.safe(arg)
        if isinstance(func, ast.Attribute) and name == "get" and _upper(func.value):
            return len(node.args) == 2 and self.safe(node.args[1])
        if isinstance(func, ast.Name) and func.id in self.functions:
            return self.returns_safe(self.functions[func.id])
        return False

    def safe_function_ref(self, node: ast.expr, *, plain_ok: bool) -> bool:
        """A ``format_func``: a lambda returning safe text, a safe local function, or a fixed table's look-up."""
        if isinstance(node, ast.Lambda):
            self.plain_context = plain_ok
            try:
                return self.safe(node.body)
            finally:
                self.plain_context = False
        if isinstance(node, ast.Attribute) and node.attr == "__getitem__":
            return _upper(node.value)
        if isinstance(node, ast.Name) and node.id in self.functions:
            return self.returns_safe(self.functions[node.id])
        return plain_ok  # a named formatter over a fixed option list (status_label, method_label…)

    # ------------------------------------------------------------------ the calls

    def flag(self, node: ast.AST, why: str) -> None:
        self.offences.append(f"{self.name}:{getattr(node, 'lineno', '?')} {why}")

    def check(self) -> list[str]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                for method in _methods(node.func):
                    self.check_call(node, method)
        return self.offences

    def check_call(self, node: ast.Call, method: str) -> None:
        text = ast.unparse(node)[:90]
        if method == "table":
            if not (node.args and _calls(node.args[0], "md_cells")):
                self.flag(node, f"st.table renders cells as Markdown; give it md_cells(...): {text}")
            return
        if method == "html" or any(k.arg == "unsafe_allow_html" and not _false(k.value) for k in node.keywords):
            if not all(self.safe(a) for a in node.args):
                self.flag(node, f"HTML built from data: {text}")
            return
        if method in ("dataframe",):
            if node.args and not self.cells_arg(node.args[0]):
                self.flag(node, f"st.dataframe rows must go through cells(): {text}")
            return
        if method in PLAIN_TEXT:
            self.plain_context = True  # plain text, like a selectbox's options: plain() is enough
            try:
                if node.args and not self.safe(node.args[0]):
                    self.flag(node, f"st.{method} of data must go through plain(): {text}")
            finally:
                self.plain_context = False
            return
        positions = MARKDOWN_ARGS[method]
        args = node.args if positions is None else [node.args[i] for i in positions if i < len(node.args)]
        if method == "tabs" and args and isinstance(args[0], (ast.List, ast.Tuple)):
            args = list(args[0].elts)
        for arg in args:
            if not self.safe(arg):
                self.flag(node, f"Markdown from data (wrap it in md()): {ast.unparse(arg)[:80]!r} in {text}")
        for keyword in node.keywords:
            if keyword.arg in MARKDOWN_KEYWORDS and not self.safe(keyword.value):
                self.flag(node, f"Markdown from data in {keyword.arg}= (wrap it in md()): {text}")
            if keyword.arg == "format_func" and method in MARKDOWN_OPTIONS | PLAIN_OPTIONS \
                    and not self.safe_function_ref(keyword.value, plain_ok=method in PLAIN_OPTIONS):
                self.flag(node, f"option labels from data: {text}")

    def cells_arg(self, node: ast.expr) -> bool:
        if _calls(node, "cells"):
            return True
        if isinstance(node, ast.Name):
            values = self.assignments(self.scope_of(node), node.id)
            return bool(values) and all(self.cells_arg(v) for v in values or [])
        return False


def _upper(node: ast.expr) -> bool:
    if isinstance(node, ast.Subscript):
        return _upper(node.value)
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.isupper()


def _false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _calls(node: ast.expr, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "") == name


def _methods(func: ast.expr) -> list[str]:
    """The Streamlit rendering methods ``func`` may be: ``st.x``, ``cols[0].x``, ``(st.a if c else st.b)``."""
    if isinstance(func, ast.IfExp):
        return _methods(func.body) + _methods(func.orelse)
    if not isinstance(func, ast.Attribute):
        return []
    receiver = func.value
    base = receiver
    while isinstance(base, (ast.Attribute, ast.Subscript, ast.Call)):
        base = base.value if not isinstance(base, ast.Call) else base.func
    if isinstance(base, ast.Name) and base.id in NOT_STREAMLIT:
        return []
    known = func.attr in MARKDOWN_ARGS or func.attr in PLAIN_TEXT or func.attr in ("table", "html", "dataframe")
    if func.attr in ("text", "code", "html", "update", "progress", "write") and not _streamlit_like(receiver):
        return []
    return [func.attr] if known else []


def _streamlit_like(receiver: ast.expr) -> bool:
    """``st``, ``st.sidebar``, a column, container, box or bar: anything but a plain string or file."""
    return not isinstance(receiver, ast.Constant)


def offences(source: str, name: str = "<snippet>") -> list[str]:
    return Checker(source, name).check()


def production_files() -> list[Path]:
    return sorted([*(ROOT / "pages").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")])


@pytest.mark.parametrize("path", production_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_data_rendered_as_markup(path: Path) -> None:
    found = offences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "data would render as Markdown/HTML:\n" + "\n".join(found)


# ---------------------------------------------------------------------- the checker itself can fail


@pytest.mark.parametrize("snippet", [
    'st.caption(f"For: {row.description}")',
    'st.markdown(f"**{pending[\'customer\']}**")',
    'st.table(rows)',
    'st.table(cells(rows))',
    'st.warning(note)',
    'for note in notes:\n    st.warning(note)',
    'text = f"{row.status_label}"\nst.info(text)',
    'cols[0].write(f"{label} done")',
    'st.subheader(f"Payment {hit.order_id}")',
    '@st.dialog(f"Refund {name}")\ndef d(): pass',
    'st.toast(f"{changed} changed")',
    'st.metric("Status", row.status, help=f"Gateway: {p.result}")',
    'st.radio("Who", people, format_func=lambda p: p.name)',
    'st.selectbox("Who", people, format_func=lambda p: f"{p.name}")',
    'st.dataframe([{"a": r.note} for r in rows])',
    'st.markdown(f"<b>{name}</b>", unsafe_allow_html=True)',
    'st.text(f"note: {row.note}")',
    '(st.warning if bad else st.success)(f"{n} done")',
    'st.expander(f"Payment {p.order_id}")',
    'st.tabs([name, "b"])',
    'bar.progress(0.5, text=f"{item.order_id}")',
    'st.info(STATE.get(s, s))',
    'def f(x):\n    return x\nst.info(f(y))',
    'st.info(md(a) + b)',
    'st.info(plain_iso(name))',  # plain text is not Markdown-safe
    'st.metric("x", 1, isolate(row.note))',
    'st.text(" · ".join([plain_iso(a), b]))',
])
def test_checker_flags_data_as_markup(snippet: str) -> None:
    assert offences(snippet), snippet


@pytest.mark.parametrize("snippet", [
    'st.caption(f"For: {md(row.description)}")',
    'st.caption("fixed text")',
    'st.dataframe(cells(rows))',
    'st.table(md_cells(rows))',
    'rows = cells(x)\nst.dataframe(rows)',
    'st.toast(f"{changed:d} changed")',
    'st.info(f"{money(a, c)} · {kuwait_time(t)} · {ago(t)} · {STATE_LABELS[s]} · {n:,} · {r:.1%}")',
    'text = f"{md(x)}"\nif a:\n    text = "b"\nst.info(text + "!")',
    'st.radio("x", KEYS, format_func=LABELS.__getitem__)',
    'st.selectbox("x", people, format_func=lambda e: plain(e) or "Anyone")',
    'def pct(v):\n    return "-" if v is None else f"{v:.1%}"\nst.metric("Rate", pct(r))',
    'st.text(plain(row.note))',
    'st.text(" · ".join([plain_iso(row.order_id), plain(row.note)]))',
    'st.selectbox("Card", cards, format_func=lambda c: plain_iso(c.label))',
    'st.metric("Rate", percent(r), f"+{decimal_text(d, 1)}")',
    'st.metric("x", 1, " " + isolate(f"({percent(r)})"))',
    'log.info("refused: %s", exc)',
    'st.caption(" · ".join(f"{LABELS[k]}: {n:d}" for k, n in counts.items()))',
])
def test_checker_accepts_safe_rendering(snippet: str) -> None:
    assert not offences(snippet), offences(snippet)


def table_calls(source: str) -> list[str]:
    """``st.dataframe`` / ``st.table`` calls (on any Streamlit receiver) in ``source``."""
    return [f"{getattr(node, 'lineno', '?')}: {ast.unparse(node)[:80]}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and set(_methods(node.func)) & {"dataframe", "table"}]


@pytest.mark.parametrize("path", production_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tables_go_through_one_module(path: Path) -> None:
    """One rule for every table (right to left: mirrored columns, right-aligned cells): only dashboard/tables.py
    calls st.dataframe / st.table; pages call tables.dataframe / tables.table."""
    if path == ROOT / "dashboard" / "tables.py":
        assert table_calls(path.read_text(encoding="utf-8")), "dashboard/tables.py draws no table"
        return
    found = table_calls(path.read_text(encoding="utf-8"))
    assert not found, "use dashboard.tables instead:\n" + "\n".join(found)


def test_table_rule_sees_direct_calls() -> None:
    assert table_calls("st.dataframe(cells(rows), key='x')") and table_calls("cols[0].table(md_cells(r))")
    assert not table_calls("tables.dataframe(rows, key='x')\ntables.table(rows)")
