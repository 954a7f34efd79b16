//! Hostile input: the decoder never panics, never allocates from a bogus length, and enforces its
//! limits. ~120k generated cases (random opcode soups and mutated valid pickles) run in a few
//! seconds; `MPSHARE_SOAK=1` runs 20x more.

use mpshare::manager::pickle::{dumps, loads, loads_with, Limits, PyValue};
use proptest::prelude::*;

fn cases(n: u32) -> u32 {
    if std::env::var_os("MPSHARE_SOAK").is_some() {
        n * 20
    } else {
        n
    }
}

fn small_limits() -> Limits {
    Limits {
        max_depth: 32,
        max_elements: 2000,
        max_bytes: 1 << 12,
        max_total_bytes: 1 << 14,
        max_memo: 64,
    }
}

/// (elements, max depth, total str/bytes bytes) of a value, counted like the decoder does.
fn measure(v: &PyValue, depth: usize, acc: &mut (usize, usize, usize)) {
    acc.0 += 1;
    acc.1 = acc.1.max(depth);
    match v {
        PyValue::Str(s) => acc.2 += s.len(),
        PyValue::Bytes(b) | PyValue::ByteArray(b) | PyValue::SurrogateStr(b) => acc.2 += b.len(),
        PyValue::Tuple(t) | PyValue::List(t) => t.iter().for_each(|x| measure(x, depth + 1, acc)),
        PyValue::Dict(d) => d.iter().for_each(|(k, x)| {
            measure(k, depth + 1, acc);
            measure(x, depth + 1, acc)
        }),
        PyValue::Set(s) | PyValue::FrozenSet(s) => {
            s.iter().for_each(|x| measure(x, depth + 1, acc))
        }
        PyValue::Reduce { callable, args } => {
            measure(callable, depth + 1, acc);
            measure(args, depth + 1, acc)
        }
        PyValue::NewObj { cls, args, kwargs } => {
            measure(cls, depth + 1, acc);
            measure(args, depth + 1, acc);
            if let Some(k) = kwargs {
                measure(k, depth + 1, acc)
            }
        }
        PyValue::Build { obj, state } => {
            measure(obj, depth + 1, acc);
            measure(state, depth + 1, acc)
        }
        _ => {}
    }
}

fn check(data: &[u8]) {
    let limits = small_limits();
    if let Ok(v) = loads_with(data, &limits) {
        let mut acc = (0, 0, 0);
        measure(&v, 0, &mut acc);
        assert!(acc.0 <= limits.max_elements, "elements {}", acc.0);
        assert!(acc.1 <= limits.max_depth + 1, "depth {}", acc.1);
        assert!(acc.2 <= limits.max_total_bytes, "bytes {}", acc.2);
        // Anything decoded encodes again, and that encoding decodes to the same value.
        let bytes = dumps(&v).unwrap_or_else(|e| panic!("decoded {v} but cannot encode it: {e}"));
        let again = loads(&bytes)
            .unwrap_or_else(|e| panic!("our encoding of {v} does not decode: {e}\n{bytes:02x?}"));
        assert!(again.identical(&v), "round trip changed {v} into {again}");
    }
    // The default limits: an error or a value, never a panic (checked by returning at all).
    let _ = loads(data);
}

/// Opcodes (and a few argument-ish bytes) the generator draws from.
const ALPHABET: &[u8] = b"(.012FIJKLMNRSTUVXabcdegh}ijl]opqrstu)GB\x80\x81\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x00\x01\x02\x04\xff\n";

