//! Arrays: index and range errors (never panics), copies in and out, guard slices, zero-copy
//! chunks filled by forked workers, and exact atomic adds on elements from forked workers.

mod common;

use std::time::Duration;

use common::fork::{run_workers, Outcome};
use mpshare::{Array, DynArray, Error, RawArray, Scalar};

fn all_ok(outcomes: &[Outcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(*o, Outcome::Exited(0), "worker {i} ended with {o:?}");
    }
}

#[test]
fn index_errors_are_errors_not_panics() {
    let a = Array::from_slice(&[1i32, 2, 3]).unwrap();
    let r = RawArray::from_slice(&[1i32, 2, 3]).unwrap();
    for i in [3, 4, usize::MAX] {
        assert!(matches!(a.get(i), Err(Error::IndexOutOfRange { index, len: 3 }) if index == i));
        assert!(matches!(a.set(i, 0), Err(Error::IndexOutOfRange { index, len: 3 }) if index == i));
        assert!(matches!(r.get(i), Err(Error::IndexOutOfRange { index, len: 3 }) if index == i));
        assert!(matches!(r.set(i, 0), Err(Error::IndexOutOfRange { index, len: 3 }) if index == i));
        assert!(matches!(
            r.fetch_add(i, 1),
            Err(Error::IndexOutOfRange { .. })
        ));
    }
    let e = a.get(7).unwrap_err().to_string();
    assert!(e.contains('7') && e.contains('3'), "{e}");
    // Nothing changed, and the lock was released after each error.
    assert_eq!(a.to_vec().unwrap(), vec![1, 2, 3]);
    assert_eq!(r.to_vec(), vec![1, 2, 3]);
    let a2 = a.clone();
    let free = std::thread::spawn(move || a2.get_lock().try_lock().unwrap().is_some())
        .join()
        .unwrap();
    assert!(free, "an index error left the lock held");
    a.set(2, 30).unwrap();
    r.set(0, 10).unwrap();
    assert_eq!((a.get(2).unwrap(), r.get(0).unwrap()), (30, 10));
}

#[test]
fn zero_length_arrays() {
    let a = Array::<f64>::new(0).unwrap();
    assert!(a.is_empty());
    assert_eq!(a.to_vec().unwrap(), Vec::<f64>::new());
    assert!(matches!(
        a.get(0),
        Err(Error::IndexOutOfRange { index: 0, len: 0 })
    ));
    assert_eq!(a.lock().unwrap().len(), 0);
    assert_eq!(a.read(0..0).unwrap(), Vec::<f64>::new());
    a.write(0, &[]).unwrap();
    let r = RawArray::<u8>::from_slice(&[]).unwrap();
    assert!(r.is_empty() && r.to_vec().is_empty());
    assert!(matches!(
        r.get(0),
        Err(Error::IndexOutOfRange { index: 0, len: 0 })
    ));
}

#[test]
fn huge_lengths_are_errors() {
    // Refused before any mapping is attempted, naming the length, element size and maximum.
    let too_large = |e: Error, want_len: usize, want_size: usize| match e {
        Error::TooLarge {
            len,
            elem_size,
            max,
        } => {
            assert_eq!((len, elem_size), (want_len, want_size));
            assert!(max < want_len);
        }
        other => panic!("expected TooLarge, found {other:?}"),
    };
    too_large(Array::<u64>::new(usize::MAX).unwrap_err(), usize::MAX, 8);
    too_large(RawArray::<u8>::new(usize::MAX).unwrap_err(), usize::MAX, 1);
    too_large(
        RawArray::<u32>::new(usize::MAX / 2).unwrap_err(),
        usize::MAX / 2,
        4,
    );
    too_large(DynArray::new('d', usize::MAX).unwrap_err(), usize::MAX, 8);
}

