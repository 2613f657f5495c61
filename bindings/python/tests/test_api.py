"""API parity: every public operation of the Rust `Client` exists in both Python clients and in
the stubs (a first form of the conformance suite's parity check)."""

from __future__ import annotations

import re

import pytest

import hellocode
from conftest import REPO
from hellocode import blocking

# Rust operations offered under another name or shape in Python.
RENAMED = {
    "connect": None,  # hellocode.connect / blocking.connect
    "connect_with": None,  # keyword arguments of connect
    "send_with_client_id": "send",  # send(..., client_id=...)
    "history_before": "history",  # history(chat_id, before=...)
}


def rust_operations() -> set[str]:
    sources = [REPO / "hellocode-sdk/src/client.rs"]
    sources += sorted((REPO / "hellocode-sdk/src/client").glob("*.rs"))
    names: set[str] = set()
    for source in sources:
        text = source.read_text()
        # Only `impl Client` blocks: from each `impl Client {` to the next top-level `}`.
        for block in re.findall(r"^impl Client \{\n(.*?)^\}", text, re.S | re.M):
            names |= set(re.findall(r"^    pub (?:async )?fn (\w+)", block, re.M))
    return names


@pytest.mark.skipif(not (REPO / "hellocode-sdk").exists(), reason="not in the source tree")
def test_every_rust_operation_is_in_python() -> None:
    operations = rust_operations()
    assert {"send", "fetch_messages", "close", "events"} <= operations
    stubs = (REPO / "bindings/python/python/hellocode/_hellocode.pyi").read_text()
    missing = []
    for name in sorted(operations):
        python = RENAMED.get(name, name)
        if python is None:
            continue
        for cls in (hellocode.Client, blocking.Client):
            if not hasattr(cls, python):
                missing.append(f"{cls.__name__}.{python}")
        if not re.search(rf"def {python}\(", stubs):
            missing.append(f"stub for {python}")
    assert missing == []


def test_stubs_name_everything_the_module_exports() -> None:
    import hellocode._hellocode as native

    stubs = (REPO / "bindings/python/python/hellocode/_hellocode.pyi").read_text()
    exported = {name for name in dir(native) if not name.startswith("__")}
    declared = set(re.findall(r"^(?:class|def|async def) (\w+)", stubs, re.M))
    declared |= set(re.findall(r"^(\w+)(?::| =)", stubs, re.M))
    assert sorted(exported - declared) == []
    declared = {name for name in declared if not name.startswith("__")}
    assert sorted(declared - exported - {"Event", "Listener"}) == []


def test_stub_classes_declare_exactly_the_public_members() -> None:
    import hellocode._hellocode as native

    stubs = (REPO / "bindings/python/python/hellocode/_hellocode.pyi").read_text()
    bodies = dict(re.findall(r"^class (\w+)\b[^\n]*\n((?:[ \n].*\n?)*)", stubs, re.M))
    assert len(bodies) > 25, "the stub parser found too few classes"
    mismatched = {}
    for name, body in bodies.items():
        cls = getattr(native, name)
        if issubclass(cls, BaseException):
            continue
        runtime = {member for member in vars(cls) if not member.startswith("_")}
        stubbed = set(re.findall(r"^    (?:async )?def (\w+)", body, re.M))
        stubbed = {member for member in stubbed if not member.startswith("_")}
        if runtime != stubbed:
            mismatched[name] = (sorted(runtime - stubbed), sorted(stubbed - runtime))
    assert mismatched == {}
