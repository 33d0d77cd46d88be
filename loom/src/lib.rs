//! Nothing here: the models are in `tests/inbox.rs` and `tests/loops.rs`, run with `RUSTFLAGS="--cfg loom"`.
