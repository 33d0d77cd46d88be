//! `CancellationToken`: a shared "stop now" signal, awaitable, in a tree of tokens.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use super::wait_list::{self, WaitList};

/// Tells tasks to stop: cheap to clone, awaitable, and hierarchical (tokio-util's
/// `CancellationToken`, for one loop thread).
///
/// [`cancel`](Self::cancel) marks the token and every clone of it cancelled for good, wakes every
/// task awaiting [`cancelled`](Self::cancelled), and cancels the token's children
/// ([`child_token`](Self::child_token)), and theirs. Cancelling a child does not cancel its parent.
/// A token is not `Send`: it lives on its loop's thread.
///
/// The usual shape of a graceful shutdown: the accept loop and each connection take a child of one
/// token, a signal cancels the root, and a [`TaskTracker`](crate::task::TaskTracker) waits for the
/// connections to finish.
///
/// ```
/// use evloop::sync::CancellationToken;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let shutdown = CancellationToken::new();
///     let worker = evloop::spawn({
///         let stop = shutdown.child_token();
///         async move {
///             let mut ticks = 0;
///             while stop
///                 .run_until_cancelled(evloop::time::sleep(Duration::from_millis(1)))
///                 .await
///                 .is_some()
///             {
///                 ticks += 1;
///             }
///             ticks
///         }
///     });
///     evloop::time::sleep(Duration::from_millis(5)).await;
///     shutdown.cancel();
///     assert!(worker.await.unwrap() >= 1);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Rc<Node>,
}

struct Node {
    cancelled: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
    /// Live children are cancelled with this token; dead ones are pruned as more are added.
    children: RefCell<Vec<Weak<Node>>>,
    /// Kept alive by its children (downward links are weak, so there is no cycle): a token whose
    /// own handles are all dropped still passes a cancellation on to its descendants.
    parent: Option<Rc<Node>>,
}

impl Drop for Node {
    /// Lets go of the ancestors one by one: a chain of 200,000 tokens must not drop recursively.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(p) = parent {
            parent = match Rc::try_unwrap(p) {
                // The last reference: take its parent out before it drops (with none).
                Ok(mut node) => node.parent.take(),
                Err(_) => None,
            };
        }
    }
}

impl Node {
    fn new(cancelled: bool, parent: Option<Rc<Node>>) -> Rc<Node> {
        Rc::new(Node {
            cancelled: Cell::new(cancelled),
            waiters: RefCell::new(WaitList::new()),
            children: RefCell::new(Vec::new()),
            parent,
        })
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl CancellationToken {
    /// A token that is not cancelled.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let token = CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Node::new(false, None),
        }
    }

