#!/usr/bin/python3
"""Clients for tests/abuse/run.sh: a health-check probe, a connection flood, a sampler.

  probe.py health  --port P [--src 127.0.0.2] [--interval 0.02] [--timeout 2] [--duration S]
      GET /healthz on a NEW connection every INTERVAL seconds (as a load balancer's health
      checker does) until DURATION passes or SIGTERM/SIGINT; prints one JSON object:
      count, ok, failures by kind, latency p50/p99/max in ms (successful requests).
  probe.py flood   --port P [--src 127.0.0.3] [--count 10000] [--hold 5] [--pid PID]
      Opens COUNT TCP connections as fast as it can (non-blocking), holds them HOLD seconds,
      then sends GET /healthz on every connection still open to see which ones the server
      really serves; prints one JSON object (see flood() for the fields).
  probe.py sample  --pid PID --port P [--src 127.0.0.2] [--every 1] [--out FILE]
      Every EVERY seconds appends "t fds rss_kib open_connections" to FILE (open_connections
      from /metrics, minus the sampler's own connection; "-" when /metrics does not answer).
  probe.py snapshot --pid PID --port P [--src 127.0.0.2]
      One such sample on stdout, as JSON.
  probe.py slowtls --port P [--src 127.0.0.1] [--count 1000] [--rate 200] [--interval 1]
                   [--duration 60]
      Slow TLS handshakes: keeps COUNT connections open that each send the first bytes of a
      TLS ClientHello and then one more byte every INTERVAL seconds, never finishing it; a
      connection the server closes is opened again. Prints one JSON object: connections
      made, closed by the server (and how long each was held), refused at accept, still
      open at the end.

--tls-ca FILE (health, flood, sample, snapshot): the port speaks HTTPS; the server
certificate must verify against FILE (a private CA) for 127.0.0.1. Every probe request is
then a new TLS handshake, as a load balancer's HTTPS health check is.

Every client binds its own loopback source address, so the per-address limit (--max-per-ip)
of the attacker (127.0.0.1, slowhttptest) does not count against the probe.
Standard library only; run with /usr/bin/python3.
"""

import argparse
import errno
import json
import os
import selectors
import signal
import socket
import ssl
import sys
import time

