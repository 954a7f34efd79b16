//! Python's `multiprocessing.sharedctypes`, in shared memory: [`Value`]/[`Array`] (with a
//! lock), [`RawValue`]/[`RawArray`] (lock-free) and the typecode-keyed [`DynValue`]/[`DynArray`].
//!
//! * `cell`: atomic element access and `Shared<T>`, the typed view of a segment's data.
//! * [`synchronized`]: [`Synchronized`], the one locked wrapper ([`Value`] and [`Array`] are
//!   its aliases).
//! * [`value`], [`array`](mod@array), [`dynamic`]: the public types.
//! * `nd`: N-dimensional arrays (shape in the header) and [`NdGuard`].
//! * `ndarray_view`: `ndarray` views (feature `ndarray`).

pub mod array;
pub(crate) mod cell;
pub mod dynamic;
mod nd;
#[cfg(feature = "ndarray")]
mod ndarray_view;
mod raw_array;
pub mod synchronized;
pub mod value;

pub use array::{Array, ArrayGuard, RawArray};
pub use cell::AtomicInt;
pub use dynamic::{DynArray, DynValue};
pub use nd::NdGuard;
pub use synchronized::{RawObject, Synchronized};
pub use value::{RawValue, Value, ValueGuard};
