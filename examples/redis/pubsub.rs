//! The pub/sub registry: who listens to which channel or pattern, and delivery of a message to
//! each of them (appended to their output, which their task then writes).
//!
//! A subscriber that stops reading does not hold the server up or grow without bound: once its
//! pending output passes the pub/sub limit (Redis's `client-output-buffer-limit pubsub`), it is
//! marked for disconnection and its task closes it.

use std::collections::HashMap;
use std::rc::Rc;

use super::client::Client;
use super::reply;

/// Channels and patterns to their subscribers.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Box<[u8]>, Vec<Rc<Client>>>,
    patterns: HashMap<Box<[u8]>, Vec<Rc<Client>>>,
    /// The message being delivered, encoded once for all subscribers of a channel.
    scratch: Vec<u8>,
}

impl PubSub {
    /// Subscribes `client` to `channel` (or pattern); whether it was new.
    pub fn subscribe(&mut self, client: &Rc<Client>, name: &[u8], pattern: bool) -> bool {
        let mut subs = client.subs.borrow_mut();
        let mine = if pattern {
            &mut subs.patterns
        } else {
            &mut subs.channels
        };
        if !mine.insert(name.into()) {
            return false;
        }
        let map = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        map.entry(name.into()).or_default().push(client.clone());
        true
    }

    /// Unsubscribes `client` from `channel` (or pattern); whether it was subscribed.
    pub fn unsubscribe(&mut self, client: &Rc<Client>, name: &[u8], pattern: bool) -> bool {
        let mut subs = client.subs.borrow_mut();
        let mine = if pattern {
            &mut subs.patterns
        } else {
            &mut subs.channels
        };
        if !mine.remove(name) {
            return false;
        }
        let map = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        if let Some(list) = map.get_mut(name) {
            list.retain(|c| !Rc::ptr_eq(c, client));
            if list.is_empty() {
                map.remove(name);
            }
        }
        true
    }

    /// Sends `message` to the subscribers of `channel` and of the patterns it matches; returns
    /// how many received it. Subscribers over `limit` bytes of pending output are disconnected.
    pub fn publish(&mut self, channel: &[u8], message: &[u8], limit: usize) -> usize {
        let mut receivers = 0;
        if let Some(list) = self.channels.get(channel) {
            self.scratch.clear();
            reply::array(&mut self.scratch, 3);
            reply::bulk(&mut self.scratch, b"message");
            reply::bulk(&mut self.scratch, channel);
            reply::bulk(&mut self.scratch, message);
            for client in list {
                deliver(client, &self.scratch, limit);
            }
            receivers += list.len();
        }
        for (pattern, list) in &self.patterns {
            if !glob_match(pattern, channel) {
                continue;
            }
            self.scratch.clear();
            reply::array(&mut self.scratch, 4);
            reply::bulk(&mut self.scratch, b"pmessage");
            reply::bulk(&mut self.scratch, pattern);
            reply::bulk(&mut self.scratch, channel);
            reply::bulk(&mut self.scratch, message);
            for client in list {
                deliver(client, &self.scratch, limit);
            }
            receivers += list.len();
        }
        receivers
    }
}

fn deliver(client: &Client, encoded: &[u8], limit: usize) {
    if client.killed().is_some() {
        return;
    }
    client.out.borrow_mut().buf.extend_from_slice(encoded);
    if client.pending() > limit {
        client.kill("pubsub output limit reached");
    } else {
        client.wake();
    }
}

/// Redis's glob patterns: `*`, `?`, `[abc]`, `[^a-z]`, and `\` to quote the next byte.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: backtracking to one star is enough for globs.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((hit, next)) = class(pattern, p, s[i]) {
                        if hit {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == s[i] => {
                    p += 2;
                    i += 1;
                    continue;
                }
                // An escaped byte that differs: no literal match for the backslash either.
                b'\\' if p + 1 < pattern.len() => {}
                c if c == s[i] => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The class `[...]` at `pattern[at]`: whether `c` is in it and where the pattern goes on, or
/// `None` if the class is not closed (then `[` matches nothing).
fn class(pattern: &[u8], at: usize, c: u8) -> Option<(bool, usize)> {
    let mut p = at + 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut hit = false;
    let mut first = true;
    while p < pattern.len() && (first || pattern[p] != b']') {
        first = false;
        let mut lo = pattern[p];
        if lo == b'\\' && p + 1 < pattern.len() {
            p += 1;
            lo = pattern[p];
        }
        if p + 2 < pattern.len() && pattern[p + 1] == b'-' && pattern[p + 2] != b']' {
            let hi = pattern[p + 2];
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            hit |= (lo..=hi).contains(&c);
            p += 3;
        } else {
            hit |= lo == c;
            p += 1;
        }
    }
    (p < pattern.len()).then_some((hit != negate, p + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        for (p, s, m) in [
            ("news.*", "news.tech", true),
            ("news.*", "news", false),
            ("h?llo", "hello", true),
            ("h[ae]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("\\*", "*", true),
            ("\\*", "x", false),
        ] {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), m, "{p} {s}");
        }
    }
}
