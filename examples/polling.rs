//! The polling pattern, to compare with `webhook`: the client keeps asking "is it done yet?".
//!
//! Run it:   cargo run --example polling
//! Or run the service alone, as a server:
//!           cargo run --example polling -- --addr 127.0.0.1:7878
//! Poke it:  echo 'SUBMIT report' | nc 127.0.0.1 7878;  echo 'STATUS 1' | nc 127.0.0.1 7878
//!
//! The client submits slow work to a service, which answers with a job id at once. Then, every
//! `POLL_EVERY`, the client opens a connection and asks for the job's status, until it is done.
//! Most of those requests are wasted (the answer is "pending"), and the result is noticed up to one
//! period after it was ready. The webhook version needs no polls and hears of the result the
//! moment it exists; polling needs nothing from the client but outgoing requests, which is why it
//! is still common (a browser cannot be called back).
//!
//! The wire protocol is one line each way per connection:
//!
//! ```text
//! SUBMIT <job>   ->  ID <id>
//! STATUS <id>    ->  PENDING  |  DONE <result>  |  UNKNOWN
//! ```
//!
//! Stop it with Ctrl-C (or SIGTERM): the service stops accepting requests, and the requests and
//! jobs in flight finish, for up to `--grace` seconds. Nobody can poll for the results of those
//! jobs any more, though: here polling loses to the webhook, whose service still calls back (a real
//! polling service keeps its results in a store that outlives it).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::io::{AsyncWrite, Lines};
use evloop::net::{TcpListener, TcpStream};
use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::time::{interval, sleep};
use evloop::EventLoop;

mod common;

const WORK_TAKES: Duration = Duration::from_millis(350);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The service's state: each job's result, `None` while it runs.
#[derive(Default)]
struct Service {
    jobs: RefCell<HashMap<u32, Option<String>>>,
    next_id: Cell<u32>,
    /// The requests being answered and the jobs running: what a shutdown lets finish.
    in_flight: TaskTracker,
}

fn main() -> io::Result<()> {
    // With `--addr`, only the service runs, on that address; without, the whole demo.
    let service_only = std::env::args().any(|a| a == "--addr" || a.starts_with("--addr="));
    let args = common::parse_args("polling");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let bind_to = if service_only {
            args.addr
        } else {
            ([127, 0, 0, 1], 0).into()
        };
        let listener = TcpListener::bind(bind_to)?;
        let addr = listener.local_addr()?;
        // SIGINT or SIGTERM: the service stops accepting; the requests and jobs in flight finish.
        let shutdown = common::shutdown_signal()?;
        let service = Rc::new(Service::default());
        if service_only {
            common::announce(addr)?;
            serve(listener, shutdown, service.clone()).await;
        } else {
            println!("service: listening on {addr}");
            let serving = evloop::spawn(serve(listener, shutdown.clone(), service.clone()));
            client(addr, &shutdown).await?;
            shutdown.cancel(); // the demo is over: the service stops too
            let _ = serving.await;
        }
        // The listener is closed: let what is in flight finish (up to `--grace`).
        common::drain(&service.in_flight, args.grace).await;
        Ok(())
    })
}

/// Accepts requests until `shutdown`.
async fn serve(listener: TcpListener, shutdown: CancellationToken, service: Rc<Service>) {
    // Out of descriptors, `accept` waits by itself: an error means the listener is broken.
    while let Some(Ok((stream, _))) = shutdown.run_until_cancelled(listener.accept()).await {
        service.in_flight.spawn(answer(stream, service.clone()));
    }
    // Dropping the listener refuses new requests from here on.
}

/// Answers one request, at once, from the job table: no request ever waits for the work.
async fn answer(mut stream: TcpStream, service: Rc<Service>) -> io::Result<()> {
    let request = read_line(&mut stream).await?;
    let reply = match request.split_once(' ') {
        Some(("SUBMIT", job)) => {
            let id = service.next_id.get() + 1;
            service.next_id.set(id);
            service.jobs.borrow_mut().insert(id, None);
            let work = work(id, job.to_string(), service.clone());
            service.in_flight.spawn(work);
            format!("ID {id}")
        }
        Some(("STATUS", id)) => {
            let jobs = service.jobs.borrow();
            match id.parse().ok().and_then(|id| jobs.get(&id)) {
                Some(None) => "PENDING".to_string(),
                Some(Some(result)) => format!("DONE {result}"),
                None => "UNKNOWN".to_string(),
            }
        }
        _ => "ERROR expected SUBMIT <job> or STATUS <id>".to_string(),
    };
    stream.write_all(format!("{reply}\n").as_bytes()).await
}

async fn work(id: u32, job: String, service: Rc<Service>) {
    sleep(WORK_TAKES).await; // stands for the slow work
    let result = format!("{job} finished");
    println!("service: job {id} done");
    service.jobs.borrow_mut().insert(id, Some(result));
}

async fn client(service: SocketAddr, shutdown: &CancellationToken) -> io::Result<()> {
    let start = Instant::now();
    let reply = match ask(service, "SUBMIT report").await {
        Ok(reply) => reply,
        Err(e) if shutdown.is_cancelled() => {
            println!("client: SUBMIT report -> {e}; the service is shutting down");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    println!(
        "[{:>3} ms] client: SUBMIT report -> {reply}",
        start.elapsed().as_millis()
    );
    let id = reply.strip_prefix("ID ").unwrap_or_default().to_string();

    let mut ticks = interval(POLL_EVERY);
    ticks.tick().await; // the first tick is immediate
    let mut polls = 0;
    loop {
        ticks.tick().await;
        polls += 1;
        let status = match ask(service, &format!("STATUS {id}")).await {
            Ok(status) => status,
            // The service stopped accepting: the result can no longer be asked for.
            Err(e) if shutdown.is_cancelled() => {
                println!("client: poll {polls}: {e}; the service is shutting down, the result is out of reach");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        println!(
            "[{:>3} ms] client: poll {polls}: {status}",
            start.elapsed().as_millis()
        );
        if status != "PENDING" {
            break;
        }
    }
    println!(
        "client: {polls} polls for one result, {} of them wasted; ready after {} ms, noticed after {} ms",
        polls - 1,
        WORK_TAKES.as_millis(),
        start.elapsed().as_millis()
    );
    Ok(())
}

/// One request on a fresh connection, like a plain HTTP request: send a line, read the answer.
async fn ask(service: SocketAddr, request: &str) -> io::Result<String> {
    let mut conn = TcpStream::connect(service).await?;
    conn.write_all(format!("{request}\n").as_bytes()).await?;
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
