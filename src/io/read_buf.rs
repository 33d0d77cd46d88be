//! `ReadBuf`: a read target that may start uninitialised, so a read never zeroes memory it is
//! about to overwrite.
//!
//! The shape is tokio's `ReadBuf` (std's `BorrowedCursor` is not stable yet): a borrowed buffer in
//! three regions, each a prefix of the next.
//!
//! ```text
//! [ filled | initialised, unfilled | uninitialised ]
//! 0     filled()               initialized()    capacity()
//! ```
//!
//! Readers append at the end of the filled region. evloop's streams hand the unfilled region to
//! `recv(2)` as it is and count as initialised exactly the bytes the kernel reported writing; a
//! reader that only has `poll_read(&mut [u8])` gets the unfilled region initialised first (zeroed,
//! once: bytes initialised by an earlier read are not zeroed again).
//!
//! All the `unsafe` of the type is in this file; its one invariant is stated on the struct.

use std::fmt;
use std::mem::MaybeUninit;

/// A buffer to read into, which may start uninitialised, with a cursor: how much is filled, how
/// much is initialised.
///
/// evloop's streams read into it without zeroing it first
/// ([`AsyncRead::poll_read_buf`](crate::io::AsyncRead::poll_read_buf)); so does
/// [`read_to_end`](crate::io::AsyncRead::read_to_end), which reads into a `Vec`'s spare capacity.
///
/// ```
/// use std::mem::MaybeUninit;
/// use evloop::io::{AsyncRead, AsyncWrite, ReadBuf};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"hello").await?;
///     // Nothing is zeroed: `recv` writes into this memory, and only what it wrote counts.
///     let mut storage = [MaybeUninit::<u8>::uninit(); 4096];
///     let mut buf = ReadBuf::uninit(&mut storage);
///     let n = b.read_buf(&mut buf).await?;
///     assert_eq!(n, 5);
///     assert_eq!(buf.filled(), b"hello");
///     assert_eq!(buf.initialized().len(), 5);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReadBuf<'a> {
    // # Invariant
    //
    // `filled <= initialized <= buf.len()`, and `buf[..initialized]` is initialised. Nothing safe
    // lowers `initialized` or writes an uninitialised value into `buf`; the `unsafe` methods that
    // could carry the caller's promise not to.
    buf: &'a mut [MaybeUninit<u8>],
    filled: usize,
    initialized: usize,
}

