"""Turns a capture (JSON written by a framing-aware relay between a stock CPython manager
server and a stock CPython client) into the line format of this folder:

    # comment
    name <capture name>
    server_python <X.Y.Z>
    client_python <X.Y.Z>
    family <inet|unix>
    authkey <hex of the authkey>
    frame <conn> <S>C|C>S> <seq> <payload hex>

Usage: python3 convert.py CAPTURE.json... (writes NAME.txt next to this script).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

for path in sys.argv[1:]:
    with open(path) as f:
        d = json.load(f)
    lines = [
        "# Frames of one CPython manager conversation (stock server and client, recorded by a",
        "# framing relay). Facts of the wire format; see README.md in this folder.",
        "name %s" % d["name"],
        "server_python %s" % d["server_python"],
        "client_python %s" % d["client_python"],
        "family %s" % d["family"],
        "authkey %s" % d["authkey"].encode().hex(),
    ]
    for fr in d["frames"]:
        lines.append("frame %d %s %d %s" % (fr["conn"], fr["dir"], fr["seq"], fr["payload"]))
    with open(os.path.join(HERE, d["name"] + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
