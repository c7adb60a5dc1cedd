//! The blob stores, local disk and S3 (a real Garage server on loopback),
//! through one shared suite, plus what only one of them does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vaultstream_core::blob::local::LocalStore;
use vaultstream_core::blob::s3::{CACHE_CONTROL, S3Store};
use vaultstream_core::blob::{BlobError, BlobInfo, BlobKey, BlobStore, Stored};
use vaultstream_testkit::s3::{TestBucket, server};

/// A store under test and what must live as long as it.
struct Fixture {
    store: Arc<dyn BlobStore>,
    /// Where tests write their source files.
    scratch: tempfile::TempDir,
    _data: Option<tempfile::TempDir>,
    _bucket: Option<TestBucket>,
}

async fn local() -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let store = LocalStore::new(&data.path().join("data")).unwrap();
    Fixture {
        store: Arc::new(store),
        // Same filesystem as the data dir: put_file renames.
        scratch: tempfile::tempdir_in(data.path()).unwrap(),
        _data: Some(data),
        _bucket: None,
    }
}

async fn s3() -> Fixture {
    let bucket = server().bucket();
    let store = S3Store::open(&bucket.settings()).await.unwrap();
    Fixture {
        store: Arc::new(store),
        scratch: tempfile::tempdir().unwrap(),
        _data: None,
        _bucket: Some(bucket),
    }
}

fn random_key(ext: &str) -> BlobKey {
    let hex = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    BlobKey::new(&hex, ext).unwrap()
}

/// Deterministic, incompressible-looking bytes.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The blob's bytes as a client gets them: the file on disk, or a GET of
/// the redirect URL (presigned on S3).
async fn read_back(store: &dyn BlobStore, key: &BlobKey) -> Vec<u8> {
    if let Some(path) = store.local_path(key) {
        return tokio::fs::read(&path).await.unwrap();
    }
    let url = store
        .redirect_url(key)
        .await
        .unwrap()
        .expect("a redirect URL");
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.bytes().await.unwrap().to_vec()
}

// ---- the shared suite -------------------------------------------------

async fn put_bytes_then_head_then_dedup(f: Fixture) {
    let store = &*f.store;
    let key = random_key("webp");
    assert_eq!(store.head(&key).await.unwrap(), None);
    let body = pseudo_random(1000, 1);
    let stored = store
        .put_bytes(&key, body.clone().into(), key.content_type())
        .await
        .unwrap();
    assert_eq!(stored, Stored::Uploaded);
    assert_eq!(
        store.head(&key).await.unwrap(),
        Some(BlobInfo { size: 1000 })
    );
    assert_eq!(read_back(store, &key).await, body);
    assert_eq!(
        store.get(&key).await.unwrap().map(|b| b.to_vec()),
        Some(body.clone())
    );
    assert_eq!(store.get(&random_key("webp")).await.unwrap(), None);
    let again = store
        .put_bytes(&key, body.into(), key.content_type())
        .await
        .unwrap();
    assert_eq!(again, Stored::AlreadyThere);
    // A different key is not confused with it.
    assert_eq!(store.head(&random_key("webp")).await.unwrap(), None);
}

async fn put_file_big_reads_back_identical(f: Fixture) {
    let store = &*f.store;
    let key = random_key("mp4");
    // 20 MiB: three 8 MiB multipart parts on S3, the last one short.
    let body = pseudo_random(20 << 20, 2);
    let path = write_file(f.scratch.path(), "big.mp4", &body);
    let stored = store
        .put_file(&key, &path, key.content_type())
        .await
        .unwrap();
    assert_eq!(stored, Stored::Uploaded);
    assert_eq!(
        store.head(&key).await.unwrap(),
        Some(BlobInfo {
            size: body.len() as u64
        })
    );
    assert!(read_back(store, &key).await == body, "content differs");

    // Present already: nothing is read or sent. A path that does not exist
    // proves the file is not even opened.
    let missing = f.scratch.path().join("does-not-exist");
    let again = store
        .put_file(&key, &missing, key.content_type())
        .await
        .unwrap();
    assert_eq!(again, Stored::AlreadyThere);
    // And a real file is left alone.
    let copy = write_file(f.scratch.path(), "copy.mp4", b"not even the same bytes");
    let again = store
        .put_file(&key, &copy, key.content_type())
        .await
        .unwrap();
    assert_eq!(again, Stored::AlreadyThere);
    assert_eq!(std::fs::read(&copy).unwrap(), b"not even the same bytes");
    assert!(read_back(store, &key).await == body, "content changed");
}

