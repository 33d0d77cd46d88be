//! The reply decoder: one reply from the front of a buffer, or "not complete yet".

use std::io;

use super::Reply;

/// Nesting deeper than this is refused (no server sends it; a hostile one cannot blow the stack).
const MAX_DEPTH: usize = 64;

/// Decodes the reply at the start of `buf`: the reply and its length in bytes, `None` if `buf`
/// does not hold all of it yet, or an `InvalidData` error if it is not RESP2.
pub fn decode(buf: &[u8]) -> io::Result<Option<(Reply, usize)>> {
    decode_at(buf, 0, 0)
}

fn decode_at(buf: &[u8], at: usize, depth: usize) -> io::Result<Option<(Reply, usize)>> {
    if depth > MAX_DEPTH {
        return Err(invalid("replies nested too deep"));
    }
    let Some(line_end) = find_crlf(buf, at) else {
        return Ok(None);
    };
    let kind = buf[at];
    let line = &buf[at + 1..line_end];
    let next = line_end + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    let number = || -> io::Result<i64> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("a bad number"))
    };
    Ok(Some(match kind {
        b'+' => (Reply::Simple(text()), next),
        b'-' => (Reply::Error(text()), next),
        b':' => (Reply::Int(number()?), next),
        b'$' => match number()? {
            -1 => (Reply::Bulk(None), next),
            n if n < 0 => return Err(invalid("a negative bulk length")),
            n => {
                let end = usize::try_from(n)
                    .ok()
                    .and_then(|n| next.checked_add(n)?.checked_add(2).map(|e| e - 2))
                    .ok_or_else(|| invalid("a bulk length past the address space"))?;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(invalid("a bulk string without its CRLF"));
                }
                (Reply::Bulk(Some(buf[next..end].to_vec())), end + 2)
            }
        },
        b'*' => match number()? {
            -1 => (Reply::Array(None), next),
            n if n < 0 => return Err(invalid("a negative array length")),
            n => {
                // Never trust a count to size an allocation: grow as elements arrive.
                let mut items = Vec::with_capacity((n as usize).min(1024));
                let mut pos = next;
                for _ in 0..n {
                    let Some((item, after)) = decode_at(buf, pos, depth + 1)? else {
                        return Ok(None);
                    };
                    items.push(item);
                    pos = after;
                }
                (Reply::Array(Some(items)), pos)
            }
        },
        other => return Err(invalid(&format!("a reply starting with byte {other:#04x}"))),
    }))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis: not RESP2: {what}"),
    )
}
