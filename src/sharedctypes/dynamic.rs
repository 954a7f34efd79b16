//! The typecode-keyed API: [`DynValue`] and [`DynArray`], for parity with Python
//! (`Value('i', 5)`, `Array('d', 10)`) and for tools that learn the type at run time.
//!
//! Values go in and out as [`Scalar`]s and are range-checked: 300 into `'b'` is
//! [`crate::Error::ValueOutOfRange`], not a silent wrap as in ctypes.

use std::ops::Range;

use super::cell::{Init, Shared, Spec};
use crate::shm::{self, ElemDesc, Expect, LockKind, Options, SegKind, Target};
use crate::synchronize::raw::RawMutex;
use crate::synchronize::AnyLock;
use crate::typecode::with_element_type;
use crate::{CChar, Error, Result, Scalar, TypeCode, WChar};

#[derive(Clone)]
enum Cells {
    C(Shared<CChar>),
    I8(Shared<i8>),
    U8(Shared<u8>),
    W(Shared<WChar>),
    I16(Shared<i16>),
    U16(Shared<u16>),
    I32(Shared<i32>),
    U32(Shared<u32>),
    I64(Shared<i64>),
    U64(Shared<u64>),
    F32(Shared<f32>),
    F64(Shared<f64>),
}

macro_rules! each {
    ($cells:expr, $s:ident => $body:expr) => {
        match $cells {
            Cells::C($s) => $body,
            Cells::I8($s) => $body,
            Cells::U8($s) => $body,
            Cells::W($s) => $body,
            Cells::I16($s) => $body,
            Cells::U16($s) => $body,
            Cells::I32($s) => $body,
            Cells::U32($s) => $body,
            Cells::I64($s) => $body,
            Cells::U64($s) => $body,
            Cells::F32($s) => $body,
            Cells::F64($s) => $body,
        }
    };
}

fn encode_all(code: TypeCode, init: &[Scalar]) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(init.len() * code.size());
    for s in init {
        bytes.extend(s.encode(code)?);
    }
    Ok(bytes)
}

macro_rules! into_cells {
    ($($v:ident($t:ty)),* $(,)?) => {$(
        impl From<Shared<$t>> for Cells {
            fn from(s: Shared<$t>) -> Cells {
                Cells::$v(s)
            }
        }
    )*};
}
into_cells!(
    C(CChar),
    I8(i8),
    U8(u8),
    W(WChar),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64)
);

impl Cells {
    fn build(
        code: TypeCode,
        target: Target<'_>,
        kind: SegKind,
        len: usize,
        init: Option<&[Scalar]>,
        lock: LockKind,
    ) -> Result<(Cells, Option<RawMutex>)> {
        let bytes = match init {
            Some(v) => Some(encode_all(code, v)?),
            None => None,
        };
        with_element_type!(code, E => {
            let typed: Option<Vec<E>> = bytes.as_ref().map(|b| {
                b.chunks_exact(std::mem::size_of::<E>())
                    .map(bytemuck::pod_read_unaligned::<E>)
                    .collect()
            });
            let init = match &typed {
                Some(t) => Init::Copy(t.as_slice()),
                None => Init::Zeroed,
            };
            let spec = Spec {
                kind,
                len,
                shape: None,
                lock,
                desc: ElemDesc::of_code(code),
            };
            let (s, l, _) = Shared::<E>::build(target, spec, init)?;
            Ok((Cells::from(s), l))
        })
    }

    fn attach(code: TypeCode, name: &str, kind: SegKind) -> Result<(Cells, Option<RawMutex>)> {
        with_element_type!(code, E => {
            let (s, l, _) = Shared::<E>::attach_as(name, kind, None, None, ElemDesc::of_code(code))?;
            Ok((Cells::from(s), l))
        })
    }

    fn id(&self) -> shm::SegmentId {
        each!(self, s => s.id())
    }

    fn len(&self) -> usize {
        each!(self, s => s.len())
    }

    fn name(&self) -> Option<&str> {
        each!(self, s => s.segment().name())
    }