async fn put_file_small(f: Fixture) {
    let store = &*f.store;
    let key = random_key("gif");
    let body = pseudo_random(4321, 3);
    let path = write_file(f.scratch.path(), "small.gif", &body);
    let stored = store
        .put_file(&key, &path, key.content_type())
        .await
        .unwrap();
    assert_eq!(stored, Stored::Uploaded);
    assert_eq!(read_back(store, &key).await, body);
}

async fn delete_then_head_is_none(f: Fixture) {
    let store = &*f.store;
    let key = random_key("png");
    store
        .put_bytes(&key, b"x".as_slice().into(), "image/png")
        .await
        .unwrap();
    assert!(store.head(&key).await.unwrap().is_some());
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    // Deleting what is not there is fine.
    store.delete(&key).await.unwrap();
    store.delete(&random_key("png")).await.unwrap();
    // And it can be stored again.
    let stored = store
        .put_bytes(&key, b"y".as_slice().into(), "image/png")
        .await
        .unwrap();
    assert_eq!(stored, Stored::Uploaded);
}

async fn concurrent_puts_of_one_key(f: Fixture) {
    concurrent_puts_of_one_key_with(&f, 8).await;
}

async fn check_is_ok(f: Fixture) {
    f.store.check().await.unwrap();
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod local_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::local().await).await
                }
            )*
        }
        mod s3_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::s3().await).await
                }
            )*
        }
    };
}

suite!(
    put_bytes_then_head_then_dedup,
    put_file_big_reads_back_identical,
    put_file_small,
    delete_then_head_is_none,
    concurrent_puts_of_one_key,
    check_is_ok,
);

// ---- local disk only --------------------------------------------------

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn local_layout_and_no_temp_files_left() {
    let data = tempfile::tempdir().unwrap();
    let store = LocalStore::new(data.path()).unwrap();
    let (a, b) = (random_key("webp"), random_key("mp4"));
    store
        .put_bytes(&a, b"aaa".as_slice().into(), "image/webp")
        .await
        .unwrap();
    let src = write_file(data.path(), "b.src", b"bbbb");
    store.put_file(&b, &src, "video/mp4").await.unwrap();
    store.check().await.unwrap();

    let path_a = data.path().join(a.as_str());
    assert_eq!(store.local_path(&a), Some(path_a.clone()));
    assert!(
        path_a.ends_with(format!(
            "blobs/sha256/{}/{}/{}.webp",
            &a.sha256()[..2],
            &a.sha256()[2..4],
            a.sha256()
        )),
        "{}",
        path_a.display()
    );
    assert_eq!(std::fs::read(&path_a).unwrap(), b"aaa");
    // Same filesystem: the source was moved, not copied.
    assert!(!src.exists());
    let mut expected = vec![data.path().join(a.as_str()), data.path().join(b.as_str())];
    expected.sort();
    assert_eq!(files_under(data.path()), expected);
    assert_eq!(store.staging_dir(), data.path().join("blobs/.tmp"));
    assert!(store.staging_dir().is_dir());
    assert_eq!(store.redirect_url(&a).await.unwrap(), None);
    assert_eq!(store.backend(), "local");
}

#[tokio::test]
async fn local_new_creates_the_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("a/b/c");
    let store = LocalStore::new(&dir).unwrap();
    assert!(dir.is_dir());
    store.check().await.unwrap();
}

#[tokio::test]
async fn local_check_fails_when_the_data_dir_is_gone() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let store = LocalStore::new(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, BlobError::Io(_)), "{err:?}");
    // A put does not quietly recreate it either (a vanished mount must show).
    let put = store
        .put_bytes(&random_key("webp"), b"x".as_slice().into(), "image/webp")
        .await;
    assert!(put.is_err(), "{put:?}");
    assert!(!dir.exists());
}

