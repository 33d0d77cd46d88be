//! The polling pattern, to compare with `webhook`: the client keeps asking "is it done yet?".
//!
//! Run it:   cargo run --example polling
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

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::io::{AsyncWrite, Lines};
use evloop::net::{TcpListener, TcpStream};
use evloop::time::{interval, sleep};
use evloop::EventLoop;

const WORK_TAKES: Duration = Duration::from_millis(350);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The service's state: each job's result, `None` while it runs.
#[derive(Default)]
struct Service {
    jobs: RefCell<HashMap<u32, Option<String>>>,
    next_id: Cell<u32>,
}

fn main() -> io::Result<()> {
    let lp = EventLoop::new()?;
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        println!("service: listening on {addr}");
        evloop::spawn(serve(listener));
        client(addr).await
    })
}

async fn serve(listener: TcpListener) {
    let service = Rc::new(Service::default());
    // Out of descriptors, `accept` waits by itself: an error means the listener is broken.
    while let Ok((stream, _)) = listener.accept().await {
        evloop::spawn(answer(stream, service.clone()));
    }
}

/// Answers one request, at once, from the job table: no request ever waits for the work.
async fn answer(mut stream: TcpStream, service: Rc<Service>) -> io::Result<()> {
    let request = read_line(&mut stream).await?;
    let reply = match request.split_once(' ') {
        Some(("SUBMIT", job)) => {
            let id = service.next_id.get() + 1;
            service.next_id.set(id);
            service.jobs.borrow_mut().insert(id, None);
            evloop::spawn(work(id, job.to_string(), service.clone()));
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
    service.jobs.borrow_mut().insert(id, Some(result));
}

async fn client(service: SocketAddr) -> io::Result<()> {
    let start = Instant::now();
    let reply = ask(service, "SUBMIT report").await?;
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
        let status = ask(service, &format!("STATUS {id}")).await?;
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
    read_line(&mut conn).await
}

/// Reads one line (the protocol's whole message on a connection), without its line ending.
async fn read_line(stream: &mut TcpStream) -> io::Result<String> {
    Ok(Lines::new(4096).next(stream).await?.unwrap_or_default())
}
