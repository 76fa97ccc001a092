"""``bench/RESULTS.md`` as sections, one per benchmark, so each part of ``make bench`` rewrites its own.

Each section sits between ``<!-- bench:NAME:begin -->`` and ``<!-- bench:NAME:end -->``; writing one keeps
the others as they were (``--only claims`` leaves the gateway's figures and their date untouched). A file
written before the sections existed is all the gateway's. Sections are kept in the order of ``ORDER``.
"""

from __future__ import annotations

import re
from pathlib import Path

ORDER = ("where", "gateway", "claims", "ingest", "reads", "analyses")
"""``where`` is written by hand (where a request's CPU goes, what each change bought); the rest by the benchmarks."""
_SECTION = re.compile(r"<!-- bench:([a-z0-9_-]+):begin -->\n(.*?)\n<!-- bench:\1:end -->", re.DOTALL)


def _begin(name: str) -> str:
    return f"<!-- bench:{name}:begin -->"


def _end(name: str) -> str:
    return f"<!-- bench:{name}:end -->"


def read_sections(path: Path) -> dict[str, str]:
    """The sections of ``path`` by name (none when it does not exist)."""
    if not path.exists():
        return {}
    content = path.read_text()
    found = {match.group(1): match.group(2) for match in _SECTION.finditer(content)}
    if not found and content.strip():
        return {"gateway": content.strip("\n")}  # written by the gateway benchmark alone, before sections
    return found


def compose(sections: dict[str, str]) -> str:
    names = [n for n in ORDER if n in sections] + sorted(n for n in sections if n not in ORDER)
    return "\n\n".join(f"{_begin(n)}\n{sections[n].strip(chr(10))}\n{_end(n)}" for n in names) + "\n"


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or add) the section ``name`` of ``path``, keeping every other section."""
    sections = read_sections(path)
    sections[name] = text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(compose(sections))