    fn segment(&self) -> &crate::shm::Segment {
        each!(self, s => s.segment())
    }

    fn load(&self, code: TypeCode, i: usize) -> Result<Scalar> {
        each!(self, s => {
            let v = s.load(i)?;
            Scalar::decode(code, bytemuck::bytes_of(&v))
        })
    }

    fn store(&self, code: TypeCode, i: usize, v: Scalar) -> Result<()> {
        let bytes = v.encode(code)?;
        each!(self, s => {
            s.elem_ptr(i)?;
            s.store(i, bytemuck::pod_read_unaligned(&bytes))
        })
    }
}

/// An array whose element type is chosen at run time by typecode (Python's
/// `multiprocessing.Array(typecode, size_or_initializer, lock=True)`).
///
/// ```
/// use mpshare::{DynArray, Scalar};
/// let a = DynArray::new('i', 3)?;
/// a.set(0, Scalar::Int(-5))?;
/// assert_eq!(a.get(0)?, Scalar::Int(-5));
/// assert!(a.set(1, Scalar::Int(1 << 40)).is_err()); // does not fit a C int
/// assert!(DynArray::new('x', 3).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct DynArray {
    code: TypeCode,
    cells: Cells,
    lock: Option<AnyLock>,
}

impl std::fmt::Debug for DynArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynArray")
            .field("typecode", &self.code)
            .field("len", &self.len())
            .finish()
    }
}

fn code_of(c: char) -> Result<TypeCode> {
    TypeCode::try_from(c)
}

impl DynArray {
    /// The segment behind this handle, and the lock's if it lives in another one (handover to
    /// spawned children, `crate::process`).
    pub(crate) fn segments(&self) -> (&crate::shm::Segment, Option<&crate::shm::Segment>) {
        (
            self.cells.segment(),
            self.lock.as_ref().map(|l| l.raw().segment()),
        )
    }

