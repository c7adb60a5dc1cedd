use super::*;

fn env(pairs: &[(&str, &str)]) -> SettingsSources {
    SettingsSources::new().with_env(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn defaults_are_the_embedded_setup() {
    let s = Settings::defaults().unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.data_dir, PathBuf::from("./data"));
    assert_eq!(
        s.database_url.expose(),
        "sqlite://./data/vaultstream.db?mode=rwc"
    );
    assert!(s.is_sqlite() && s.migrate_on_start());
    assert!(s.redis_url.is_none() && s.s3.is_none());
    assert_eq!((s.max_attempts, s.backoff_base_ms), (3, 1000));
    assert!(s.archive_media && !s.allow_private_targets);
    assert!(!s.auth_required(), "loopback + auto needs no key");
    assert!(s.worker_concurrency >= 2);
}

#[test]
fn env_beats_file_and_flag_beats_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vs.toml");
    std::fs::write(
        &file,
        "bind = \"0.0.0.0:9000\"\nmax_attempts = 7\n[s3]\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"b\"\nregion = \"garage\"\naccess_key = \"AK\"\nsecret_key = \"SK\"\n[telegram]\nallowed_users = [1, 2]\n",
    )
    .unwrap();
    let src = SettingsSources::new()
        .with_file(&file)
        .unwrap()
        .with_env([
            ("VAULTSTREAM_MAX_ATTEMPTS", "5"),
            ("VAULTSTREAM_BIND", "127.0.0.1:9001"),
        ])
        .with_flag("bind", "127.0.0.1:9002")
        .unwrap();
    let s = Settings::load(&src).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:9002");
    assert_eq!(s.max_attempts, 5);
    let s3 = s.s3.unwrap();
    assert_eq!(s3.region, "garage");
    assert_eq!(s3.secret_key.expose(), "SK");
    assert_eq!(s.telegram.allowed_users, vec![1, 2]);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("VAULTSTREAM_BIND", "not-an-address"),
        ("VAULTSTREAM_MAX_ATTEMPTS", "zero"),
        ("VAULTSTREAM_MAX_ATTEMPTS", "0"),
        ("VAULTSTREAM_ARCHIVE_MEDIA", "maybe"),
        ("VAULTSTREAM_AUTH", "sometimes"),
        ("VAULTSTREAM_DATABASE_URL", "mysql://x"),
        ("VAULTSTREAM_REDIS_URL", "http://x"),
        ("VAULTSTREAM_UPSTREAM_OVERRIDES", "b23.tv"),
        ("VAULTSTREAM_UPSTREAM_OVERRIDES", "b23.tv=ftp://x"),
        ("VAULTSTREAM_TELEGRAM_OPERATORS", "1,alice"),
        ("VAULTSTREAM_LOG_FORMAT", "xml"),
        ("VAULTSTREAM_S3_ENDPOINT", "not a url"),
        ("VAULTSTREAM_WORKER_CONCURRENCY", "-1"),
    ];
    for (key, value) in cases {
        let err = Settings::load(&env(&[(key, value)])).unwrap_err();
        assert_eq!(err.key, key, "{key}={value} gave {err}");
    }
}

#[test]
fn s3_needs_its_credentials() {
    let err = Settings::load(&env(&[(
        "VAULTSTREAM_S3_ENDPOINT",
        "http://127.0.0.1:3900",
    )]))
    .unwrap_err();
    assert_eq!(err.key, "VAULTSTREAM_S3_ACCESS_KEY");
}

#[test]
fn unknown_keys() {
    let src = env(&[("VAULTSTREAM_BIDN", "x"), ("OTHER", "y")]);
    assert_eq!(src.unknown_env, vec!["VAULTSTREAM_BIDN".to_string()]);
    assert!(SettingsSources::new().with_flag("nope", "1").is_err());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vs.toml");
    std::fs::write(&file, "bnid = \"x\"\n").unwrap();
    let err = SettingsSources::new().with_file(&file).unwrap_err();
    assert_eq!(err.key, "VAULTSTREAM_BNID");
    std::fs::write(&file, "bind = [\n").unwrap();
    assert_eq!(
        SettingsSources::new().with_file(&file).unwrap_err().key,
        "VAULTSTREAM_CONFIG"
    );
}

#[test]
fn secrets_never_print() {
    let src = env(&[
        ("VAULTSTREAM_TELEGRAM_BOT_TOKEN", "123:SECRET-TOKEN"),
        ("VAULTSTREAM_COOKIES_BILIBILI", "SESSDATA=topsecret"),
        (
            "VAULTSTREAM_DATABASE_URL",
            "postgres://app:hunter2@db/vault",
        ),
    ]);
    let s = Settings::load(&src).unwrap();
    let debug = format!("{s:?}");
    for leak in ["SECRET-TOKEN", "topsecret", "hunter2"] {
        assert!(!debug.contains(leak), "{leak} leaked in {debug}");
    }
    let described = format!("{:?}", src.describe());
    for leak in ["SECRET-TOKEN", "topsecret", "hunter2"] {
        assert!(!described.contains(leak), "{leak} leaked in {described}");
    }
    assert!(described.contains("postgres://app:***@db/vault"));
    assert_eq!(
        s.cookies[&Platform::Bilibili].expose(),
        "SESSDATA=topsecret"
    );
    assert!(!s.migrate_on_start(), "Postgres migrates as a deploy step");
}

