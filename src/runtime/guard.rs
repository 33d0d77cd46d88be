//! Running user code: a panic is caught and handed back, so the caller can put loop state back in
//! order before it reports the panic (the error hook may resume the unwind).

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::trash::Panic;

/// Runs user code; returns its panic, if any.
#[inline]
pub(crate) fn catch(f: impl FnOnce()) -> Option<Panic> {
    catch_unwind(AssertUnwindSafe(f)).err()
}
