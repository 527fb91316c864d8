//! A blocking pool of PostgreSQL connections, each driven on the thread that uses it.
//!
//! The store's API is blocking; its callers are threads (a server's reader and writer pools,
//! an embedder's own). Each connection therefore has a single-threaded tokio runtime of its
//! own, and a call drives both the request and the connection on the calling thread, as the
//! synchronous `postgres` crate does: no hand-off to another thread per round trip, while
//! tokio-postgres still pipelines statements sent together. Measured here: four pipelined
//! statements take 69 µs driven on the calling thread, 126 µs through a shared multi-threaded
//! runtime (one round trip alone: 71 µs against 84 µs).

use std::collections::HashMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio_postgres::{Client, NoTls, Statement};

use crate::error::{Error, Result, StorageError};

/// How long a caller waits for a free connection before it is told the pool is exhausted.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

type Driver = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// One connection: its client, the future that drives its socket, and the runtime both run
/// on; plus the statements prepared on it.
pub(crate) struct Conn {
    /// Always `Some` until dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    driver: Driver,
    statements: HashMap<String, Statement>,
    /// The connection failed or was left mid-transaction: closed instead of reused.
    pub(crate) broken: bool,
}

impl Conn {
    pub(crate) fn connect(config: &tokio_postgres::Config) -> Result<Conn> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (client, connection) = runtime.block_on(config.connect(NoTls)).map_err(super::pg)?;
        Ok(Conn {
            runtime: Some(runtime),
            client,
            driver: Box::pin(connection),
            statements: HashMap::new(),
            broken: false,
        })
    }

    /// Runs `request` on the client to its end, driving the connection meanwhile, on this
    /// thread. A connection that closes under it is broken.
    pub(crate) fn run<T, F>(&mut self, request: F) -> Result<T>
    where
        F: for<'c> AsyncFnOnce(&'c Client) -> Result<T, tokio_postgres::Error>,
    {
        let Conn {
            runtime,
            client,
            driver,
            broken,
            ..
        } = self;
        let runtime = runtime.as_ref().expect("a live connection has its runtime");
        let outcome = runtime.block_on(async {
            tokio::select! {
                biased;
                result = request(&*client) => Ok(result),
                closed = driver.as_mut() => Err(closed),
            }
        });
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_closed() {
                    *broken = true;
                }
                Err(super::pg(e))
            }
            Err(closed) => {
                *broken = true;
                Err(match closed {
                    Err(e) => super::pg(e),
                    Ok(()) => Error::Storage(StorageError::closed()),
                })
            }
        }
    }

    /// Sends `sql` (a simple query) without waiting for its answer, which the connection
    /// discards when it arrives: how a read transaction ends. Called when every earlier
    /// request has been answered, so the server has read all that was sent before and the
    /// socket takes the few bytes at once; one poll of the connection writes and flushes them.
    pub(crate) fn send(&mut self, sql: &str) {
        let Conn {
            runtime,
            client,
            driver,
            broken,
            ..
        } = self;
        let runtime = runtime.as_ref().expect("a live connection has its runtime");
        runtime.block_on(async {
            let mut request = std::pin::pin!(client.batch_execute(sql));
            // The first poll queues the request on the connection; the answer is not awaited.
            std::future::poll_fn(|cx| {
                let _ = request.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            std::future::poll_fn(|cx| {
                if driver.as_mut().poll(cx).is_ready() {
                    *broken = true;
                }
                std::task::Poll::Ready(())
            })
            .await;
        });
    }

    /// Whether the server closed the connection since it was last used (an idle connection
    /// has nothing else to read, so anything it reads ends it). Does not wait: the runtime
    /// polls the socket once (`yield_now` lets it check for readiness without blocking).
    fn closed_while_idle(&mut self) -> bool {
        let Conn {
            runtime, driver, ..
        } = self;
        let runtime = runtime.as_ref().expect("a live connection has its runtime");
        runtime.block_on(async {
            tokio::select! {
                biased;
                _ = driver.as_mut() => true,
                () = tokio::task::yield_now() => false,
            }
        })
    }

    /// The statement for `sql`, prepared once per connection.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.run(async |client| client.prepare(sql).await)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Without waiting: the last store handle may be dropped on an async thread (a
        // server's), where a runtime cannot be shut down blocking.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The pool: at most `max` connections, opened on demand.
pub(crate) struct Pool {
    config: tokio_postgres::Config,
    max: usize,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Conn>,
    open: usize,
}

impl Pool {
    pub(crate) fn new(config: tokio_postgres::Config, max: usize) -> Pool {
        Pool {
            config,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// A connection, idle or new; waits while `max` are in use.
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let mut state = self.state.lock();
        loop {
            if let Some(mut conn) = state.idle.pop() {
                // A connection the server closed while it was idle (a restart, an idle
                // timeout) is dropped here instead of failing the caller's first statement.
                if conn.closed_while_idle() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match Conn::connect(&self.config) {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.state.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            if self
                .returned
                .wait_for(&mut state, CHECKOUT_TIMEOUT)
                .timed_out()
            {
                return Err(Error::Storage(StorageError::exhausted(self.max)));
            }
        }
    }

    /// How the pool connects (for a connection of its own, outside the pool's count: the
    /// generation poller's).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    fn put(&self, conn: Conn) {
        let mut state = self.state.lock();
        if conn.broken {
            state.open -= 1;
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.returned.notify_one();
    }
}

/// A connection taken from the pool, returned (or, if broken, closed) when dropped.
pub(crate) struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
}

impl Deref for Pooled<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}
