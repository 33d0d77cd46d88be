//! Socket addresses and host names: [`ToSocketAddrs`] and [`lookup_host`].
//!
//! A host name is resolved with the system resolver (`getaddrinfo(3)`, through the standard
//! library), which blocks. evloop never calls it on the loop thread: [`lookup_host`] and
//! [`TcpStream::connect`](crate::net::TcpStream::connect) hand the lookup to the blocking pool
//! ([`spawn_blocking`](crate::spawn_blocking)), one hand-off per lookup, as tokio does. Numeric
//! addresses are parsed on the spot and never reach the pool.
//!
//! The synchronous constructors ([`TcpListener::bind`](crate::net::TcpListener::bind),
//! [`UdpSocket::bind`](crate::net::UdpSocket::bind), [`UdpSocket::connect`](crate::net::UdpSocket::connect))
//! cannot wait for the pool, so they take numeric addresses and the name `localhost` (which is
//! the loopback addresses `127.0.0.1` then `::1`, without asking the resolver, as RFC 6761
//! allows); any other name is an `InvalidInput` error that points to [`lookup_host`]: resolve
//! first, then bind to what it returned.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::{option, vec};

/// What [`lookup_host`], [`TcpStream::connect`](crate::net::TcpStream::connect) and the socket
/// constructors accept: a [`SocketAddr`] (or its v4/v6 forms), an `(IpAddr, u16)` pair, a slice
/// of addresses, a `"host:port"` string (`"127.0.0.1:80"`, `"[::1]:80"`, `"localhost:80"`) or a
/// `(host, port)` pair, like tokio's and std's traits of the same name.
///
/// The trait is sealed: its methods are evloop's own business.
///
/// ```
/// use evloop::net::lookup_host;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     // Numeric: parsed on the loop thread, no resolver involved.
///     let addrs: Vec<_> = lookup_host(("127.0.0.1", 8080)).await?.collect();
///     assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// The addresses a value stands for, or the host name still to resolve.
    #[derive(Debug)]
    pub enum Resolve {
        /// Known without a lookup.
        Addrs(Addrs),
        /// A host name and port for the resolver.
        Name(String, u16),
    }

    /// Not for use outside evloop.
    pub trait Sealed {
        /// Parses `self`: numeric addresses directly, names checked for syntax only.
        #[doc(hidden)]
        fn resolve(&self) -> io::Result<Resolve>;
    }
}

use sealed::{Resolve, Sealed};

/// Addresses known without a lookup, or the resolver's answer (no allocation for one address).
#[derive(Debug)]
pub enum Addrs {
    /// A single address.
    One(option::IntoIter<SocketAddr>),
    /// Several.
    Many(vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(it) => it.next(),
            Addrs::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Addrs::One(it) => it.size_hint(),
            Addrs::Many(it) => it.size_hint(),
        }
    }
}

fn one(addr: SocketAddr) -> io::Result<Resolve> {
    Ok(Resolve::Addrs(Addrs::One(Some(addr).into_iter())))
}

/// Resolves `host` to its socket addresses, on the blocking pool for a name; a numeric address is
/// returned at once without a hand-off.
///
/// Like [`tokio::net::lookup_host`](https://docs.rs/tokio/latest/tokio/net/fn.lookup_host.html).
/// The lookup runs `getaddrinfo(3)` (std's `ToSocketAddrs`) on a pool thread, so the loop keeps
/// running while it waits; a name that is not syntactically a host name (an empty label, a
/// character outside letters, digits, `-` and `_`) is refused before any lookup.
///
/// # Errors
///
/// `InvalidInput` for a malformed string (no port, a port that is not a number below 65536, a
/// malformed name), the resolver's error for a name it cannot resolve, or an error from the pool
/// (see [`JoinError`](crate::JoinError); a thread that could not be started keeps its OS error's
/// kind).
///
/// # Panics
///
/// If a name must be resolved and this thread has no event loop.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     for addr in evloop::net::lookup_host("localhost:8080").await? {
///         assert!(addr.ip().is_loopback());
///         assert_eq!(addr.port(), 8080);
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn lookup_host<T: ToSocketAddrs>(
    host: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host).await
}

pub(crate) async fn resolve<T: ToSocketAddrs + ?Sized>(host: &T) -> io::Result<Addrs> {
    match host.resolve()? {
        Resolve::Addrs(addrs) => Ok(addrs),
        Resolve::Name(name, port) => {
            let found = crate::spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
                    .map(|it| it.collect::<Vec<_>>())
            })
            .await
            .map_err(crate::blocking::join_error_to_io)??;
            Ok(Addrs::Many(found.into_iter()))
        }
    }
}

