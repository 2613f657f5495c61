"""The stubs are exact: they declare what the extension module exports, and each class's public
members. (That every Rust `Client` operation is in both Python clients is checked once, by
`bindings/conformance/tests/parity.rs`, against these stubs.)"""

from __future__ import annotations

import re

from conftest import REPO


def test_stubs_name_everything_the_module_exports() -> None:
    import hellocode._hellocode as native

    stubs = (REPO / "bindings/python/python/hellocode/_hellocode.pyi").read_text()
    exported = {name for name in dir(native) if not name.startswith("__")}
    declared = set(re.findall(r"^(?:class|def|async def) (\w+)", stubs, re.M))
    declared |= set(re.findall(r"^(\w+)(?::| =)", stubs, re.M))
    assert sorted(exported - declared) == []
    declared = {name for name in declared if not name.startswith("__")}
    # Aliases of the stubs only: the event union, the listener type, what `set_role` takes.
    assert sorted(declared - exported - {"Event", "Listener", "RoleLike"}) == []


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
        # Class attributes (the members of `Role`, `ChatKind` and `EventKind`).
        stubbed |= set(re.findall(r"^    (\w+): ClassVar\[", body, re.M))
        stubbed = {member for member in stubbed if not member.startswith("_")}
        if runtime != stubbed:
            mismatched[name] = (sorted(runtime - stubbed), sorted(stubbed - runtime))
    assert mismatched == {}
