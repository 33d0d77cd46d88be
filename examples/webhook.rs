//! The endpoint-callback (webhook) pattern over real local TCP.
//!
//! Run it:   cargo run --example webhook
//! Or run the service alone, as a server (the `Poke it` line needs an endpoint listening first,
//! such as `nc -l 127.0.0.1 9000`):
//!           cargo run --example webhook -- --addr 127.0.0.1:7878
//! Poke it:  echo 'WORK report CALLBACK 127.0.0.1:9000' | nc 127.0.0.1 7878
//!
//! A client asks a service for slow work and says where to deliver the result: an endpoint of its
//! own. The service answers `ACCEPTED` at once, so the request is over in a millisecond; when the
//! work is done, the service connects to that endpoint and delivers the result. That is how GitHub,
//! PayPal or Twilio webhooks work, minus HTTP.
//!
//! The wire protocol is one line per connection:
//!
//! ```text
//! client  -> service:  WORK <job> CALLBACK <host:port>
//! service -> client:   ACCEPTED <id>          or  ERROR <reason>
//! service -> endpoint: RESULT <id> <result>
//! ```
//!
//! Both sides run on one loop here: the service's accept loop and each of its jobs are tasks, the
//! client is the main future. Two jobs of different lengths are accepted (a third is refused);
//! their results arrive in the order they finish, not the order they were asked for.
//!
//! Stop it with Ctrl-C (or SIGTERM): the service stops accepting requests, but keeps its promises:
//! the jobs it accepted still run and call back, for up to `--grace` seconds. (In the demo, the
//! client's requests after the signal are refused, and it waits only for the callbacks it was
//! promised.)

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use evloop::io::{AsyncWrite, Lines};
use evloop::net::{TcpListener, TcpStream};
use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::time::sleep;
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    // With `--addr`, only the service runs, on that address; without, the whole demo.
    let service_only = std::env::args().any(|a| a == "--addr" || a.starts_with("--addr="));
    let args = common::parse_args("webhook");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let bind_to = if service_only {
            args.addr
        } else {
            ([127, 0, 0, 1], 0).into()
        };
        let listener = TcpListener::bind(bind_to)?;
        let service_addr = listener.local_addr()?;
        // SIGINT or SIGTERM: the service stops accepting; the jobs it accepted still call back.
        let shutdown = common::shutdown_signal()?;
        let jobs = TaskTracker::new();
        if service_only {
            common::announce(service_addr)?;
            service(listener, shutdown, jobs.clone()).await;
        } else {
            println!("service: listening on {service_addr}");
            let service = evloop::spawn(service(listener, shutdown.clone(), jobs.clone()));
            client(service_addr, &shutdown).await?;
            shutdown.cancel(); // the demo is over: the service stops too
            let _ = service.await;
        }
        // The listener is closed: let the jobs accepted keep their promise (up to `--grace`).
        common::drain(&jobs, args.grace).await;
        Ok(())
    })
}

// ---- The service.

/// Accepts requests until `shutdown`; each one, and the job it starts, runs as a task of `jobs`.
async fn service(listener: TcpListener, shutdown: CancellationToken, jobs: TaskTracker) {
    let mut next_id = 1;
    // Out of descriptors, `accept` waits by itself: an error means the listener is broken.
    while let Some(Ok((stream, _))) = shutdown.run_until_cancelled(listener.accept()).await {
        jobs.spawn(async move {
            if let Err(e) = handle_request(stream, next_id).await {
                println!("service: job {next_id}: {e}");
            }
        });
        next_id += 1;
    }
    // Dropping the listener refuses new requests from here on.
}

async fn handle_request(mut stream: TcpStream, id: u32) -> io::Result<()> {
    let request = read_line(&mut stream).await?;
    let (job, callback) = match parse_request(&request) {
        Ok(parsed) => parsed,
        Err(why) => return stream.write_all(format!("ERROR {why}\n").as_bytes()).await,
    };
    stream
        .write_all(format!("ACCEPTED {id}\n").as_bytes())
        .await?;
    drop(stream); // the request is over: nobody waits on this connection for the result

    let result = match job {
        "report" => {
            sleep(Duration::from_millis(300)).await; // stands for the slow work
            "report.pdf, 12 pages"
        }
        _ => {
            sleep(Duration::from_millis(150)).await;
            "cat.png resized to 128x128"
        }
    };
    // Deliver on a fresh connection to the client's endpoint. A real service would retry a failed
    // delivery with backoff, and sign the payload so the client can trust it.
    let mut hook = TcpStream::connect(callback).await?;
    hook.write_all(format!("RESULT {id} {result}\n").as_bytes())
        .await
}

/// `WORK <job> CALLBACK <host:port>` into the job and the callback address.
fn parse_request(line: &str) -> Result<(&str, SocketAddr), &'static str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ["WORK", job, "CALLBACK", addr] = words[..] else {
        return Err("expected: WORK <job> CALLBACK <host:port>");
    };
    if !matches!(job, "report" | "thumbnail") {
        return Err("unknown job");
    }
    let callback = addr.parse().map_err(|_| "bad callback address")?;
    Ok((job, callback))
}

// ---- The client.

async fn client(service: SocketAddr, shutdown: &CancellationToken) -> io::Result<()> {
    let start = Instant::now();
    let ms = || start.elapsed().as_millis();
    // The endpoint the service will call back: a listener of our own.
    let endpoint = TcpListener::bind("127.0.0.1:0")?;
    let callback = endpoint.local_addr()?;
    println!("client: callback endpoint on {callback}");

    let mut accepted = 0;
    for job in ["report", "thumbnail", "teleport"] {
        let reply = match request(service, &format!("WORK {job} CALLBACK {callback}")).await {
            Ok(reply) => reply,
            // The service stopped accepting: this job was never promised.
            Err(e) if shutdown.is_cancelled() => {
                println!("[{:>3} ms] client: WORK {job} -> {e}", ms());
                continue;
            }
            Err(e) => return Err(e),
        };
        println!("[{:>3} ms] client: WORK {job} -> {reply}", ms());
        if reply.starts_with("ACCEPTED") {
            accepted += 1;
        }
    }
    println!(
        "[{:>3} ms] client: all requests answered; free until called back",
        ms()
    );

    for _ in 0..accepted {
        let (mut conn, _) = endpoint.accept().await?;
        let delivery = read_line(&mut conn).await?;
        println!("[{:>3} ms] client: callback: {delivery}", ms());
    }
    println!("client: every accepted job called back");
    Ok(())
}

/// One request on a fresh connection: send a line, read the answer.
async fn request(service: SocketAddr, line: &str) -> io::Result<String> {
    let mut conn = TcpStream::connect(service).await?;
    conn.write_all(format!("{line}\n").as_bytes()).await?;
    match read_line(&mut conn).await? {
        // Closed unanswered: the service stopped while the request waited to be accepted.
        reply if reply.is_empty() => Err(io::ErrorKind::UnexpectedEof.into()),
        reply => Ok(reply),
    }
}

/// Reads one line (the protocol's whole message on a connection), without its line ending.
async fn read_line(stream: &mut TcpStream) -> io::Result<String> {
    Ok(Lines::new(4096).next(stream).await?.unwrap_or_default())
}