/// `/dev/shm` is usually another filesystem: rename fails with EXDEV and
/// the store copies through its staging dir instead.
#[tokio::test]
async fn local_put_file_across_filesystems() {
    use std::os::unix::fs::MetadataExt;
    let data = tempfile::tempdir().unwrap();
    let store = LocalStore::new(data.path()).unwrap();
    let shm = Path::new("/dev/shm");
    let other_fs = shm.is_dir()
        && std::fs::metadata(shm).unwrap().dev() != std::fs::metadata(data.path()).unwrap().dev();
    let scratch = if other_fs {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        eprintln!("/dev/shm is not another filesystem here: testing a same-filesystem put");
        tempfile::tempdir().unwrap()
    };
    let body = pseudo_random(3 << 20, 5);
    let src = write_file(scratch.path(), "x.mp4", &body);
    let key = random_key("mp4");
    assert_eq!(
        store.put_file(&key, &src, "video/mp4").await.unwrap(),
        Stored::Uploaded
    );
    assert!(std::fs::read(store.local_path(&key).unwrap()).unwrap() == body);
    assert_eq!(std::fs::read_dir(store.staging_dir()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_concurrent_puts_leave_no_temp_files() {
    let f = local().await;
    concurrent_puts_of_one_key_with(&f, 16).await;
    let data = f._data.as_ref().unwrap().path().join("data");
    let temps = std::fs::read_dir(data.join("blobs/.tmp")).unwrap().count();
    assert_eq!(temps, 0);
}

async fn concurrent_puts_of_one_key_with(f: &Fixture, n: usize) {
    let key = random_key("webp");
    let body = pseudo_random(1 << 20, 6);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (store, key, body) = (f.store.clone(), key.clone(), body.clone());
        let path = write_file(f.scratch.path(), &format!("n{i}.webp"), &body);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store.put_bytes(&key, body.into(), "image/webp").await
            } else {
                store.put_file(&key, &path, "image/webp").await
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(read_back(&*f.store, &key).await == body);
}

// ---- S3 only ----------------------------------------------------------

fn s3_settings(b: &TestBucket) -> vaultstream_core::settings::S3Settings {
    b.settings()
}

#[tokio::test]
async fn s3_presigned_urls_serve_ranges_and_headers() {
    let f = s3().await;
    let key = random_key("webp");
    let body = pseudo_random(5000, 7);
    f.store
        .put_bytes(&key, body.clone().into(), "image/webp")
        .await
        .unwrap();
    let url = f.store.redirect_url(&key).await.unwrap().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let client = reqwest::Client::new();
    let resp = client
        .get(&url)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        "bytes 0-99/5000"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &body[..100]);

    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/webp");
    assert_eq!(resp.headers()["cache-control"], CACHE_CONTROL);

    // A tampered signature is refused: the URL really is signed.
    let bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_eq!(client.get(&bad).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn s3_multipart_upload_keeps_content_type_and_cache_control() {
    let f = s3().await;
    let key = random_key("mp4");
    let body = pseudo_random(9 << 20, 8);
    let path = write_file(f.scratch.path(), "mp.mp4", &body);
    f.store.put_file(&key, &path, "video/mp4").await.unwrap();
    let url = f.store.redirect_url(&key).await.unwrap().unwrap();
    let resp = reqwest::Client::new()
        .get(&url)
        .header("Range", "bytes=8388600-8388615")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.headers()["cache-control"], CACHE_CONTROL);
    // A multipart ETag ends in the number of parts: 9 MiB is two 8 MiB parts.
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.trim_matches('"').ends_with("-2"), "ETag {etag}");
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &body[8_388_600..=8_388_615]
    );
    // The only object is the blob: no stray keys.
    let bucket = f._bucket.as_ref().unwrap();
    assert_eq!(bucket.keys(), vec![key.as_str().to_owned()]);
}

#[tokio::test]
async fn s3_open_creates_a_missing_bucket_when_allowed() {
    let mut bucket = server().unborn_bucket();
    bucket.set("S3_CREATE_BUCKET", "true");
    let store = S3Store::open(&s3_settings(&bucket)).await.unwrap();
    store.check().await.unwrap();
    let key = random_key("webp");
    assert_eq!(
        store
            .put_bytes(&key, b"hi".as_slice().into(), "image/webp")
            .await
            .unwrap(),
        Stored::Uploaded
    );
    // Opening again finds it.
    S3Store::open(&s3_settings(&bucket)).await.unwrap();
    assert_eq!(bucket.keys(), vec![key.as_str().to_owned()]);
}

#[tokio::test]
async fn s3_open_refuses_a_missing_bucket_when_not_allowed() {
    let bucket = server().unborn_bucket();
    let err = S3Store::open(&s3_settings(&bucket)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BlobError::Config(_)), "{err:?}");
    assert!(msg.contains("VAULTSTREAM_S3_BUCKET"), "{msg}");
    assert!(msg.contains(&bucket.name), "{msg}");
    // Nothing was created.
    let mut allowed = server().unborn_bucket();
    allowed.set("S3_BUCKET", bucket.name.clone());
    let err = S3Store::open(&s3_settings(&allowed)).await.unwrap_err();
    assert!(matches!(err, BlobError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn s3_wrong_secret_is_a_config_error() {
    let mut bucket = server().bucket();
    let wrong = "0".repeat(64);
    bucket.set("S3_SECRET_KEY", wrong.clone());
    let err = S3Store::open(&s3_settings(&bucket)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BlobError::Config(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert!(msg.contains("VAULTSTREAM_S3_SECRET_KEY"), "{msg}");
    assert!(!msg.contains(&wrong), "secret in message: {msg}");
    assert!(
        !msg.contains(&server().secret_key),
        "secret in message: {msg}"
    );
}

#[tokio::test]
async fn s3_wrong_access_key_is_a_config_error() {
    let mut bucket = server().bucket();
    let wrong = "GK0123456789abcdef01234567";
    bucket.set("S3_ACCESS_KEY", wrong);
    let err = S3Store::open(&s3_settings(&bucket)).await.unwrap_err();
    assert!(matches!(err, BlobError::Config(_)), "{err:?}");
    // Garage names the key in its answer; we do not repeat it.
    assert!(!err.to_string().contains(wrong), "{err}");
}

#[tokio::test]
async fn s3_unreachable_endpoint_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut bucket = server().unborn_bucket();
    bucket.set("S3_ENDPOINT", format!("http://127.0.0.1:{port}"));
    let err = S3Store::open(&s3_settings(&bucket)).await.unwrap_err();
    assert!(matches!(err, BlobError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn s3_public_base_url_makes_plain_urls() {
    let mut bucket = server().bucket();
    for base in ["https://media.example/", "https://media.example"] {
        bucket.set("S3_PUBLIC_BASE_URL", base);
        let store = S3Store::open(&s3_settings(&bucket)).await.unwrap();
        let key = random_key("webp");
        assert_eq!(
            store.redirect_url(&key).await.unwrap(),
            Some(format!("https://media.example/{key}"))
        );
        assert_eq!(store.local_path(&key), None);
        assert_eq!(store.backend(), "s3");
    }
    bucket.set("S3_PUBLIC_BASE_URL", "https://cdn.example/vault/");
    let store = S3Store::open(&s3_settings(&bucket)).await.unwrap();
    let key = random_key("webp");
    assert_eq!(
        store.redirect_url(&key).await.unwrap(),
        Some(format!("https://cdn.example/vault/{key}"))
    );
}

#[tokio::test]
async fn s3_blob_open_picks_s3_from_settings() {
    let bucket = server().bucket();
    let data = tempfile::tempdir().unwrap();
    let mut vars = bucket.env_vars();
    vars.push((
        "VAULTSTREAM_DATA_DIR".to_owned(),
        data.path().display().to_string(),
    ));
    let settings = vaultstream_core::Settings::load(
        &vaultstream_core::settings::SettingsSources::new().with_env(vars),
    )
    .unwrap();
    let store = vaultstream_core::blob::open(&settings).await.unwrap();
    assert_eq!(store.backend(), "s3");
    store.check().await.unwrap();
}

#[tokio::test]
async fn test_buckets_are_removed_on_drop() {
    let bucket = server().bucket();
    let name = bucket.name.clone();
    let store = S3Store::open(&bucket.settings()).await.unwrap();
    store
        .put_bytes(&random_key("webp"), b"z".as_slice().into(), "image/webp")
        .await
        .unwrap();
    let settings = bucket.settings();
    drop(bucket);
    let err = S3Store::open(&settings).await.unwrap_err();
    assert!(
        err.to_string().contains(&name) && matches!(err, BlobError::Config(_)),
        "{err:?}"
    );
}