/// The addresses of `addr` without a lookup: numeric ones and `localhost`, for the synchronous
/// constructors that cannot wait for the pool.
pub(crate) fn resolve_now<T: ToSocketAddrs + ?Sized>(addr: &T, what: &str) -> io::Result<Addrs> {
    match addr.resolve()? {
        Resolve::Addrs(addrs) => Ok(addrs),
        Resolve::Name(name, port) if is_localhost(&name) => Ok(Addrs::Many(
            vec![
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
            ]
            .into_iter(),
        )),
        Resolve::Name(name, _) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} takes a numeric address or `localhost`, not the host name `{name}`: it \
                 does not block the loop on the resolver; resolve it first with \
                 evloop::net::lookup_host and pass the addresses"
            ),
        )),
    }
}

/// Runs `bind` on each address of `addr` (resolved as [`resolve_now`] does) in turn: the first
/// socket it makes, else the last error. The synchronous constructors' loop.
pub(crate) fn bind_first<A: ToSocketAddrs + ?Sized, S>(
    addr: &A,
    what: &str,
    mut bind: impl FnMut(SocketAddr) -> io::Result<S>,
) -> io::Result<S> {
    let mut last = None;
    for addr in resolve_now(addr, what)? {
        match bind(addr) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")))
}

fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
}

/// `host:port` split at the last colon; the host checked for host-name syntax.
fn parse_host_port(s: &str) -> io::Result<Resolve> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return one(addr);
    }
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid(format!("`{s}` is not HOST:PORT (no port)")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(format!("`{s}`: invalid port `{port}`")))?;
    parse_host(host, port)
}

fn parse_host(host: &str, port: u16) -> io::Result<Resolve> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return one(SocketAddr::new(ip, port));
    }
    // `[::1]` with brackets, as in a URL.
    if let Some(ip) = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok())
    {
        return one(SocketAddr::new(ip.into(), port));
    }
    if !is_host_name(host) {
        return Err(invalid(format!("`{host}` is not a valid host name")));
    }
    Ok(Resolve::Name(host.to_string(), port))
}

/// Host-name syntax (RFC 1123, plus `_` which real zones use): dot-separated labels of 1 to 63
/// letters, digits, `-` and `_`, not starting or ending with `-`, at most 253 characters, one
/// trailing dot allowed.
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

macro_rules! addr_impls {
    ($($t:ty => |$s:ident| $e:expr;)*) => {$(
        impl ToSocketAddrs for $t {}
        impl Sealed for $t {
            fn resolve(&self) -> io::Result<Resolve> {
                let $s = self;
                $e
            }
        }
    )*};
}

addr_impls! {
    SocketAddr => |a| one(*a);
    SocketAddrV4 => |a| one((*a).into());
    SocketAddrV6 => |a| one((*a).into());
    (IpAddr, u16) => |a| one(SocketAddr::new(a.0, a.1));
    (Ipv4Addr, u16) => |a| one(SocketAddr::new(a.0.into(), a.1));
    (Ipv6Addr, u16) => |a| one(SocketAddr::new(a.0.into(), a.1));
    [SocketAddr] => |a| Ok(Resolve::Addrs(Addrs::Many(Vec::from(a).into_iter())));
    str => |s| parse_host_port(s);
    String => |s| parse_host_port(s);
    (&str, u16) => |a| parse_host(a.0, a.1);
    (String, u16) => |a| parse_host(&a.0, a.1);
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn resolve(&self) -> io::Result<Resolve> {
        (**self).resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_name(r: io::Result<Resolve>) -> bool {
        matches!(r, Ok(Resolve::Name(..)))
    }

    #[test]
    fn numeric_addresses_need_no_lookup() {
        for s in ["127.0.0.1:80", "[::1]:80", "0.0.0.0:0"] {
            assert!(matches!(s.resolve(), Ok(Resolve::Addrs(_))), "{s}");
        }
        assert!(matches!(("::1", 80).resolve(), Ok(Resolve::Addrs(_))));
        assert!(matches!(("[::1]", 80).resolve(), Ok(Resolve::Addrs(_))));
        assert!(is_name("localhost:80".resolve()));
        assert!(is_name(("example.com.", 80).resolve()));
    }

    #[test]
    fn malformed_strings_are_refused_before_any_lookup() {
        for s in [
            "no..such:1",
            "localhost",
            "localhost:x",
            "localhost:65536",
            ":80",
            "-a:1",
            "a b:1",
        ] {
            let e = s.resolve().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{s}");
        }
    }
}
