"""What a CPython 3.14 client sends, from an older interpreter: the proxies of 3.14's
multiprocessing/managers.py (SetProxy and the `set` typeid, DictProxy with |, |=, reversed,
fromkeys and __iter__, ListProxy with clear/copy), declared here with 3.14's exposed lists.

Against MPSHARE_ADDR/MPSHARE_KEY, or with --cpython against CPython's own server started here
with the same registrations (the reference). Prints "<case>: <outcome>" lines, then OK.
"""
import os
import sys
from multiprocessing.managers import (BaseProxy, IteratorProxy, MakeProxyType, SyncManager)

_BaseSetProxy = MakeProxyType("_BaseSetProxy", (
    '__and__', '__class_getitem__', '__contains__', '__iand__', '__ior__',
    '__isub__', '__iter__', '__ixor__', '__len__', '__or__', '__rand__',
    '__ror__', '__rsub__', '__rxor__', '__sub__', '__xor__',
    '__ge__', '__gt__', '__le__', '__lt__',
    'add', 'clear', 'copy', 'difference', 'difference_update', 'discard',
    'intersection', 'intersection_update', 'isdisjoint', 'issubset',
    'issuperset', 'pop', 'remove', 'symmetric_difference',
    'symmetric_difference_update', 'union', 'update',
))


class SetProxy(_BaseSetProxy):
    def __ior__(self, value):
        self._callmethod('__ior__', (value,))
        return self

    def __iand__(self, value):
        self._callmethod('__iand__', (value,))
        return self

    def __ixor__(self, value):
        self._callmethod('__ixor__', (value,))
        return self

    def __isub__(self, value):
        self._callmethod('__isub__', (value,))
        return self


BaseListProxy = MakeProxyType('BaseListProxy', (
    '__add__', '__contains__', '__delitem__', '__getitem__', '__imul__',
    '__len__', '__mul__', '__reversed__', '__rmul__', '__setitem__',
    'append', 'clear', 'copy', 'count', 'extend', 'index', 'insert', 'pop',
    'remove', 'reverse', 'sort',
))


class ListProxy(BaseListProxy):
    def __iadd__(self, value):
        self._callmethod('extend', (value,))
        return self


_BaseDictProxy = MakeProxyType('_BaseDictProxy', (
    '__contains__', '__delitem__', '__getitem__', '__ior__', '__iter__',
    '__len__', '__or__', '__reversed__', '__ror__',
    '__setitem__', 'clear', 'copy', 'fromkeys', 'get', 'items',
    'keys', 'pop', 'popitem', 'setdefault', 'update', 'values'
))
_BaseDictProxy._method_to_typeid_ = {'__iter__': 'Iterator'}


class DictProxy(_BaseDictProxy):
    def __ior__(self, value):
        self._callmethod('__ior__', (value,))
        return self


class Manager314(SyncManager):
    pass


Manager314.register('set', set, SetProxy)
Manager314.register('list', list, ListProxy)
Manager314.register('dict', dict, DictProxy)


def attempt(f):
    try:
        return repr(f())
    except Exception as e:
        return f"raises {type(e).__name__}"


def main():
    if "--cpython" in sys.argv:
        m = Manager314()
        m.start()
    else:
        host, _, port = os.environ["MPSHARE_ADDR"].rpartition(":")
        m = Manager314(address=(host, int(port)), authkey=os.environ["MPSHARE_KEY"].encode())
        m.connect()
    out = []
    s = m.set([3, 1, 2])
    out.append(("set len", attempt(lambda: len(s))))
    out.append(("set add/contains", attempt(lambda: (s.add(4), 4 in s, 9 in s)[1:])))
    out.append(("set iter", attempt(lambda: sorted(iter(s)))))

    def ior():
        nonlocal s
        s |= {5}
        return sorted(s.copy())
    out.append(("set |=", attempt(ior)))

    def isub():
        nonlocal s
        s -= {1}
        return sorted(s.copy())
    out.append(("set -=", attempt(isub)))
    out.append(("set |", attempt(lambda: sorted(s | {9}))))
    out.append(("set & ^ -", attempt(lambda: (sorted(s & {2, 3}), sorted(s ^ {2, 7}), sorted(s - {2})))))
    out.append(("set | list", attempt(lambda: s | [1])))
    out.append(("set <= >", attempt(lambda: (s <= {2, 3, 4, 5, 6}, s > {2}, s < s.copy()))))
    out.append(("set union/intersection", attempt(lambda: (sorted(s.union([1], (8,))), sorted(s.intersection({2, 3, 99}))))))
    out.append(("set updates", attempt(lambda: (s.update([10]), s.difference_update({10}), s.symmetric_difference_update([2, 11]), sorted(s.copy()))[3])))
    out.append(("set predicates", attempt(lambda: (s.isdisjoint([100]), s.issubset(range(20)), s.issuperset([3])))))
    out.append(("set remove missing", attempt(lambda: s.remove(1000))))
    out.append(("set discard/pop", attempt(lambda: (s.discard(1000), type(s.pop()).__name__)[1])))
    out.append(("set unhashable", attempt(lambda: s.add([1]))))
    out.append(("set clear", attempt(lambda: (s.clear(), len(s))[1])))
    d = m.dict({"a": 1})

    def dior():
        nonlocal d
        d |= {"b": 2}
        return sorted(d.items())
    out.append(("dict |=", attempt(dior)))
    out.append(("dict |", attempt(lambda: sorted((d | {"c": 3}).items()))))
    out.append(("dict | list", attempt(lambda: d | [1])))
    out.append(("dict reversed", attempt(lambda: list(reversed(d)))))
    out.append(("dict fromkeys", attempt(lambda: d.fromkeys("xy", 0))))
    out.append(("dict iter", attempt(lambda: list(iter(d)))))
    lst = m.list([1, 2, 3])
    out.append(("list copy", attempt(lambda: lst.copy())))
    out.append(("list clear", attempt(lambda: (lst.clear(), len(lst))[1])))
    for name, outcome in out:
        print(f"{name}: {outcome}")
    print("OK")


if __name__ == "__main__":
    main()
