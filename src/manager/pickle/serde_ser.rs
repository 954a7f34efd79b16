//! `Serialize` → [`PyValue`].
