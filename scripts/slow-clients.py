#!/usr/bin/env python3
"""Slow-header clients against `headroom serve`, on loopback only.

Opens N connections that send half a request head and then stall, measures how long the server
keeps each one open, and times a normal request (GET /healthz, a fresh connection each) before
and while they are open. Prints a small table.

Against a running server:
    scripts/slow-clients.py --url http://127.0.0.1:7979 --clients 2000
Or starting one from a built binary (a fresh data directory, a free port, stopped at the end):
    scripts/slow-clients.py --binary target/release/headroom --clients 2000 \
        --serve-args "--header-timeout 10s"

Python 3 standard library only. Bounded: at most 10,000 clients, and every wait has a limit.
"""

import argparse
import http.client
import os
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

MAX_CLIENTS = 10_000
HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: "


def loopback_address(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        sys.exit(f"--url {url}: only http:// is supported")
    host, port = parts.hostname, parts.port or 80
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as e:
        sys.exit(f"--url {url}: cannot resolve {host}: {e}")
    for family, _, _, _, addr in infos:
        ip = addr[0]
        if ip.startswith("127.") or ip == "::1":
            return family, addr
    sys.exit(f"--url {url}: {host} is not a loopback address; this tool only runs on loopback")


def raise_open_file_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < needed:
        sys.exit(f"open-file limit {soft} is below the {needed} this run needs (ulimit -n)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(family, addr, timeout):
    """Seconds one GET /healthz took on a fresh connection, or None if it failed."""
    host = addr[0] if family == socket.AF_INET else f"[{addr[0]}]"
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, addr[1], timeout=timeout)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status != 200:
            return None
    except OSError:
        return None
    return time.perf_counter() - start


def probe_round(family, addr, count, timeout):
    took = [healthz(family, addr, timeout) for _ in range(count)]
    ok = [t for t in took if t is not None]
    return ok, len(took) - len(ok)


def start_server(binary, serve_args, deadline):
    port = free_port()
    data = tempfile.mkdtemp(prefix="headroom-slow-clients-")
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data]
    cmd += shlex.split(serve_args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    addr = ("127.0.0.1", port)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{' '.join(cmd)} exited with {proc.returncode}")
        if healthz(socket.AF_INET, addr, 1.0) is not None:
            return proc, (socket.AF_INET, addr), data
        time.sleep(0.1)
    proc.kill()
    sys.exit("the server did not answer /healthz in time")


def open_stalled(family, addr, count, timeout):
    """Sockets that sent half a head, with the time each was opened; and how many failed."""
    opened, failed = [], 0
    for _ in range(count):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            s.sendall(HALF_HEAD)
        except OSError:
            s.close()
            failed += 1
            continue
        s.setblocking(False)
        opened.append((s, time.monotonic()))
    return opened, failed


def wait_for_closes(opened, wait):
    """Seconds each socket stayed open until the server closed it; the rest are still open."""
    sel = selectors.DefaultSelector()
    for s, at in opened:
        sel.register(s, selectors.EVENT_READ, at)
    lifetimes, answered = [], 0
    deadline = time.monotonic() + wait
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if data:
                answered += 1  # a response to half a head: counted, then the socket is dropped
            lifetimes.append(time.monotonic() - key.data)
            sel.unregister(s)
            s.close()
    still_open = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    return lifetimes, answered, still_open


def ms(seconds):
    return f"{seconds * 1000:.1f}"


def summary(values):
    if not values:
        return "-", "-", "-"
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return ms(statistics.median(values)), ms(p99), ms(values[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:7979")
    where.add_argument("--binary", help="a built headroom binary to start on a free port")
    ap.add_argument("--serve-args", default="", help="extra flags for `serve` (with --binary)")
    ap.add_argument("--clients", type=int, default=2000, help="slow clients (default 2000)")
    ap.add_argument("--probes", type=int, default=200, help="GET /healthz per round (default 200)")
    ap.add_argument("--wait", type=float, default=60.0,
                    help="seconds to wait for the server to close the slow clients (default 60)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds one connect or /healthz may take (default 10)")
    args = ap.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS:
        sys.exit(f"--clients {args.clients}: between 1 and {MAX_CLIENTS}")
    if not 1 <= args.probes <= 10_000:
        sys.exit(f"--probes {args.probes}: between 1 and 10000")
    if not 0 < args.wait <= 600:
        sys.exit(f"--wait {args.wait}: more than 0 and at most 600 seconds")
    raise_open_file_limit(args.clients + args.probes + 64)

    proc = None
    if args.binary:
        proc, (family, addr), data = start_server(args.binary, args.serve_args, time.monotonic() + 60)
    else:
        family, addr = loopback_address(args.url)
    try:
        before, before_failed = probe_round(family, addr, args.probes, args.timeout)
        started = time.monotonic()
        opened, open_failed = open_stalled(family, addr, args.clients, args.timeout)
        opening = time.monotonic() - started
        during, during_failed = probe_round(family, addr, args.probes, args.timeout)
        lifetimes, answered, still_open = wait_for_closes(opened, args.wait)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(data, ignore_errors=True)

    print(f"slow clients: {len(opened)} opened in {opening:.2f} s, {open_failed} failed to open")
    print()
    print("| GET /healthz (fresh connection each) | n | failed | p50 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, ok, failed in [
        ("before the slow clients", before, before_failed),
        (f"with {len(opened)} slow clients open", during, during_failed),
    ]:
        p50, p99, top = summary(ok)
        print(f"| {name} | {len(ok) + failed} | {failed} | {p50} | {p99} | {top} |")
    print()
    print(f"| slow clients (waited up to {args.wait:g} s) | count | "
          "open for: p50 s | min s | max s |")
    print("| --- | --- | --- | --- | --- |")
    if lifetimes:
        lo, mid, hi = min(lifetimes), statistics.median(lifetimes), max(lifetimes)
        print(f"| closed by the server | {len(lifetimes)} | {mid:.2f} | {lo:.2f} | {hi:.2f} |")
    else:
        print("| closed by the server | 0 | - | - | - |")
    print(f"| answered before closing | {answered} | | | |")
    print(f"| still open at the end | {still_open} | | | |")


if __name__ == "__main__":
    main()
