//! Awaiting one query after the other versus `join_all` (asyncio's `gather`): independent waits
//! overlap, so the page is ready after the longest one, not after their sum.
//!
//! Run it:   cargo run --example gather
//!
//! A movie-booking page needs the list of movies (a 300 ms query) and the list of theatres
//! (200 ms). Awaiting them one after the other costs 500 ms, even in async code: `.await` means
//! "wait here". Started together, they wait at the same time and the page is ready after ~300 ms.
//! There is one thread throughout: the waits are timers in the loop, not blocked threads.
//!
//! Then two more ways to wait for several things: `race` (the first answer wins, the others are
//! dropped) and `timeout` (give up on a call that takes too long).

use std::io;
use std::time::{Duration, Instant};

use evloop::promise::{join_all, race};
use evloop::time::{sleep, timeout};
use evloop::EventLoop;

/// One simulated database query: `latency` of waiting, then some rows.
async fn query(table: &'static str, latency: Duration) -> Vec<&'static str> {
    sleep(latency).await; // stands for the round trip to the database
    match table {
        "movies" => vec!["Metropolis", "Nosferatu", "Sunrise"],
        "theatres" => vec!["Rex", "Odeon"],
        _ => vec![],
    }
}

const MOVIES_LATENCY: Duration = Duration::from_millis(300);
const THEATRES_LATENCY: Duration = Duration::from_millis(200);

/// The same page from a mirror that answers after `latency`.
async fn from_mirror(mirror: &'static str, latency: Duration) -> &'static str {
    sleep(latency).await;
    mirror
}

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

async fn demo() {
    // 1. Sequential: the second query is not even sent until the first has answered.
    let start = Instant::now();
    let movies = query("movies", MOVIES_LATENCY).await;
    let theatres = query("theatres", THEATRES_LATENCY).await;
    println!(
        "sequential: {} ms  movies={movies:?} theatres={theatres:?}",
        ms(start)
    );

    // 2. Gathered: both futures are polled by one `join_all`, so both timers run at once. The
    //    results come back in input order, whichever finished first. `join_all` takes futures of
    //    one type (both come from `query`); for different types, see the next variant.
    let start = Instant::now();
    let rows = join_all([
        query("movies", MOVIES_LATENCY),
        query("theatres", THEATRES_LATENCY),
    ])
    .await;
    let (movies, theatres) = (&rows[0], &rows[1]);
    println!(
        "gather:     {} ms  movies={movies:?} theatres={theatres:?}",
        ms(start)
    );

    // 3. Spawned: each query becomes a task of its own (asyncio's `create_task`), which starts
    //    running right away; awaiting the handles then just collects the results. This also works
    //    for futures of different types.
    let start = Instant::now();
    let movies = evloop::spawn(query("movies", MOVIES_LATENCY));
    let theatres = evloop::spawn(query("theatres", THEATRES_LATENCY));
    let (movies, theatres) = (movies.await, theatres.await);
    let (movies, theatres) = (movies.expect("no panic"), theatres.expect("no panic"));
    println!(
        "spawned:    {} ms  movies={movies:?} theatres={theatres:?}",
        ms(start)
    );

    // 4. Race: ask two mirrors, keep the first answer. The loser is dropped, which cancels it
    //    (its timer is removed from the loop).
    let start = Instant::now();
    let winner = race([
        from_mirror("mirror-eu", Duration::from_millis(120)),
        from_mirror("mirror-us", Duration::from_millis(80)),
    ])
    .await;
    println!("race:       {} ms  first answer from {winner}", ms(start));

    // 5. Timeout: a reviews query that would take a second, cut off after 100 ms.
    let start = Instant::now();
    let slow = query("reviews", Duration::from_secs(1));
    match timeout(Duration::from_millis(100), slow).await {
        Ok(rows) => println!("timeout:    {} ms  got {rows:?}", ms(start)),
        Err(e) => println!("timeout:    {} ms  reviews gave up: {e}", ms(start)),
    }
}

fn main() -> io::Result<()> {
    let lp = EventLoop::new()?;
    lp.block_on(demo());
    Ok(())
}
