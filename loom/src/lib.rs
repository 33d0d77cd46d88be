//! Nothing here: the model is in `tests/inbox.rs`, run with `RUSTFLAGS="--cfg loom"`.
