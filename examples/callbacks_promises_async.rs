//! One job written three ways: nested callbacks, a promise chain, and async/await.
//!
//! Run it:   cargo run --example callbacks_promises_async
//!
//! The job: look an employee's id up by name, then use the id to fetch their details. Both steps
//! are simulated remote calls that answer after `LATENCY`, through a loop timer (`call_later`):
//! nothing blocks, the loop sleeps in the poller until an answer is due. Each style looks up two
//! names at once, and one of them (`zed`) is unknown, to show how each style handles a failure.
//!
//! - Callbacks: each step takes the function to call with its result. Every step nests one level
//!   deeper ("callback hell"), and every level must handle its own error.
//! - Promises: each step returns a `Promise`, an object standing for a result to come (Twisted's
//!   `Deferred`). Steps chain with `then`, flat; one `catch` at the end handles a failure of any
//!   step.
//! - async/await: the same promises, awaited. It reads like blocking code and `?` propagates
//!   failures, yet the loop stays free while each call is in flight.
//!
//! Every section takes about 2 × LATENCY, not the 3 × of one name after the other: the two
//! lookups overlap, on one thread.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use evloop::promise::{join_all, Promise, PromiseError};
use evloop::{EventLoop, Handle};

/// How long the simulated directory service takes to answer each call.
const LATENCY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
struct Employee {
    id: u32,
    name: &'static str,
    title: &'static str,
}

impl fmt::Display for Employee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (id {}), {}", self.name, self.id, self.title)
    }
}

#[derive(Debug)]
enum LookupError {
    UnknownName(String),
    UnknownId(u32),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::UnknownName(name) => write!(f, "no employee named `{name}`"),
            LookupError::UnknownId(id) => write!(f, "no employee with id {id}"),
        }
    }
}

// ---- The "remote" directory: instant answers here; the latency is added by the callers below.

const STAFF: [Employee; 2] = [
    Employee {
        id: 1,
        name: "Ada Lovelace",
        title: "analyst",
    },
    Employee {
        id: 2,
        name: "Grace Hopper",
        title: "rear admiral",
    },
];

fn find_id(login: &str) -> Result<u32, LookupError> {
    match login {
        "ada" => Ok(1),
        "grace" => Ok(2),
        _ => Err(LookupError::UnknownName(login.to_string())),
    }
}

fn find_details(id: u32) -> Result<Employee, LookupError> {
    let found = STAFF.iter().find(|e| e.id == id).cloned();
    found.ok_or(LookupError::UnknownId(id))
}

// ---- 1. Callbacks: "here is my number, call me when you know".

fn get_id_cb<F>(h: &Handle, login: &str, callback: F)
where
    F: FnOnce(&Handle, Result<u32, LookupError>) + 'static,
{
    let login = login.to_string();
    h.call_later(LATENCY, move |h| callback(h, find_id(&login)));
}

fn get_details_cb<F>(h: &Handle, id: u32, callback: F)
where
    F: FnOnce(&Handle, Result<Employee, LookupError>) + 'static,
{
    h.call_later(LATENCY, move |h| callback(h, find_details(id)));
}

fn show_with_callbacks(h: &Handle, login: &'static str) {
    // The second call can only be made inside the first one's callback: each dependent step adds
    // a level of nesting, and the error handling is repeated at every level.
    get_id_cb(h, login, move |h, id| match id {
        Err(e) => println!("callbacks: {login}: error: {e}"),
        Ok(id) => {
            println!("callbacks: {login}: id {id}");
            get_details_cb(h, id, move |_, details| match details {
                Err(e) => println!("callbacks: {login}: error: {e}"),
                Ok(employee) => println!("callbacks: {login}: {employee}"),
            });
        }
    });
}

// ---- 2. Promises: return an object that stands for the answer, and chain onto it.

/// A remote call: a promise settled by a loop timer once the "service" answers.
fn remote_call<T: 'static>(
    answer: impl FnOnce() -> Result<T, LookupError> + 'static,
) -> Promise<T, LookupError> {
    let (promise, resolver) = Promise::new();
    Handle::current().call_later(LATENCY, move |_| {
        // `resolve`/`reject` only fail if the promise was already settled (cancelled): ignore.
        let _ = match answer() {
            Ok(value) => resolver.resolve(value),
            Err(e) => resolver.reject(e),
        };
    });
    promise
}

fn get_id(login: &str) -> Promise<u32, LookupError> {
    let login = login.to_string();
    remote_call(move || find_id(&login))
}

fn get_details(id: u32) -> Promise<Employee, LookupError> {
    remote_call(move || find_details(id))
}

fn show_with_promises(login: &'static str) -> Promise<(), LookupError> {
    get_id(login)
        .then(move |id| {
            println!("promises:  {login}: id {id}");
            get_details(id) // returning a promise: the chain waits for it (chains flatten)
        })
        .map(move |employee| println!("promises:  {login}: {employee}"))
        // One handler for a failure of any step above; the steps after a failure are skipped.
        .catch(move |e| {
            println!("promises:  {login}: error: {e}");
            Ok(())
        })
}

// ---- 3. async/await: the promises again, awaited in straight-line code.

async fn employee(login: &str) -> Result<Employee, PromiseError<LookupError>> {
    let id = get_id(login).await?; // `?` hands a failure to the caller, like an exception
    println!("async:     {login}: id {id}");
    let employee = get_details(id).await?;
    Ok(employee)
}

async fn show_with_async(login: &'static str) {
    match employee(login).await {
        Ok(employee) => println!("async:     {login}: {employee}"),
        Err(e) => println!("async:     {login}: error: {e}"),
    }
}

fn main() -> io::Result<()> {
    let lp = EventLoop::new()?;
    let logins = ["ada", "zed"];

    println!("== 1. nested callbacks");
    let start = Instant::now();
    for login in logins {
        show_with_callbacks(&lp, login);
    }
    lp.run()?; // returns once no timer is left: every callback has run
    println!("callbacks: done in {} ms", start.elapsed().as_millis());

    println!("== 2. promise chain");
    let start = Instant::now();
    for login in logins {
        // The chain runs by itself (promises are eager); dropping the last promise detaches it.
        show_with_promises(login);
    }
    lp.run()?;
    println!("promises:  done in {} ms", start.elapsed().as_millis());

    println!("== 3. async/await");
    let start = Instant::now();
    lp.block_on(join_all(logins.map(show_with_async)));
    println!("async:     done in {} ms", start.elapsed().as_millis());
    Ok(())
}
