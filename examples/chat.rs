//! A line-based TCP chat room: publish/subscribe over `sync::broadcast`.
//!
//! Run it:   cargo run --example chat -- --addr 127.0.0.1:7878
//! Join it:  nc 127.0.0.1 7878   (in a few terminals; the first line you type is your nickname)
//!
//! The room is a broadcast channel, the broker of the publish/subscribe pattern: each client's
//! task publishes the client's lines into it and is subscribed to it, forwarding every message to
//! the client's socket. Nobody keeps a list of clients: subscribing is joining, dropping the
//! receiver is leaving.
//!
//! A client that stops reading must not stall the room. Publishing never waits, and each client's
//! task takes messages out of the channel as soon as they arrive, queueing their bytes for its
//! socket while it writes. When a client does not read, the kernel's socket buffers fill, then
//! its queue grows; past `MAX_QUEUED` bytes the client is disconnected and the room is told.
//! (Should a task ever fall more than `ROOM_CAPACITY` messages behind the channel itself, the
//! channel reports that it lagged, and the client is disconnected the same way.)
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting, tells every client `* server shutting
//! down` (each client's task queues that notice after what it was sending), and lets the clients
//! say goodbye and leave for up to `--grace` seconds; those still there then are cut off.

use std::io;
use std::rc::Rc;

use evloop::io::{AsyncRead, AsyncWrite, Lines};
use evloop::net::{TcpListener, TcpStream};
use evloop::promise::{select, Either};
use evloop::sync::broadcast::{self, RecvError};
use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::EventLoop;

mod common;

/// Messages the room holds for subscribers that have not taken them yet.
const ROOM_CAPACITY: usize = 1024;
/// Bytes queued for one client, beyond what its socket holds, before it is disconnected.
const MAX_QUEUED: usize = 64 * 1024;
/// Longest line accepted from a client: memory per client stays bounded.
const MAX_LINE: usize = 4096;
const MAX_NICK: usize = 32;
/// What each client is told when the server shuts down.
const SHUTDOWN_NOTICE: &str = "* server shutting down\n";

/// A message is formatted once and shared (not copied) by every subscriber.
type Room = broadcast::Sender<Rc<str>>;

fn main() -> io::Result<()> {
    let args = common::parse_args("chat");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        // The first receiver is not needed: each client subscribes its own.
        let (room, _) = broadcast::channel(ROOM_CAPACITY);
        // SIGINT or SIGTERM: stop accepting, tell the clients, let them leave (up to `--grace`).
        // Listening before announcing: a signal sent once the address is out is never fatal.
        let shutdown = common::shutdown_signal()?;
        common::announce(listener.local_addr()?)?;
        let clients = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            // Out of descriptors, `accept` waits (shedding the connections it cannot take) instead
            // of failing: an error here means the listener itself is broken.
            let (stream, _peer) = accepted?;
            clients.spawn(client(stream, room.clone(), shutdown.clone()));
        }
        // New connects are refused from here on. Each client's task sees the token too, and tells
        // its client (see `next_message`).
        drop(listener);
        common::drain(&clients, args.grace).await;
        Ok(())
    })
}

async fn client(mut stream: TcpStream, room: Room, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.split();
    let mut lines = Lines::new(MAX_LINE);
    let welcome = b"welcome! what is your nickname?\n";
    if writer.write_all(welcome).await.is_err() {
        return;
    }
    let nick = match shutdown.run_until_cancelled(lines.next(&mut reader)).await {
        Some(Ok(Some(line))) => nickname(&line),
        // Shutting down before the client even gave its name: tell it, and close.
        None => {
            let _ = writer.write_all(SHUTDOWN_NOTICE.as_bytes()).await;
            return;
        }
        Some(_) => return,
    };
    // Subscribe before announcing: the client's own join notice tells it that it is in the room.
    let inbox = room.subscribe();
    println!("{nick} joined");
    let _ = room.send(format!("* {nick} joined\n").into());

    // Both directions at once; when one ends (the client left, or is too slow), the other is
    // dropped with it.
    let incoming = publish_lines(&mut reader, &mut lines, &room, &nick);
    let outgoing = forward_room(&mut writer, inbox, &shutdown);
    let notice = match select(incoming, outgoing).await {
        Either::Left(None) | Either::Right(None) => format!("* {nick} left\n"),
        Either::Left(Some(why)) | Either::Right(Some(why)) => {
            format!("* {nick} was disconnected: {why}\n")
        }
    };
    print!("{}", notice.trim_start_matches("* "));
    let _ = room.send(notice.into());
    // Dropping the stream closes the connection.
}

/// Publishes each line the client sends. Returns why the client must go, or `None` if it left.
async fn publish_lines(
    reader: &mut impl AsyncRead,
    lines: &mut Lines,
    room: &Room,
    nick: &str,
) -> Option<String> {
    loop {
        match lines.next(reader).await {
            Ok(Some(line)) if line.is_empty() => {}
            Ok(Some(line)) => {
                let _ = room.send(format!("{nick}: {line}\n").into());
                // Let the subscribers take this message before publishing the next: a client that
                // pastes thousands of lines at once must not overrun the room's capacity.
                evloop::yield_now().await;
            }
            Ok(None) => return None,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Some(e.to_string()),
            Err(_) => return None,
        }
    }
}

/// Writes the room's messages to the client, and the shutdown notice when `shutdown` is
/// cancelled. Returns why the client must go, or `None` if the connection failed (it left).
async fn forward_room(
    writer: &mut impl AsyncWrite,
    mut inbox: broadcast::Receiver<Rc<str>>,
    shutdown: &CancellationToken,
) -> Option<String> {
    let mut queued = Vec::new();
    let mut told = false;
    loop {
        // With nothing to write, wait for the room. Otherwise write, but keep taking messages
        // while the socket is full: the room never waits for a slow client.
        let next = next_message(&mut inbox, shutdown, &mut told);
        let event = if queued.is_empty() {
            Either::Left(next.await)
        } else {
            select(next, writer.write(&queued)).await
        };
        match event {
            Either::Left(Ok(message)) => {
                queued.extend_from_slice(message.as_bytes());
                if queued.len() > MAX_QUEUED {
                    return Some(format!("not reading ({} bytes queued)", queued.len()));
                }
            }
            Either::Left(Err(RecvError::Lagged(n))) => {
                return Some(format!("too slow ({n} messages missed)"))
            }
            Either::Left(Err(RecvError::Closed)) => return None,
            Either::Right(Ok(n)) => {
                queued.drain(..n);
            }
            Either::Right(Err(_)) => return None,
        }
    }
}

/// The next message for the client: from the room, or, once, the shutdown notice.
async fn next_message(
    inbox: &mut broadcast::Receiver<Rc<str>>,
    shutdown: &CancellationToken,
    told: &mut bool,
) -> Result<Rc<str>, RecvError> {
    if !*told {
        let Some(message) = shutdown.run_until_cancelled(inbox.recv()).await else {
            *told = true;
            return Ok(SHUTDOWN_NOTICE.into());
        };
        return message;
    }
    inbox.recv().await
}

fn nickname(line: &str) -> String {
    let nick: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NICK)
        .collect();
    match nick.trim() {
        "" => "anonymous".to_string(),
        nick => nick.to_string(),
    }
}
