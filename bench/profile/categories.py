"""Shares of kezd's CPU samples by category, from a folded perf profile (record.sh).

Each sample goes to the first category that matches a frame, walking from the innermost frame
outwards: time in malloc called by the JSON parser counts as the allocator, time in SQLite
called by a handler counts as SQLite. Prints a Markdown table for docs/BENCHMARKS.md.
"""

import collections
import sys

CATEGORIES = [
    ("ed25519 verification", ["curve25519_dalek", "ed25519_dalek"]),
    ("SQLite (statements, WAL, fsync, sqlx)", ["sqlite3", "sqlx_sqlite", "sqlx_core", "fsync", "fdatasync", "pwrite"]),
    ("PostgreSQL client (sqlx-postgres)", ["sqlx_postgres"]),
    ("TLS (rustls, aws-lc)", ["rustls", "aws_lc"]),
    ("JSON, JCS, SHA-256, hex, base64", ["serde_json", "serde_jcs", "kez_spec::json", "sha2::", "hexstr", "hex::", "base64::"]),
    ("HTTP (hyper, h2)", ["hyper::", "h2::", "hyper_util"]),
    ("allocator", ["mi_", "malloc", "free", "realloc"]),
    ("network syscalls", ["tcp_", "sock_", "__sys_sendto", "__sys_recvfrom", "writev", "ip_"]),
    ("thread wake-ups and scheduling", ["futex", "finish_task_switch", "schedule", "wake_up", "epoll"]),
    # Last, so that only time in their own frames counts here; visible only in a kezd built
    # with frame pointers (otherwise most stacks end before reaching them).
    ("kezd's own code", ["kezd::"]),
    ("tokio runtime", ["tokio::"]),
]
OTHER = "other (unattributed frames, broker, NATS client)"


def category(frames):
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(needle in frame for needle in needles):
                return name
    return OTHER


def main(path):
    totals = collections.Counter()
    with open(path, encoding="utf-8") as folded:
        for line in folded:
            stack, _, weight = line.rstrip().rpartition(" ")
            totals[category(stack.split(";"))] += int(weight)
    everything = sum(totals.values()) or 1
    print("| category | share of kezd's samples |")
    print("| --- | --- |")
    for name, weight in totals.most_common():
        print(f"| {name} | {100 * weight / everything:.0f} % |")


if __name__ == "__main__":
    main(sys.argv[1])