HEALTH_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n"
# Keep-alive on purpose: an answered connection stays open and keeps its slot, so only the
# connections the server really accepted can be answered.
HEALTH_REQUEST_KEEP = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n"


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, int(round(q / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ms(seconds):
    return None if seconds is None else round(seconds * 1e3, 3)


# ---------------------------------------------------------------------------------------
# One /healthz request on a fresh connection
# ---------------------------------------------------------------------------------------


def tls_context(ca):
    """A client context that trusts only the CA file ca; None for plain HTTP."""
    if not ca:
        return None
    return ssl.create_default_context(cafile=ca)


def tls_wrap(s, ctx):
    """s after a TLS handshake (blocking, within s's timeout) when ctx is set. TCP_NODELAY
    as curl sets it: without, the request written right after the client's Finished waits
    for the server's delayed ACK (40 ms on Linux) and the probe measures that."""
    if ctx is None:
        return s
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def health_once(port, src, timeout, ctx=None):
    """Returns (kind, seconds): kind is "ok" or the failure kind."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src, 0))
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
        except socket.timeout:
            return "connect_timeout", time.monotonic() - t0
        except ConnectionRefusedError:
            return "connect_refused", time.monotonic() - t0
        except OSError as e:
            return "connect_" + (errno.errorcode.get(e.errno, str(e.errno)).lower()), \
                time.monotonic() - t0
        try:
            s = tls_wrap(s, ctx)
        except socket.timeout:
            return "tls_handshake_timeout", time.monotonic() - t0
        except ssl.SSLError as e:
            return "tls_" + (e.reason or "error").lower(), time.monotonic() - t0
        except OSError as e:
            return "tls_" + (errno.errorcode.get(e.errno, str(e.errno)).lower()), \
                time.monotonic() - t0
        data = b""
        try:
            s.sendall(HEALTH_REQUEST)
            while True:
                remaining = timeout - (time.monotonic() - t0)
                if remaining <= 0:
                    raise socket.timeout()
                s.settimeout(remaining)
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and b'"status":"ok"' in body:
                    break
        except socket.timeout:
            return ("read_timeout" if not data else "partial_timeout"), time.monotonic() - t0
        except ConnectionResetError:
            return "reset", time.monotonic() - t0
        except OSError as e:
            return "io_" + (errno.errorcode.get(e.errno, str(e.errno)).lower()), \
                time.monotonic() - t0
        elapsed = time.monotonic() - t0
        if not data:
            return "closed_without_answer", elapsed
        status_line = data.split(b"\r\n", 1)[0]
        if not status_line.startswith(b"HTTP/1.1 200"):
            return "status_" + status_line[9:12].decode("latin-1", "replace"), elapsed
        return "ok", elapsed
    finally:
        s.close()


class Stop:
    requested = False


def on_signal(signum, frame):
    Stop.requested = True


def health(args):
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    latencies, failures, slowest_failure = [], {}, 0.0
    ctx = tls_context(args.tls_ca)
    start = time.monotonic()
    next_at = start
    count = 0
    while not Stop.requested:
        if args.duration and time.monotonic() - start >= args.duration:
            break
        kind, secs = health_once(args.port, args.src, args.timeout, ctx)
        count += 1
        if kind == "ok":
            latencies.append(secs)
        else:
            failures[kind] = failures.get(kind, 0) + 1
            slowest_failure = max(slowest_failure, secs)
        next_at += args.interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()  # fell behind: no burst to catch up
    latencies.sort()
    out = {
        "count": count,
        "ok": len(latencies),
        "failed": count - len(latencies),
        "failures": failures,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "slowest_failure_ms": ms(slowest_failure) if failures else None,
        "seconds": round(time.monotonic() - start, 2),
    }
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------
# Server-side figures: fds, RSS, open-connections gauge
# ---------------------------------------------------------------------------------------


def proc_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def proc_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def open_connections(port, src, timeout=1.0, ctx=None):
    """The tessera_open_connections gauge minus this request's own connection."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((src, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s = tls_wrap(s, ctx)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        for line in data.decode("latin-1").splitlines():
            if line.startswith("tessera_open_connections "):
                return int(float(line.split()[1])) - 1
    except OSError:
        return None
    finally:
        s.close()
    return None


def snapshot_of(pid, port, src, ctx=None):
    return {"fds": proc_fds(pid), "rss_kib": proc_rss_kib(pid),
            "open_connections": open_connections(port, src, ctx=ctx)}


def snapshot(args):
    print(json.dumps(snapshot_of(args.pid, args.port, args.src, tls_context(args.tls_ca))),
          flush=True)


def sample(args):
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start = time.monotonic()
    ctx = tls_context(args.tls_ca)
    with open(args.out, "a") as f:
        while not Stop.requested:
            snap = snapshot_of(args.pid, args.port, args.src, ctx)
            if snap["fds"] is None:
                break  # the server is gone
            oc = snap["open_connections"]
            f.write("%.1f %d %d %s\n" % (time.monotonic() - start, snap["fds"], snap["rss_kib"],
                                         "-" if oc is None else oc))
            f.flush()
            end = time.monotonic() + args.every
            while not Stop.requested and time.monotonic() < end:
                time.sleep(0.05)


# ---------------------------------------------------------------------------------------
# Connection flood
# ---------------------------------------------------------------------------------------


def flood(args):
    """Open args.count connections, hold them, then ask each open one for /healthz.

    Per connection the client sees one of: connect refused (RST to the SYN), connect still
    pending at the end (SYN dropped: the server's accept queue is full), closed by the server
    during the hold (EOF or RST after the handshake; the time from handshake to close is
    recorded), or open at the end of the hold. An open one is then "served" when its
    /healthz answer arrives within args.answer_timeout, else "unserved" (the kernel completed
    the handshake but the server never accepted it: it sits in the listen backlog).
    """
    sel = selectors.DefaultSelector()
    conns = {}  # fd -> state dict
    result = {"attempted": 0, "connect_refused": 0, "connect_error": {}, "socket_error": None}
    t_start = time.monotonic()

    def close_conn(fd):
        c = conns.pop(fd)
        try:
            sel.unregister(c["sock"])
        except (KeyError, ValueError):
            pass
        c["sock"].close()
        return c

    def ask(c):
        """Send GET /healthz on an open (and, over TLS, handshaken) connection."""
        try:
            c["sock"].send(HEALTH_REQUEST_KEEP)
            c["state"] = "asked"
            sel.modify(c["sock"], selectors.EVENT_READ)
        except OSError:
            c["state"] = "no_answer"
            try:
                sel.unregister(c["sock"])
            except (KeyError, ValueError):
                pass

    ctx = tls_context(args.tls_ca)
    closed_by_server = []  # seconds from handshake to EOF/RST
    for i in range(args.count):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            result["socket_error"] = "after %d sockets: %s" % (i, e)
            break
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.src, 0))
        result["attempted"] += 1
        rc = s.connect_ex(("127.0.0.1", args.port))
        now = time.monotonic()
        if rc == errno.ECONNREFUSED:
            result["connect_refused"] += 1
            s.close()
            continue
        if rc not in (0, errno.EINPROGRESS):
            name = errno.errorcode.get(rc, str(rc))
            result["connect_error"][name] = result["connect_error"].get(name, 0) + 1
            s.close()
            continue
        c = {"sock": s, "t_connect": now if rc == 0 else None, "state": "pending"}
        if rc == 0:
            c["state"] = "open"
        conns[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ if rc == 0 else selectors.EVENT_WRITE)
    t_opened = time.monotonic()
    result["open_phase_s"] = round(t_opened - t_start, 3)

    def pump(until):
        while time.monotonic() < until:
            for key, ev in sel.select(timeout=max(0.0, min(0.2, until - time.monotonic()))):
                fd = key.fd
                c = conns.get(fd)
                if c is None:
                    continue
                s = c["sock"]
                if c["state"] == "pending":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err == 0:
                        c["state"] = "open"
                        c["t_connect"] = time.monotonic()
                        sel.modify(s, selectors.EVENT_READ)
                    else:
                        name = errno.errorcode.get(err, str(err))
                        if err == errno.ECONNREFUSED:
                            result["connect_refused"] += 1
                        else:
                            result["connect_error"][name] = result["connect_error"].get(name, 0) + 1
                        close_conn(fd)
                    continue
                if c["state"] == "open":
                    try:
                        data = s.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        closed_by_server.append(time.monotonic() - c["t_connect"])
                        close_conn(fd)
                    continue
                if c["state"] == "handshaking":
                    try:
                        s.do_handshake()
                    except ssl.SSLWantReadError:
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    except ssl.SSLWantWriteError:
                        sel.modify(s, selectors.EVENT_WRITE)
                        continue
                    except OSError:
                        c["state"] = "no_answer"
                        sel.unregister(s)
                        continue
                    ask(c)
                    continue
                if c["state"] == "asked":
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    except OSError:
                        data = b""
                    c["answer"] = c.get("answer", b"") + data
                    if not data or b'"status":"ok"' in c["answer"]:
                        c["state"] = "answered" if c["answer"].startswith(b"HTTP/1.1 200") \
                            else "no_answer"
                        sel.unregister(s)

    if args.pid:
        # server-side view in the middle of the hold
        pump(time.monotonic() + args.hold / 2)
        result["server_mid_hold"] = {"fds": proc_fds(args.pid), "rss_kib": proc_rss_kib(args.pid)}
        pump(time.monotonic() + args.hold / 2)
    else:
        pump(time.monotonic() + args.hold)
    states = [c["state"] for c in conns.values()]
    result["open_at_end_of_hold"] = states.count("open")
    result["pending_at_end_of_hold"] = states.count("pending")
    result["closed_by_server"] = len(closed_by_server)
    closed_by_server.sort()
    result["close_after_handshake_p50_ms"] = ms(percentile(closed_by_server, 50))
    result["close_after_handshake_p99_ms"] = ms(percentile(closed_by_server, 99))
    result["close_after_handshake_max_ms"] = ms(closed_by_server[-1] if closed_by_server else None)

    # Which of the open ones does the server really serve? Over TLS each first completes
    # its handshake (non-blocking, in pump), then asks.
    for c in conns.values():
        if c["state"] != "open":
            continue
        if ctx is None:
            ask(c)
            continue
        try:
            sel.unregister(c["sock"])
            c["sock"].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c["sock"] = ctx.wrap_socket(c["sock"], server_hostname="127.0.0.1",
                                        do_handshake_on_connect=False)
            sel.register(c["sock"], selectors.EVENT_WRITE)
            c["state"] = "handshaking"
        except OSError:
            c["state"] = "no_answer"
    pump(time.monotonic() + args.answer_timeout)
    states = [c["state"] for c in conns.values()]
    result["served"] = states.count("answered")
    result["unserved"] = states.count("asked") + states.count("no_answer") + \
        states.count("handshaking")
    result["closed_while_asking"] = result["open_at_end_of_hold"] - result["served"] - \
        result["unserved"]
    for fd in list(conns):
        close_conn(fd)
    result["seconds"] = round(time.monotonic() - t_start, 2)
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------
# Slow TLS handshakes
# ---------------------------------------------------------------------------------------

