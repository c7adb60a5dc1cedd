//! Group commit: single submissions arriving together share one
//! transaction.
//!
//! Each submission joins its database's group (one per SQLite file or
//! PostgreSQL database, per process) and waits for its answer. When the
//! group has fewer committers running than its limit, the submission
//! starts one: a task that takes everything waiting (at most
//! [`MAX_GROUP`]), commits it as one batch ([`super::batch`]), answers each
//! submitter, and goes on until nothing waits. So a share arriving while a
//! commit is under way rides the next one: under load a transaction carries
//! many shares; alone, a share is committed at once (no timer, no added
//! wait).
//!
//! - No share is answered before the transaction holding it committed.
//! - Errors stay per share: when a group's transaction fails, each of its
//!   shares is retried alone and gets its own answer.
//! - SQLite (one writer) runs one committer per file; PostgreSQL runs
//!   [`PG_COMMITTERS`] at once (each batch locks its items in key order, so
//!   they never deadlock).
//! - The committer is a spawned task: a submitter that goes away (a client
//!   that hung up) does not abort a commit other submitters wait on.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::oneshot;

use super::batch::{self, Submission, Submitted};

/// The most shares one group transaction carries.
pub const MAX_GROUP: usize = 256;
/// Committers running at once per PostgreSQL database.
pub const PG_COMMITTERS: usize = 4;

struct Pending {
    sub: Submission,
    reply: oneshot::Sender<Result<Submitted, DbErr>>,
}

#[derive(Default)]
struct Group {
    pending: Vec<Pending>,
    running: usize,
}

type Shared = Arc<Mutex<Group>>;

static GROUPS: LazyLock<Mutex<HashMap<String, Shared>>> = LazyLock::new(Default::default);

/// The group this pool belongs to and how many committers it runs; `None`
/// for a database no other pool can share (in-memory SQLite): its
/// submissions commit alone.
fn group_of(db: &DatabaseConnection) -> Option<(Shared, usize)> {
    let (key, limit) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let opts = db.get_sqlite_connection_pool().connect_options();
            let file = opts.get_filename();
            let name = file.to_string_lossy();
            if name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory") {
                return None;
            }
            (format!("sqlite:{name}"), 1)
        }
        DbBackend::Postgres => {
            let o = db.get_postgres_connection_pool().connect_options();
            (
                format!(
                    "postgres:{}:{}/{}",
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or_default()
                ),
                PG_COMMITTERS,
            )
        }
        _ => return None,
    };
    let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    Some((groups.entry(key).or_default().clone(), limit))
}

/// Record one submission, committed together with whatever other
/// submissions to the same database are waiting.
pub async fn submit(db: &DatabaseConnection, sub: Submission) -> Result<Submitted, DbErr> {
    let Some((group, limit)) = group_of(db) else {
        return one(db, sub).await;
    };
    let (reply, answer) = oneshot::channel();
    let start = {
        let mut g = group.lock().unwrap_or_else(|p| p.into_inner());
        g.pending.push(Pending { sub, reply });
        let start = g.running < limit;
        if start {
            g.running += 1;
        }
        start
    };
    if start {
        tokio::spawn(commit_loop(db.clone(), group));
    }
    answer
        .await
        .unwrap_or_else(|_| Err(DbErr::Custom("the group commit task stopped".into())))
}

async fn one(db: &DatabaseConnection, sub: Submission) -> Result<Submitted, DbErr> {
    batch::submit_batch(db, std::slice::from_ref(&sub))
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("a submission returned nothing".into()))
}

/// Counts a committer out of its group however it ends (also on a panic or
/// when the runtime shuts down): the next submission starts another.
struct Running(Shared);

impl Drop for Running {
    fn drop(&mut self) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.running = g.running.saturating_sub(1);
    }
}

async fn commit_loop(db: DatabaseConnection, group: Shared) {
    let _running = Running(group.clone());
    loop {
        let taken: Vec<Pending> = {
            let mut g = group.lock().unwrap_or_else(|p| p.into_inner());
            if g.pending.is_empty() {
                return;
            }
            let n = g.pending.len().min(MAX_GROUP);
            g.pending.drain(..n).collect()
        };
        commit(&db, taken).await;
    }
}

async fn commit(db: &DatabaseConnection, taken: Vec<Pending>) {
    let (subs, replies): (Vec<Submission>, Vec<_>) =
        taken.into_iter().map(|p| (p.sub, p.reply)).unzip();
    match batch::submit_batch(db, &subs).await {
        Ok(done) => {
            for (reply, d) in replies.into_iter().zip(done) {
                let _ = reply.send(Ok(d));
            }
        }
        Err(e) if subs.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(shares = subs.len(), error = %e, "a group commit failed; committing its shares one by one");
            for (sub, reply) in subs.into_iter().zip(replies) {
                let _ = reply.send(one(db, sub).await);
            }
        }
    }
}
