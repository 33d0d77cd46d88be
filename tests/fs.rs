//! `evloop::fs`: every function on real files in a fresh temporary directory (removed at the end),
//! `File` reads, writes and seeks over 1 MiB of random bytes checked byte for byte, and errors
//! that keep their kind.

mod util;

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use evloop::fs::{self, File, OpenOptions};
use evloop::io::{AsyncRead, AsyncWrite};
use evloop::EventLoop;
use util::Rng;

const MIB: usize = 1 << 20;

/// A directory of its own under the system's temporary directory, removed when dropped (also
/// when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "evloop-fs-{test}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).expect("create the temporary directory");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run<T>(what: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let _dog = util::watchdog(what, 60);
    EventLoop::new().unwrap().block_on(f)
}

#[test]
fn every_function_works_on_real_files() {
    let tmp = TempDir::new("functions");
    let root = tmp.0.clone();
    run("every_function_works_on_real_files", async move {
        let nested = root.join("a/b/c");
        fs::create_dir_all(&nested).await.unwrap();
        fs::create_dir_all(&nested).await.unwrap(); // existing: fine
        assert!(fs::metadata(&nested).await.unwrap().is_dir());

        let file = nested.join("f.txt");
        fs::write(&file, "hello, files").await.unwrap();
        assert_eq!(fs::read(&file).await.unwrap(), b"hello, files");
        assert_eq!(fs::read_to_string(&file).await.unwrap(), "hello, files");
        let meta = fs::metadata(&file).await.unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.len(), 12);
        assert!(fs::symlink_metadata(&file).await.unwrap().is_file());
        assert!(fs::try_exists(&file).await.unwrap());
        assert!(!fs::try_exists(root.join("nothing")).await.unwrap());

        // `write` replaces the contents.
        fs::write(&file, vec![1u8, 2, 3]).await.unwrap();
        assert_eq!(fs::read(&file).await.unwrap(), [1, 2, 3]);

        let moved = root.join("moved.bin");
        fs::rename(&file, &moved).await.unwrap();
        assert!(!fs::try_exists(&file).await.unwrap());
        assert_eq!(fs::read(&moved).await.unwrap(), [1, 2, 3]);

        let copied = root.join("copied.bin");
        assert_eq!(fs::copy(&moved, &copied).await.unwrap(), 3);
        assert_eq!(fs::read(&copied).await.unwrap(), [1, 2, 3]);

        let canonical = fs::canonicalize(root.join("a/b/../b/c")).await.unwrap();
        assert_eq!(canonical, std::fs::canonicalize(&nested).unwrap());

        let mut perm = fs::metadata(&copied).await.unwrap().permissions();
        perm.set_readonly(true);
        fs::set_permissions(&copied, perm).await.unwrap();
        assert!(fs::metadata(&copied)
            .await
            .unwrap()
            .permissions()
            .readonly());

        fs::remove_file(&moved).await.unwrap();
        assert!(!fs::try_exists(&moved).await.unwrap());
        fs::remove_file(&copied).await.unwrap();

        let single = root.join("single");
        fs::create_dir(&single).await.unwrap();
        fs::remove_dir(&single).await.unwrap();
        assert!(!fs::try_exists(&single).await.unwrap());

        fs::remove_dir_all(root.join("a")).await.unwrap();
        assert!(!fs::try_exists(root.join("a")).await.unwrap());
    });
}

