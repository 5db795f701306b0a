"""dashboard.safe: escaping that loses nothing a reader should see and leaves no Markdown syntax alive."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from dashboard.safe import BIDI_CONTROLS, cells, filename, html_text, md, md_cells, plain

TEXT = st.text(alphabet=st.sampled_from(string.printable + BIDI_CONTROLS + "\u2028٠١عربي😄"), max_size=80)


def unescape(source: str) -> str:
    return re.sub(r"\\(.)", r"\1", source).replace("\u2060", "")


@given(TEXT)
def test_md_shows_the_same_words_without_bidi_or_line_breaks(text: str) -> None:
    out = md(text)
    assert unescape(out) == re.sub(r"[\r\n\v\f\x85\u2028\u2029]+", " ", plain(text))
    assert not any(ch in out for ch in BIDI_CONTROLS + "\n\r")


@given(TEXT)
def test_md_leaves_every_ascii_punctuation_escaped(text: str) -> None:
    out = md(text).replace("\u2060", "")
    for match in re.finditer(r"[" + re.escape(string.punctuation) + "]", out):
        before = out[:match.start()]
        trailing = len(before) - len(before.rstrip("\\"))
        assert match.group() == "\\" or trailing % 2 == 1, (text, out)


def test_md_breaks_the_patterns_plugins_find_after_parsing() -> None:
    shown = re.sub(r"\\(.)", r"\1", md("https://evil.example a@b.example www.evil.example :smile: :material/home:"))
    assert not re.search(r"https?://|[\w.]@[\w-]+\.|www\.|:[\w/+-]+:", shown)


def test_plain_html_cells_and_file_names() -> None:
    assert plain(None) == "" and plain("\u202eevil\u202c") == "evil"
    assert html_text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert cells([{"a\u202e": "x\u2066y", "n": 3}]) == [{"a": "xy", "n": 3}]
    assert md_cells([{"Note": "**b**", "n": 3}]) == [{"Note": md("**b**"), "n": 3}]
    assert filename("SD-1/../x y", ".png") == "SD-1-..-x-y.png" and filename("///") == "download"
