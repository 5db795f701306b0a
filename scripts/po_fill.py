"""Fill locales/ar/LC_MESSAGES/messages.po from a Python mapping {msgid: msgstr or (6 plural forms)}.

A translator's helper, not part of the build: ``python scripts/po_fill.py path/to/mapping.py``.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parents[1] / "locales" / "ar" / "LC_MESSAGES" / "messages.po"


def main(mapping_file: str) -> None:
    table = runpy.run_path(mapping_file)["T"]
    with PO.open("rb") as f:
        catalog = read_po(f)
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key and key in table:
            message.string = table[key]
            message.flags.discard("fuzzy")
    with PO.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False, sort_output=True)


if __name__ == "__main__":
    main(sys.argv[1])