#[test]
fn overrides_parse() {
    let v = parse_overrides("b23.tv=http://127.0.0.1:9/x, API.Bilibili.com=http://127.0.0.1:9")
        .unwrap();
    assert_eq!(v[0].0, "b23.tv");
    assert_eq!(v[1].0, "api.bilibili.com");
    assert_eq!(v[0].1.as_str(), "http://127.0.0.1:9/x");
}

#[test]
fn auth_auto_depends_on_bind() {
    let s = Settings::load(&env(&[("VAULTSTREAM_BIND", "0.0.0.0:8080")])).unwrap();
    assert!(s.auth_required());
    let s = Settings::load(&env(&[("VAULTSTREAM_BIND", "[::1]:8080")])).unwrap();
    assert!(!s.auth_required());
}

/// Each default is written once, in the key table: the loader reads every
/// key through it, so every table default is parsed by its key's own
/// parser (S3 is switched on so that its keys are read too).
#[test]
fn every_table_default_is_read_and_parses() {
    let src = env(&[
        ("VAULTSTREAM_S3_ENDPOINT", "http://127.0.0.1:3900"),
        ("VAULTSTREAM_S3_ACCESS_KEY", "AK"),
        ("VAULTSTREAM_S3_SECRET_KEY", "SK"),
    ]);
    let reader = Reader::new(&src);
    let loaded = Settings::read(&reader);
    assert!(loaded.is_ok(), "a table default does not parse: {loaded:?}");
    let read = reader.keys_read();
    for k in KEYS {
        assert!(read.contains(k.name), "the loader never reads {}", k.name);
    }
    let s3 = loaded.unwrap().s3.unwrap();
    assert_eq!((s3.bucket.as_str(), s3.presign_secs), ("vaultstream", 3600));
}

/// An empty value means the table default, except for booleans (an empty
/// value is not one) and the keys S3 needs.
#[test]
fn empty_values_fall_back_to_the_table_default() {
    let s = Settings::load(&env(&[
        ("VAULTSTREAM_BIND", ""),
        ("VAULTSTREAM_MAX_ATTEMPTS", " "),
        ("VAULTSTREAM_LOG_LEVEL", ""),
        ("VAULTSTREAM_TELEGRAM_API_URL", ""),
    ]))
    .unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert_eq!((s.max_attempts, s.log_level.as_str()), (3, "info"));
    assert!(s.telegram.api_url.is_none());
    let err = Settings::load(&env(&[("VAULTSTREAM_ARCHIVE_MEDIA", "")])).unwrap_err();
    assert_eq!(err.key, "VAULTSTREAM_ARCHIVE_MEDIA");
    let err = Settings::load(&env(&[
        ("VAULTSTREAM_S3_ENDPOINT", "http://127.0.0.1:3900"),
        ("VAULTSTREAM_S3_BUCKET", ""),
        ("VAULTSTREAM_S3_ACCESS_KEY", "AK"),
        ("VAULTSTREAM_S3_SECRET_KEY", "SK"),
    ]))
    .unwrap_err();
    assert_eq!(err.key, "VAULTSTREAM_S3_BUCKET");
}

/// `.env.example` documents exactly the keys the loader reads, each key
/// that has a default with the table's default.
#[test]
fn env_example_lists_every_key() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example");
    let text = std::fs::read_to_string(path).expect(".env.example at the repo root");
    let documented: std::collections::BTreeSet<String> = text
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| k.starts_with(ENV_PREFIX) && !k.contains(' '))
        .collect();
    let mut expected: std::collections::BTreeSet<String> = KEYS
        .iter()
        .map(|k| format!("{ENV_PREFIX}{}", k.name))
        .collect();
    for p in COOKIE_PLATFORMS {
        expected.insert(format!("{ENV_PREFIX}COOKIES_{p}"));
    }
    expected.insert(format!("{ENV_PREFIX}CONFIG"));
    assert_eq!(documented, expected);
    for k in KEYS {
        let Some(default) = k.default else { continue };
        let line = format!("# {ENV_PREFIX}{}={default}", k.name);
        assert!(
            text.lines().any(|l| l.trim_end() == line),
            ".env.example does not show the default: {line}"
        );
    }
}

/// The deployment files use only settings the program reads.
#[test]
fn deploy_files_use_known_settings() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut seen = 0;
    for file in ["deploy/docker-compose.yml", "Dockerfile"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect(file);
        let mut rest = text.as_str();
        while let Some(i) = rest.find(ENV_PREFIX) {
            let tail = &rest[i + ENV_PREFIX.len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            assert!(
                name.is_empty() || super::keys::is_known(&name),
                "{file} uses {ENV_PREFIX}{name}, which the program does not read"
            );
            seen += 1;
            rest = &tail[name.len()..];
        }
    }
    assert!(seen > 10, "the deploy files were read");
}