# A TLS 1.2 record header announcing a 512-byte handshake message, and the start of a
# ClientHello (type 1, length 508, version 3.3); then zeros, one byte at a time. The server
# waits for the rest of the record and never gets it.
SLOW_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + \
    bytes(501)


def slowtls(args):
    """Keep args.count slow handshakes going for args.duration seconds."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sel = selectors.DefaultSelector()
    conns = {}  # fd -> {"sock", "t", "sent", "next"}
    held = []  # seconds from connect to the server's close, per connection
    result = {"connections": 0, "refused": 0, "connect_error": {}, "closed_by_server": 0,
              "reset_by_server": 0}
    start = time.monotonic()
    end = start + args.duration
    next_open = start

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.src, 0))
        s.settimeout(1.0)
        try:
            s.connect(("127.0.0.1", args.port))
            s.sendall(SLOW_HELLO[:5])
        except ConnectionRefusedError:
            result["refused"] += 1
            s.close()
            return
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
            result["connect_error"][name] = result["connect_error"].get(name, 0) + 1
            s.close()
            return
        s.setblocking(False)
        now = time.monotonic()
        result["connections"] += 1
        conns[s.fileno()] = {"sock": s, "t": now, "sent": 5, "next": now + args.interval}
        sel.register(s, selectors.EVENT_READ)

    while not Stop.requested and time.monotonic() < end:
        now = time.monotonic()
        # Open (or reopen) at args.rate per second up to args.count.
        while len(conns) < args.count and next_open <= now:
            open_one()
            next_open += 1.0 / args.rate
        if len(conns) >= args.count:
            next_open = max(next_open, now)
        for key, _ in sel.select(timeout=0.05):
            c = conns.get(key.fd)
            if c is None:
                continue
            try:
                data = c["sock"].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = None
            if data:
                continue  # an alert before the close: keep reading
            held.append(time.monotonic() - c["t"])
            result["closed_by_server" if data == b"" else "reset_by_server"] += 1
            sel.unregister(c["sock"])
            c["sock"].close()
            del conns[key.fd]
        now = time.monotonic()
        for fd, c in list(conns.items()):
            if c["next"] <= now and c["sent"] < len(SLOW_HELLO):
                try:
                    c["sock"].send(SLOW_HELLO[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except OSError:
                    pass  # the read side sees the close
                c["next"] = now + args.interval
    now = time.monotonic()
    open_ages = sorted(now - c["t"] for c in conns.values())
    result["open_at_end"] = len(open_ages)
    result["oldest_open_s"] = round(open_ages[-1], 3) if open_ages else None
    held.sort()
    result["held_p50_s"] = None if not held else round(percentile(held, 50), 3)
    result["held_p99_s"] = None if not held else round(percentile(held, 99), 3)
    result["held_max_s"] = None if not held else round(held[-1], 3)
    result["seconds"] = round(now - start, 2)
    for c in conns.values():
        c["sock"].close()
    print(json.dumps(result), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("health")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--src", default="127.0.0.2")
    h.add_argument("--interval", type=float, default=0.02)
    h.add_argument("--timeout", type=float, default=2.0)
    h.add_argument("--duration", type=float, default=0.0)
    h.add_argument("--tls-ca", default="")
    f = sub.add_parser("flood")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--src", default="127.0.0.3")
    f.add_argument("--count", type=int, default=10000)
    f.add_argument("--hold", type=float, default=5.0)
    f.add_argument("--answer-timeout", type=float, default=3.0)
    f.add_argument("--pid", type=int, default=0)
    f.add_argument("--tls-ca", default="")
    t = sub.add_parser("slowtls")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--src", default="127.0.0.1")
    t.add_argument("--count", type=int, default=1000)
    t.add_argument("--rate", type=float, default=200.0)
    t.add_argument("--interval", type=float, default=1.0)
    t.add_argument("--duration", type=float, default=60.0)
    for name in ("sample", "snapshot"):
        s = sub.add_parser(name)
        s.add_argument("--pid", type=int, required=True)
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--src", default="127.0.0.2")
        s.add_argument("--tls-ca", default="")
        if name == "sample":
            s.add_argument("--every", type=float, default=1.0)
            s.add_argument("--out", required=True)
    args = p.parse_args()
    {"health": health, "flood": flood, "sample": sample, "snapshot": snapshot,
     "slowtls": slowtls}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