impl<'a> ReadBuf<'a> {
    /// A buffer over initialised memory: all of it counts as initialised, none as filled.
    ///
    /// ```
    /// let mut storage = [0u8; 16];
    /// let buf = evloop::io::ReadBuf::new(&mut storage);
    /// assert_eq!((buf.filled().len(), buf.initialized().len(), buf.capacity()), (0, 16, 16));
    /// ```
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> ReadBuf<'a> {
        let initialized = buf.len();
        // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout. The invariant (nothing ever
        // writes an uninitialised value into `buf`) keeps the borrowed bytes initialised for their
        // owner, who sees them again as `[u8]` once this borrow ends.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        ReadBuf {
            buf,
            filled: 0,
            initialized,
        }
    }

    /// A buffer over memory that may be uninitialised: none of it counts as initialised.
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 16];
    /// let buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// assert_eq!((buf.initialized().len(), buf.remaining()), (0, 16));
    /// ```
    #[inline]
    pub fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> ReadBuf<'a> {
        ReadBuf {
            buf,
            filled: 0,
            initialized: 0,
        }
    }

    /// The buffer's total size.
    ///
    /// ```
    /// let mut storage = [0u8; 32];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.put_slice(b"abc");
    /// assert_eq!(buf.capacity(), 32, "filling does not change it");
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// How many bytes can still be read into it: `capacity() - filled().len()`.
    ///
    /// ```
    /// let mut storage = [0u8; 8];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.put_slice(b"abc");
    /// assert_eq!(buf.remaining(), 5);
    /// ```
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.filled
    }

    /// The bytes read so far.
    ///
    /// ```
    /// let mut storage = [0u8; 8];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// assert!(buf.filled().is_empty());
    /// buf.put_slice(b"read");
    /// assert_eq!(buf.filled(), b"read");
    /// ```
    #[inline]
    pub fn filled(&self) -> &[u8] {
        // SAFETY: `buf[..filled]` is initialised (`filled <= initialized`, the invariant).
        unsafe { assume_init(&self.buf[..self.filled]) }
    }

    /// The bytes read so far, mutably.
    ///
    /// ```
    /// let mut storage = [0u8; 8];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.put_slice(b"abc");
    /// buf.filled_mut().make_ascii_uppercase();
    /// assert_eq!(buf.filled(), b"ABC");
    /// ```
    #[inline]
    pub fn filled_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `filled`; writing `u8`s keeps the bytes initialised.
        unsafe { assume_init_mut(&mut self.buf[..self.filled]) }
    }

    /// The initialised part: the filled bytes, then those initialised but not yet filled.
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// buf.initialize_unfilled_to(4)[..2].copy_from_slice(b"ab");
    /// buf.advance(2);
    /// assert_eq!(buf.filled(), b"ab");
    /// assert_eq!(buf.initialized(), b"ab\0\0", "filled, then initialised but unfilled");
    /// ```
    #[inline]
    pub fn initialized(&self) -> &[u8] {
        // SAFETY: `buf[..initialized]` is initialised (the invariant).
        unsafe { assume_init(&self.buf[..self.initialized]) }
    }

    /// The unfilled part, initialised first where it is not yet (zeroed: once, since the bytes
    /// stay initialised afterwards). For readers that need a `&mut [u8]`; write into it, then
    /// [`advance`](Self::advance) past what was written.
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// let spare = buf.initialize_unfilled();
    /// spare[..2].copy_from_slice(b"hi");
    /// buf.advance(2);
    /// assert_eq!(buf.filled(), b"hi");
    /// assert_eq!(buf.initialized().len(), 8);
    /// ```
    #[inline]
    pub fn initialize_unfilled(&mut self) -> &mut [u8] {
        self.initialize_unfilled_to(self.remaining())
    }

    /// The first `n` bytes of the unfilled part, initialised first where they are not yet.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`remaining`](Self::remaining).
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 64];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// let head = buf.initialize_unfilled_to(4); // zeroes 4 bytes, not 64
    /// head.copy_from_slice(b"GET ");
    /// buf.advance(4);
    /// assert_eq!(buf.filled(), b"GET ");
    /// assert_eq!(buf.initialized().len(), 4);
    /// ```
    #[track_caller]
    pub fn initialize_unfilled_to(&mut self, n: usize) -> &mut [u8] {
        assert!(
            n <= self.remaining(),
            "ReadBuf::initialize_unfilled_to: {n} bytes asked for, {} remaining",
            self.remaining()
        );
        let end = self.filled + n;
        if self.initialized < end {
            for byte in &mut self.buf[self.initialized..end] {
                byte.write(0);
            }
            self.initialized = end;
        }
        // SAFETY: `buf[..initialized]` is initialised and `end <= initialized` now.
        unsafe { assume_init_mut(&mut self.buf[self.filled..end]) }
    }

    /// The unfilled part, as it is (possibly uninitialised): for readers that write into
    /// uninitialised memory, such as a `recv(2)`.
    ///
    /// # Safety
    ///
    /// The caller must not write an uninitialised value (`MaybeUninit::uninit()`) into it: bytes
    /// already counted as initialised must stay so.
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 16];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// // SAFETY: only initialised values are written into the slice.
    /// let spare = unsafe { buf.unfilled_mut() };
    /// for (slot, &b) in spare.iter_mut().zip(b"raw") {
    ///     slot.write(b);
    /// }
    /// // SAFETY: the three bytes were just written.
    /// unsafe { buf.assume_init(3) };
    /// buf.advance(3);
    /// assert_eq!(buf.filled(), b"raw");
    /// ```
    #[inline]
    pub unsafe fn unfilled_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.filled..]
    }

    /// Counts the first `n` unfilled bytes as initialised (after a reader wrote them through
    /// [`unfilled_mut`](Self::unfilled_mut)). A count below what is already initialised changes
    /// nothing.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the unfilled part must have been initialised.
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// // SAFETY: only initialised values are written.
    /// unsafe { buf.unfilled_mut()[0].write(b'!') };
    /// // SAFETY: the first unfilled byte was just written.
    /// unsafe { buf.assume_init(1) };
    /// assert_eq!(buf.initialized(), b"!");
    /// assert!(buf.filled().is_empty(), "initialised, not yet filled: `advance` does that");
    /// ```
    #[inline]
    pub unsafe fn assume_init(&mut self, n: usize) {
        let end = self.filled + n;
        if end > self.initialized {
            self.initialized = end;
        }
    }

    /// Counts `n` more bytes as filled.
    ///
    /// # Panics
    ///
    /// If the filled part would reach past the initialised part: bytes a reader did not write are
    /// never counted as read.
    ///
    /// ```
    /// let mut storage = [0u8; 8]; // initialised memory: `advance` may count any of it
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.initialize_unfilled()[..3].copy_from_slice(b"xyz");
    /// buf.advance(3);
    /// assert_eq!(buf.filled(), b"xyz");
    /// ```
    #[inline]
    #[track_caller]
    pub fn advance(&mut self, n: usize) {
        let filled = self.filled.checked_add(n);
        match filled {
            Some(filled) if filled <= self.initialized => self.filled = filled,
            _ => panic!(
                "ReadBuf::advance: {n} bytes past {} filled would reach past the {} initialised",
                self.filled, self.initialized
            ),
        }
    }

    /// Sets the filled length (shrinking it forgets bytes read; they stay initialised).
    ///
    /// # Panics
    ///
    /// If `n` is more than the initialised length.
    ///
    /// ```
    /// let mut storage = [0u8; 8];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.put_slice(b"abcdef");
    /// buf.set_filled(2); // forget all but the first two bytes read
    /// assert_eq!(buf.filled(), b"ab");
    /// assert_eq!(buf.initialized().len(), 8, "still initialised");
    /// ```
    #[inline]
    #[track_caller]
    pub fn set_filled(&mut self, n: usize) {
        assert!(
            n <= self.initialized,
            "ReadBuf::set_filled: {n} is past the {} initialised bytes",
            self.initialized
        );
        self.filled = n;
    }

    /// Empties the filled part (the bytes stay initialised, so reusing the buffer zeroes nothing).
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let mut storage = [MaybeUninit::<u8>::uninit(); 8];
    /// let mut buf = evloop::io::ReadBuf::uninit(&mut storage);
    /// buf.put_slice(b"used");
    /// buf.clear();
    /// assert!(buf.filled().is_empty());
    /// assert_eq!(buf.initialized().len(), 4, "reused without zeroing again");
    /// ```
    #[inline]
    pub fn clear(&mut self) {
        self.filled = 0;
    }

    /// Appends `data` to the filled part.
    ///
    /// # Panics
    ///
    /// If `data` is longer than [`remaining`](Self::remaining).
    ///
    /// ```
    /// let mut storage = [0u8; 4];
    /// let mut buf = evloop::io::ReadBuf::new(&mut storage);
    /// buf.put_slice(b"ab");
    /// buf.put_slice(b"cd");
    /// assert_eq!(buf.filled(), b"abcd");
    /// assert_eq!(buf.remaining(), 0);
    /// ```
    #[track_caller]
    pub fn put_slice(&mut self, data: &[u8]) {
        assert!(
            data.len() <= self.remaining(),
            "ReadBuf::put_slice: {} bytes do not fit in the {} remaining",
            data.len(),
            self.remaining()
        );
        let end = self.filled + data.len();
        for (dst, &src) in self.buf[self.filled..end].iter_mut().zip(data) {
            dst.write(src);
        }
        self.initialized = self.initialized.max(end);
        self.filled = end;
    }
}