    /// `len` zeroed elements of typecode `code`, with an RLock.
    ///
    /// ```
    /// assert_eq!(mpshare::DynArray::new('d', 2)?.len(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(code: char, len: usize) -> Result<Self> {
        Self::make(code, None, SegKind::Array, len, None, LockKind::RLock)
    }

    /// Elements from `init`, each range-checked against `code`, with an RLock.
    ///
    /// ```
    /// use mpshare::{DynArray, Scalar};
    /// let a = DynArray::from_scalars('b', &[Scalar::Int(1), Scalar::Int(-1)])?;
    /// assert_eq!(a.to_vec()?, vec![Scalar::Int(1), Scalar::Int(-1)]);
    /// assert!(DynArray::from_scalars('b', &[Scalar::Int(300)]).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_scalars(code: char, init: &[Scalar]) -> Result<Self> {
        Self::make(
            code,
            None,
            SegKind::Array,
            init.len(),
            Some(init),
            LockKind::RLock,
        )
    }

    /// Like [`DynArray::new`] with no lock (Python's `RawArray`).
    ///
    /// ```
    /// assert!(mpshare::DynArray::new_raw('H', 1)?.get_lock().is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_raw(code: char, len: usize) -> Result<Self> {
        Self::make(code, None, SegKind::Array, len, None, LockKind::None)
    }

    /// Create the named array `name` of `len` zeroed elements with an RLock.
    ///
    /// ```
    /// let name = format!("mpshare-doc-da-{}", std::process::id());
    /// let a = mpshare::DynArray::create(&name, 'l', 4)?;
    /// let b = mpshare::DynArray::open(&name)?;
    /// assert_eq!(b.typecode(), mpshare::TypeCode::Long);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, code: char, len: usize) -> Result<Self> {
        Self::make(code, Some(name), SegKind::Array, len, None, LockKind::RLock)
    }

    /// Open the named array `name`, whatever its typecode (structs are refused).
    ///
    /// ```
    /// assert!(mpshare::DynArray::open("mpshare-doc-da-missing").is_err());
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        Self::open_kind(name, SegKind::Array)
    }

    fn open_kind(name: &str, kind: SegKind) -> Result<Self> {
        // Read the recorded typecode from the header ("any typecode" is what is asked), then
        // attach typed.
        let peek = shm::attach::<RawMutex>(
            name,
            &Expect {
                kind,
                elem: None,
                len: None,
                lock: None,
            },
        )?;
        let code = peek
            .layout
            .elem
            .and_then(|e| e.typecode)
            .ok_or_else(|| Error::BadSegment {
                name: name.to_string(),
                reason: "no typecode recorded".into(),
            })?;
        let (cells, lock) = Cells::attach(code, name, kind)?;
        Ok(DynArray {
            code,
            cells,
            lock: lock.map(AnyLock::from_raw),
        })
    }

    fn make(
        code: char,
        name: Option<&str>,
        kind: SegKind,
        len: usize,
        init: Option<&[Scalar]>,
        lock: LockKind,
    ) -> Result<Self> {
        let code = code_of(code)?;
        let opts = Options::default();
        let target = match name {
            Some(n) => Target::Create(n, &opts),
            None => Target::Anonymous,
        };
        let (cells, lock) = Cells::build(code, target, kind, len, init, lock)?;
        Ok(DynArray {
            code,
            cells,
            lock: lock.map(AnyLock::from_raw),
        })
    }

    /// The typecode.
    ///
    /// ```
    /// assert_eq!(mpshare::DynArray::new('u', 1)?.typecode().as_char(), 'u');
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> TypeCode {
        self.code
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(mpshare::DynArray::new('u', 7)?.len(), 7);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when there are no elements.
    ///
    /// ```
    /// assert!(mpshare::DynArray::new('u', 0)?.is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lock, if the array has one.
    ///
    /// ```
    /// assert!(mpshare::DynArray::new('i', 1)?.get_lock().is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_lock(&self) -> Option<&AnyLock> {
        self.lock.as_ref()
    }

    /// The OS name of a named array.
    ///
    /// ```
    /// assert!(mpshare::DynArray::new('i', 1)?.name().is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.cells.name()
    }

    fn locked<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let _g = match &self.lock {
            Some(l) => Some(l.lock()?),
            None => None,
        };
        // The recursive lock lets this thread in while it holds an `ArrayGuard` on the same
        // segment (another handle); touching the elements then would alias its `&mut [T]`.
        if super::array::guard_held(self.cells.id()) {
            return Err(Error::GuardAlreadyHeld);
        }
        f()
    }

    /// Element `i` (under the lock if there is one).
    ///
    /// ```
    /// let a = mpshare::DynArray::new('c', 1)?;
    /// assert_eq!(a.get(0)?, mpshare::Scalar::Byte(0));
    /// assert!(a.get(1).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<Scalar> {
        self.locked(|| self.cells.load(self.code, i))
    }

    /// Set element `i`, range-checked (under the lock if there is one).
    ///
    /// ```
    /// use mpshare::Scalar;
    /// let a = mpshare::DynArray::new('B', 1)?;
    /// a.set(0, Scalar::Int(255))?;
    /// assert!(a.set(0, Scalar::Int(256)).is_err());
    /// assert!(a.set(0, Scalar::Float(1.0)).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, i: usize, v: Scalar) -> Result<()> {
        self.locked(|| self.cells.store(self.code, i, v))
    }

    /// Copy of `range` as scalars.
    ///
    /// ```
    /// let a = mpshare::DynArray::new('f', 3)?;
    /// assert_eq!(a.read(1..3)?.len(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read(&self, range: Range<usize>) -> Result<Vec<Scalar>> {
        if range.start > range.end || range.end > self.len() {
            return Err(Error::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len: self.len(),
            });
        }
        self.locked(|| range.map(|i| self.cells.load(self.code, i)).collect())
    }

    /// All elements as scalars.
    ///
    /// ```
    /// assert_eq!(mpshare::DynArray::new('q', 2)?.to_vec()?, vec![mpshare::Scalar::Int(0); 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<Scalar>> {
        self.read(0..self.len())
    }
}

