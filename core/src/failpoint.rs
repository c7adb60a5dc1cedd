//! Failpoints: named places where a test can make the process die at once,
//! to prove that what was committed before the point is recovered after a
//! crash. Only tests switch them on, with
//! `VAULTSTREAM_TEST_FAILPOINTS=name[,name...]` in the environment of a
//! process they spawn; it is read once. An unset variable costs one
//! `OnceLock` read per point.

use std::sync::OnceLock;

/// The environment variable (without the `VAULTSTREAM_` prefix).
pub const ENV_NAME: &str = "TEST_FAILPOINTS";

/// Right after an item's last media file settled (or it was pulled with
/// none), before its pushed records exist.
pub const BEFORE_PUSH_SCHEDULE: &str = "before_push_schedule";

/// In the middle of a batch of submissions: some rows written, the
/// transaction not committed (`db::batch`).
pub const MID_BATCH_SUBMIT: &str = "mid_batch_submit";

fn armed() -> &'static [String] {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var(format!("VAULTSTREAM_{ENV_NAME}"))
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Abort the process (no unwinding, no destructors, like `kill -9`) when
/// `name` is armed.
pub fn hit(name: &str) {
    if armed().iter().any(|a| a == name) {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort();
    }
}
