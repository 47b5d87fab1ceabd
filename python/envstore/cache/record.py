"""The signed record of one store path, a cache's narinfo: the store path's name, the lock
identity and interpreter it was computed from, and for each wheel the manifests (ingested wheel,
placement, sources, bytecode) a store needs to build the same prefix without the index or a
compiler. Canonical JSON; the signature covers every field, so a record is trusted only through
a configured public key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from envstore.cache.keys import PublicKey, SecretKey, split_signature
from envstore.cache.remote import CacheError

RECORD_FORMAT = 1
_SIGNED = b"envstore-record-v1\n"  # domain separation: a record signature signs nothing else


PREFIX_FIELDS = ("store_path", "lock", "interpreter", "wheels")
WHEEL_FIELDS = ("store_path", "interpreter", "placement", "wheels")  # `wheels` holds the one wheel
INTERPRETER_FIELDS = ("store_path", "tree", "manifest_id", "implementation", "version", "marker_env", "tags",
                      "executable")


class RecordRefused(CacheError):
    code = "cache.record-refused"


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass
class Record:
    body: dict[str, Any]  # everything but the signatures
    signatures: list[str]

    @property
    def store_path(self) -> str:
        return self.body["store_path"]

    def manifests(self) -> list[str]:
        out = []
        for w in self.body["wheels"]:
            out += [m for m in (w["manifest"], w["core"], w.get("sources"), w.get("bytecode")) if m]
        # a conda prefix's record (issue 15): each package's ingested manifest, and the bytecode
        # compiled from its files (with the sources manifest it was compiled from)
        out += [c["manifest"] for c in self.body.get("conda", ())]
        out += [m for b in self.body.get("bytecode", ()) for m in (b["sources"], b["bytecode"])]
        return list(dict.fromkeys(out))

    @property
    def interpreter_tree(self) -> str | None:
        """The store interpreter's tree the record's prefix runs on; None for a conda prefix,
        whose python is one of its packages."""
        return (self.body.get("interpreter") or {}).get("tree")

    def sign(self, key: SecretKey) -> None:
        self.signatures = [s for s in self.signatures if not s.startswith(f"{key.name}:")]
        self.signatures.append(key.sign(_SIGNED + canonical(self.body)))

    def dumps(self) -> bytes:
        return canonical({**self.body, "signatures": self.signatures}) + b"\n"

    @classmethod
    def loads(cls, data: bytes, where: str, required: tuple[str, ...] = PREFIX_FIELDS) -> Record:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
                raise ValueError(f"format {doc.get('format') if isinstance(doc, dict) else '?'}")
            signatures = doc.pop("signatures", [])
            for field in required:
                doc[field]  # noqa: B018 - presence check
            return cls(doc, [s for s in signatures if isinstance(s, str)])
        except (ValueError, KeyError, TypeError) as e:
            raise RecordRefused(f"the record {where} is not a readable envstore record ({e}); refused") from None

    def check(self, trusted: list[PublicKey], expected_path: str, where: str,
              allow_unsigned: bool = False) -> str | None:
        """Who signed it, when one of `trusted` did; None when none did but unsigned records are
        allowed (whatever signatures it carries: allowing them means trusting the cache itself);
        else RecordRefused. A record for another store path is refused whoever signed it."""
        if self.store_path != expected_path:
            raise RecordRefused(f"the record {where} is for {self.store_path}, not {expected_path}; refused")
        message = _SIGNED + canonical(self.body)
        by_name = {k.name: k for k in trusted}
        names = []
        for text in self.signatures:
            parsed = split_signature(text)
            if parsed is None:
                continue
            name, sig = parsed
            names.append(name)
            key = by_name.get(name)
            if key is not None and key.verify(sig, message):
                return name
        if allow_unsigned:
            return None
        if any(n in by_name for n in names):
            raise RecordRefused(f"the record {where} has a signature by {', '.join(n for n in names if n in by_name)} "
                                "that does not verify (tampered, or signed by another key of that name); refused",
                                hint="push it again from a machine with the right key")
        if not names:
            raise RecordRefused(f"the record {where} is unsigned; refused",
                                hint="push with a signing key (`store key generate`), or allow unsigned records explicitly")
        raise RecordRefused(f"the record {where} is signed by {', '.join(names)}, which is not a trusted key; refused",
                            hint="add the pusher's public key (`store key show` on that machine) with --trusted-key "
                                 "or ENVSTORE_TRUSTED_KEYS")
