"""Prometheus text exposition format 0.0.4, as served by ``GET /metrics``, parsed into dicts.

>>> m = parse_metrics('''# HELP tessera_requests_total Requests answered.
... # TYPE tessera_requests_total counter
... tessera_requests_total{route="/scan",method="GET",code="200"} 2
... tessera_requests_total{route="/scan",method="GET",code="404"} 1
... tessera_build_info{version="0.1.0"} 1
... ''')
>>> m.value("tessera_requests_total", route="/scan")
3.0
>>> m.value("tessera_requests_total", code="404")
1.0
>>> m.types["tessera_requests_total"], m.version
('counter', '0.1.0')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

#: A sample's labels as a sorted tuple of (name, value): hashable, so usable as a dict key.
LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    """One line of the exposition: ``name{labels} value``."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Metrics:
    """The parsed answer of ``GET /metrics``.

    Attributes:
        text: the exposition exactly as received.
        samples: every sample in order.
        series: ``{sample name: {label key: value}}``; the label key is a sorted tuple of
            (label, value) pairs, ``()`` for a sample without labels. Histogram samples keep
            their suffixed names (``..._bucket``, ``..._sum``, ``..._count``).
        types: ``{family name: counter | gauge | histogram | ...}`` from ``# TYPE``.
        help: ``{family name: help text}`` from ``# HELP``.
    """

    text: str
    samples: list[Sample]
    series: dict[str, dict[LabelKey, float]] = field(repr=False)
    types: dict[str, str] = field(repr=False)
    help: dict[str, str] = field(repr=False)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``.

        Raises ``KeyError`` when no sample matches (a missing series is not a zero).
        """
        total = 0.0
        found = False
        for key, v in self.series.get(name, {}).items():
            have = dict(key)
            if all(have.get(k) == want for k, want in labels.items()):
                total += v
                found = True
        if not found:
            raise KeyError(f"no sample {name}{labels or ''} in the metrics")
        return total

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __contains__(self, name: object) -> bool:
        return name in self.series

    @property
    def version(self) -> str | None:
        """The server's version from ``tessera_build_info{version="..."}``, if present."""
        for key in self.series.get("tessera_build_info", {}):
            version = dict(key).get("version")
            if version:
                return version
        return None


def parse_metrics(text: str) -> Metrics:
    """Parse Prometheus text format 0.0.4. Raises ``ValueError`` naming the bad line."""
    samples: list[Sample] = []
    series: dict[str, dict[LabelKey, float]] = {}
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line[1:].strip().split(None, 2)
            if len(parts) >= 2 and parts[0] == "TYPE":
                types[parts[1]] = parts[2].strip() if len(parts) > 2 else "untyped"
            elif len(parts) >= 2 and parts[0] == "HELP":
                helps[parts[1]] = _unescape_help(parts[2]) if len(parts) > 2 else ""
            continue
        try:
            sample = _parse_sample(line)
        except ValueError as e:
            raise ValueError(f"metrics line {number}: {e}: {line!r}") from None
        samples.append(sample)
        key: LabelKey = tuple(sorted(sample.labels.items()))
        series.setdefault(sample.name, {})[key] = sample.value
    return Metrics(text=text, samples=samples, series=series, types=types, help=helps)


def _parse_sample(line: str) -> Sample:
    i = 0
    n = len(line)
    while i < n and (line[i].isalnum() or line[i] in "_:"):
        i += 1
    name = line[:i]
    if not name or name[0].isdigit():
        raise ValueError("no metric name")
    labels: dict[str, str] = {}
    if i < n and line[i] == "{":
        i = _parse_labels(line, i + 1, labels)
    rest = line[i:].split()
    if len(rest) not in (1, 2):  # value, optional timestamp
        raise ValueError("expected a value and an optional timestamp")
    return Sample(name, labels, _parse_value(rest[0]))


def _parse_labels(line: str, i: int, out: dict[str, str]) -> int:
    """Parse ``a="x",b="y"}`` from line[i:] into out; returns the index after ``}``."""
    n = len(line)
    while True:
        while i < n and line[i] in " \t,":
            i += 1
        if i < n and line[i] == "}":
            return i + 1
        start = i
        while i < n and (line[i].isalnum() or line[i] == "_"):
            i += 1
        label = line[start:i]
        if not label or i + 1 >= n or line[i] != "=" or line[i + 1] != '"':
            raise ValueError("bad label")
        i += 2
        value: list[str] = []
        while i < n and line[i] != '"':
            if line[i] == "\\" and i + 1 < n:
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(line[i + 1], "\\" + line[i + 1]))
                i += 2
            else:
                value.append(line[i])
                i += 1
        if i >= n:
            raise ValueError("unterminated label value")
        out[label] = "".join(value)
        i += 1


def _parse_value(text: str) -> float:
    special = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    return float(text)


def _unescape_help(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
