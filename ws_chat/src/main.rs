//! A WebSocket chat room on evloop: `async-tungstenite` speaks WebSocket over evloop's sockets
//! through the `futures-io` bridge, and the room is a `sync::broadcast` channel, as in the TCP
//! `chat` example (`examples/chat.rs`), whose design this follows.
//!
//! Run it:   cargo run --release -p ws_chat -- --addr 127.0.0.1:7878
//! Join it:  any WebSocket client, for example `websocat ws://127.0.0.1:7878/` in a few
//!           terminals, or a browser's console:
//!           `ws = new WebSocket("ws://127.0.0.1:7878/"); ws.onmessage = e => console.log(e.data)`
//!
//! Each text message is one chat line; the first one a client sends is its nickname. The server
//! sends text messages back: the welcome, `* NICK joined`, `NICK: LINE`, `* NICK left`.
//!
//! - **The room.** Each client's task publishes the client's messages into a broadcast channel
//!   and is subscribed to it. Nobody keeps a list of clients: subscribing is joining, dropping the
//!   receiver is leaving. A message is one `Utf8Bytes`, shared (not copied) by every subscriber.
//! - **Backpressure.** A client that stops reading must not stall the room. Publishing never
//!   waits; each client's task takes messages out of the channel as they arrive and queues them
//!   for its socket while it writes. When a client does not read, the kernel's socket buffers
//!   fill, then its queue grows; past `MAX_QUEUED` bytes the client is disconnected and the room is
//!   told. A message longer than `MAX_MESSAGE` bytes is refused by the protocol layer, which closes
//!   that client's connection, so memory per client stays bounded.
//! - **Shutdown.** On SIGINT or SIGTERM it prints `shutting down`, stops accepting, sends every
//!   client `* server shutting down` and a WebSocket close frame (1001, "going away"), and lets the
//!   clients finish the closing handshake for up to `--grace` seconds (5 by default); those still
//!   there then are cut off. It exits with status 0.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use async_tungstenite::{WebSocketReceiver, WebSocketSender};
use evloop::net::{TcpListener, TcpStream};
use evloop::promise::{select, Either};
use evloop::sync::broadcast::{self, RecvError};
use evloop::sync::{CancellationToken, Notify};
use evloop::task::TaskTracker;
use evloop::EventLoop;
use futures_core::Stream;

#[path = "../../examples/common/mod.rs"]
mod common;

/// Messages the room holds for subscribers that have not taken them yet.
const ROOM_CAPACITY: usize = 1024;
/// Bytes queued for one client, beyond what its socket holds, before it is disconnected.
const MAX_QUEUED: usize = 64 * 1024;
/// Longest message accepted from a client.
const MAX_MESSAGE: usize = 4096;
const MAX_NICK: usize = 32;
/// A client must finish the WebSocket handshake within this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const WELCOME: &str = "welcome! what is your nickname?";
const SHUTDOWN_NOTICE: &str = "* server shutting down";

type Room = broadcast::Sender<Utf8Bytes>;
type Tx = WebSocketSender<TcpStream>;
type Rx = WebSocketReceiver<TcpStream>;

fn main() -> io::Result<()> {
    let args = common::parse_args("ws_chat");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        // The first receiver is not needed: each client subscribes its own.
        let (room, _) = broadcast::channel(ROOM_CAPACITY);
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
        drop(listener); // new connects are refused from here on
        common::drain(&clients, args.grace).await;
        Ok(())
    })
}

async fn client(stream: TcpStream, room: Room, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = async_tungstenite::accept_async_with_config(stream, Some(config));
    let ws = match evloop::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        // Not a WebSocket client (tungstenite refused its request), or too slow: close.
        Ok(Err(_)) | Err(_) => return,
    };
    let (mut tx, mut rx) = ws.split();
    if tx.send(Message::text(WELCOME)).await.is_err() {
        return;
    }
    let nick = match shutdown.run_until_cancelled(next_text(&mut rx)).await {
        Some(Some(Ok(text))) => nickname(&text),
        Some(Some(Err(_)) | None) => return,
        // Shutting down before the client even gave its name: tell it, and close.
        None => {
            let _ = tx.send(Message::text(SHUTDOWN_NOTICE)).await;
            let _ = tx.close(Some(going_away())).await;
            return;
        }
    };
    // Subscribe before announcing: the client's own join notice tells it that it is in the room.
    let inbox = room.subscribe();
    println!("{nick} joined");
    let _ = room.send(format!("* {nick} joined").into());

    // Both directions at once; when one ends (the client left, or is too slow), the other is
    // dropped with it.
    let incoming = publish(&mut rx, &room, &nick);
    let outgoing = forward_room(&mut tx, inbox, &shutdown);
    let notice = match select(incoming, outgoing).await {
        Either::Left(None) | Either::Right(None) => format!("* {nick} left"),
        Either::Left(Some(why)) | Either::Right(Some(why)) => {
            format!("* {nick} was disconnected: {why}")
        }
    };
    println!("{}", notice.trim_start_matches("* "));
    let _ = room.send(notice.into());
    // Dropping both halves closes the connection.
}

