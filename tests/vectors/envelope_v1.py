#!/usr/bin/env python3
"""Independent reference implementation of the Sovereign field envelope v1.

Written from docs/format.md only (not from the C++ sources), on top of
python3-cryptography, to produce and check tests/vectors/envelope_v1.json:

    python3 tests/vectors/envelope_v1.py > tests/vectors/envelope_v1.json   # regenerate
    python3 tests/vectors/envelope_v1.py --check tests/vectors/envelope_v1.json

The C++ tests check the same file, so agreement of the two implementations is
what proves the format is specified well enough for another language.
"""
import base64
import json
import struct
import sys

from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MODES = {"random": 1, "deterministic": 2, "index": 3}
KEY_SIZES = {"random": 32, "deterministic": 64, "index": 32}
PREFIX = "sov1:"
SUBJECT_FLAG = 0x80  # set in the mode byte of an envelope that carries a subject tag
SUBJECT_TAG_SIZE = 16


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def header(mode, region, key_id, version, label_id, subject_tag=None):
    r = region.encode()
    mode_byte = MODES[mode] | (SUBJECT_FLAG if subject_tag is not None else 0)
    out = bytes([0x01, mode_byte, len(r)]) + r + uvarint(key_id) + uvarint(version) + uvarint(label_id)
    if subject_tag is not None:
        assert len(subject_tag) == SUBJECT_TAG_SIZE
        out += subject_tag
    return out


def associated_data(hdr, path, record_id):
    p = path.encode()
    ad = hdr + struct.pack(">I", len(p)) + p
    if record_id is None:
        return ad + b"\x00"
    r = record_id.encode()
    return ad + b"\x01" + struct.pack(">I", len(r)) + r


def derive_field_key(ikm, mode, label):
    """ikm is the version secret, or the subject key for a subject envelope; mode is never flagged."""
    lab = label.encode()
    info = b"sovereign/v1" + b"\x00" + bytes([MODES[mode]]) + struct.pack(">H", len(lab)) + lab
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZES[mode], salt=None, info=info).derive(ikm)


