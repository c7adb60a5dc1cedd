//! The one yt-dlp driver: how every run of yt-dlp is started, bounded,
//! read and judged, for the YouTube adapter (`-J`) and the media
//! downloader alike.
//!
//! - `--no-config` always: an operator's `~/.config/yt-dlp` never changes
//!   what we do.
//! - Every connection goes through a fresh [`GuardProxy`] (`--proxy`, and
//!   the `*_proxy` variables for whatever yt-dlp starts), so yt-dlp reaches
//!   only what our own HTTP client may reach; `--downloader native` keeps
//!   HLS/DASH downloads in yt-dlp itself, behind the proxy.
//! - The run is bounded in time; a dropped future kills the process.
//! - stdout goes to the caller's reader; stderr is kept to its last
//!   [`STDERR_TAIL_BYTES`] for the error message.
//! - A failure is reported as the proxy's refusal when it refused a
//!   connection (a permanent `forbidden target`), else classified from
//!   yt-dlp's last `ERROR:` line ([`classify_error`]).

use std::ffi::OsString;
use std::future::Future;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::ChildStdout;
use vaultstream_core::parsed::FetchError;

use crate::http::config::FetchConfig;
use crate::http::proxy::{GuardProxy, ProxyPolicy};

/// How much of yt-dlp's stderr we keep (its end: the `ERROR:` line is last).
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// Proxy variables yt-dlp (Python) and the programs it starts honour.
const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// The yt-dlp program and the rules its connections follow.
#[derive(Clone, Debug)]
pub struct YtDlp {
    program: String,
    policy: ProxyPolicy,
}

/// A run that exited (successfully or not).
pub(crate) struct Finished<T> {
    pub status: ExitStatus,
    /// What the stdout reader returned.
    pub out: T,
    pub stderr: String,
    /// Connections the guard proxy refused (`target: reason`).
    pub refused: Vec<String>,
}

impl YtDlp {
    pub fn new(program: impl Into<String>, policy: ProxyPolicy) -> Self {
        YtDlp {
            program: program.into(),
            policy,
        }
    }

    /// The program, overrides, private-target rule and resolver of `cfg`.
    pub fn from_config(cfg: &FetchConfig) -> Self {
        Self::new(
            cfg.ytdlp.clone(),
            ProxyPolicy {
                overrides: cfg.overrides.clone(),
                allow_private: cfg.allow_private_targets,
                resolver: cfg.resolver.clone(),
            },
        )
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    /// Run `yt-dlp --no-config --proxy … <args>` for at most `limit`.
    /// `read_stdout` consumes stdout and returns its result and whether
    /// the process should be stopped now (e.g. a download passed its size
    /// limit). `what` names the run in the timeout message.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        args: Vec<OsString>,
        limit: Duration,
        what: &str,
        read_stdout: F,
    ) -> Result<Finished<T>, FetchError>
    where
        F: FnOnce(ChildStdout) -> Fut,
        Fut: Future<Output = (T, bool)>,
    {
        let proxy = GuardProxy::start(self.policy.clone()).await.map_err(|e| {
            FetchError::retryable(format!("cannot start the guard proxy: {e}")).with_source(e)
        })?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg("--no-config")
            .args(["--proxy", &proxy.url()])
            .args(["--downloader", "native"])
            .args(&args)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A dropped future (timeout, cancelled job) kills yt-dlp.
            .kill_on_drop(true);
        for var in PROXY_VARS {
            command.env(var, proxy.url());
        }
        let program = &self.program;
        let mut child = command.spawn().map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "is not installed or not at that path".to_owned()
            } else {
                format!("cannot be started ({e})")
            };
            FetchError::permanent(format!("yt-dlp (`{program}`, VAULTSTREAM_YTDLP) {why}"))
                .with_source(e)
        })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(FetchError::retryable("yt-dlp's output pipes are missing"));
        };
        let run = async {
            let read = async {
                let (out, stop) = read_stdout(stdout).await;
                if stop {
                    let _ = child.start_kill();
                }
                out
            };
            let (out, err_tail) = tokio::join!(read, read_tail(stderr, STDERR_TAIL_BYTES));
            let status = child.wait().await.map_err(|e| {
                FetchError::retryable(format!("waiting for yt-dlp failed: {e}")).with_source(e)
            })?;
            Ok::<_, FetchError>((status, out, err_tail))
        };
        let (status, out, err_tail) = match tokio::time::timeout(limit, run).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(FetchError::retryable(format!(
                    "yt-dlp did not finish {what} within {} s",
                    limit.as_secs()
                ))
                .with_detail(proxy.refused().join("\n")));
            }
        };
        Ok(Finished {
            status,
            out,
            stderr: String::from_utf8_lossy(&err_tail).into_owned(),
            refused: proxy.refused(),
        })
    }
}

impl<T> Finished<T> {
    /// Why a run that did not succeed failed.
    pub(crate) fn error(&self) -> FetchError {
        let detail = last_lines(&self.stderr, 5);
        if let Some(first) = self.refused.first() {
            return FetchError::permanent(format!(
                "refused to let yt-dlp connect to {first} (the target guard)"
            ))
            .with_detail(detail);
        }
        if self.status.code().is_none() {
            return FetchError::retryable("yt-dlp was killed by a signal").with_detail(detail);
        }
        classify_error(&self.stderr).with_detail(detail)
    }

    pub(crate) fn detail(&self) -> String {
        last_lines(&self.stderr, 5)
    }
}

/// The last `n` non-empty lines of `s`.
pub(crate) fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Read a stream to its end, keeping only its last `keep` bytes (so a
/// chatty process never blocks on a full pipe, nor fills our memory).
pub(crate) async fn read_tail(mut stream: impl AsyncRead + Unpin, keep: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    tail
}

/// Classify a failed yt-dlp run from its last `ERROR:` line (STACK.md):
/// network trouble and 429/5xx are worth retrying; 4xx, unsupported or bad
/// URLs, private/removed videos are not; sign-in walls need an operator.
pub fn classify_error(stderr: &str) -> FetchError {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("ERROR:"))
        .unwrap_or_else(|| {
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        })
        .trim()
        .to_owned();
    let l = line.to_ascii_lowercase();
    let message = if line.is_empty() {
        "yt-dlp failed without a message".to_owned()
    } else {
        format!("yt-dlp: {line}")
    };
    let has = |needles: &[&str]| needles.iter().any(|n| l.contains(n));
    if has(&["http error 429", "too many requests"]) {
        FetchError::rate_limited(message, None)
    } else if has(&[
        "sign in to confirm",
        "login required",
        "requires authentication",
        "use --cookies",
        "members-only",
        "join this channel",
    ]) {
        FetchError::auth_required(message)
    } else if has(&[
        "http error 5",
        "transporterror",
        "timed out",
        "connection refused",
        "connection reset",
        "name or service not known",
        "temporary failure in name resolution",
        "getaddrinfo",
        "incompleteread",
        "unable to download",
        "did not get any data",
    ]) && !has(&["http error 4"])
    {
        FetchError::retryable(message)
    } else {
        // 400/401/403/404/410, unsupported or invalid URL, private, removed,
        // unavailable: no retry will change the answer.
        FetchError::permanent(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stderr_tail_is_bounded() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let tail = read_tail(&data[..], 1000).await;
        assert_eq!(tail, data[data.len() - 1000..]);
    }
}