/// The next text message from the client (pings, pongs and binary messages are skipped;
/// tungstenite answers pings itself). `None` once the connection is over.
async fn next_text(rx: &mut Rx) -> Option<Result<Utf8Bytes, WsError>> {
    loop {
        match poll_fn(|cx| Pin::new(&mut *rx).poll_next(cx)).await? {
            Ok(Message::Text(text)) => return Some(Ok(text)),
            // A close frame (the client's, or its answer to ours): reading on sends tungstenite's
            // queued answer, if any, and then the stream ends, so the closing handshake is
            // complete before the connection is dropped.
            Ok(_) => {}
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Publishes each message the client sends. Returns why the client must go, or `None` if it
/// left.
async fn publish(rx: &mut Rx, room: &Room, nick: &str) -> Option<String> {
    loop {
        match next_text(rx).await {
            Some(Ok(text)) if text.trim().is_empty() => {}
            Some(Ok(text)) => {
                let _ = room.send(format!("{nick}: {text}").into());
                // Let the subscribers take this message before publishing the next: a client that
                // sends thousands of messages at once must not overrun the room's capacity.
                evloop::yield_now().await;
            }
            None => return None,
            Some(Err(WsError::Capacity(e))) => return Some(e.to_string()),
            Some(Err(_)) => return None,
        }
    }
}

/// Sends the room's messages to the client, then, on shutdown, the notice and a close frame.
/// Returns why the client must go, or `None` if the connection failed (it left).
///
/// Two parts run at once: one takes each message out of the room as soon as it is published and
/// queues it, the other writes the queue to the socket. So the room never waits for a slow client,
/// and a client that does not read is found out by the length of its queue.
async fn forward_room(
    tx: &mut Tx,
    mut inbox: broadcast::Receiver<Utf8Bytes>,
    shutdown: &CancellationToken,
) -> Option<String> {
    let queue = RefCell::new(Outbox::default());
    let queued = Notify::new();
    let take = async {
        let mut told = false;
        loop {
            let message = if told {
                inbox.recv().await
            } else {
                match shutdown.run_until_cancelled(inbox.recv()).await {
                    Some(message) => message,
                    None => {
                        told = true;
                        queue.borrow_mut().closing = true;
                        queued.notify_one();
                        continue;
                    }
                }
            };
            match message {
                Ok(message) => {
                    let mut q = queue.borrow_mut();
                    q.bytes += message.len();
                    q.messages.push_back(message);
                    if q.bytes > MAX_QUEUED {
                        return Some(format!("not reading ({} bytes queued)", q.bytes));
                    }
                    drop(q);
                    queued.notify_one();
                }
                Err(RecvError::Lagged(n)) => {
                    return Some(format!("too slow ({n} messages missed)"))
                }
                Err(RecvError::Closed) => return None,
            }
        }
    };
    let write = async {
        loop {
            let next = queue.borrow_mut().pop();
            match next {
                Some(message) => {
                    if tx.send(Message::Text(message)).await.is_err() {
                        return None;
                    }
                }
                None if queue.borrow().closing => {
                    // Everything published before the signal went out: say goodbye. The reading
                    // half sees the client's reply to the close frame, which ends this client.
                    let _ = tx.send(Message::text(SHUTDOWN_NOTICE)).await;
                    let _ = tx.close(Some(going_away())).await;
                    std::future::pending::<()>().await;
                }
                None => queued.notified().await,
            }
        }
    };
    match select(take, write).await {
        Either::Left(why) | Either::Right(why) => why,
    }
}

/// What a client's task has taken from the room and not yet written.
#[derive(Default)]
struct Outbox {
    messages: VecDeque<Utf8Bytes>,
    bytes: usize,
    /// Shutting down: after the messages queued, the notice and the close frame.
    closing: bool,
}

impl Outbox {
    fn pop(&mut self) -> Option<Utf8Bytes> {
        let message = self.messages.pop_front()?;
        self.bytes -= message.len();
        Some(message)
    }
}

fn going_away() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Away,
        reason: "server shutting down".into(),
    }
}

fn nickname(text: &str) -> String {
    let nick: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NICK)
        .collect();
    match nick.trim() {
        "" => "anonymous".to_string(),
        nick => nick.to_string(),
    }
}