impl fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBuf")
            .field("filled", &self.filled)
            .field("initialized", &self.initialized)
            .field("capacity", &self.buf.len())
            .finish()
    }
}

/// Runs `f` on a `ReadBuf` over `vec`'s spare capacity, then extends `vec` by what `f` filled: a
/// read into a `Vec` with no zeroing first.
pub(crate) fn with_spare_capacity<R>(
    vec: &mut Vec<u8>,
    f: impl FnOnce(&mut ReadBuf<'_>) -> R,
) -> R {
    let len = vec.len();
    let mut spare = ReadBuf::uninit(vec.spare_capacity_mut());
    let r = f(&mut spare);
    let filled = spare.filled().len();
    // SAFETY: the `filled` bytes after `len` are initialised (the `ReadBuf` invariant), and
    // `len + filled` is within the capacity, since `spare` covers exactly the spare capacity.
    unsafe { vec.set_len(len + filled) };
    r
}

/// # Safety
///
/// Every byte of `s` must be initialised.
#[inline]
unsafe fn assume_init(s: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: same layout; the caller promises the bytes are initialised.
    unsafe { &*(s as *const [MaybeUninit<u8>] as *const [u8]) }
}

/// # Safety
///
/// Every byte of `s` must be initialised.
#[inline]
unsafe fn assume_init_mut(s: &mut [MaybeUninit<u8>]) -> &mut [u8] {
    // SAFETY: same layout; the caller promises the bytes are initialised, and writing `u8`s
    // through the result keeps them so.
    unsafe { &mut *(s as *mut [MaybeUninit<u8>] as *mut [u8]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_stay_prefixes_of_each_other() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.put_slice(b"ab");
        assert_eq!((buf.filled(), buf.initialized()), (&b"ab"[..], &b"ab"[..]));
        buf.initialize_unfilled_to(3).copy_from_slice(b"cde");
        assert_eq!(buf.initialized(), b"abcde");
        buf.advance(1);
        assert_eq!(buf.filled(), b"abc");
        buf.clear();
        assert_eq!((buf.filled().len(), buf.initialized().len()), (0, 5));
        // Initialising again zeroes only the bytes never initialised.
        assert_eq!(buf.initialize_unfilled(), b"abcde\0\0\0");
        assert_eq!(buf.remaining(), 8);
    }

    #[test]
    #[should_panic(expected = "would reach past the 2 initialised")]
    fn advance_never_counts_unwritten_bytes_as_read() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.put_slice(b"ab");
        buf.set_filled(0);
        buf.advance(3);
    }

    #[test]
    #[should_panic(expected = "do not fit")]
    fn put_slice_refuses_more_than_remains() {
        let mut storage = [0u8; 2];
        ReadBuf::new(&mut storage).put_slice(b"abc");
    }
}
