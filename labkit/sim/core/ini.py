"""A small ini editor that behaves like ``crudini --set``: it keeps comments, order and other
keys, replaces a key in place, and adds a missing key at the end of its section (a missing
section at the end of the file)."""

from __future__ import annotations

import re

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^\s*([^#;=\s\[][^=]*?)\s*=")


def _span(lines: list[str], section: str) -> tuple[int, int] | None:
    """Line range [start, end) of a section's body, or None when the section is absent.
    Keys before any header belong to DEFAULT, as in oslo.config."""
    headers = [
        (i, m.group(1).strip()) for i, line in enumerate(lines) if (m := _SECTION.match(line))
    ]
    for n, (index, name) in enumerate(headers):
        if name == section:
            end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
            return index + 1, end
    if section == "DEFAULT":
        return 0, headers[0][0] if headers else len(lines)
    return None


def get(text: str, section: str, key: str) -> str | None:
    lines = text.splitlines()
    span = _span(lines, section)
    if span is None:
        return None
    for line in lines[span[0] : span[1]]:
        found = _KEY.match(line)
        if found and found.group(1).strip() == key:
            return line.split("=", 1)[1].strip()
    return None


def set_value(text: str, section: str, key: str, value: str) -> str:
    lines = text.splitlines()
    new_line = f"{key} = {value}"
    span = _span(lines, section)
    if span is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", new_line]
        return "\n".join(lines) + "\n"
    start, end = span
    for index in range(start, end):
        found = _KEY.match(lines[index])
        if found and found.group(1).strip() == key:
            lines[index] = new_line
            return "\n".join(lines) + "\n"
    insert_at = end
    while insert_at > start and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines.insert(insert_at, new_line)
    return "\n".join(lines) + "\n"
