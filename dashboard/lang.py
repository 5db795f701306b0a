"""Each staff member's language on the page: picked at first login, one click to change, right to left in Arabic.

- ``apply`` runs at the top of every script run: it reads the person's stored language (or, the first time,
  the browser's preference from ``st.context.locale`` / ``Accept-Language``, and stores it), binds
  :mod:`dashboard.i18n` to it for this run and this session, and injects our one stylesheet plus a constant
  script that sets ``<html dir lang>`` (Streamlit has no RTL switch).
- ``switcher`` is the sidebar's one-click change; the rerun keeps the page and its query parameters.

Nothing here carries data: the stylesheet is a static file and the script is one of two constant strings.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from babel.core import negotiate_locale
from sqlalchemy.engine import Engine

from dashboard import i18n, state
from dashboard.i18n import _
from services import staff
from services.permissions import Actor, PermissionDenied

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "souq.css"
LANGUAGE_NAMES = {"en": "English", "ar": "العربية"}  # each in its own language, whatever the page speaks
_KEY = "souq_lang"  # session_state: (language, digits) of this session
# Icons that imply a direction; the script mirrors them in right-to-left pages.
_FLIP = ("undo", "redo", "arrow_forward", "arrow_back", "chevron_left", "chevron_right", "logout", "login",
         "send", "keyboard_double_arrow_left", "keyboard_double_arrow_right", "open_in_new", "reply")
_SCRIPT = """<span class="souq-dir"></span><script>
(() => {
  const root = window.parent.document.documentElement === document.documentElement ? document : window.parent.document;
  root.documentElement.setAttribute("dir", "%(dir)s");
  root.documentElement.setAttribute("lang", "%(lang)s");
  if (window.__souqFlip) return;
  const flip = new Set(%(flip)s);
  const mark = () => {
    root.querySelectorAll('[data-testid^="stIcon"]').forEach((e) => {
      const want = flip.has((e.textContent || "").trim());  // React may rewrite className: re-mark, only if needed
      if (e.classList.contains("souq-flip") !== want) e.classList.toggle("souq-flip", want);
    });
    // A table wider than the page opens at its right edge, where its mirrored first column stands (the grid
    // itself always opens at its left edge); once per table, so a reader's own scrolling is kept.
    if (root.documentElement.getAttribute("dir") !== "rtl") return;
    root.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller:not([data-souq-end])').forEach((s) => {
      if (s.scrollWidth > s.clientWidth + 1) { s.setAttribute("data-souq-end", ""); s.scrollLeft = s.scrollWidth; }
    });
  };
  window.__souqFlip = new MutationObserver(mark);
  window.__souqFlip.observe(root.body, {childList: true, subtree: true, characterData: true, attributes: true,
                                        attributeFilter: ["class"]});
  mark();
})();
</script>"""
_SCRIPTS = {lang: _SCRIPT % {"dir": "rtl" if lang in i18n.RTL else "ltr", "lang": lang,
                             "flip": "[" + ",".join(f'"{name}"' for name in _FLIP) + "]"}
            for lang in i18n.LANGUAGES}


def _session_language() -> tuple[str, str] | None:
    value = st.session_state.get(_KEY)
    return value if isinstance(value, tuple) else None


i18n.set_resolver(_session_language)


def browser_language() -> str:
    """``ar`` when the browser prefers Arabic over English, else ``en`` (locale first, then Accept-Language)."""
    wanted: list[str] = []
    if st.context.locale:
        wanted.append(st.context.locale)
    header = st.context.headers.get("Accept-Language") or ""
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            wanted.append(tag)
    found = negotiate_locale([w.replace("_", "-") for w in wanted], list(i18n.LANGUAGES), sep="-")
    if found is None:  # "ar-KW" against "ar": negotiate on the language part
        found = negotiate_locale([w.split("-")[0].lower() for w in wanted], list(i18n.LANGUAGES), sep="-")
    return found or i18n.DEFAULT


def _inject(lang: str) -> None:
    st.html(STYLESHEET)  # a Path to a .css file: Streamlit wraps it in <style>, in the event container
    st.html(_SCRIPTS[lang], unsafe_allow_javascript=True)  # one of two constant scripts, never data


def apply(engine: Engine | None, actor: Actor | None) -> str:
    """Bind this run to the person's language (the browser's before login) and lay the page out for it."""
    if actor is None or engine is None:
        lang, digit_set = browser_language(), "latn"
    else:
        prefs = staff.preferences(engine, actor.email)
        lang, digit_set = prefs.language or "", prefs.digits
        if not lang:  # first login: the browser's preference becomes the person's choice
            lang = browser_language()
            staff.set_preferences(engine, actor, language=lang)
    st.session_state[_KEY] = (lang, digit_set)
    i18n.activate(lang, digit_set)
    _inject(lang)
    return lang


def _change(engine: Engine, *, language: str | None = None, digits: str | None = None) -> None:
    actor = state.current_actor()  # the person at this click, not the one of the run that drew the button
    if actor is None:
        return
    try:
        prefs = staff.set_preferences(engine, actor, language=language, digits=digits)
    except PermissionDenied:
        return  # removed meanwhile: this run of the page shows "no access"
    st.session_state[_KEY] = (prefs.language or i18n.DEFAULT, prefs.digits)


def switcher(engine: Engine) -> None:
    """One click to the other language; in Arabic, a choice of digits. The rerun keeps the URL."""
    other = "en" if i18n.current() == "ar" else "ar"
    st.button(LANGUAGE_NAMES[other], key="switch_language", icon=":material/translate:", on_click=_change,
              args=(engine,), kwargs={"language": other}, help=_("Change the dashboard's language"))
    if i18n.current() == "ar":
        arabic = i18n.digits() == "arab"
        st.toggle(_("Arabic-Indic digits (٠١٢٣)"), value=arabic, key="switch_digits", on_change=_change,
                  args=(engine,), kwargs={"digits": "latn" if arabic else "arab"})
