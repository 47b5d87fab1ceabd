"""A prefix's parts are records: written as JSON objects, and rows from before records existed
(`[label, manifest id]` pairs) read as the same records."""

from __future__ import annotations

import json

from envstore.store.parts import Part, PartKind, dumps, labelled, loads, packages

RECORDS = [
    Part(PartKind.BASE, None, None, "m-base"),
    Part(PartKind.WHEEL, "numpy", "2.1.3", "m-np", source="w-np"),
    Part(PartKind.SCRIPTS, "numpy", "2.1.3", "m-np-s"),
    Part(PartKind.BYTECODE, "numpy", "2.1.3", "m-np-b"),
    Part(PartKind.WHEEL, "six", "1.16.0", "m-six", source="w-six"),
    Part(PartKind.BYTECODE, "six", "1.16.0", "m-six-b"),
]
# The same prefix as a row written before records: labels, and the wheels only in `sources`.
LABELS = [["envstore", "m-base"], ["numpy 2.1.3", "m-np"], ["numpy 2.1.3 (scripts)", "m-np-s"],
          ["numpy 2.1.3 (bytecode)", "m-np-b"], ["six 1.16.0", "m-six"], ["six 1.16.0 (bytecode)", "m-six-b"]]
SOURCES = ["w-np", "w-six"]


def test_parts_are_written_as_records_and_read_back() -> None:
    column = dumps(RECORDS)
    docs = json.loads(column)
    assert all(isinstance(d, dict) for d in docs)
    assert docs[1] == {"kind": "wheel", "package": "numpy", "version": "2.1.3", "manifest": "m-np", "source": "w-np"}
    assert docs[0] == {"kind": "base", "manifest": "m-base"}
    assert loads(column, SOURCES) == RECORDS


def test_a_label_row_reads_as_the_same_records() -> None:
    assert loads(json.dumps(LABELS), SOURCES) == RECORDS
    assert loads("[]", []) == []


def test_labels_are_what_the_core_names_in_messages() -> None:
    assert labelled(RECORDS) == [tuple(pair) for pair in LABELS]
    assert [p.package for p in packages(RECORDS)] == ["numpy", "six"]
