//! `OpenOptions`.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{asyncify, File};

/// How to open a file, as [`std::fs::OpenOptions`]; [`OpenOptions::open`] opens it on the
/// blocking pool. Get one from [`OpenOptions::new`] or [`File::options`].
///
/// ```
/// use evloop::fs::OpenOptions;
/// use evloop::io::AsyncWrite;
///
/// let path = std::env::temp_dir().join(format!("evloop-options-doc-{}", std::process::id()));
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut f = OpenOptions::new().create(true).append(true).open(&path).await?;
///     f.write_all(b"one line\n").await?;
///     f.flush().await?;
///     drop(f);
///     assert_eq!(evloop::fs::read(&path).await?, b"one line\n");
///     evloop::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// No access at all yet: set `read`, `write` or `append`.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-new-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// std::fs::write(&path, b"")?;
    /// let err = OpenOptions::new().open(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "no access asked for");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Read access.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    /// use evloop::io::{AsyncRead, AsyncWrite};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-read-{}", std::process::id()));
    /// std::fs::write(&path, b"readable")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = OpenOptions::new().read(true).open(&path).await?;
    /// let mut text = Vec::new();
    /// file.read_to_end(&mut text).await?;
    /// assert_eq!(text, b"readable");
    /// file.write_all(b"no").await?;
    /// assert!(file.flush().await.is_err(), "opened read-only");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Write access.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-write-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = OpenOptions::new().write(true).open(&path).await?;
    /// file.write_all(b"ab").await?; // over the start, nothing truncated
    /// file.flush().await?;
    /// assert_eq!(evloop::fs::read(&path).await?, b"ab23456789");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Append mode: every write goes to the end of the file.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-append-{}", std::process::id()));
    /// std::fs::write(&path, b"one\n")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut log = OpenOptions::new().append(true).open(&path).await?;
    /// log.write_all(b"two\n").await?;
    /// log.flush().await?;
    /// assert_eq!(evloop::fs::read(&path).await?, b"one\ntwo\n");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncates an existing file to length 0 (needs write access).
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-truncate-{}", std::process::id()));
    /// std::fs::write(&path, b"old contents")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// drop(OpenOptions::new().write(true).truncate(true).open(&path).await?);
    /// assert_eq!(evloop::fs::metadata(&path).await?.len(), 0);
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist (needs write or append access).
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-create-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// assert!(OpenOptions::new().write(true).open(&path).await.is_err(), "missing");
    /// drop(OpenOptions::new().write(true).create(true).open(&path).await?);
    /// assert!(evloop::fs::try_exists(&path).await?);
    /// drop(OpenOptions::new().write(true).create(true).open(&path).await?); // exists: opened
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Creates the file, failing with `AlreadyExists` if it exists.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-create-new-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut options = OpenOptions::new();
    /// options.write(true).create_new(true);
    /// drop(options.open(&path).await?);
    /// let err = options.open(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a created file (before the umask), `0o666` by default.
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-mode-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// drop(OpenOptions::new().write(true).create(true).mode(0o600).open(&path).await?);
    /// let mode = evloop::fs::metadata(&path).await?.permissions().mode();
    /// assert_eq!(mode & 0o777, 0o600, "private: no umask clears what is not there");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    /// Extra `open(2)` flags (`libc::O_*`).
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let dir = std::env::temp_dir().join(format!("evloop-doc-options-flags-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// evloop::fs::create_dir(&dir).await?;
    /// evloop::fs::write(dir.join("target"), b"x").await?;
    /// std::os::unix::fs::symlink(dir.join("target"), dir.join("link"))?;
    /// let mut options = OpenOptions::new();
    /// options.read(true).custom_flags(libc::O_NOFOLLOW);
    /// assert!(options.open(dir.join("link")).await.is_err(), "a link is refused");
    /// assert!(options.open(dir.join("target")).await.is_ok());
    /// evloop::fs::remove_dir_all(&dir).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }

    /// Opens `path` with these options, on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`std::fs::OpenOptions::open`]: `NotFound`, `AlreadyExists` with `create_new`,
    /// `InvalidInput` for a contradictory set of options, ...
    ///
    /// ```
    /// use evloop::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-options-open-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let err = OpenOptions::new().read(true).open(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let contradictory = OpenOptions::new().read(true).truncate(true).open(&path).await;
    /// assert_eq!(contradictory.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let options = self.0.clone();
        let path = path.as_ref().to_owned();
        let std = asyncify(move || options.open(path)).await?;
        Ok(File::from_std(std))
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}
