"""A CPython BaseManager using the Rust-registered 'Counter' typeid through AutoProxy."""
from multiprocessing.managers import AutoProxy, BaseManager, Token

from mpcommon import address, authkey, check, connect, raises


class CounterManager(BaseManager):
    pass


CounterManager.register("Counter")

m = connect(CounterManager)
c = m.Counter(10)
check(c.increment() == 11 and c.increment(5) == 16 and c.get() == 16, "increment/get")
check(c.increment(n=2) == 18, "keyword argument")
raises(ValueError, c.increment, -1)
check(str(c) == "Counter(18)", "repr fallback: %s" % str(c))
check(c._getvalue() == 18, "#GETVALUE")
# An AutoProxy built without an exposed list asks the server (get_methods).
p = AutoProxy(Token("Counter", address(), c._token.id), "pickle", authkey=authkey())
check({"get", "increment"} <= set(p._exposed_), "get_methods %r" % (p._exposed_,))
check(p.get() == 18, "call through the rebuilt AutoProxy")
print("OK")
