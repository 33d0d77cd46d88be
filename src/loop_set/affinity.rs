//! The CPUs this process may run on (`sched_getaffinity(2)`), and pinning a thread to one.

use std::io;
use std::mem::{size_of, zeroed};

/// The CPUs the calling thread may run on, in increasing order: the default number of loops of
/// a [`LoopSet`](crate::LoopSet), and the CPUs it pins them to. Taskset, cgroup cpusets and
/// container limits on the CPU set are taken into account (CPU quotas are not: they limit time,
/// not CPUs).
///
/// # Errors
///
/// As `sched_getaffinity(2)`.
///
/// ```
/// let cpus = evloop::loop_set::available_cpus()?;
/// assert!(!cpus.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn available_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is a valid (empty) value.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: `set` is valid for writes of the size passed during the call (pid 0: this thread).
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below `CPU_SETSIZE`, the number of bits in `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Restricts the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is beyond CPU_SETSIZE"),
        ));
    }
    // SAFETY: all zeroes is an empty `cpu_set_t`; `cpu` is below `CPU_SETSIZE` (checked above).
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: as above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is valid for reads of the size passed during the call (pid 0: this thread).
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
