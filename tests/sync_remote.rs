//! `sync::remote_channel`: values from other threads into a task, each exactly once.

mod util;

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::thread;

use evloop::sync::mpsc::{SendError, TryRecvError};
use evloop::sync::{remote_channel, RemoteSender};
use util::run;

#[test]
fn sender_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<RemoteSender<Vec<u8>>>();
}

#[test]
fn four_threads_times_25000_all_received_exactly_once_in_per_thread_order() {
    const THREADS: usize = 4;
    const EACH: u32 = 25_000;
    run(async {
        let (tx, mut rx) = remote_channel();
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        tx.send((t, i)).unwrap();
                        if i % 1000 == 0 {
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0; THREADS];
        let mut total = 0;
        while let Some((t, i)) = rx.recv().await {
            assert_eq!(i, next[t], "thread {t}: lost, duplicated or reordered");
            next[t] += 1;
            total += 1;
        }
        assert_eq!(total, THREADS * EACH as usize);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn waiting_receiver_is_woken_from_another_thread() {
    run(async {
        let (tx, mut rx) = remote_channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let t = thread::spawn(move || {
            go_rx.recv().unwrap();
            tx.send("hi").unwrap();
        });
        {
            let mut waiting = std::pin::pin!(rx.recv());
            // Make sure the receiver waits before the thread sends.
            let first = poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            go_tx.send(()).unwrap();
            assert_eq!(waiting.await, Some("hi"));
        }
        t.join().unwrap();
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn close_and_drop_semantics() {
    run(async {
        let (tx, mut rx) = remote_channel();
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(2).unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert!(matches!(tx.send(3), Err(SendError(3))));
        assert_eq!(rx.recv().await, Some(2), "queued before close");
        assert_eq!(rx.recv().await, None);

        let (tx, rx) = remote_channel();
        drop(rx);
        assert_eq!(tx.send("x").unwrap_err().0, "x");

        let (tx, mut rx) = remote_channel::<u8>();
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        thread::spawn(move || drop(tx2)).join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv().await, None);
    });
}
