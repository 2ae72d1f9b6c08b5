//! Plugin calls run on a few dedicated threads per plugin, never on the async runtime. A call that
//! never returns keeps its thread; the caller stops waiting at the timeout.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aniworld_plugin_sdk::{Request, Response};

use crate::PluginFailure;
use crate::library::NativeLibrary;

pub type CallOutcome = Result<Response, PluginFailure>;

struct Job {
    request: Request,
    reply: Box<dyn FnOnce(CallOutcome) + Send>,
}

/// Threads calling one plugin.
pub struct CallPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// Calls may block (network I/O inside the plugin), so a few run side by side.
const THREADS_PER_PLUGIN: usize = 4;

impl CallPool {
    pub fn new(name: &str, library: NativeLibrary) -> CallPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..THREADS_PER_PLUGIN {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("plugin-{name}-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        (job.reply)(library.call(&job.request));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(plugin = name, error = %e, "could not start a plugin thread");
            }
        }
        CallPool {
            jobs: Mutex::new(tx),
        }
    }

    fn submit(&self, request: Request, reply: Box<dyn FnOnce(CallOutcome) + Send>) -> bool {
        self.jobs
            .lock()
            .map(|tx| tx.send(Job { request, reply }).is_ok())
            .unwrap_or(false)
    }

    /// Awaits the reply without blocking the runtime. `None` on timeout.
    pub async fn call(&self, request: Request, timeout: Duration) -> Option<CallOutcome> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.submit(
            request,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        if !sent {
            return Some(Err(PluginFailure::Load("plugin threads are gone".into())));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(_)) => Some(Err(PluginFailure::Load(
                "plugin thread ended without replying".into(),
            ))),
            Err(_) => None,
        }
    }

    /// Blocks the current thread until the reply or the timeout. `None` on timeout.
    pub fn call_blocking(&self, request: Request, timeout: Duration) -> Option<CallOutcome> {
        let (tx, rx) = mpsc::sync_channel(1);
        let sent = self.submit(
            request,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        if !sent {
            return Some(Err(PluginFailure::Load("plugin threads are gone".into())));
        }
        match rx.recv_timeout(timeout) {
            Ok(outcome) => Some(outcome),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(PluginFailure::Load(
                "plugin thread ended without replying".into(),
            ))),
        }
    }
}

/// Runs `f` on a fresh thread and waits at most `timeout` (used while loading, before a pool exists).
pub fn with_timeout<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("plugin-load".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        return None;
    }
    rx.recv_timeout(timeout).ok()
}
