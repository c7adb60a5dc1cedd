//! Pushes arriving together share one write: on the embedded SQLite queue
//! every push is a write transaction on a single-writer file, and 64
//! concurrent submissions each taking the lock in turn (sleeping in
//! SQLite's busy handler while they wait) cost more than storing the items.
//! Each push joins the transport's group and waits for its answer; when no
//! writer is running it starts one, a task that takes everything waiting
//! (at most [`MAX_PUSH`]), writes it as one transaction, answers each
//! caller, and goes on until nothing waits — no timer, no added wait for a
//! push that arrives alone. A push is answered only after its write
//! committed, so "queued" still means queued.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::oneshot;

/// The most jobs one write carries.
pub const MAX_PUSH: usize = 512;

/// Writes a batch of jobs (one transaction).
pub type Writer<T> = Arc<dyn Fn(Vec<T>) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

struct Waiting<T> {
    job: T,
    reply: oneshot::Sender<Result<(), String>>,
}

struct State<T> {
    waiting: Vec<Waiting<T>>,
    running: bool,
}

/// One transport's group of waiting pushes.
pub struct Coalescer<T> {
    state: Mutex<State<T>>,
    write: Writer<T>,
}

impl<T: Send + 'static> Coalescer<T> {
    pub fn new(write: Writer<T>) -> Arc<Self> {
        Arc::new(Coalescer {
            state: Mutex::new(State {
                waiting: Vec::new(),
                running: false,
            }),
            write,
        })
    }

    /// Queue one job with whatever else is waiting; answered once written.
    pub async fn push(self: &Arc<Self>, job: T) -> anyhow::Result<()> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.waiting.push(Waiting { job, reply });
            !std::mem::replace(&mut s.running, true)
        };
        if start {
            // A task of its own: a caller that goes away does not abort a
            // write others wait on.
            tokio::spawn(self.clone().run());
        }
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!(e)),
            Err(_) => Err(anyhow::anyhow!("the queue's writer stopped")),
        }
    }

    async fn run(self: Arc<Self>) {
        // Counts the writer out however it ends (a panic, a runtime
        // shutting down): the next push starts another, and whatever was
        // waiting is answered, not stranded (its items are due in the
        // database: the reconciler queues them).
        struct Running<T: Send + 'static> {
            group: Arc<Coalescer<T>>,
            finished: bool,
        }
        impl<T: Send + 'static> Drop for Running<T> {
            fn drop(&mut self) {
                if self.finished {
                    return;
                }
                let mut s = self.group.state.lock().unwrap_or_else(|p| p.into_inner());
                s.running = false;
                for w in s.waiting.drain(..) {
                    let _ = w.reply.send(Err("the queue's writer stopped".into()));
                }
            }
        }
        let mut guard = Running {
            group: self.clone(),
            finished: false,
        };
        loop {
            let taken: Vec<Waiting<T>> = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if s.waiting.is_empty() {
                    s.running = false;
                    guard.finished = true;
                    return;
                }
                let n = s.waiting.len().min(MAX_PUSH);
                s.waiting.drain(..n).collect()
            };
            let (jobs, replies): (Vec<T>, Vec<_>) =
                taken.into_iter().map(|w| (w.job, w.reply)).unzip();
            let result = (self.write)(jobs).await.map_err(|e| e.to_string());
            for reply in replies {
                let _ = reply.send(result.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_pushes_share_writes_and_each_is_answered_after_its_write() {
        let writes = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(Mutex::new(Vec::new()));
        let (w, out) = (writes.clone(), written.clone());
        let group = Coalescer::new(Arc::new(move |jobs: Vec<u32>| {
            let (w, out) = (w.clone(), out.clone());
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                w.fetch_add(1, Ordering::SeqCst);
                out.lock().unwrap().extend(jobs);
                Ok(())
            }) as BoxFuture<'static, anyhow::Result<()>>
        }));
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let (g, out) = (group.clone(), written.clone());
                tokio::spawn(async move {
                    g.push(i).await.unwrap();
                    assert!(out.lock().unwrap().contains(&i), "answered before written");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let mut all = written.lock().unwrap().clone();
        all.sort_unstable();
        assert_eq!(all, (0..200).collect::<Vec<_>>());
        let n = writes.load(Ordering::SeqCst);
        assert!(n < 50, "200 concurrent pushes took {n} writes");
        // Alone, a push is written at once.
        group.push(7).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_write_fails_its_pushes_and_the_next_write_works() {
        let fail = Arc::new(Mutex::new(true));
        let f = fail.clone();
        let group = Coalescer::new(Arc::new(move |_jobs: Vec<u32>| {
            let f = f.clone();
            Box::pin(async move {
                if std::mem::replace(&mut *f.lock().unwrap(), false) {
                    anyhow::bail!("database is locked")
                }
                Ok(())
            }) as BoxFuture<'static, anyhow::Result<()>>
        }));
        let err = group.push(1).await.unwrap_err();
        assert!(err.to_string().contains("locked"), "{err}");
        group.push(2).await.unwrap();
    }
}
