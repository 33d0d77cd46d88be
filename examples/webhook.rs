//! The endpoint-callback (webhook) pattern over real local TCP.
//!
//! Run it:   cargo run --example webhook
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

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use evloop::io::{AsyncWrite, Lines};
use evloop::net::{TcpListener, TcpStream};
use evloop::time::sleep;
use evloop::EventLoop;

fn main() -> io::Result<()> {
    let lp = EventLoop::new()?;
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let service_addr = listener.local_addr()?;
        println!("service: listening on {service_addr}");
        evloop::spawn(service(listener));
        // Returning from `block_on` ends the demo; the service task is dropped with the loop.
        client(service_addr).await
    })
}

// ---- The service.

async fn service(listener: TcpListener) {
    let mut next_id = 1;
    // Out of descriptors, `accept` waits by itself: an error means the listener is broken.
    while let Ok((stream, _)) = listener.accept().await {
        evloop::spawn(async move {
            if let Err(e) = handle_request(stream, next_id).await {
                println!("service: job {next_id}: {e}");
            }
        });
        next_id += 1;
    }
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

async fn client(service: SocketAddr) -> io::Result<()> {
    let start = Instant::now();
    let ms = || start.elapsed().as_millis();
    // The endpoint the service will call back: a listener of our own.
    let endpoint = TcpListener::bind("127.0.0.1:0")?;
    let callback = endpoint.local_addr()?;
    println!("client: callback endpoint on {callback}");

    let mut accepted = 0;
    for job in ["report", "thumbnail", "teleport"] {
        let mut conn = TcpStream::connect(service).await?;
        conn.write_all(format!("WORK {job} CALLBACK {callback}\n").as_bytes())
            .await?;
        let reply = read_line(&mut conn).await?;
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

/// Reads one line (the protocol's whole message on a connection), without its line ending.
async fn read_line(stream: &mut TcpStream) -> io::Result<String> {
    Ok(Lines::new(4096).next(stream).await?.unwrap_or_default())
}
