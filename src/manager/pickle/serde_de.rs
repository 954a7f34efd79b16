//! [`PyValue`] → `Deserialize`.
