"""The demo's state file: what has been loaded, so a re-run continues where the last one stopped.

It is a journal of JSON lines, appended and flushed after each answer that changed something on the
platform (a half-written last line, from a killed process, is ignored). The first line says which data
set it belongs to (seed and scale); a run with another seed or scale refuses it. It also holds the
API keys of the clients the demo made (each key is shown once by the platform), so keep it private.

Entries: ``{"t": "done", "k": ...}`` for a step done; ``{"t": "id", "k": ..., "id": ...}`` for the id the
platform gave a post or KPI; ``{"t": "client", "k": ..., ...}`` for an API client and its key;
``{"t": "claim", "k": ..., "id": ..., "status": ...}`` for a claim's latest status;
``{"t": "started", "k": ...}`` before a step whose effect cannot be repeated safely (a post, a KPI,
an API client), so a resumed run knows to look for what it may have made before it could record it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

VERSION = 1


class StateMismatch(Exception):
    """The state file belongs to another data set (seed or scale)."""


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    client_id: str
    api_key: str
    name: str
    kind: str


@dataclass
class State:
    path: Path
    header: dict[str, Any]
    done: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)
    ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    claims: dict[str, tuple[int, str]] = field(default_factory=dict)
    _file: IO[str] | None = None

    @classmethod
    def open(cls, path: Path, header: dict[str, Any]) -> State:
        """The state at ``path`` (made with ``header`` if there is none); refused if it was made for
        another data set."""
        state = cls(path, {"t": "header", "version": VERSION, **header})
        if path.exists():
            with path.open(encoding="utf-8") as f:
                lines = f.read().splitlines()
            for number, line in enumerate(lines):
                try:
                    entry = json.loads(line)
                except ValueError:
                    if number == len(lines) - 1:
                        break  # the last line, cut short by a killed run
                    raise
                if number == 0:
                    mine = {k: state.header[k] for k in ("version", "seed", "scale")}
                    theirs = {k: entry.get(k) for k in mine}
                    if mine != theirs:
                        raise StateMismatch(
                            f"{path} is the state of another data set ({theirs}, this run is {mine}): "
                            "remove it (or set DEMO_STATE) to load this one"
                        )
                    state.header = entry
                else:
                    state._apply(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists() or path.stat().st_size == 0
        state._file = path.open("a", encoding="utf-8")
        if fresh:
            state._write(state.header)
        else:
            os.chmod(path, 0o600)
        return state

    def _apply(self, entry: dict[str, Any]) -> None:
        kind, key = entry["t"], entry["k"]
        if kind == "done":
            self.done.add(key)
        elif kind == "started":
            self.started.add(key)
        elif kind == "id":
            self.ids[key] = int(entry["id"])
        elif kind == "client":
            self.clients[key] = Client(
                entry["id"], entry["client_id"], entry["api_key"], entry["name"], entry["client_kind"]
            )
        elif kind == "claim":
            self.claims[key] = (int(entry["id"]), entry["status"])

    def _write(self, entry: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()
        if entry.get("t") == "header":
            os.chmod(self.path, 0o600)

    def record(self, kind: str, key: str, **data: Any) -> None:
        entry = {"t": kind, "k": key, **data}
        self._apply(entry)
        self._write(entry)

    def mark_done(self, key: str) -> None:
        self.record("done", key)

    def mark_started(self, key: str) -> None:
        if key not in self.started:
            self.record("started", key)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
