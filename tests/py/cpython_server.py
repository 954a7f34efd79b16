"""Start a stock CPython SyncManager server for the Rust client tests and benches.

Usage: python cpython_server.py AUTHKEY_HEX [TIMEOUT_SECONDS [UNIX_SOCKET_PATH]]

Binds 127.0.0.1 port 0 (or the Unix socket path when given), prints one JSON line
{"address": [host, port] or "path", "pid": ..., "version": ...}
on stdout, then serves (in this process, threads per connection) until stdin reaches EOF, a
client sends shutdown, or TIMEOUT_SECONDS (default 120) pass.
"""
import json
import multiprocessing
import os
import sys
import threading
from multiprocessing.managers import SyncManager


def main():
    key = bytes.fromhex(sys.argv[1]) if len(sys.argv) > 1 else b""
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    # Proxies passed back to this server authenticate with the process authkey (docs/protocol.md §6).
    multiprocessing.current_process().authkey = key
    address = sys.argv[3] if len(sys.argv) > 3 else ("127.0.0.1", 0)
    m = SyncManager(address=address, authkey=key)
    server = m.get_server()
    addr = list(server.address) if isinstance(server.address, tuple) else server.address
    print(json.dumps({"address": addr, "pid": os.getpid(),
                      "version": "%d.%d" % sys.version_info[:2]}), flush=True)

    def stop_on_eof():
        try:
            sys.stdin.read()
        finally:
            os._exit(0)

    threading.Thread(target=stop_on_eof, daemon=True).start()
    timer = threading.Timer(timeout, os._exit, (0,))
    timer.daemon = True
    timer.start()
    server.serve_forever()  # returns via sys.exit(0) once stop_event is set


if __name__ == "__main__":
    main()
