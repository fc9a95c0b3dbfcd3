"""GTID replication positions as sets, compared as sets.

A MariaDB position is a comma-separated list of ``domain-server-sequence`` triples
(``0-1-229,1-1-1``): one entry per replication domain, the sequence counting up within a
domain. A MySQL position is a GTID set, ``uuid:1-5:7-9`` per server, the servers separated
by ``,`` (and ``\\n`` in ``@@gtid_executed``). Neither is totally ordered: a position
``covers`` another when it holds everything the other holds. Text that is neither raises
ValueError, so a forged token is refused before it reaches a server.
"""

from __future__ import annotations

import re
from typing import Iterable

_MARIADB_ENTRY = re.compile(r"^(\d{1,10})-(\d{1,10})-(\d{1,20})$")
_MYSQL_ENTRY = re.compile(
    r"^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})((?::\d{1,20}(?:-\d{1,20})?)+)$"
)
_MAX_ENTRIES = 256  # a token naming more domains or servers than this is not a real position


def _entries(text: object) -> list[str]:
    if not isinstance(text, str):
        raise ValueError(f"a GTID position is text, not {type(text).__name__}")
    parts = [part.strip() for part in text.replace("\n", ",").split(",")]
    parts = [part for part in parts if part]
    if len(parts) > _MAX_ENTRIES:
        raise ValueError("too many entries for a GTID position")
    return parts


class MariaDBPosition:
    """``{domain: sequence}``; the server id is informative only (failover changes it)."""

    __slots__ = ("domains", "text")

    def __init__(self, text: str) -> None:
        domains: dict[int, tuple[int, str]] = {}
        for part in _entries(text):
            match = _MARIADB_ENTRY.match(part)
            if match is None:
                raise ValueError(f"not a MariaDB GTID position: {text!r}")
            domain, sequence = int(match.group(1)), int(match.group(3))
            if domain in domains:
                raise ValueError(f"domain {domain} appears twice in {text!r}")
            domains[domain] = (sequence, part)
        self.domains = domains
        self.text = text

    def covers(self, other: MariaDBPosition) -> bool:
        """Every domain of ``other`` is here, at least as far along."""
        mine = self.domains
        return all(domain in mine and mine[domain][0] >= sequence for domain, (sequence, _) in other.domains.items())

    __ge__ = covers

    def union(self, other: MariaDBPosition) -> str:
        merged = dict(self.domains)
        for domain, entry in other.domains.items():
            if domain not in merged or merged[domain][0] < entry[0]:
                merged[domain] = entry
        return ",".join(entry[1] for _domain, entry in sorted(merged.items()))


def _intervals(spec: str) -> list[tuple[int, int]]:
    intervals = []
    for piece in spec.strip(":").split(":"):
        low_text, _, high_text = piece.partition("-")
        low = int(low_text)
        high = int(high_text) if high_text else low
        if low < 1 or high < low:
            raise ValueError(f"bad GTID interval {piece!r}")
        intervals.append((low, high))
    return intervals


class MySQLPosition:
    """``{server uuid: [(first, last), ...]}``: a GTID set."""

    __slots__ = ("servers", "text")

    def __init__(self, text: str) -> None:
        servers: dict[str, list[tuple[int, int]]] = {}
        for part in _entries(text):
            match = _MYSQL_ENTRY.match(part)
            if match is None:
                raise ValueError(f"not a MySQL GTID set: {text!r}")
            uuid = match.group(1).replace("-", "").lower()
            servers.setdefault(uuid, []).extend(_intervals(match.group(2)))
        self.servers = {uuid: _normalized(intervals) for uuid, intervals in servers.items()}
        self.text = text

    def covers(self, other: MySQLPosition) -> bool:
        for uuid, intervals in other.servers.items():
            mine = self.servers.get(uuid, ())
            for low, high in intervals:
                if not any(first <= low and high <= last for first, last in mine):
                    return False
        return True

    __ge__ = covers

    def union(self, other: MySQLPosition) -> str:
        merged = {uuid: list(intervals) for uuid, intervals in self.servers.items()}
        for uuid, intervals in other.servers.items():
            merged[uuid] = _normalized(merged.get(uuid, []) + list(intervals))
        return ",".join(
            _uuid_text(uuid) + "".join(f":{low}" if low == high else f":{low}-{high}" for low, high in intervals)
            for uuid, intervals in sorted(merged.items())
        )


def _normalized(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _uuid_text(uuid: str) -> str:
    return f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
