//! Layer 1, the driver: plain containers that hold a loop's state and know nothing of the loop.
//!
//! Each one stores what it is given and hands back what it removes or replaces; none of them
//! imports the runtime or the public modules, calls a callback, polls a future, wakes or drops a
//! waker of unknown origin, or calls a `mio::event::Source` method (which may be user code). So no
//! user code can run while one of them is borrowed: the runtime borrows them, takes out what is
//! to run or to drop, ends the borrow, and only then runs or drops it.
//!
//! - [`queue`]: the message queue, one FIFO of small entries, and the callbacks it refers to.
//! - [`timers`]: the timer heap and its slots.
//! - [`reactor`]: the `mio` poller and the registrations, turned into queue entries and wakers.
//! - [`tasks`]: the executor's slab of tasks and their `scheduled` flags.
//! - [`inbox`]: what other threads post and wake, behind a mutex.
//! - [`loops`]: the process-wide table of live loops, read without a lock by cross-thread wakers.
//! - [`pool`]: the blocking thread pool.
//! - [`signal`]: the process-wide signal state, shared by every loop: per-signal counters, the OS
//!   handler, the static table of wake descriptors it writes to (one slot per listening loop,
//!   never closed), and the dispositions. It starts no thread and touches no loop's state.

pub(crate) mod inbox;
pub(crate) mod loops;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod reactor;
pub(crate) mod signal;
pub(crate) mod tasks;
pub(crate) mod timers;
