#!/usr/bin/env python3
"""Independent reference values for row encoding v1 (docs/row-encoding.md).

A second, minimal implementation of the encoding in Python, hashed with Google's C++
FarmHash (pyfarmhash), computes the values that sql/row_fingerprint.slt and
sql/dataset_fingerprint.slt pin. If the Rust encoding ever drifts from its
specification, those tests fail.

Usage: python3 scripts/reference_fingerprints.py   (pip install pyfarmhash)
"""
import struct

import farmhash

MASK = (1 << 64) - 1


def signed(u: int) -> int:
    return u - (1 << 64) if u >= (1 << 63) else u


def integer(v: int) -> bytes:
    return b"\x02" + struct.pack("<q", v)


def string(v: str) -> bytes:
    b = v.encode("utf-8")
    return b"\x06" + struct.pack("<Q", len(b)) + b


def double(v: float) -> bytes:
    if v != v:
        bits = 0x7FF8000000000000
    elif v == 0:
        bits = 0
    else:
        bits = struct.unpack("<Q", struct.pack("<d", v))[0]
    return b"\x04" + struct.pack("<Q", bits)


NULL = b"\x00"


def row_fingerprint(*encoded: bytes) -> int:
    return signed(farmhash.fingerprint64(b"".join(encoded)))


def mix(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    return h ^ (h >> 33)


def dataset_fingerprint(rows) -> int:
    count = total = total_mixed = 0
    for row in rows:
        h = farmhash.fingerprint64(b"".join(row))
        count += 1
        total = (total + h) & MASK
        total_mixed = (total_mixed + mix(h)) & MASK
    state = struct.pack("<QQQ", count, total, total_mixed)
    return signed(farmhash.fingerprint64(state))


def main() -> None:
    print("row_fingerprint(5) =", row_fingerprint(integer(5)))
    print("row_fingerprint('v1', 1, 'a') =", row_fingerprint(string("v1"), integer(1), string("a")))
    print("row_fingerprint(NULL) =", row_fingerprint(NULL))
    # The table t of sql/dataset_fingerprint.slt.
    rows = (
        (integer(v), string(f"name-{v % 97}"), NULL if v % 5 == 0 else double(v * 1.5))
        for v in range(1, 10001)
    )
    print("dataset_fingerprint(id, name, score) FROM t =", dataset_fingerprint(rows))


if __name__ == "__main__":
    main()