    /// A token cancelled with this one (and with its parents), which can also be cancelled alone.
    /// A child of a cancelled token is born cancelled.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let server = CancellationToken::new();
    /// let connection = server.child_token();
    /// connection.cancel(); // one connection stops...
    /// assert!(!server.is_cancelled(), "... not the server");
    /// let other = server.child_token();
    /// server.cancel(); // the server stops: so does every child
    /// assert!(other.is_cancelled());
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        let child = Node::new(self.node.cancelled.get(), Some(self.node.clone()));
        if !child.cancelled.get() {
            let mut children = self.node.children.borrow_mut();
            if children.len() == children.capacity() {
                // Before growing: drop the links of children that are gone, so that a long-lived
                // token handing out short-lived children stays small.
                children.retain(|c| c.strong_count() > 0);
            }
            children.push(Rc::downgrade(&child));
        }
        CancellationToken { node: child }
    }

    /// Cancels this token and its children: wakes every task awaiting them. Cancelling twice does
    /// nothing more.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let token = CancellationToken::new();
    ///     let waiters: Vec<_> = (0..2)
    ///         .map(|_| evloop::spawn(token.clone().cancelled_owned()))
    ///         .collect();
    ///     evloop::yield_now().await;
    ///     token.cancel(); // wakes them all
    ///     token.cancel(); // twice does nothing more
    ///     for w in waiters {
    ///         w.await.unwrap();
    ///     }
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) {
        let mut wakers = Vec::new();
        let mut stack = vec![self.node.clone()];
        // A loop, not recursion: a deep tree of tokens cannot overflow the stack.
        while let Some(node) = stack.pop() {
            if node.cancelled.replace(true) {
                continue;
            }
            wakers.append(&mut node.waiters.borrow_mut().unlink_all(|_| {}));
            let children = std::mem::take(&mut *node.children.borrow_mut());
            stack.extend(children.iter().filter_map(Weak::upgrade));
        }
        // With nothing borrowed: a waker may be anyone's.
        for w in wakers {
            w.wake();
        }
    }

    /// Whether the token was cancelled (by itself or a parent).
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let parent = CancellationToken::new();
    /// let child = parent.child_token();
    /// parent.cancel();
    /// assert!(child.is_cancelled(), "cancelled by its parent");
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.get()
    }

    /// Completes once the token is cancelled (at once if it is already).
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let token = CancellationToken::new();
    ///     let stop = token.clone();
    ///     evloop::spawn(async move { stop.cancel() });
    ///     token.cancelled().await;
    ///     assert!(token.is_cancelled());
    ///     token.cancelled().await; // at once, now
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancelled(&self) -> WaitForCancellation {
        self.clone().cancelled_owned()
    }

    /// [`cancelled`](Self::cancelled), taking the token.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let token = CancellationToken::new();
    ///     // Owns its token: a `'static` future, to spawn.
    ///     let waiter = evloop::spawn(token.child_token().cancelled_owned());
    ///     token.cancel();
    ///     waiter.await.unwrap();
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancelled_owned(self) -> WaitForCancellation {
        WaitForCancellation {
            node: self.node,
            key: None,
        }
    }

    /// Runs `future` until it completes (`Some(output)`) or the token is cancelled (`None`, and the
    /// future is dropped). A token cancelled already does not poll the future at all.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let token = CancellationToken::new();
    ///     let stop = token.clone();
    ///     evloop::spawn(async move { stop.cancel() });
    ///     let slow = evloop::time::sleep(Duration::from_secs(60));
    ///     assert_eq!(token.run_until_cancelled(slow).await, None, "cut short");
    ///     assert_eq!(token.run_until_cancelled(async { 1 }).await, None, "already cancelled");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut cancelled = pin!(self.cancelled());
        let mut future = pin!(future);
        poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            future.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// A guard that cancels the token when it is dropped (unless [`disarm`](DropGuard::disarm)ed).
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let token = CancellationToken::new();
    /// let watcher = token.clone();
    /// {
    ///     let _guard = token.drop_guard(); // cancels when this scope ends, however it ends
    /// }
    /// assert!(watcher.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future of [`CancellationToken::cancelled`].
///
/// ```
/// use evloop::sync::CancellationToken;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let token = CancellationToken::new();
///     let early = evloop::time::timeout(Duration::from_millis(1), token.cancelled()).await;
///     assert!(early.is_err(), "not cancelled yet");
///     token.cancel();
///     token.cancelled().await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForCancellation {
    node: Rc<Node>,
    /// The waiter's slot in the token's list, once it waited.
    key: Option<usize>,
}

impl Future for WaitForCancellation {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let node = &this.node;
        wait_list::poll_until(&node.waiters, &mut this.key, cx, || node.cancelled.get())
    }
}

impl Drop for WaitForCancellation {
    fn drop(&mut self) {
        wait_list::leave(&self.node.waiters, &mut self.key);
    }
}

impl fmt::Debug for WaitForCancellation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellation")
            .finish_non_exhaustive()
    }
}

/// Cancels its token when dropped; see [`CancellationToken::drop_guard`].
///
/// ```
/// use evloop::sync::CancellationToken;
///
/// let token = CancellationToken::new();
/// let guard = token.clone().drop_guard();
/// assert!(!token.is_cancelled());
/// drop(guard);
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// use evloop::sync::CancellationToken;
    ///
    /// let guard = CancellationToken::new().drop_guard();
    /// let token = guard.disarm(); // the work finished: no cancellation
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a guard holds its token until dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}