def _cmac(key, data):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _dbl(block):
    n = int.from_bytes(block, "big") << 1
    if n >> 128:
        n = (n & ((1 << 128) - 1)) ^ 0x87
    return n.to_bytes(16, "big")


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def aes_siv_encrypt(key, components, plaintext):
    """RFC 5297 AES-SIV-CMAC, composed here from CMAC and CTR."""
    k1, k2 = key[: len(key) // 2], key[len(key) // 2 :]
    d = _cmac(k1, bytes(16))
    for component in components:
        d = _xor(_dbl(d), _cmac(k1, component))
    if len(plaintext) >= 16:
        t = plaintext[:-16] + _xor(plaintext[-16:], d)
    else:
        padded = plaintext + b"\x80" + bytes(15 - len(plaintext))
        t = _xor(_dbl(d), padded)
    v = _cmac(k1, t)
    q = bytearray(v)
    q[8] &= 0x7F
    q[12] &= 0x7F
    enc = Cipher(algorithms.AES(k2), modes.CTR(bytes(q))).encryptor()
    return v + enc.update(plaintext) + enc.finalize()


def seal(case):
    key = bytes.fromhex(case["field_key"])
    tag = bytes.fromhex(case["subject_tag"]) if "subject_tag" in case else None
    hdr = header(case["mode"], case["region"], case["key_id"], case["key_version"], case["label_id"], tag)
    ad = associated_data(hdr, case["path"], case["record_id"])
    pt = bytes.fromhex(case["plaintext"])
    if case["mode"] == "random":
        nonce = bytes.fromhex(case["nonce"])
        body = nonce + AESGCM(key).encrypt(nonce, pt, ad)  # ciphertext || tag
    else:
        body = aes_siv_encrypt(key, [ad], pt)
    return hdr + body


def text(binary):
    return PREFIX + base64.urlsafe_b64encode(binary).decode().rstrip("=")


def cases():
    secret = bytes(range(32))
    out = []

    def add(name, mode, plaintext, path, record_id, nonce=None, region="us", key_id=1, version=1, label="email",
            label_id=1):
        key = derive_field_key(secret, mode, label)
        case = {
            "name": name, "mode": mode, "region": region, "key_id": key_id, "key_version": version,
            "label": label, "label_id": label_id, "version_secret": secret.hex(), "field_key": key.hex(),
            "nonce": nonce.hex() if nonce else None, "path": path, "record_id": record_id,
            "plaintext": plaintext.hex(),
        }
        binary = seal(case)
        case["envelope"] = binary.hex()
        case["text"] = text(binary)
        out.append(case)

    n = bytes.fromhex("000102030405060708090a0b")
    add("random, email with record id", "random", b"ann@example.com", "/email", "user-42", nonce=n)
    add("random, empty value", "random", b"", "/email", None, nonce=n)
    add("random, binary value with NUL and invalid UTF-8", "random", b"\x00\xff\xfe\x00abc", "/blob", None,
        nonce=bytes.fromhex("ffffffffffffffffffffffff"), label="blob", label_id=7)
    add("random, large ids (multi-byte varints)", "random", b"+1 555 0100", "/phone", "r",
        nonce=n, region="eu-west", key_id=300, version=128, label="phone", label_id=16384)
    add("random, path with escapes", "random", b"x", "/a~1b/~0c/0", "", nonce=n, label="c", label_id=2)
    add("deterministic, email", "deterministic", b"ann@example.com", "/email", None, label_id=1)
    add("deterministic, empty value", "deterministic", b"", "/email", None)
    add("deterministic, 16-byte value", "deterministic", b"0123456789abcdef", "/ssn", "user-42", label="ssn",
        label_id=3)
    add("deterministic, 100-byte value", "deterministic", bytes(range(100)), "/address/0", None,
        label="address", label_id=4, version=2)
    return out


def subject_cases():
    """Envelopes under a per-subject key: flagged mode byte, tag after the label id, key from the subject key."""
    subject_key = bytes(range(0x40, 0x60))
    subject_tag = bytes(range(0xA0, 0xB0))
    out = []

    def add(name, mode, plaintext, path, record_id, nonce=None, region="us", key_id=1, version=1, label="email",
            label_id=1):
        key = derive_field_key(subject_key, mode, label)
        case = {
            "name": name, "mode": mode, "region": region, "key_id": key_id, "key_version": version,
            "label": label, "label_id": label_id, "subject_key": subject_key.hex(),
            "subject_tag": subject_tag.hex(), "field_key": key.hex(),
            "nonce": nonce.hex() if nonce else None, "path": path, "record_id": record_id,
            "plaintext": plaintext.hex(),
        }
        binary = seal(case)
        case["envelope"] = binary.hex()
        case["text"] = text(binary)
        out.append(case)

    n = bytes.fromhex("000102030405060708090a0b")
    add("subject, random, email with record id", "random", b"ann@example.com", "/email", "user-42", nonce=n)
    add("subject, random, large ids, no record id", "random", b"+1 555 0100", "/phone", None, nonce=n,
        region="eu-west", key_id=300, version=128, label="phone", label_id=16384)
    add("subject, deterministic, email", "deterministic", b"ann@example.com", "/email", None)
    add("subject, deterministic, empty value with record id", "deterministic", b"", "/ssn", "user-42",
        label="ssn", label_id=3)
    return out


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_trailing_bit(t):
    """The same bytes with an unused trailing bit set: decodes leniently, must be rejected strictly."""
    body = t[len(PREFIX):]
    assert len(body) % 4 in (2, 3), "needs an envelope whose length is not a multiple of 3"
    return t[:-1] + ALPHABET[ALPHABET.index(t[-1]) | 1]


# Texts that must be rejected with "invalid ciphertext" by any implementation.
def invalid_texts(valid, subject):
    t = valid[0]["text"]
    s0 = bytes.fromhex(subject[0]["envelope"])  # "us", ids 1/1/1: the tag is bytes 8..24
    body = t[len(PREFIX):]
    return [
        {"reason": "missing prefix", "text": body},
        {"reason": "wrong prefix version", "text": "sov2:" + body},
        {"reason": "padding", "text": t + "=="},
        {"reason": "whitespace inside (same length)", "text": t[:10] + " " + t[11:]},
        {"reason": "standard base64 alphabet", "text": PREFIX + body.replace("-", "+").replace("_", "/") + "+/"},
        {"reason": "length 1 mod 4", "text": t + "A"},
        {"reason": "non-zero trailing bits", "text": _with_trailing_bit(valid[2]["text"])},
        {"reason": "format version 2", "text": text(b"\x02" + bytes.fromhex(valid[0]["envelope"])[1:])},
        {"reason": "mode 3 (index has no envelope)", "text": text(b"\x01\x03" + bytes.fromhex(valid[0]["envelope"])[2:])},
        {"reason": "non-minimal varint key id", "text": text(bytes.fromhex(valid[0]["envelope"])[:5] + b"\x81\x00"
                                                           + bytes.fromhex(valid[0]["envelope"])[6:])},
        {"reason": "upper-case region", "text": text(b"\x01\x01\x02US" + bytes.fromhex(valid[0]["envelope"])[5:])},
        {"reason": "truncated header", "text": text(bytes.fromhex(valid[0]["envelope"])[:6])},
        {"reason": "region length 0", "text": text(b"\x01\x01\x00" + bytes.fromhex(valid[0]["envelope"])[5:])},
        {"reason": "region length 17", "text": text(b"\x01\x01\x11" + b"a" * 17 + bytes.fromhex(valid[0]["envelope"])[5:])},
        {"reason": "key id 0", "text": text(bytes.fromhex(valid[0]["envelope"])[:5] + b"\x00"
                                          + bytes.fromhex(valid[0]["envelope"])[6:])},
        {"reason": "key version 2^32", "text": text(bytes.fromhex(valid[0]["envelope"])[:6] + uvarint(1 << 32)
                                                  + bytes.fromhex(valid[0]["envelope"])[7:])},
        {"reason": "random body shorter than nonce + tag", "text": text(bytes.fromhex(valid[0]["envelope"])[:8 + 27])},
        {"reason": "deterministic body shorter than the SIV", "text": text(bytes.fromhex(valid[6]["envelope"])[:8 + 15])},
        {"reason": "empty", "text": PREFIX},
        # The 16 bytes after the label id are read as the tag, leaving no SIV.
        {"reason": "subject flag without a tag", "text": text(b"\x01\x82" + bytes.fromhex(valid[6]["envelope"])[2:])},
        {"reason": "truncated subject tag", "text": text(s0[:8 + 15])},
        {"reason": "random body after the subject tag shorter than nonce + tag", "text": text(s0[:8 + 16 + 27])},
        {"reason": "mode 0x83 (index with the subject flag)", "text": text(b"\x01\x83" + s0[2:])},
        {"reason": "mode 0x80 (subject flag alone)", "text": text(b"\x01\x80" + s0[2:])},
    ]


def document():
    valid = cases()
    subject = subject_cases()
    return {
        "format": "sovereign field envelope v1",
        "spec": "docs/format.md",
        "generator": "tests/vectors/envelope_v1.py (independent Python implementation over python3-cryptography)",
        "field_key_derivation": "HKDF-SHA256(ikm=version_secret, salt=empty, info='sovereign/v1'||0x00||mode||u16be(len(label))||label)",
        "subject_field_key_derivation": "HKDF-SHA256(ikm=subject_key, salt=empty, info as above with the unflagged mode)",
        "valid": valid,
        "valid_subject": subject,
        "invalid_text": invalid_texts(valid, subject),
    }


def main():
    doc = document()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            committed = json.load(f)
        if committed != doc:
            sys.exit("envelope vectors differ from the reference implementation's output")
        print("ok: %d valid, %d valid subject and %d invalid envelope vectors agree"
              % (len(doc["valid"]), len(doc["valid_subject"]), len(doc["invalid_text"])))
        return
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