#[test]
fn read_write_ranges_and_their_errors() {
    let data: Vec<i64> = (0..10).collect();
    let a = Array::from_slice(&data).unwrap();
    let r = RawArray::from_slice(&data).unwrap();
    assert_eq!(a.read(2..5).unwrap(), vec![2, 3, 4]);
    assert_eq!(r.read(2..5).unwrap(), vec![2, 3, 4]);
    assert_eq!(a.read(10..10).unwrap(), Vec::<i64>::new());
    assert_eq!(r.read(0..10).unwrap(), data);
    #[allow(clippy::reversed_empty_ranges)]
    let bad_ranges = [(0, 11), (5, 4), (11, 11), (3, usize::MAX)];
    for (s, e) in bad_ranges {
        let ra = a.read(s..e);
        assert!(
            matches!(ra, Err(Error::RangeOutOfBounds { start, end, len: 10 }) if start == s && end == e),
            "Array::read({s}..{e}) = {ra:?}"
        );
        let rr = r.read(s..e);
        assert!(
            matches!(rr, Err(Error::RangeOutOfBounds { start, end, len: 10 }) if start == s && end == e),
            "RawArray::read({s}..{e}) = {rr:?}"
        );
    }
    let d = DynArray::from_scalars(
        'q',
        &data
            .iter()
            .map(|x| Scalar::Int(*x as i128))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let (s5, e4) = (5, 4);
    assert!(matches!(
        d.read(s5..e4),
        Err(Error::RangeOutOfBounds { .. })
    ));
    assert!(matches!(d.read(0..11), Err(Error::RangeOutOfBounds { .. })));

    a.write(8, &[80, 90]).unwrap();
    r.write(0, &[-1, -2]).unwrap();
    for (start, len) in [(9, 2), (10, 1), (11, 0), (usize::MAX, 1)] {
        let src = vec![7i64; len];
        assert!(
            matches!(a.write(start, &src), Err(Error::RangeOutOfBounds { .. })),
            "Array::write({start}, {len} elements)"
        );
        assert!(
            matches!(r.write(start, &src), Err(Error::RangeOutOfBounds { .. })),
            "RawArray::write({start}, {len} elements)"
        );
    }
    // Failed writes wrote nothing (no partial copy).
    assert_eq!(a.to_vec().unwrap(), vec![0, 1, 2, 3, 4, 5, 6, 7, 80, 90]);
    assert_eq!(r.to_vec(), vec![-1, -2, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Empty write at the end is fine (Python's a[len:len] = []).
    a.write(10, &[]).unwrap();
    r.write(10, &[]).unwrap();
}

#[test]
fn to_vec_from_slice_and_get_obj_share_memory() {
    let a = Array::from_slice(&[1.5f32, 2.5, 3.5]).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a.to_vec().unwrap(), vec![1.5, 2.5, 3.5]);
    // SAFETY: no guard on `a` is alive.
    unsafe { a.get_obj() }.set(0, 9.0).unwrap();
    assert_eq!(a.get(0).unwrap(), 9.0);
    let b = a.clone();
    b.set(1, 8.0).unwrap();
    assert_eq!(a.to_vec().unwrap(), vec![9.0, 8.0, 3.5]);
    let r = RawArray::<u16>::new(4).unwrap();
    assert_eq!(r.to_vec(), vec![0; 4]);
}

#[test]
fn guard_slices_sum_fill_and_write_in_place() {
    let a = Array::<f64>::new(1000).unwrap();
    {
        let mut g = a.lock().unwrap();
        assert!(!g.owner_died());
        g.fill(0.5);
        assert_eq!(g.iter().sum::<f64>(), 500.0);
        for (i, x) in g.iter_mut().enumerate() {
            *x = i as f64;
        }
        g[..10].fill(-1.0);
    }
    // The guard wrote the shared memory itself: visible through the raw cells.
    // SAFETY: no guard on `a` is alive.
    let raw = unsafe { a.get_obj() };
    assert_eq!(raw.get(5).unwrap(), -1.0);
    assert_eq!(raw.get(999).unwrap(), 999.0);
    let sum: f64 = a.lock().unwrap().iter().sum();
    assert_eq!(sum, (10..1000).sum::<i32>() as f64 - 10.0);
    let g = a.lock().unwrap();
    assert_eq!(g.len(), 1000);
    assert_eq!(g[10..13], [10.0, 11.0, 12.0]);
}

#[test]
fn slice_mut_chunks_filled_by_forked_workers() {
    const WORKERS: usize = 4;
    const CHUNK: usize = 10_000;
    let a = RawArray::<f64>::new(WORKERS * CHUNK).unwrap();
    let f = |w: usize, j: usize| (w * 1_000_000 + j) as f64 * 0.5;
    let outcomes = run_workers(WORKERS, Duration::from_secs(60), |w| {
        // SAFETY: worker w is the only process touching elements w*CHUNK..(w+1)*CHUNK, and the
        // parent reads them only after every worker has exited.
        let chunk = match unsafe { a.slice_mut(w * CHUNK..(w + 1) * CHUNK) } {
            Ok(c) => c,
            Err(_) => return 2,
        };
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = f(w, j);
        }
        0
    });
    all_ok(&outcomes);
    let all = a.to_vec();
    for w in 0..WORKERS {
        for j in 0..CHUNK {
            assert_eq!(all[w * CHUNK + j], f(w, j), "worker {w} element {j}");
        }
    }
    // SAFETY: no writer is left.
    let s = unsafe { a.slice(0..a.len()) }.unwrap();
    assert_eq!(s.len(), WORKERS * CHUNK);
    // Out-of-range slices are errors.
    // SAFETY: the slices are never created (errors).
    assert!(matches!(
        unsafe { a.slice_mut(0..WORKERS * CHUNK + 1) },
        Err(Error::RangeOutOfBounds { start: 0, .. })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let rev = 5..4;
    // SAFETY: as above.
    assert!(matches!(
        unsafe { a.slice(rev) },
        Err(Error::RangeOutOfBounds {
            start: 5,
            end: 4,
            ..
        })
    ));
}

#[test]
fn raw_array_fetch_add_from_forked_workers_is_exact() {
    const WORKERS: usize = 4;
    const ROUNDS: u64 = 10_000;
    let a = RawArray::<u64>::new(8).unwrap();
    let outcomes = run_workers(WORKERS, Duration::from_secs(60), |w| {
        for _ in 0..ROUNDS {
            for k in 0..8 {
                // Element k gets 1 from everyone plus w on odd elements.
                let add = 1 + if k % 2 == 1 { w as u64 } else { 0 };
                if a.fetch_add(k, add).is_err() {
                    return 2;
                }
            }
        }
        0
    });
    all_ok(&outcomes);
    let n = WORKERS as u64 * ROUNDS;
    let extra: u64 = (0..WORKERS as u64).sum::<u64>() * ROUNDS;
    let want: Vec<u64> = (0..8)
        .map(|k| n + if k % 2 == 1 { extra } else { 0 })
        .collect();
    assert_eq!(a.to_vec(), want);
}

#[test]
fn locked_array_writes_from_forked_workers_are_visible() {
    // Each worker writes its own range through Array::write (locked memcpy); the parent sees all.
    let a = Array::<i32>::new(400).unwrap();
    let outcomes = run_workers(4, Duration::from_secs(60), |w| {
        let data: Vec<i32> = (0..100).map(|j| (w * 100 + j) as i32).collect();
        match a.write(w * 100, &data) {
            Ok(()) => 0,
            Err(_) => 2,
        }
    });
    all_ok(&outcomes);
    assert_eq!(a.to_vec().unwrap(), (0..400).collect::<Vec<i32>>());
}
