#!/usr/bin/env python3
"""Independent cross-check of every KEZ test-vector file in spec/vectors/.

Written from spec/SPEC.md (and notes/wire-decisions.md, its source) and the
RFCs only, never from the Rust code. Dependencies: the Python standard library and
`cryptography` (used as the independent library for X25519, HKDF, AES-256-GCM
and as a second opinion on ed25519). Ed25519 verification itself is done
here, in pure Python, by RFC 8032 §5.1.7 plus the strict rules of SPEC §3.4.

Usage:
    python3 spec/crosscheck/check_vectors.py [--vectors DIR] [--allow-missing-kez]

Exit status 0 when every vector of every file checks; 1 otherwise (the failing
vectors are named); 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys

from kezcheck.checks.aes256gcm import check_aes256gcm
from kezcheck.checks.ed25519_strict import check_ed25519_strict
from kezcheck.checks.kez_auth import check_kez_auth
from kezcheck.checks.kez_deletion import check_kez_deletion
from kezcheck.checks.kez_envelope import check_kez_envelope
from kezcheck.checks.kez_identities import check_kez_identities
from kezcheck.checks.kez_registration import check_kez_registration
from kezcheck.checks.kez_s2s import check_kez_s2s
from kezcheck.checks.kez_seal import check_kez_seal
from kezcheck.checks.kez_server_names import check_kez_server_names
from kezcheck.checks.kez_signed_objects import check_kez_signed_objects
from kezcheck.checks.rfc5869_hkdf_sha256 import check_rfc5869
from kezcheck.checks.rfc7748_x25519 import check_rfc7748
from kezcheck.checks.rfc8032_ed25519 import check_rfc8032
from kezcheck.checks.rfc8785_jcs import check_rfc8785
from kezcheck.ed25519 import BASE, L, is_small_order, pt_decode, pt_encode, pt_is_identity, pt_mul
from kezcheck.jcs import JsonReject, Num, es6_number, strict_parse
from kezcheck.report import Report, check_file_fields


PUBLISHED = {
    "rfc8032-ed25519.json": check_rfc8032,
    "rfc7748-x25519.json": check_rfc7748,
    "rfc5869-hkdf-sha256.json": check_rfc5869,
    "rfc8785-jcs.json": check_rfc8785,
    "aes256gcm.json": check_aes256gcm,
    "ed25519-strict.json": check_ed25519_strict,
}
KEZ = {
    "kez-identities.json": check_kez_identities,
    "kez-signed-objects.json": check_kez_signed_objects,
    "kez-registration.json": check_kez_registration,
    "kez-deletion.json": check_kez_deletion,
    "kez-envelope.json": check_kez_envelope,
    "kez-auth.json": check_kez_auth,
    "kez-seal.json": check_kez_seal,
    "kez-s2s.json": check_kez_s2s,
    "kez-server-names.json": check_kez_server_names,
}


def self_test():
    """Guards the checker itself against silent breakage (cheap)."""
    assert pt_encode(BASE).hex() == "58" + "66" * 31
    assert is_small_order(pt_decode((1).to_bytes(32, "little"))[0])
    assert not is_small_order(BASE)
    assert pt_is_identity(pt_mul(L, BASE))
    assert es6_number(1e21) == "1e+21" and es6_number(1e-7) == "1e-7" and es6_number(-0.0) == "0"
    assert es6_number(123.0) == "123" and es6_number(0.5) == "0.5"


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vectors", default=os.path.join(here, "..", "vectors"), help="directory of vector files")
    ap.add_argument("--allow-missing-kez", action="store_true",
                    help="skip kez-*.json files that do not exist yet (never in CI)")
    args = ap.parse_args(argv)

    self_test()
    vdir = os.path.normpath(args.vectors)
    if not os.path.isdir(vdir):
        print(f"FAIL  vectors directory not found: {vdir}")
        return 1
    present = sorted(f for f in os.listdir(vdir) if f.endswith(".json"))
    failed = False
    checkers = dict(PUBLISHED)
    checkers.update(KEZ)

    for fname in present:
        if fname not in checkers:
            print(f"FAIL  {fname}: no checker for this file (every vector file must be cross-checked)")
            failed = True

    for fname, fn in checkers.items():
        path = os.path.join(vdir, fname)
        if not os.path.exists(path):
            if fname in KEZ and args.allow_missing_kez:
                print(f"SKIP  {fname}: missing (allowed by --allow-missing-kez)")
            else:
                print(f"FAIL  {fname}: MISSING expected vector file")
                failed = True
            continue
        rep = Report(fname)
        try:
            with open(path, "rb") as fh:
                doc = strict_parse(fh.read())
            doc = _plain(doc)
        except JsonReject as e:
            print(f"FAIL  {fname}: not strict JSON ({e})")
            failed = True
            continue
        if not isinstance(doc, dict):
            print(f"FAIL  {fname}: top level is not an object")
            failed = True
            continue
        check_file_fields(doc, rep)
        fn(doc, rep)
        if rep.failures:
            failed = True
            names = ", ".join(n for n, _ in rep.failures)
            print(f"FAIL  {fname}: {len(rep.failures)} of {rep.count} vectors fail: {names}")
            for n, why in rep.failures:
                print(f"        - {n}: {why}")
        else:
            print(f"ok    {fname}: {rep.count} vectors")
    print("FAILED" if failed else "all vector files check")
    return 1 if failed else 0


def _plain(value):
    """Vector files are read strictly; numbers become int (integral tokens) or
    float so the checkers can use them directly."""
    if isinstance(value, Num):
        return int(value.token) if value.is_int else float(value.token)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