/// A single cell whose type is chosen at run time by typecode (Python's
/// `multiprocessing.Value(typecode, value)`).
///
/// ```
/// use mpshare::{DynValue, Scalar};
/// let v = DynValue::new('h', 5)?;
/// v.set(Scalar::Int(-7))?;
/// assert_eq!(v.get()?, Scalar::Int(-7));
/// assert!(v.set(Scalar::Int(40_000)).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynValue {
    inner: DynArray,
}

impl DynValue {
    /// As [`DynArray::segments`] (handover, `crate::process`).
    pub(crate) fn segments(&self) -> (&crate::shm::Segment, Option<&crate::shm::Segment>) {
        self.inner.segments()
    }

    /// A cell of typecode `code` holding `value` (an `i128` for integer codes), with an RLock.
    ///
    /// ```
    /// assert!(mpshare::DynValue::new('b', 300).is_err());
    /// ```
    pub fn new(code: char, value: impl Into<Scalar>) -> Result<Self> {
        Self::make(code, None, value.into(), LockKind::RLock)
    }

    /// Like [`DynValue::new`] with no lock (Python's `RawValue`).
    ///
    /// ```
    /// assert!(mpshare::DynValue::new_raw('d', 1.5)?.get_lock().is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_raw(code: char, value: impl Into<Scalar>) -> Result<Self> {
        Self::make(code, None, value.into(), LockKind::None)
    }

    /// Create the named cell `name`, with an RLock.
    ///
    /// ```
    /// let name = format!("mpshare-doc-dv-{}", std::process::id());
    /// let v = mpshare::DynValue::create(&name, 'i', 5)?;
    /// let typed = mpshare::Value::<i32>::open(&name)?;
    /// assert_eq!(typed.get()?, 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, code: char, value: impl Into<Scalar>) -> Result<Self> {
        Self::make(code, Some(name), value.into(), LockKind::RLock)
    }

    /// Open the named cell `name`, whatever its typecode.
    ///
    /// ```
    /// let name = format!("mpshare-doc-dv-open-{}", std::process::id());
    /// let _v = mpshare::Value::create(&name, 2.5f32)?;
    /// let d = mpshare::DynValue::open(&name)?;
    /// assert_eq!(d.typecode().as_char(), 'f');
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        Ok(DynValue {
            inner: DynArray::open_kind(name, SegKind::Value)?,
        })
    }

    fn make(code: char, name: Option<&str>, value: Scalar, lock: LockKind) -> Result<Self> {
        Ok(DynValue {
            inner: DynArray::make(code, name, SegKind::Value, 1, Some(&[value]), lock)?,
        })
    }

    /// The typecode.
    ///
    /// ```
    /// assert_eq!(mpshare::DynValue::new('Q', 1)?.typecode().as_char(), 'Q');
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> TypeCode {
        self.inner.typecode()
    }

    /// The value (under the lock if there is one).
    ///
    /// ```
    /// assert_eq!(mpshare::DynValue::new('d', 0.5)?.get()?, mpshare::Scalar::Float(0.5));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self) -> Result<Scalar> {
        self.inner.get(0)
    }

    /// Replace the value, range-checked.
    ///
    /// ```
    /// let v = mpshare::DynValue::new('I', 0)?;
    /// assert!(v.set(mpshare::Scalar::Int(-1)).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, v: Scalar) -> Result<()> {
        self.inner.set(0, v)
    }

    /// The lock, if any.
    ///
    /// ```
    /// assert!(mpshare::DynValue::new('I', 0)?.get_lock().is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_lock(&self) -> Option<&AnyLock> {
        self.inner.get_lock()
    }
}

macro_rules! scalar_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Scalar {
            fn from(x: $t) -> Scalar { Scalar::$v(x.into()) }
        }
    )*};
}
scalar_from!(i8 => Int, u8 => Int, i16 => Int, u16 => Int, i32 => Int, u32 => Int, i64 => Int, u64 => Int, i128 => Int, f32 => Float, f64 => Float, char => Char);
