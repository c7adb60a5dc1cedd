//! Reading typed values out of [`SettingsSources`].
//!
//! Every default is written once, in the key table (`keys.rs`): a [`Reader`]
//! takes a key's name and falls back to the table's default, so the loader
//! never spells a default again. The value parsers below check one value
//! each and say what is wrong with it; the caller's key goes into the
//! [`ConfigError`].

use std::net::SocketAddr;

use url::Url;

use super::keys;
use super::{ConfigError, SettingsSources, redact_url};

/// Typed access to the layers, one key at a time. In tests it remembers
/// which keys it was asked for, so a test can check that the loader reads
/// every key of the table (and so parses every table default).
pub(super) struct Reader<'a> {
    src: &'a SettingsSources,
    #[cfg(test)]
    read: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(src: &'a SettingsSources) -> Self {
        Self {
            src,
            #[cfg(test)]
            read: Default::default(),
        }
    }

    /// The keys read so far.
    #[cfg(test)]
    pub(super) fn keys_read(&self) -> std::collections::BTreeSet<String> {
        self.read.borrow().clone()
    }

    /// The value as given, even empty; the table default when unset.
    pub(super) fn raw(&self, name: &str) -> Option<&'a str> {
        #[cfg(test)]
        self.read.borrow_mut().insert(name.to_owned());
        self.src.get(name)
    }

    /// The value trimmed; the table default when unset; `None` when set to
    /// an empty string (`FOO=` in an env file) or unset without a default.
    pub(super) fn optional(&self, name: &str) -> Option<&'a str> {
        self.raw(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The value in force: as [`Reader::optional`], but an empty value
    /// counts as unset, so the table default applies.
    pub(super) fn value(&self, name: &str) -> Result<&'a str, ConfigError> {
        self.optional(name)
            .or_else(|| keys::find(name).and_then(|k| k.default))
            .ok_or_else(|| ConfigError::new(name, "must be set (it has no default)"))
    }

    /// [`Reader::optional`] parsed by `f`; its message names the key.
    pub(super) fn optional_with<T>(
        &self,
        name: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(f)
            .transpose()
            .map_err(|m| ConfigError::new(name, m))
    }

    /// A whole number within `min..=max`.
    pub(super) fn number(&self, name: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        in_range(self.value(name)?, min, max).map_err(|m| ConfigError::new(name, m))
    }

    /// A whole number within `min..=max`, or `None` when unset (keys whose
    /// default is computed, e.g. from the number of cores).
    pub(super) fn optional_number(
        &self,
        name: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        self.optional_with(name, |v| in_range(v, min, max))
    }

    /// A boolean. An empty value is not one (unlike other keys, where it
    /// means "the default").
    pub(super) fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
        let v = self
            .raw(name)
            .ok_or_else(|| ConfigError::new(name, "must be set (it has no default)"))?;
        parse_bool(name, v)
    }

    /// A `host:port`.
    pub(super) fn addr(&self, name: &str) -> Result<SocketAddr, ConfigError> {
        parse_addr(self.value(name)?).map_err(|m| ConfigError::new(name, m))
    }

    /// A `host:port`, or `None` when unset.
    pub(super) fn optional_addr(&self, name: &str) -> Result<Option<SocketAddr>, ConfigError> {
        self.optional_with(name, parse_addr)
    }

    /// Comma-separated Telegram user ids; empty is none.
    pub(super) fn ids(&self, name: &str) -> Result<Vec<i64>, ConfigError> {
        parse_id_list(name, self.raw(name).unwrap_or(""))
    }

    /// An http(s) URL with a host, or `None` when unset.
    pub(super) fn optional_http_url(&self, name: &str) -> Result<Option<Url>, ConfigError> {
        self.optional(name)
            .map(|v| parse_http_url(name, v))
            .transpose()
    }
}

fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    v.parse::<SocketAddr>()
        .map_err(|e| format!("`{v}` is not host:port ({e})"))
}

fn in_range(v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {min}..={max}")),
        Err(_) => Err(format!("`{v}` is not a whole number")),
    }
}

pub(super) fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            name,
            format!("`{other}` is not a boolean (true/false)"),
        )),
    }
}

fn parse_id_list(name: &str, v: &str) -> Result<Vec<i64>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ConfigError::new(name, format!("`{s}` is not a Telegram user id")))
        })
        .collect()
}

pub(super) fn parse_http_url(name: &str, v: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(v).map_err(|e| ConfigError::new(name, format!("`{v}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            name,
            format!("`{v}` is not an http(s) URL"),
        ));
    }
    Ok(url)
}

pub(super) fn check_database_url(v: &str) -> Result<(), ConfigError> {
    let ok =
        v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://");
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "`{}` is neither sqlite://PATH nor postgres://…",
                redact_url(v)
            ),
        ))
    }
}

/// `host=base-url` pairs, comma separated, as in
/// `VAULTSTREAM_UPSTREAM_OVERRIDES`. Hosts are compared in lower case without
/// a trailing dot. Errors name the offending entry.
pub fn parse_overrides(v: &str) -> Result<Vec<(String, Url)>, String> {
    let mut out: Vec<(String, Url)> = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, base) = entry
            .split_once('=')
            .ok_or_else(|| format!("override `{entry}` is not of the form host=base-url"))?;
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!("override `{entry}`: `{host}` is not a host name"));
        }
        let base = Url::parse(base.trim())
            .map_err(|e| format!("override `{entry}`: bad base URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(format!(
                "override `{entry}`: base URL must be http(s) with a host"
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            // The original query is kept on rewrite; a base query would have
            // to be merged, which nobody needs.
            return Err(format!(
                "override `{entry}`: base URL must not have a query or fragment"
            ));
        }
        if out.iter().any(|(h, _)| *h == host) {
            return Err(format!("override for `{host}` given twice"));
        }
        out.push((host, base));
    }
    Ok(out)
}
