//! N-D arrays: the shape recorded in the header, reopened by name, refused when it differs,
//! rows split into disjoint chunks.

use mpshare::{Array, Error, RawArray};

fn name(tag: &str) -> String {
    format!("mpshare-test-nd-{}-{tag}", std::process::id())
}

struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = mpshare::shm::unlink(&self.0);
    }
}

#[test]
fn shape_is_recorded_and_reopened() {
    let n = name("reopen");
    let _u = Unlink(n.clone());
    let a = Array::<f64>::create_nd(&n, &[3, 4, 5]).unwrap();
    assert_eq!((a.len(), a.shape(), a.ndim()), (60, vec![3, 4, 5], 3));
    a.write(59, &[9.5]).unwrap();
    let b = Array::<f64>::open_nd(&n, &[3, 4, 5]).unwrap();
    assert_eq!(b.shape(), vec![3, 4, 5]);
    assert_eq!(b.get(59).unwrap(), 9.5);
    // Plain open sees the shape as well.
    assert_eq!(Array::<f64>::open(&n).unwrap().shape(), vec![3, 4, 5]);
}

#[test]
fn wrong_shape_is_a_clear_error() {
    let n = name("wrong");
    let _u = Unlink(n.clone());
    let _a = RawArray::<i32>::create_nd(&n, &[4, 5]).unwrap();
    for asked in [vec![5, 4], vec![20], vec![4, 5, 1], vec![2, 10]] {
        let err = RawArray::<i32>::open_nd(&n, &asked).unwrap_err();
        match &err {
            Error::LayoutMismatch {
                name,
                holds,
                asked: a,
            } => {
                assert_eq!(name, &format!("/{n}"));
                assert_eq!(holds, "RawArray<'i'> of shape [4, 5]");
                assert_eq!(a, &format!("RawArray<'i'> of shape {asked:?}"));
            }
            other => panic!("{other:?}"),
        }
    }
    // Another element type is refused before the shape is looked at.
    assert!(matches!(
        RawArray::<f32>::open_nd(&n, &[4, 5]),
        Err(Error::LayoutMismatch { .. })
    ));
    // A 1-D array has the shape [len].
    let m = name("flat");
    let _v = Unlink(m.clone());
    let _f = Array::<u8>::create(&m, 6).unwrap();
    assert_eq!(Array::<u8>::open_nd(&m, &[6]).unwrap().ndim(), 1);
    let err = Array::<u8>::open_nd(&m, &[2, 3]).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds Array<'B'> of shape [6]; asked for Array<'B'> of shape [2, 3]"),
        "{err}"
    );
}

#[test]
fn invalid_shapes() {
    assert!(matches!(
        RawArray::<u8>::new_nd(&[]),
        Err(Error::InvalidShape { .. })
    ));
    assert!(matches!(
        Array::<u8>::new_nd(&[1; 9]),
        Err(Error::InvalidShape { .. })
    ));
    let eight = RawArray::<u8>::new_nd(&[1, 1, 1, 1, 1, 1, 1, 2]).unwrap();
    assert_eq!((eight.len(), eight.ndim()), (2, 8));
    let empty = Array::<f64>::new_nd(&[3, 0]).unwrap();
    assert_eq!((empty.len(), empty.shape()), (0, vec![3, 0]));
    assert_eq!(empty.lock_nd().unwrap().rows_mut().count(), 0);
}

#[test]
fn rows_are_disjoint_c_order_chunks() {
    let a = Array::<u32>::new_nd(&[3, 2, 2]).unwrap();
    {
        let mut g = a.lock_nd().unwrap();
        assert_eq!(g.row_len(), 4);
        for (i, row) in g.rows_mut().enumerate() {
            for (k, x) in row.iter_mut().enumerate() {
                *x = (i * 100 + k) as u32;
            }
        }
    }
    // Element [i, j, k] is at i*4 + j*2 + k.
    let v = a.to_vec().unwrap();
    assert_eq!(v[4 + 2 + 1], 103); // [1, 1, 1]
    assert_eq!(v[2 * 4], 200); // [2, 0, 0]
}

#[cfg(feature = "ndarray")]
#[test]
fn ndarray_views_have_the_shape() {
    let a = Array::<f64>::new_nd(&[2, 3]).unwrap();
    {
        let mut g = a.lock_nd().unwrap();
        let mut v = g.view_mut();
        assert_eq!(v.shape(), &[2, 3]);
        v[[1, 2]] = 5.0;
    }
    assert_eq!(a.get(5).unwrap(), 5.0);
    let g = a.lock_nd().unwrap();
    assert_eq!(g.view().ndim(), 2);
}
