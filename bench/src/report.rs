//! Result rows and the machine they were measured on.

use serde::Serialize;
use serde_json::{Map, Value};

/// The Markdown table's head (rows follow from [`Row::table_row`]).
pub const TABLE_HEAD: &str = "| scenario | variant | result | limit / baseline (same run) | ratio | target | met |\n|---|---|---|---|---|---|---|";

/// One measured variant of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub variant: String,
    /// Every number measured, by name (units in the name: `_per_s`, `_ms`, `_mb`).
    pub metrics: Map<String, Value>,
    /// The headline, human-readable.
    pub result: String,
    /// The machine's limit or the baseline this is compared to, if any.
    pub baseline: String,
    /// Our headline number over the baseline's, when there is one.
    pub ratio: Option<f64>,
    /// The target for this row, in words.
    pub target: String,
    /// Whether the target was met (`None`: no target for this row).
    pub met: Option<bool>,
}

impl Row {
    pub fn new(scenario: &str, variant: impl Into<String>) -> Self {
        Row {
            scenario: scenario.to_owned(),
            variant: variant.into(),
            metrics: Map::new(),
            result: String::new(),
            baseline: String::new(),
            ratio: None,
            target: String::new(),
            met: None,
        }
    }

    pub fn metric(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.metrics.insert(name.to_owned(), v.into());
        self
    }

    /// A float metric rounded to 3 significant decimals for reading.
    pub fn num(self, name: &str, v: f64) -> Self {
        let rounded = if v.abs() >= 100.0 {
            v.round()
        } else {
            (v * 1000.0).round() / 1000.0
        };
        self.metric(name, rounded)
    }

    pub fn result(mut self, s: impl Into<String>) -> Self {
        self.result = s.into();
        self
    }

    pub fn baseline(mut self, s: impl Into<String>, ratio: Option<f64>) -> Self {
        self.baseline = s.into();
        self.ratio = ratio.filter(|r| r.is_finite());
        self
    }

    pub fn target(mut self, s: impl Into<String>, met: bool) -> Self {
        self.target = s.into();
        self.met = Some(met);
        self
    }

    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn table_row(&self) -> String {
        let ratio = self.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default();
        let met = match self.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            self.scenario, self.variant, self.result, self.baseline, ratio, self.target, met
        )
    }

    /// JSON line on stdout, table row on stderr.
    pub fn print(&self) {
        println!("{}", self.json_line());
        eprintln!("{}", self.table_row());
    }
}

/// What the numbers were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub postgres: String,
    pub redis: String,
}

impl Machine {
    pub async fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_gib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kb| (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0)
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            kernel,
            postgres: postgres_version()
                .await
                .unwrap_or_else(|e| format!("unavailable: {e}")),
            redis: redis_version()
                .await
                .unwrap_or_else(|e| format!("unavailable: {e}")),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "machine: {} × {} cores, {} GiB RAM, Linux {}; {}; Redis {}",
            self.cores, self.cpu, self.memory_gib, self.kernel, self.postgres, self.redis
        )
    }
}

async fn postgres_version() -> anyhow::Result<String> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(vaultstream_testkit::pg::admin_url()).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SHOW server_version",
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no version row"))?;
    let v: String = row.try_get_by_index(0)?;
    db.close().await.ok();
    Ok(format!("PostgreSQL {v}"))
}

async fn redis_version() -> anyhow::Result<String> {
    let client = redis::Client::open(vaultstream_testkit::env::redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_owned())
}
