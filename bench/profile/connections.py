#!/usr/bin/env python3
"""What one connection costs kezd in memory, idle and at its worst.

Starts the given kezd binary on a loopback port, opens N connections in each state below, and
prints kezd's VmRSS growth per connection:

- idle: one request answered, the connection kept alive (HTTP/1.1 keep-alive);
- head: a request head of nearly 8 KiB sent but not finished, so hyper's read buffer is full;
- body: a head and the first bytes of a 64 KiB body whose rest never comes, so the body's
  buffer is held too (counted by the memory budget, `kezd_inflight_bytes`).

With --tls CERT KEY, the connections are TLS (Python's ssl module, no verification).

    python3 bench/profile/connections.py --kezd target/debug/kezd [--count 1000]

The figures feed the per-connection bound of deploy/README.md ("Memory under hostile
traffic"); nothing here asserts.
"""

import argparse
import socket
import ssl
import subprocess
import tempfile
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


def connect(port, context):
    sock = socket.create_connection(("127.0.0.1", port))
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    return sock


def idle(sock):
    sock.sendall(b"GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk


def head(sock):
    filler = "a" * (7 * 1024)
    sock.sendall(f"GET /v1/healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}".encode())


def body(sock):
    sock.sendall(
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 65536\r\n\r\n" + b"a" * 1000
    )


def inflight(base, context):
    try:
        text = urllib.request.urlopen(f"{base}/metrics", timeout=5, context=context).read()
    except OSError:
        return None
    for line in text.decode().splitlines():
        if line.startswith("kezd_inflight_bytes "):
            return int(line.split()[1])
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kezd", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()

    port = free_port()
    context = None
    if args.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    scheme = "https" if args.tls else "http"
    base = f"{scheme}://127.0.0.1:{port}"
    print(f"binary {args.kezd}, {args.count} connections per state, {scheme}")
    # A fresh kezd per state: memory freed by one state stays with the allocator and would
    # hide the next state's cost.
    for name, action in [("idle", idle), ("head", head), ("body", body)]:
        with tempfile.TemporaryDirectory() as data:
            command = [
                args.kezd,
                "--bind", f"127.0.0.1:{port}",
                "--server-name", f"localhost:{port}",
                "--data-dir", data,
                "--set", "log.level=warn",
                # Long enough for the whole measurement: the point is what is held meanwhile.
                "--set", "http.header_read_timeout_ms=600000",
                "--set", "http.body_timeout_ms=600000",
                "--set", "http.body_min_bytes_per_sec=0",
                "--set", "rate.client_per_minute=1000000",
                # Every connection comes from 127.0.0.1: lift the per-address cap.
                "--set", f"http.max_connections_per_address={args.count + 10}",
            ]
            if args.tls:
                command += ["--tls-cert", args.tls[0], "--tls-key", args.tls[1]]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            try:
                measure(proc, base, context, port, name, action, args.count)
            finally:
                proc.terminate()
                proc.wait(timeout=30)


def measure(proc, base, context, port, name, action, count):
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/v1/healthz", timeout=1, context=context)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("kezd did not start")
            time.sleep(0.1)
    time.sleep(1)
    before = rss_kb(proc.pid)
    held = []
    for _ in range(count):
        sock = connect(port, context)
        action(sock)
        held.append(sock)
    time.sleep(2)
    after = rss_kb(proc.pid)
    budget = inflight(base, context)
    per = (after - before) * 1024 / count
    print(f"{name:5}  +{(after - before) / 1024:7.1f} MiB  {per:8.0f} B per connection"
          f"  kezd_inflight_bytes={budget}")
    for sock in held:
        sock.close()


if __name__ == "__main__":
    main()