#[test]
fn errors_keep_their_kind() {
    let tmp = TempDir::new("errors");
    let root = tmp.0.clone();
    run("errors_keep_their_kind", async move {
        let missing = root.join("missing");
        let kind = |r: std::io::Result<()>| r.unwrap_err().kind();
        assert_eq!(
            kind(fs::read(&missing).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::read_to_string(&missing).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::metadata(&missing).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(kind(fs::remove_file(&missing).await), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir(&missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(fs::rename(&missing, root.join("x")).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::copy(&missing, root.join("x")).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::canonicalize(&missing).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(File::open(&missing).await.map(drop)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::write(root.join("no/such/dir/f"), b"x").await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::create_dir(root.join("no/such")).await),
            ErrorKind::NotFound
        );

        let file = root.join("exists");
        fs::write(&file, [0xff, 0xfe]).await.unwrap();
        assert_eq!(kind(fs::create_dir(&root).await), ErrorKind::AlreadyExists);
        assert_eq!(
            kind(File::create_new(&file).await.map(drop)),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(fs::read_to_string(&file).await.map(drop)),
            ErrorKind::InvalidData
        );
        // A directory that is not empty.
        assert!(fs::remove_dir(&root).await.is_err());
        // Contradictory options: create without write access.
        assert_eq!(
            kind(
                OpenOptions::new()
                    .read(true)
                    .create(true)
                    .open(root.join("y"))
                    .await
                    .map(drop)
            ),
            ErrorKind::InvalidInput
        );
        // A handed-off write to a read-only file: `write` accepts the bytes, `flush` reports.
        let mut ro = File::open(&file).await.unwrap();
        assert_eq!(ro.write(b"abc").await.unwrap(), 3);
        assert!(ro.flush().await.is_err());
        // Reported once: the file is usable again.
        ro.flush().await.unwrap();
        // The next write reports it too, when no flush came between.
        assert_eq!(ro.write(b"abc").await.unwrap(), 3);
        assert!(ro.write(b"abc").await.is_err());
        // A read from a write-only file fails with the OS's error.
        let mut wo = OpenOptions::new().write(true).open(&file).await.unwrap();
        let mut buf = [0; 4];
        assert!(wo.read(&mut buf).await.is_err());
        assert_eq!(
            kind(
                File::open(&root)
                    .await
                    .unwrap()
                    .read(&mut buf)
                    .await
                    .map(drop)
            ),
            ErrorKind::IsADirectory
        );
    });
}

/// Writes 1 MiB of random bytes through a `File` in uneven chunks, then reads them back in several
/// ways, each checked byte for byte.
#[test]
fn file_read_write_seek_one_mib() {
    let tmp = TempDir::new("file");
    let path = tmp.join("random.bin");
    let mut rng = Rng::new(0x5eed_f11e);
    let data = rng.bytes(MIB);
    run("file_read_write_seek_one_mib", async move {
        // Write in chunks from 1 byte to 100 KiB.
        let mut f = File::create(&path).await.unwrap();
        let mut at = 0;
        while at < data.len() {
            let n = rng.range(1, 100 * 1024).min(data.len() - at);
            f.write_all(&data[at..at + n]).await.unwrap();
            at += n;
        }
        f.flush().await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), MIB as u64);
        drop(f);
        assert!(fs::read(&path).await.unwrap() == data, "fs::read differs");

        // read_to_end.
        let mut f = File::open(&path).await.unwrap();
        let mut all = Vec::new();
        assert_eq!(f.read_to_end(&mut all).await.unwrap(), MIB);
        assert!(all == data, "read_to_end differs");
        let mut buf = [0; 16];
        assert_eq!(f.read(&mut buf).await.unwrap(), 0, "end of file");

        // Small uneven reads from the start.
        f.rewind().await.unwrap();
        let mut got = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        while got.len() < 200 * 1024 {
            let want = rng.range(1, chunk.len());
            let n = f.read(&mut chunk[..want]).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(got[..] == data[..got.len()], "uneven reads differ");
        assert_eq!(f.stream_position().await.unwrap(), got.len() as u64);

        // Random seeks, each followed by an exact read.
        for _ in 0..50 {
            let len = rng.range(1, 8192);
            let pos = rng.below((MIB - len) as u64);
            let from = match rng.below(3) {
                0 => SeekFrom::Start(pos),
                1 => {
                    let here = f.stream_position().await.unwrap() as i64;
                    SeekFrom::Current(pos as i64 - here)
                }
                _ => SeekFrom::End(pos as i64 - MIB as i64),
            };
            assert_eq!(f.seek(from).await.unwrap(), pos);
            let mut buf = vec![0; len];
            f.read_exact(&mut buf).await.unwrap();
            let pos = pos as usize;
            assert!(
                buf[..] == data[pos..pos + len],
                "seek to {pos} read differs"
            );
        }
        assert_eq!(
            f.seek(SeekFrom::Current(-(2 * MIB as i64)))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    });
}

/// Reads abandoned half way (their futures dropped while the pool works) lose nothing: the next
/// read returns their bytes, and the position seen by seek, write and `into_std` accounts for the
/// read-ahead.
#[test]
fn abandoned_reads_lose_nothing() {
    let tmp = TempDir::new("abandoned");
    let path = tmp.join("data.bin");
    let data = Rng::new(7).bytes(MIB);
    std::fs::write(&path, &data).unwrap();
    run("abandoned_reads_lose_nothing", async move {
        evloop::Handle::current().set_blocking_threads(1);
        let mut f = File::open(&path).await.unwrap();
        let mut got = Vec::new();
        let mut big = vec![0; 64 * 1024];
        let mut small = [0; 100];
        while got.len() < data.len() {
            // Start a big read and give up on it at once (or take it, if it was that quick).
            if let Ok(r) = evloop::time::timeout(Duration::ZERO, f.read(&mut big)).await {
                let n = r.unwrap();
                got.extend_from_slice(&big[..n]);
            }
            // Then a small read, which gets the abandoned read's bytes first.
            let n = f.read(&mut small).await.unwrap();
            got.extend_from_slice(&small[..n]);
            assert_eq!(f.stream_position().await.unwrap(), got.len() as u64);
            if n == 0 {
                break;
            }
        }
        assert!(got == data, "abandoned reads lost or repeated bytes");

        // A write after read-ahead goes where the caller is, not where the OS is.
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        abandon_read(&mut f, &mut big).await;
        let n = f.read(&mut small).await.unwrap();
        assert_eq!(n, small.len());
        f.write_all(b"PATCH").await.unwrap();
        f.flush().await.unwrap();
        let mut expected = data.clone();
        expected[n..n + 5].copy_from_slice(b"PATCH");
        assert!(
            fs::read(&path).await.unwrap() == expected,
            "patch misplaced"
        );

        // into_std after read-ahead: the std file continues where the caller was.
        let mut f = File::open(&path).await.unwrap();
        abandon_read(&mut f, &mut big).await;
        let n = f.read(&mut small).await.unwrap();
        assert_eq!(n, small.len());
        let mut std = f.into_std().await;
        let mut next = [0; 10];
        std.read_exact(&mut next).unwrap();
        assert_eq!(next, expected[n..n + 10]);
    });
}

/// Starts a read and surely gives up on it before it is done: the pool's only thread (the test
/// limits it to one before first use) is held meanwhile. The read then completes on the pool, its
/// bytes kept as read-ahead.
async fn abandon_read(f: &mut File, buf: &mut [u8]) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let blocker = evloop::spawn_blocking(move || wait.recv().unwrap());
    let r = evloop::time::timeout(Duration::ZERO, f.read(buf)).await;
    assert!(r.is_err(), "the read finished while the pool was held");
    release.send(()).unwrap();
    blocker.await.unwrap();
}

#[test]
fn options_set_len_std_conversions() {
    let tmp = TempDir::new("options");
    let path = tmp.join("f");
    run("options_set_len_std_conversions", async move {
        // Append.
        fs::write(&path, b"one ").await.unwrap();
        let mut f = File::options().append(true).open(&path).await.unwrap();
        f.write_all(b"two").await.unwrap();
        f.flush().await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"one two");

        // set_len shrinks and grows, the position unchanged.
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        let mut three = [0; 3];
        f.read_exact(&mut three).await.unwrap();
        f.set_len(5).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 5);
        assert_eq!(f.stream_position().await.unwrap(), 3);
        f.set_len(8).await.unwrap();
        f.sync_data().await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"one t\0\0\0");

        // create truncates; create_new makes a fresh file.
        let mut f = File::create(&path).await.unwrap();
        f.write_all(b"new").await.unwrap();
        f.shutdown().await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"new");
        let fresh = path.with_extension("fresh");
        let mut f = File::create_new(&fresh).await.unwrap();
        f.write_all(b"fresh").await.unwrap();
        f.rewind().await.unwrap();
        let mut back = String::new();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).await.unwrap();
        back.push_str(std::str::from_utf8(&bytes).unwrap());
        assert_eq!(back, "fresh");

        // std conversions keep the position.
        let mut std = std::fs::File::open(&path).unwrap();
        std.seek(SeekFrom::Start(1)).unwrap();
        let mut f = File::from_std(std);
        let mut two = [0; 2];
        f.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ew");
        let mut std = f.try_into_std().expect("nothing in flight");
        assert_eq!(std.stream_position().unwrap(), 3);
        std.rewind().unwrap();
        let mut f = File::from(std);
        let _ = f.write(b"x").await; // read-only: the error comes later
        let f = f.try_into_std().expect_err("a write is in flight");
        let mut std = f.into_std().await;
        let mut s = String::new();
        std.read_to_string(&mut s).unwrap();
        assert_eq!(s, "new");
        let _ = std.write(b"");
        assert_path_gone_after(&fresh).await;
    });
}

async fn assert_path_gone_after(path: &Path) {
    fs::remove_file(path).await.unwrap();
    assert!(!fs::try_exists(path).await.unwrap());
}

/// The loop keeps running while a file operation waits on the pool: with the pool's only thread
/// held by a job that a timer on the loop releases, `fs::read` can finish only after the loop
/// has ticked.
#[test]
fn the_loop_runs_while_files_are_busy() {
    let tmp = TempDir::new("busy");
    let path = tmp.join("f");
    std::fs::write(&path, b"contents").unwrap();
    run("the_loop_runs_while_files_are_busy", async move {
        evloop::Handle::current().set_blocking_threads(1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = evloop::spawn_blocking(move || wait.recv().unwrap());
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let t = ticks.clone();
        let ticker = evloop::spawn(async move {
            let mut every = evloop::time::interval(Duration::from_millis(1));
            while t.get() < 5 {
                every.tick().await;
                t.set(t.get() + 1);
            }
            release.send(()).unwrap();
        });
        let contents = fs::read(&path).await.unwrap();
        assert_eq!(contents, b"contents");
        assert_eq!(
            ticks.get(),
            5,
            "the read finished before the loop released the pool"
        );
        ticker.await.unwrap();
        blocker.await.unwrap();
    });
}
