//! [`SharedBuckets`]: rate-limit buckets in Redis, one atomic GCRA script
//! per check, shared by every API process of a deployment.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::key::BucketKey;

/// GCRA in one atomic script, on Redis's clock (so API processes with
/// skewed clocks agree). The bucket's state is its theoretical arrival time
/// (TAT, microseconds); a request is allowed when the TAT it would leave is
/// at most `burst` intervals ahead of now. Answers 0 (allowed) or the wait
/// in microseconds.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return math.ceil(allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// How long one Redis check may take before the local bucket decides.
const SHARED_TIMEOUT: Duration = Duration::from_millis(250);
/// After Redis failed, how long the local buckets decide before Redis is
/// asked again (so an outage costs one timeout per cool-down, not one per
/// request).
const SHARED_COOLDOWN: Duration = Duration::from_secs(5);

/// Token buckets kept in Redis, shared by every API process of a
/// deployment (keys `<namespace>:ratelimit:key:<id>` / `…:ip:<addr>`).
pub struct SharedBuckets {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
    /// Microseconds per token.
    interval_us: u64,
    burst: u32,
    script: redis::Script,
    /// While set and in the future, Redis is not asked.
    down_until: Mutex<Option<Instant>>,
}

impl SharedBuckets {
    pub fn new(url: &str, namespace: &str, burst: u32, per_sec: u32) -> redis::RedisResult<Self> {
        Ok(SharedBuckets {
            client: redis::Client::open(url)?,
            conn: tokio::sync::OnceCell::new(),
            prefix: format!("{namespace}:ratelimit:"),
            interval_us: 1_000_000 / u64::from(per_sec.max(1)),
            burst: burst.max(1),
            script: redis::Script::new(GCRA),
            down_until: Mutex::new(None),
        })
    }

    /// The verdict, or `None` when Redis did not answer in time (the
    /// caller's local bucket decides).
    pub async fn check(&self, key: BucketKey) -> Option<Result<(), Duration>> {
        let now = Instant::now();
        {
            let down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
            if down.is_some_and(|until| now < until) {
                return None;
            }
        }
        let asked = tokio::time::timeout(SHARED_TIMEOUT, self.ask(key)).await;
        let answer = match asked {
            Ok(Ok(wait_us)) => Some(wait_us),
            Ok(Err(e)) => {
                self.went_down(&e.to_string());
                None
            }
            Err(_) => {
                self.went_down("no answer within 250 ms");
                None
            }
        }?;
        self.came_up();
        Some(if answer == 0 {
            Ok(())
        } else {
            Err(Duration::from_micros(answer))
        })
    }

    async fn ask(&self, key: BucketKey) -> redis::RedisResult<u64> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(SHARED_TIMEOUT))
                    .set_response_timeout(Some(SHARED_TIMEOUT))
                    .set_number_of_retries(1);
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        let mut conn = conn.clone();
        self.script
            .key(format!("{}{}", self.prefix, key.redis_suffix()))
            .arg(self.interval_us)
            .arg(self.burst)
            .invoke_async(&mut conn)
            .await
    }

    fn went_down(&self, why: &str) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down.is_none() {
            tracing::warn!(error = %why, "rate limits: Redis does not answer; each API process counts on its own until it does");
        }
        *down = Some(Instant::now() + SHARED_COOLDOWN);
        vaultstream_core::metrics::rate_limit_shared(false);
    }

    fn came_up(&self) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down.take().is_some() {
            tracing::info!(
                "rate limits: Redis answers again; limits are shared across API processes"
            );
        }
        vaultstream_core::metrics::rate_limit_shared(true);
    }
}
