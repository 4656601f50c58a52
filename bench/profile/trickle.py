#!/usr/bin/env python3
"""Trickled request bodies against a real kezd, and what they cost it in memory.

Starts the given kezd binary on a loopback port with a fresh data directory, opens N
connections that each send `POST /v1/messages` with a body of SIZE bytes a few bytes at a time
(Content-Length or chunked) over SECONDS, and prints kezd's VmRSS before, at the peak, and after
the connections closed, with `kezd_inflight_bytes` from /metrics when the binary exports it.

    python3 bench/profile/trickle.py --kezd target/debug/kezd [--chunked] [--connections 4]

The figures go in docs/BENCHMARKS.md; nothing here asserts, since RSS depends on the
allocator and the machine.
"""

import argparse
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, proc):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"kezd exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("kezd did not become healthy")


def inflight(port):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return None
    for line in text.decode().splitlines():
        if line.startswith("kezd_inflight_bytes "):
            return int(line.split()[1])
    return None


def trickle(port, size, seconds, step, chunked, outcome, index):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall(
        f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n".encode()
    )
    pause = seconds * step / size
    sent = 0
    try:
        while sent < size:
            piece = b"a" * min(step, size - sent)
            if chunked:
                piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
            sock.sendall(piece)
            sent += min(step, size - sent)
            time.sleep(pause)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(10)
        outcome[index] = sock.recv(200).split(b"\r\n")[0].decode(errors="replace")
    except OSError as error:
        outcome[index] = f"{error} after {sent} bytes"
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kezd", required=True)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--size", type=int, default=65024, help="body bytes (63.5 KB)")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--step", type=int, default=4, help="bytes per write")
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="extra kezd --set")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        command = [
            args.kezd,
            "--bind", f"127.0.0.1:{port}",
            "--server-name", f"localhost:{port}",
            "--data-dir", data,
            "--set", "log.level=warn",
        ]
        for extra in args.set:
            command += ["--set", extra]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            wait_healthy(port, proc)
            before = rss_kb(proc.pid)
            outcome = [None] * args.connections
            threads = [
                threading.Thread(
                    target=trickle,
                    args=(port, args.size, args.seconds, args.step, args.chunked, outcome, i),
                )
                for i in range(args.connections)
            ]
            for thread in threads:
                thread.start()
            peak, peak_inflight = before, None
            while any(thread.is_alive() for thread in threads):
                peak = max(peak, rss_kb(proc.pid))
                now_inflight = inflight(port)
                if now_inflight is not None:
                    peak_inflight = max(peak_inflight or 0, now_inflight)
                time.sleep(0.5)
            time.sleep(2)
            after = rss_kb(proc.pid)
            body_bytes = args.size * args.connections
            print(f"binary            {args.kezd}")
            print(f"bodies            {args.connections} x {args.size} B, "
                  f"{'chunked' if args.chunked else 'Content-Length'}, "
                  f"{args.step} B per write over {args.seconds:.0f} s")
            print(f"answers           {outcome}")
            print(f"VmRSS before      {before / 1024:.1f} MiB")
            print(f"VmRSS peak        {peak / 1024:.1f} MiB (+{(peak - before) / 1024:.1f} MiB, "
                  f"{(peak - before) * 1024 / body_bytes:.1f} B per body byte)")
            print(f"VmRSS after       {after / 1024:.1f} MiB")
            print(f"inflight peak     {peak_inflight}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
