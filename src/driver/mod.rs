//! The loop's driver: the parts that feed its turns.
//!
//! Not wired into the runtime yet; for now it holds the new cross-thread inbox on its own.

pub(crate) mod inbox;
