//! Validation of POSIX shared-memory names.

use crate::{Error, Result};

/// Longest name accepted, without the leading `/` (Linux `NAME_MAX` is 255).
/// ```
/// assert_eq!(mpshare::shm::MAX_NAME_LEN, 255);
/// ```
pub const MAX_NAME_LEN: usize = 255;

/// Turn a user name (`"counter"` or `"/counter"`) into the OS name (`"/counter"`).
pub(crate) fn os_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if bare.is_empty() {
        return bad("empty name");
    }
    if bare.len() > MAX_NAME_LEN {
        return bad("longer than 255 bytes");
    }
    if bare.contains('/') {
        return bad("contains '/' after the optional leading one");
    }
    if bare.contains('\0') {
        return bad("contains a NUL byte");
    }
    if bare == "." || bare == ".." {
        return bad("'.' and '..' are not segment names");
    }
    Ok(format!("/{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(os_name("x").unwrap(), "/x");
        assert_eq!(os_name("/x").unwrap(), "/x");
        for bad in ["", "/", "a/b", "//a", "a\0b", ".", ".."] {
            assert!(os_name(bad).is_err(), "{bad:?}");
        }
        assert!(os_name(&"a".repeat(256)).is_err());
        assert!(os_name(&"a".repeat(255)).is_ok());
    }
}
