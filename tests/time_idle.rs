//! `IdleTimeout` and `Sleep::reset` over real sockets: a connection that keeps talking stays, one
//! that falls silent is dropped exactly one period after its last message (paused time).

use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::time::{sleep, Elapsed, IdleTimeout};
use evloop::Handle;

#[test]
fn a_silent_connection_times_out_one_period_after_its_last_message() {
    evloop::test::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = evloop::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut idle = IdleTimeout::new(Duration::from_secs(30));
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            loop {
                match idle.run(s.read(&mut buf)).await {
                    Ok(Ok(0)) => panic!("the client closed first"),
                    Ok(Ok(n)) => {
                        got.extend_from_slice(&buf[..n]);
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                    Ok(Err(e)) => panic!("{e}"),
                    Err(Elapsed { .. }) => return (got, Handle::current().now()),
                }
            }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let start = Handle::current().now();
        let mut back = [0u8; 1];
        for i in 0..10u8 {
            // 25 s apart: each message comes inside the 30 s period of the one before.
            sleep(Duration::from_secs(25)).await;
            c.write_all(&[i]).await.unwrap();
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back[0], i);
        }
        let last = Handle::current().now();
        let (got, ended) = server.await.unwrap();
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
        assert_eq!(last - start, Duration::from_secs(250));
        assert_eq!(ended - last, Duration::from_secs(30));
    });
}

#[test]
fn a_sleep_reset_many_times_fires_once_at_its_last_deadline() {
    evloop::test::run(async {
        let h = Handle::current();
        let start = h.now();
        let mut s = sleep(Duration::from_secs(1));
        for i in 1..=100_000u64 {
            s.reset(start + Duration::from_millis(i));
        }
        (&mut s).await;
        assert_eq!(h.now() - start, Duration::from_secs(100));
        assert!(s.is_elapsed());
    });
}

/// The timer fired while the operation also finished (so nobody looked at the timer), then the
/// timeout moved to another task: each later wait still ends exactly one period after its `run`.
#[test]
fn an_idle_timeout_survives_an_unseen_expiry_and_a_move_to_another_task() {
    evloop::test::run(async {
        let h = Handle::current();
        let mut idle = IdleTimeout::new(Duration::from_secs(10));
        // Both come due at the same instant; the operation is polled first and wins.
        assert_eq!(idle.run(sleep(Duration::from_secs(10))).await, Ok(()));
        let start = h.now();
        let mut idle = evloop::spawn(async move {
            assert!(idle.run(std::future::pending::<()>()).await.is_err());
            idle
        })
        .await
        .unwrap();
        assert_eq!(h.now() - start, Duration::from_secs(10));
        let start = h.now();
        assert!(idle.run(std::future::pending::<()>()).await.is_err());
        assert_eq!(h.now() - start, Duration::from_secs(10));
    });
}
