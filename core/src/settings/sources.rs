//! The raw layers of settings (built-in defaults < TOML file < environment
//! < flags), before anything is parsed: [`SettingsSources`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::keys::{self, ENV_PREFIX, KEYS};
use super::{ConfigError, redact_url};

/// Where a raw value came from (for `doctor` and error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Env,
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Default => "default",
            Origin::File => "config file",
            Origin::Env => "environment",
            Origin::Flag => "flag",
        })
    }
}

/// The raw layers, before parsing. Later layers win.
#[derive(Debug, Default, Clone)]
pub struct SettingsSources {
    values: BTreeMap<String, (String, Origin)>,
    /// `VAULTSTREAM_*` variables we do not know: probably typos, reported
    /// as warnings once logging is up.
    pub unknown_env: Vec<String>,
}

impl SettingsSources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a TOML config file. Keys are the setting names in lower case,
    /// top level or in tables (`[s3] endpoint` is `S3_ENDPOINT`). An unknown
    /// key is an error: a typo in a config file must not be silently ignored.
    pub fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("CONFIG", format!("cannot read {}: {e}", path.display()))
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(
                "CONFIG",
                format!("{} is not valid TOML: {e}", path.display()),
            )
        })?;
        let mut flat = Vec::new();
        flatten_toml("", &table, &mut flat)
            .map_err(|(k, m)| ConfigError::new(&k, format!("in {}: {m}", path.display())))?;
        for (name, value) in flat {
            if !keys::is_known(&name) {
                return Err(ConfigError::new(
                    &name,
                    format!(
                        "unknown setting `{}` in {}",
                        name.to_lowercase(),
                        path.display()
                    ),
                ));
            }
            self.values.insert(name, (value, Origin::File));
        }
        Ok(self)
    }

    /// Take `VAULTSTREAM_*` variables from an environment.
    pub fn with_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in vars {
            let Some(name) = k.as_ref().strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // VAULTSTREAM_CONFIG names the file; the CLI reads it itself.
            // VAULTSTREAM_TEST_FAILPOINTS is read by `failpoint`, in tests only.
            if name == "CONFIG" || name == crate::failpoint::ENV_NAME {
                continue;
            }
            if keys::is_known(name) {
                self.values
                    .insert(name.to_owned(), (v.as_ref().to_owned(), Origin::Env));
            } else {
                self.unknown_env.push(k.as_ref().to_owned());
            }
        }
        self
    }

    /// A value from a command-line flag. `name` may be given as `bind`,
    /// `BIND` or `VAULTSTREAM_BIND`.
    pub fn with_flag(mut self, name: &str, value: impl Into<String>) -> Result<Self, ConfigError> {
        let upper = name.trim().to_ascii_uppercase().replace('-', "_");
        let name = upper.strip_prefix(ENV_PREFIX).unwrap_or(&upper).to_owned();
        if !keys::is_known(&name) {
            return Err(ConfigError::new(&name, "unknown setting"));
        }
        self.values.insert(name, (value.into(), Origin::Flag));
        Ok(self)
    }

    /// The value as given (even empty), or the key table's default when no
    /// layer sets it. Typed reading is [`super::parse::Reader`]'s.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|(v, _)| v.as_str())
            .or_else(|| keys::find(name).and_then(|k| k.default))
    }

    /// Where each set value came from, secrets redacted: for `doctor`.
    pub fn describe(&self) -> Vec<(String, String, Origin)> {
        KEYS.iter()
            .map(|k| k.name.to_owned())
            .chain(
                self.values
                    .keys()
                    .filter(|k| keys::find(k).is_none())
                    .cloned(),
            )
            .map(|name| {
                let (value, origin) = match self.values.get(&name) {
                    Some((v, o)) => (v.clone(), *o),
                    None => (
                        keys::find(&name)
                            .and_then(|k| k.default)
                            .unwrap_or("")
                            .to_owned(),
                        Origin::Default,
                    ),
                };
                let shown = if keys::is_secret(&name) && !value.is_empty() {
                    if name.ends_with("_URL") {
                        redact_url(&value)
                    } else {
                        "[redacted]".to_owned()
                    }
                } else {
                    value
                };
                (format!("{ENV_PREFIX}{name}"), shown, origin)
            })
            .collect()
    }
}

fn flatten_toml(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), (String, String)> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.to_ascii_uppercase()
        } else {
            format!("{prefix}_{}", k.to_ascii_uppercase())
        };
        let value = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        toml::Value::Integer(i) => parts.push(i.to_string()),
                        _ => {
                            return Err((name, "lists may hold only strings and integers".into()));
                        }
                    }
                }
                parts.join(",")
            }
            toml::Value::Table(t) => {
                flatten_toml(&name, t, out)?;
                continue;
            }
            toml::Value::Datetime(_) => return Err((name, "dates are not a valid setting".into())),
        };
        out.push((name, value));
    }
    Ok(())
}
