#!/usr/bin/env python3
"""Checks spec/openapi.yaml against a running kezd, so the document stays the contract it says
it is (SPEC §4, §7-§10).

Starts the given kezd on a free loopback port with a temporary data directory, then:

1. signed flows: real requests a client makes — register (and its retry), look-ups,
   WebFinger, send (and its resend), poll, status, acknowledge, the server document — each
   signed as SPEC §3, §4.1, §6 and §7 say (ed25519 with `cryptography`, JCS and sealing from
   spec/crosscheck), each answer checked against the document's status codes and schemas;
2. refusals: schemathesis generates requests from the document, valid and fuzzed, for every
   operation but the SSE stream (which never ends), and every answer must be one the
   document lists, with its content type and schema, and never a 5xx.

Federation is confined to the machine: every origin but one that does not exist is blocked
(fuzzed transactions are refused before any look-up), and the resolver is a closed loopback
port, so a fuzzed remote look-up fails at once without a packet leaving the host.

    python3 spec/openapi/check.py --kezd target/release/kezd [--fuzz-secs 60]

Needs `schemathesis` (pip) and `cryptography`. Exit status 0 when everything matches.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).resolve().parent
DOCUMENT = HERE.parent / "openapi.yaml"
sys.path.insert(0, str(HERE.parent / "crosscheck"))
from kezcheck.jcs import jcs_bytes  # noqa: E402 (the vendored checker, found by path)
from kezcheck.operations import kez_seal  # noqa: E402

# Limits raised so the fuzzer meets the checks, not the rate limiter; one origin allowed
# that does not exist, so every fuzzed one is blocked before its document is fetched.
SETTINGS = [
    "rate.client_per_minute=10000000",
    "rate.register_per_hour=10000000",
    "rate.sender_per_minute=10000000",
    "rate.recipient_per_minute=10000000",
    "rate.recipient_strangers_per_minute=10000000",
    "rate.first_contacts_per_hour=10000000",
    "rate.remote_lookups_per_minute=10000000",
    "rate.remote_lookups_per_server_per_minute=10000000",
    "federation.allow=peer.invalid",
    "federation.resolver=127.0.0.1:9",
    "federation.request_timeout_secs=2",
]


class Mismatch(Exception):
    """An answer the document does not describe."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_kezd(kezd: str, data: str, port: int) -> subprocess.Popen:
    args = [kezd, "--bind", f"127.0.0.1:{port}", "--server-name", f"localhost:{port}",
            "--data-dir", data]
    for setting in SETTINGS:
        args += ["--set", setting]
    log = open(os.path.join(data, "kezd.log"), "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"kezd exited with {proc.returncode}; see {data}/kezd.log")
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/healthz", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("kezd did not answer /v1/healthz within 30 s")


class Person:
    """A key, a handle and the signatures a client makes (SPEC §3.8, §7)."""

    def __init__(self, server: str):
        self.seed = secrets.token_bytes(32)
        self.key = Ed25519PrivateKey.from_private_bytes(self.seed)
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.primary = "ed25519:" + self.public.hex()
        self.handle = "oa" + secrets.token_hex(6)
        self.address = f"{self.handle}@{server}"
        self.server = server

    def signed(self, body: dict) -> dict:
        sig = self.key.sign(jcs_bytes(body)).hex()
        return {**body, "signature": {"alg": "ed25519", "sig": sig}}

    def registration(self) -> dict:
        return self.signed({"type": "registration", "handle": self.handle, "server": self.server,
                            "primary": self.primary, "ts": int(time.time() * 1000)})

    def envelope(self, to: "Person", text: str) -> dict:
        nonce = secrets.token_bytes(12)
        plaintext = json.dumps({"text": text}).encode()
        ciphertext = kez_seal(self.seed, to.public, nonce, plaintext)
        return self.signed({"type": "envelope", "v": 1, "from": self.address,
                            "from_primary": self.primary, "to": to.address,
                            "ts": int(time.time() * 1000), "nonce": nonce.hex(),
                            "ciphertext": base64.b64encode(ciphertext).decode()})

    def credential(self, string: str) -> str:
        ts = int(time.time())
        return f"{ts}:{self.key.sign(f'{string}{ts}'.encode()).hex()}"


class Client:
    """Sends requests and checks each answer against the document's operation."""

    def __init__(self, base: str):
        self.base = base
        self.schema = schemathesis.openapi.from_path(str(DOCUMENT))
        self.checked = 0

    def call(self, method: str, template: str, path: str, status: int, **kwargs) -> requests.Response:
        response = requests.request(method, self.base + path, timeout=10, **kwargs)
        what = f"{method} {path}"
        if response.status_code != status:
            raise Mismatch(f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}")
        try:
            self.schema[template][method].validate_response(response)
        except Exception as error:  # schemathesis raises its own failure types, grouped
            raise Mismatch(f"{what}: the answer does not match spec/openapi.yaml: {error}") from None
        self.checked += 1
        return response


def signed_flows(client: Client, server: str) -> None:
    """Every client operation along a real path, each answer checked (SPEC §4, §7, §8, §9.7)."""
    alice, bob = Person(server), Person(server)
    for person in (alice, bob):
        registration = person.registration()
        client.call("POST", "/v1/register", "/v1/register", 201, json=registration)
        client.call("POST", "/v1/register", "/v1/register", 200, json=registration)
    client.call("GET", "/v1/healthz", "/v1/healthz", 200)
    client.call("GET", "/.well-known/kez", "/.well-known/kez", 200)
    client.call("GET", "/v1/u/{handle}", f"/v1/u/{alice.handle}", 200)
    client.call("GET", "/v1/u/{handle}", f"/v1/u/{alice.address}", 200)
    client.call("GET", "/v1/u/{handle}", "/v1/u/nobody-here", 404)
    client.call("GET", "/v1/u/{handle}", "/v1/u/bob@127.1", 400)
    client.call("GET", "/v1/by-primary/{primary}", f"/v1/by-primary/{bob.primary}", 200)
    client.call("GET", "/.well-known/webfinger", "/.well-known/webfinger", 200,
                params={"resource": f"acct:{alice.address}"})

    envelope = alice.envelope(bob, "hello bob")
    sent = client.call("POST", "/v1/messages", "/v1/messages", 201,
                       json={"to": bob.address, "envelope": envelope}).json()
    client.call("POST", "/v1/messages", "/v1/messages", 200,
                json={"to": bob.handle, "envelope": envelope})
    message_id = hashlib.sha256(jcs_bytes(envelope)).hexdigest()
    if sent["id"] != message_id:
        raise Mismatch(f"POST /v1/messages: id {sent['id']} is not the SHA-256 of the JCS")
    stranger = Person(server)
    client.call("POST", "/v1/messages", "/v1/messages", 403,
                json={"to": bob.address, "envelope": stranger.envelope(bob, "who?")})

    inbox = f"/v1/inbox/{bob.handle}"
    poll = bob.credential(f"GET\n{inbox}\nsince=0\n")
    page = client.call("GET", "/v1/inbox/{handle}", inbox, 200, params={"since": 0},
                       headers={"X-KEZ-Auth": poll}).json()
    if [m["id"] for m in page["messages"]] != [message_id]:
        raise Mismatch(f"GET {inbox}: expected the one message sent, got {page}")
    client.call("GET", "/v1/inbox/{handle}", inbox, 401, headers={"X-KEZ-Auth": "1:00"})

    status = f"/v1/messages/{message_id}/status"
    answer = client.call("GET", "/v1/messages/{id}/status", status, 200,
                         headers={"X-KEZ-Auth": alice.credential(f"GET\n{status}\n")}).json()
    if answer["status"] != "stored":
        raise Mismatch(f"GET {status}: expected stored, got {answer}")

    through = page["next_since"]
    ack = bob.credential(f"POST\n{inbox}/ack\nthrough={through}\n")
    deleted = client.call("POST", "/v1/inbox/{handle}/ack", f"{inbox}/ack", 200,
                          json={"through": through}, headers={"X-KEZ-Auth": ack}).json()
    if deleted != {"deleted": 1}:
        raise Mismatch(f"POST {inbox}/ack: expected one deletion, got {deleted}")


def fuzz(base: str, seconds: int) -> int:
    """schemathesis over every operation but the stream: the document's statuses, content
    types and schemas, and never a 5xx."""
    args = [
        sys.executable, "-m", "schemathesis.cli", "run", str(DOCUMENT), "--url", base,
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_schema_conformance",
        "--exclude-operation-id", "streamInbox",
        "--phases", "examples,coverage,fuzzing",
        "--max-time", str(seconds),
        "--request-timeout", "10",
        # One worker: hypothesis's internal caches are not safe across threads, and two
        # workers made schemathesis report its own errors as flaky failures.
        "--workers", "1",
        "--suppress-health-check", "all",
        "--no-color",
    ]
    return subprocess.call(args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kezd", required=True, help="the kezd binary to start")
    parser.add_argument("--fuzz-secs", type=int, default=60,
                        help="time schemathesis may spend generating requests (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kez-openapi-") as data:
        port = free_port()
        kezd = start_kezd(args.kezd, data, port)
        base = f"http://127.0.0.1:{port}"
        try:
            client = Client(base)
            try:
                signed_flows(client, f"localhost:{port}")
            except Mismatch as error:
                print(f"FAIL  signed flows: {error}")
                return 1
            print(f"ok    signed flows: {client.checked} answers match spec/openapi.yaml")
            code = fuzz(base, args.fuzz_secs)
            print(("ok    " if code == 0 else "FAIL  ") + "schemathesis against the document")
            return 0 if code == 0 else 1
        finally:
            kezd.terminate()
            try:
                kezd.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kezd.kill()


if __name__ == "__main__":
    sys.exit(main())
