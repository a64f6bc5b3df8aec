"""``python -m tessera_client URL COMMAND ...``: the common one-liners, answers as JSON.

Examples (against the demo data of ``scripts/run-demo.sh``)::

    python -m tessera_client http://127.0.0.1:8080 scan cyc1 --recursive --classify
    python -m tessera_client http://127.0.0.1:8080 classify slides/pyramid.ome.tif
    python -m tessera_client http://127.0.0.1:8080 overlap labels/truth.tif \\
        labels/predicted.tif --threshold 0.5
    python -m tessera_client http://127.0.0.1:8080 topk 2 3 1 nan 1
    python -m tessera_client http://127.0.0.1:8080 topk 5 --npy points.npy --mode points

Each prints one line of JSON on stdout. An error answer prints its problem document on
stderr and exits 1; no answer at all (or an unexpected one) exits 1 with a message; a
usage error exits 2. The token comes from ``--token`` or ``TESSERA_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._version import __version__
from .client import Client
from .errors import ProblemError, TesseraError
from .models import ItemError, OverlapResult, TopkResult


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        client = Client(
            args.url,
            token=args.token or os.environ.get("TESSERA_TOKEN") or None,
            timeout=args.timeout,
            retries=args.retries,
        )
    except ValueError as e:
        print(f"tessera_client: {e}", file=sys.stderr)
        return 2
    try:
        with client:
            result = args.run(client, args)
    except ProblemError as e:
        print(json.dumps(e.problem or {"status": e.status, "detail": e.detail}), file=sys.stderr)
        return 1
    except TesseraError as e:
        print(f"tessera_client: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"tessera_client: {e.args[0]}", file=sys.stderr)
        return 1
    except (TypeError, ValueError, ImportError, OSError) as e:
        print(f"tessera_client: {e}", file=sys.stderr)
        return 2
    try:
        if isinstance(result, str):
            sys.stdout.write(result)
        else:
            print(json.dumps(_jsonable(result), allow_nan=False))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `... openapi | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 1 if args.command == "ready" and not result["ready"] else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tessera_client",
        description="Call a Tessera server; print the answer as JSON.",
    )
    p.add_argument("url", help="the server, e.g. http://127.0.0.1:8080")
    p.add_argument("--token", help="bearer token (default: $TESSERA_TOKEN)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    p.add_argument("--retries", type=int, default=3, help="503 retries (default 3)")
    p.add_argument("--version", action="version", version=f"tessera-client {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("scan", help="list the image files of a directory")
    s.add_argument("dir", nargs="?", default="", help="relative to the data root")
    s.add_argument("--recursive", "-r", action="store_true")
    s.add_argument("--classify", action="store_true", help="classify every entry")
    s.add_argument("--hidden", action="store_true", help="list names starting with '.'")
    s.add_argument("--max-depth", type=int)
    s.add_argument("--limit", type=int)
    s.set_defaults(run=_scan)

    c = sub.add_parser("classify", help="what image files are and which reader opens them")
    c.add_argument("paths", nargs="+", metavar="PATH", help="relative to the data root")
    c.set_defaults(run=_classify)

    o = sub.add_parser("overlap", help="overlap counts and matching of two label images")
    o.add_argument("a", help="ground truth (under the data root, or a local file with --upload)")
    o.add_argument("b", help="prediction")
    o.add_argument("--threshold", type=float, nargs="+", metavar="T",
                   help="match at this threshold (0 < T <= 1), or at each of several")
    o.add_argument("--criterion", choices=["iou", "iot", "iop"], help="the matching score")
    o.add_argument("--metrics", nargs="+", choices=["aji", "vi", "adapted_rand"],
                   help="add these segmentation metrics")
    o.add_argument("--volume", action="store_true", help="all pages of each TIFF are z-slices")
    o.add_argument("--iou", action="store_true", help="add IoU per pair")
    o.add_argument("--no-background", action="store_true", help="leave out pairs with label 0")
    o.add_argument("--page-a", type=int)
    o.add_argument("--page-b", type=int)
    o.add_argument("--upload", action="store_true", help="A and B are local files to upload")
    o.add_argument("--pairs", action="store_true", help="print the pairs too (can be long)")
    o.set_defaults(run=_overlap)

    t = sub.add_parser("topk", help="k smallest / largest values, per-row top-k, k-NN")
    t.add_argument("k", type=int)
    t.add_argument("numbers", nargs="*", type=float, metavar="NUMBER", help="values (nan ok)")
    t.add_argument("--npy", type=Path, help="read the input from a .npy file instead")
    t.add_argument("--mode", choices=["values", "rows", "points"], default="values")
    t.add_argument("--largest", action="store_true")
    t.add_argument("--exclude-self", action="store_true", help="rows: skip column i of row i")
    t.set_defaults(run=_topk)

    for name, run, text in (
        ("health", _health, "liveness (/healthz)"),
        ("ready", _ready, "readiness (/readyz); exit 1 when not ready"),
        ("openapi", _openapi, "print the server's openapi.yaml"),
        ("version", _version, "client and server versions"),
    ):
        sub.add_parser(name, help=text).set_defaults(run=run)
    m = sub.add_parser("metrics", help="Prometheus metrics as JSON, or one value")
    m.add_argument("name", nargs="?", help="print the sum of this series")
    m.add_argument("labels", nargs="*", metavar="LABEL=VALUE", help="only samples with these")
    m.set_defaults(run=_metrics)
    return p


def _scan(client: Client, args: argparse.Namespace) -> Any:
    return client.scan(
        args.dir,
        recursive=args.recursive,
        classify=args.classify,
        hidden=args.hidden,
        max_depth=args.max_depth,
        limit=args.limit,
    ).raw


def _classify(client: Client, args: argparse.Namespace) -> Any:
    if len(args.paths) == 1:
        return client.classify(args.paths[0])
    results = client.classify(list(args.paths))
    return {
        "results": [
            {"path": r.path, "error": r.error.problem} if isinstance(r, ItemError) else r
            for r in results
        ]
    }


def _overlap(client: Client, args: argparse.Namespace) -> Any:
    a: Any = Path(args.a) if args.upload else args.a
    b: Any = Path(args.b) if args.upload else args.b
    result: OverlapResult = client.overlap(
        a,
        b,
        match_threshold=(args.threshold[0] if len(args.threshold) == 1 else args.threshold)
        if args.threshold
        else None,
        criterion=args.criterion,
        metrics=args.metrics,
        volume=True if args.volume else None,
        iou=True if args.iou else None,
        include_background=False if args.no_background else None,
        page_a=args.page_a,
        page_b=args.page_b,
    )
    out = dict(result.raw)
    out["pair_count"] = len(result.pairs)
    if args.pairs:
        out["pairs"] = {
            "a": result.pairs.a.tolist(),
            "b": result.pairs.b.tolist(),
            "count": result.pairs.count.tolist(),
        }
        if result.pairs.iou is not None:
            out["pairs"]["iou"] = result.pairs.iou.tolist()
    return out


def _topk(client: Client, args: argparse.Namespace) -> Any:
    if args.npy is not None and args.numbers:
        raise ValueError("give numbers or --npy FILE, not both")
    data = np.load(args.npy, allow_pickle=False) if args.npy is not None else args.numbers
    if args.npy is None and args.mode != "values":
        raise ValueError("numbers on the command line are values; use --npy for rows / points")
    result: TopkResult = client.topk(
        k=args.k,
        largest=args.largest,
        exclude_self=args.exclude_self,
        **{args.mode: data},
    )
    key = "distances" if result.mode == "points" else "values"
    return {"indices": result.indices.tolist(), key: result.values.tolist()}


def _health(client: Client, args: argparse.Namespace) -> Any:
    return client.health()


def _ready(client: Client, args: argparse.Namespace) -> Any:
    return {"ready": client.ready()}


def _openapi(client: Client, args: argparse.Namespace) -> Any:
    return client.openapi()


def _version(client: Client, args: argparse.Namespace) -> Any:
    return {"client": __version__, "server": client.server_version}


def _metrics(client: Client, args: argparse.Namespace) -> Any:
    metrics = client.metrics()
    if args.name is None:
        return {
            name: [{"labels": dict(key), "value": v} for key, v in series.items()]
            for name, series in metrics.series.items()
        }
    labels = dict(item.split("=", 1) for item in args.labels if "=" in item)
    if len(labels) != len(args.labels):
        raise ValueError("labels are LABEL=VALUE")
    return metrics.value(args.name, **labels)


def _jsonable(value: Any) -> Any:
    """Plain JSON types, with NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
