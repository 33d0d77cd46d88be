//! Files and directories, without blocking the loop: async versions of `std::fs`, shaped like
//! `tokio::fs`.
//!
//! Operating systems offer no readiness for regular files (they are always "ready", and a read
//! from a slow disk simply blocks), so each operation here runs the `std::fs` call on the loop's
//! blocking pool ([`spawn_blocking`](crate::spawn_blocking)) and wakes the task when it is done.
//! That is **one hand-off per call**: a few microseconds for a pool thread to pick the job up and
//! the loop to be woken, as with tokio's `fs`. So prefer few big operations to many small ones:
//! [`read`] and [`write`](fn@write) move a whole file in one hand-off; a [`File`] moves one buffer per
//! `read` or `write` call (see its docs); a batch of small steps is best one closure passed to
//! [`spawn_blocking`](crate::spawn_blocking).
//!
//! Errors keep their `std::io::ErrorKind` (`NotFound`, `PermissionDenied`, ...). If the pool
//! cannot start a thread, the error keeps the OS error's kind; a panic in the pool (which the
//! `std::fs` calls do not do) or a job cancelled because the loop is being dropped is an `Other`
//! error that says so.
//!
//! ```
//! use evloop::fs;
//!
//! let dir = std::env::temp_dir().join(format!("evloop-fs-doc-{}", std::process::id()));
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     fs::create_dir_all(&dir).await?;
//!     fs::write(dir.join("hello.txt"), "hello").await?;
//!     assert_eq!(fs::read_to_string(dir.join("hello.txt")).await?, "hello");
//!     fs::rename(dir.join("hello.txt"), dir.join("bye.txt")).await?;
//!     assert_eq!(fs::metadata(dir.join("bye.txt")).await?.len(), 5);
//!     fs::remove_file(dir.join("bye.txt")).await?;
//!     fs::remove_dir(&dir).await
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod file;
mod open_options;

pub use file::File;
pub use open_options::OpenOptions;

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on the blocking pool; a pool failure becomes an `io::Error`.
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    crate::spawn_blocking(f)
        .await
        .map_err(crate::blocking::join_error_to_io)?
}

fn owned(path: impl AsRef<Path>) -> PathBuf {
    path.as_ref().to_owned()
}

/// Reads a whole file into a vector, in one hand-off to the blocking pool (`std::fs::read`).
///
/// # Errors
///
/// As [`std::fs::read`]: `NotFound` if there is no such file, and so on.
///
/// # Panics
///
/// If this thread has no event loop (as for every function here).
///
/// ```
/// let path = std::env::temp_dir().join(format!("evloop-doc-fs-read-{}", std::process::id()));
/// std::fs::write(&path, [1, 2, 3])?;
/// let lp = evloop::EventLoop::new()?;
/// let bytes = lp.block_on(evloop::fs::read(&path))?; // on the blocking pool: the loop goes on
/// assert_eq!(bytes, [1, 2, 3]);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = owned(path);
    asyncify(move || std::fs::read(path)).await
}

/// Reads a whole UTF-8 file into a string, in one hand-off (`std::fs::read_to_string`).
///
/// # Errors
///
/// As [`std::fs::read_to_string`]; `InvalidData` if the file is not UTF-8.
///
/// ```
/// use evloop::fs;
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-read-string-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::write(&path, b"text").await?;
/// assert_eq!(fs::read_to_string(&path).await?, "text");
/// fs::write(&path, [0xff, 0xfe]).await?;
/// let err = fs::read_to_string(&path).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "not UTF-8");
/// fs::remove_file(&path).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = owned(path);
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to a file, creating it or replacing its contents, in one hand-off
/// (`std::fs::write`). The bytes are copied first, as tokio does, so that the pool owns them.
///
/// # Errors
///
/// As [`std::fs::write`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("evloop-doc-fs-write-{}", std::process::id()));
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(evloop::fs::write(&path, "replaced whole"))?;
/// assert_eq!(std::fs::read_to_string(&path)?, "replaced whole");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = owned(path);
    let contents = contents.as_ref().to_vec();
    asyncify(move || std::fs::write(path, contents)).await
}

/// The metadata of a file or directory, following symbolic links (`std::fs::metadata`).
///
/// # Errors
///
/// As [`std::fs::metadata`].
///
/// ```
/// use evloop::fs;
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-metadata-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::write(&path, b"12345").await?;
/// let meta = fs::metadata(&path).await?;
/// assert!(meta.is_file() && meta.len() == 5);
/// assert!(fs::metadata(std::env::temp_dir()).await?.is_dir());
/// fs::remove_file(&path).await?;
/// assert_eq!(fs::metadata(&path).await.unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    asyncify(move || std::fs::metadata(path)).await
}

