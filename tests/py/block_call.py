"""Helper for the fault tests: attach to an existing object by ident and make one call.

MPSHARE_TYPEID / MPSHARE_IDENT name the object; MPSHARE_OP is:
  hold     - acquire the Lock, print HELD, then sleep (to be SIGKILLed)
  acquire  - print CALLING, then block in acquire()
  get      - print CALLING, then block in get()
Then the parent SIGKILLs this process.
"""
import os
import sys
import time
from multiprocessing.managers import AcquirerProxy, AutoProxy, Token

from mpcommon import address, authkey

typeid = os.environ["MPSHARE_TYPEID"]
ident = os.environ["MPSHARE_IDENT"]
op = os.environ["MPSHARE_OP"]
token = Token(typeid, address(), ident)
if typeid == "Lock":
    p = AcquirerProxy(token, "pickle", authkey=authkey())
else:
    p = AutoProxy(token, "pickle", authkey=authkey())

if op == "hold":
    p.acquire()
    print("HELD", flush=True)
    time.sleep(60)
elif op == "acquire":
    print("CALLING", flush=True)
    p.acquire()
    print("GOT", flush=True)
    time.sleep(60)
elif op == "get":
    print("CALLING", flush=True)
    item = p.get()
    print("GOT", item, flush=True)
    time.sleep(60)
sys.exit(3)