fn seeds() -> Vec<Vec<u8>> {
    let token = mpshare::manager::message::Token::new(
        "dict",
        mpshare::manager::message::Token::tcp_address("127.0.0.1", 5),
        "7f",
    );
    let vals = [
        PyValue::tuple(vec![
            PyValue::None,
            PyValue::str("create"),
            PyValue::tuple(vec![PyValue::str("dict")]),
            PyValue::dict(vec![(PyValue::str("a"), PyValue::Int(1))]).unwrap(),
        ]),
        PyValue::tuple(vec![PyValue::str("#PROXY"), token.to_value()]),
        PyValue::list(vec![
            PyValue::from(1u128 << 100),
            PyValue::Float(1.5),
            PyValue::bytes(b"xyz".to_vec()),
            PyValue::ByteArray(vec![1, 2]),
        ]),
    ];
    let mut out: Vec<Vec<u8>> = vals.iter().map(|v| dumps(v).unwrap()).collect();
    // CPython-style memoised frames
    out.push(
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00(N\x8c\x05dummy\x94)}\x94t\x94.".to_vec(),
    );
    out.push(b"\x80\x04]\x94(]\x94(K\x01K\x02eh\x01e.".to_vec());
    out.push(b"(lp0\nI1\naL5L\naF1.5\naVab\\u00e9\np1\nag1\na.".to_vec());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(60_000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn opcode_soup_never_panics(body in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..40)) {
        let mut data = vec![0x80, 4];
        data.extend_from_slice(&body);
        check(&data);
        check(&body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(60_000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_pickles_never_panic(
        seed in 0usize..6,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
        insert in any::<bool>(),
    ) {
        let mut data = seeds()[seed].clone();
        for (i, b) in muts {
            let i = i % data.len();
            if insert { data.insert(i, b) } else { data[i] = b }
        }
        check(&data);
        let cut = cut % (data.len() + 1);
        check(&data[..cut]);
    }
}

fn err(data: &[u8]) -> String {
    loads(data).unwrap_err().to_string()
}

#[test]
fn truncated_input() {
    let full = dumps(&PyValue::tuple(vec![
        PyValue::str("abc"),
        PyValue::Float(2.0),
    ]))
    .unwrap();
    for n in 0..full.len() {
        let e = err(&full[..n]);
        assert!(
            e.contains("truncated") || e.contains("underflow"),
            "{n}: {e}"
        );
    }
}

#[test]
fn huge_lengths_error_without_allocating() {
    let mut d = vec![0x80, 4, 0x8e];
    d.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(err(&d).contains("BINBYTES8"), "{}", err(&d));
    let mut d = vec![0x80, 4, 0x8d];
    d.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(err(&d).contains("truncated"));
    let d = [0x80, 4, b'X', 0xff, 0xff, 0xff, 0xff];
    assert!(err(&d).contains("truncated"));
    let d = [0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0x7f];
    assert!(err(&d).contains("truncated"));
    let d = [0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0xff];
    assert!(err(&d).contains("negative"));
    // within the input but above max_bytes
    let mut d = vec![0x80, 4, b'B'];
    d.extend_from_slice(&5000u32.to_le_bytes());
    d.extend(std::iter::repeat_n(b'a', 5000));
    d.push(b'.');
    let e = loads_with(&d, &small_limits()).unwrap_err().to_string();
    assert!(e.contains("exceeds the limit"), "{e}");
}

#[test]
fn deep_nesting_is_a_depth_error() {
    let mut d = vec![0x80, 4];
    for _ in 0..100_000 {
        d.extend_from_slice(b"(]");
    }
    assert!(err(&d).contains("depth"), "{}", err(&d));
    // nested lists without marks: [[[...]]] 100k deep
    let mut d = vec![0x80, 4];
    d.extend(std::iter::repeat_n(b']', 100_000));
    d.extend(std::iter::repeat_n(b'a', 99_999));
    d.push(b'.');
    assert!(err(&d).contains("depth"), "{}", err(&d));
    // nested tuples via TUPLE1
    let mut d = vec![0x80, 4, b')'];
    d.extend(std::iter::repeat_n(0x85, 100_000));
    d.push(b'.');
    assert!(err(&d).contains("depth"));
}

#[test]
fn memo_blowup_is_bounded() {
    // x = 'aaaa…' (4 KiB); then t = (x, x); t = (t, t) … 40 times: 2^40 copies if expanded
    let mut d = vec![0x80, 4, b'X'];
    d.extend_from_slice(&4096u32.to_le_bytes());
    d.extend(std::iter::repeat_n(b'a', 4096));
    for _ in 0..40 {
        d.extend_from_slice(&[0x94, 0x32, 0x86]); // MEMOIZE, DUP, TUPLE2
    }
    d.push(b'.');
    let e = err(&d);
    assert!(e.contains("limit"), "{e}");
}

#[test]
fn memo_index_out_of_range() {
    assert!(err(b"\x80\x04h\x05.").contains("memo key 5 not found"));
    assert!(err(b"\x80\x04j\x00\x00\x01\x00.").contains("memo key"));
    assert!(err(b"g12\n.").contains("memo key 12"));
}

#[test]
fn stop_with_empty_stack() {
    assert!(err(b"\x80\x04.").contains("underflow"));
    assert!(err(b".").contains("underflow"));
    assert!(err(b"\x80\x04(.").contains("underflow"));
}

#[test]
fn unknown_and_unsupported_opcodes() {
    assert!(err(b"\x80\x04\xff.").contains("unknown opcode 0xff"));
    assert!(err(b"\x80\x04\x99.").contains("unknown opcode"));
    for op in [b'P', b'Q', 0x82, 0x83, 0x84, 0x97, 0x98] {
        let e = err(&[0x80, 5, b'N', op, 0, 0, 0, 0, b'.']);
        assert!(e.contains("unsupported opcode"), "{op:02x}: {e}");
    }
    assert!(err(b"\x80\x09N.").contains("protocol 9"));
}

#[test]
fn recursive_structures_are_refused() {
    // l = []; l.append(l)
    let e = err(b"\x80\x04]\x94h\x00a.");
    assert!(e.contains("recursive"), "{e}");
}

#[test]
fn unhashable_keys_are_refused() {
    // {[]: 1}
    let e = err(b"\x80\x04}]K\x01s.");
    assert!(e.contains("unhashable type: 'list'"), "{e}");
    // {frozenset(): 1} is fine; {set(): 1} is not
    assert!(loads(b"\x80\x04}(\x91K\x01s.").is_ok());
    assert!(err(b"\x80\x04}\x8fK\x01s.").contains("unhashable type: 'set'"));
}

#[test]
fn memo_sees_later_mutation() {
    // a = [1, 2]; [a, a] as CPython writes it (BINGET of the list after APPENDS)
    let v = loads(b"\x80\x04]\x94(]\x94(K\x01K\x02eh\x01e.").unwrap();
    let inner = PyValue::list(vec![PyValue::Int(1), PyValue::Int(2)]);
    assert!(v.identical(&PyValue::list(vec![inner.clone(), inner])));
}