/// The metadata of a path without following a symbolic link (`std::fs::symlink_metadata`).
///
/// # Errors
///
/// As [`std::fs::symlink_metadata`].
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-symlink-meta-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir(&dir).await?;
/// fs::write(dir.join("target"), b"x").await?;
/// std::os::unix::fs::symlink(dir.join("target"), dir.join("link"))?;
/// assert!(fs::symlink_metadata(dir.join("link")).await?.is_symlink());
/// assert!(fs::metadata(dir.join("link")).await?.is_file(), "`metadata` follows it");
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Whether `path` exists: `Ok(false)` for a missing file or a broken link (`Path::try_exists`).
///
/// # Errors
///
/// When existence cannot be determined (for example, `PermissionDenied` on a parent directory).
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-try-exists-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// assert!(!fs::try_exists(&dir).await?);
/// fs::create_dir(&dir).await?;
/// assert!(fs::try_exists(&dir).await?);
/// std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("broken"))?;
/// assert!(!fs::try_exists(dir.join("broken")).await?, "a broken link");
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = owned(path);
    asyncify(move || path.try_exists()).await
}

/// Creates a directory (`std::fs::create_dir`).
///
/// # Errors
///
/// As [`std::fs::create_dir`]: `AlreadyExists`, `NotFound` for a missing parent, ...
///
/// ```
/// use evloop::fs;
/// use std::io::ErrorKind;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-create-dir-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir(&dir).await?;
/// assert_eq!(fs::create_dir(&dir).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
/// let deep = dir.join("a/b");
/// assert_eq!(fs::create_dir(&deep).await.unwrap_err().kind(), ErrorKind::NotFound);
/// fs::remove_dir(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and all its missing parents (`std::fs::create_dir_all`); an existing
/// directory is not an error.
///
/// # Errors
///
/// As [`std::fs::create_dir_all`].
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-create-dir-all-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir_all(dir.join("a/b/c")).await?;
/// assert!(fs::metadata(dir.join("a/b/c")).await?.is_dir());
/// fs::create_dir_all(dir.join("a/b")).await?; // exists already: fine
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// Removes a file (`std::fs::remove_file`).
///
/// # Errors
///
/// As [`std::fs::remove_file`]: `NotFound` if there is no such file, ...
///
/// ```
/// use evloop::fs;
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-remove-file-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::write(&path, b"").await?;
/// fs::remove_file(&path).await?;
/// assert!(!fs::try_exists(&path).await?);
/// assert_eq!(fs::remove_file(&path).await.unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory (`std::fs::remove_dir`).
///
/// # Errors
///
/// As [`std::fs::remove_dir`]; the directory must be empty.
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-remove-dir-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir(&dir).await?;
/// fs::write(dir.join("file"), b"").await?;
/// assert!(fs::remove_dir(&dir).await.is_err(), "not empty");
/// fs::remove_file(dir.join("file")).await?;
/// fs::remove_dir(&dir).await?;
/// assert!(!fs::try_exists(&dir).await?);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it (`std::fs::remove_dir_all`), in one hand-off.
///
/// # Errors
///
/// As [`std::fs::remove_dir_all`].
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-remove-dir-all-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir_all(dir.join("sub")).await?;
/// fs::write(dir.join("sub/file"), b"x").await?;
/// fs::remove_dir_all(&dir).await?; // contents and all
/// assert!(!fs::try_exists(&dir).await?);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory, replacing `to` if it is a file (`std::fs::rename`).
///
/// # Errors
///
/// As [`std::fs::rename`].
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-rename-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir(&dir).await?;
/// fs::write(dir.join("new"), b"new").await?;
/// fs::write(dir.join("old"), b"old").await?;
/// fs::rename(dir.join("new"), dir.join("old")).await?; // replaces `old`
/// assert_eq!(fs::read(dir.join("old")).await?, b"new");
/// assert!(!fs::try_exists(dir.join("new")).await?);
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies a file's contents and permissions, returning the bytes copied (`std::fs::copy`).
///
/// # Errors
///
/// As [`std::fs::copy`].
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-copy-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir(&dir).await?;
/// fs::write(dir.join("a"), b"copied").await?;
/// assert_eq!(fs::copy(dir.join("a"), dir.join("b")).await?, 6);
/// assert_eq!(fs::read(dir.join("b")).await?, b"copied");
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (owned(from), owned(to));
    asyncify(move || std::fs::copy(from, to)).await
}

/// The absolute path with every link resolved (`std::fs::canonicalize`).
///
/// # Errors
///
/// As [`std::fs::canonicalize`]: `NotFound` if the path does not exist.
///
/// ```
/// use evloop::fs;
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-canonicalize-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::create_dir_all(dir.join("sub")).await?;
/// let roundabout = dir.join("sub/../sub/.");
/// assert_eq!(fs::canonicalize(&roundabout).await?, fs::canonicalize(dir.join("sub")).await?);
/// assert!(fs::canonicalize(dir.join("missing")).await.is_err());
/// fs::remove_dir_all(&dir).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Sets a file's or directory's permissions (`std::fs::set_permissions`).
///
/// # Errors
///
/// As [`std::fs::set_permissions`].
///
/// ```
/// use evloop::fs;
/// use std::os::unix::fs::PermissionsExt;
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-set-perms-{}", std::process::id()));
/// # let lp = evloop::EventLoop::new()?;
/// # lp.block_on(async {
/// fs::write(&path, b"").await?;
/// fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).await?;
/// assert_eq!(fs::metadata(&path).await?.permissions().mode() & 0o777, 0o640);
/// fs::remove_file(&path).await
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::set_permissions(path, perm)).await
}
