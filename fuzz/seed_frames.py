#!/usr/bin/env python3
"""Write frame_decoder seeds from docs/PROTOCOL.md: every client example and every bad-frame
example, each prefixed with the two limit bytes 0xFFFF (the server's default limits).
Usage: fuzz/seed_frames.py DIR (then minimize: cargo +nightly fuzz cmin frame_decoder DIR)."""
import hashlib
import pathlib
import re
import sys

doc = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md").read_text()
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
blocks = re.findall(r"^```(json client|text bad-frame [a-z_]+)\n(.*?)^```", doc, re.M | re.S)
for info, body in blocks:
    text = body.strip() if info == "json client" else body.rstrip("\n")
    data = b"\xff\xff" + text.encode()
    (out / ("doc-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)
print(f"{len(blocks)} seeds in {out}")
