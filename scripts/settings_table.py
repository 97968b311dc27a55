"""The settings table of docs/experiment.md, built from `ExperimentConfig`'s field metadata.

    python scripts/settings_table.py           # print the table
    python scripts/settings_table.py --write   # put it in docs/experiment.md, between the markers

The table is never written by hand: every row comes from `bnviz.config.field_names` and
`bnviz.config.field_meta` as they are when this runs, so a setting added, renamed or given new
choices reaches the docs with one `--write` (`tests/test_docs.py` fails until then). Reading the
config imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bnviz.config import field_meta, field_names  # noqa: E402

DOC = ROOT / "docs" / "experiment.md"
START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"
HEADER = ("| setting | on the page | default | range or choices | what it does |\n"
          "|---|---|---|---|---|")


def _number(value: Any) -> str:
    """1000 → "1,000", 1e-05 → "1e-5", 1.0 → "1", 0.001 → "0.001"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], f"{value:g}")


def _code(value: Any) -> str:
    return f"`{value}`"


def _cell(text: str) -> str:
    """Markdown table cell text: no line breaks, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(meta: Mapping[str, Any]) -> str:
    default = meta["default"]
    if isinstance(default, bool):
        return _code(_number(default))
    if isinstance(default, str):
        return _code(default)
    return _number(default)


def _range(meta: Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return ", ".join(_code(choice) for choice in meta["choices"])
    if meta.get("type", type(meta["default"])) is bool:
        return "`true`, `false`"
    low, high = meta.get("min"), meta.get("max")
    if low is None and high is None:
        return "any"
    if high is None:
        text = f"at least {_number(low)}"
    elif low is None:
        text = f"at most {_number(high)}"
    else:
        text = f"{_number(low)}–{_number(high)}"
    return text + (" (log scale)" if meta.get("log_scale") else "")


def rows() -> list[str]:
    """One Markdown table row per configuration field, in declaration order."""
    found = []
    for name in field_names():
        meta = field_meta(name)
        cells = (_code(name), meta.get("label") or "", _default(meta), _range(meta),
                 meta.get("help") or "")
        found.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return found


def table() -> str:
    """The whole table (header and rows), without a final newline."""
    return "\n".join([HEADER, *rows()])


def block(text: str) -> str:
    """What lies between the markers in ``text``, stripped; `ValueError` without them."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} … {END} are missing")
    return text[start + len(START):end].strip()


def with_table(text: str) -> str:
    """``text`` with the generated table between its markers."""
    block(text)  # raises when the markers are missing
    start, end = text.find(START), text.find(END)
    return text[:start] + f"{START}\n{table()}\n{END}" + text[end + len(END):]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help=f"replace the table in {DOC.relative_to(ROOT)} between {START} "
                        f"and {END}")
    args = parser.parse_args(argv)
    if not args.write:
        print(table())
        return 0
    text = DOC.read_text(encoding="utf-8")
    try:
        new = with_table(text)
    except ValueError as error:
        print(f"{DOC.relative_to(ROOT)}: {error}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{DOC.relative_to(ROOT)}: the settings table is current")
    else:
        DOC.write_text(new, encoding="utf-8")
        print(f"{DOC.relative_to(ROOT)}: settings table written ({len(rows())} settings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
