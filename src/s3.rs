//! The one S3 client of the crate: list the keys under a prefix (all of them, or one
//! level at a time for a pruned walk), get an object as a stream. Requests go through
//! arrow-rs's [`object_store`] (signing, retries with backoff, a cap on requests in
//! flight); credentials and settings come from AWS's own `aws-config`, as every AWS SDK
//! and the AWS CLI read them:
//!
//! - credentials: the standard chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//!   (`AWS_SESSION_TOKEN`), the profile `AWS_PROFILE` (else `default`) of
//!   `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`,
//!   `AWS_CONFIG_FILE`; static keys, `credential_process`, SSO, assumed roles), web
//!   identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), the ECS container's role, the EC2
//!   instance's role; they are renewed before they expire;
//! - endpoint: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (or the profile's
//!   `endpoint_url`): an S3-compatible server, addressed path-style, over plain HTTP
//!   when the URL says `http://`; else AWS's S3, addressed virtual-hosted style;
//! - region: for AWS's S3, the bucket's own (`HeadBucket`'s `x-amz-bucket-region`);
//!   else, and when that cannot be asked, `AWS_REGION`/`AWS_DEFAULT_REGION`, the
//!   profile's `region`, else `us-east-1`.
//!
//! The calls block: the requests run on a small runtime of the module's own, so the
//! crate's worker threads read an object as they read a file.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::limit::LimitStore;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, CredentialProvider, ObjectStore, ObjectStoreExt, RetryConfig,
};

/// Requests in flight at once, per bucket: gets (for as long as their body is read)
/// and listings together.
pub const MAX_IN_FLIGHT: usize = 16;

/// Blocks of an object's body held between the request and its reader (each as the
/// connection hands it over, tens of KiB): a slow reader stops the download.
const BUFFERED_BLOCKS: usize = 16;

/// What went wrong with a location, the settings or a request; each names where.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("{0}: not an s3:// location")]
    NotS3(String),
    #[error("{0}: no bucket (s3://BUCKET/PREFIX)")]
    NoBucket(String),
    /// The credential chain found nothing usable (`why`: its own words).
    #[error(
        "s3://{bucket}: no AWS credentials: set AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or a profile in \
         ~/.aws/credentials or ~/.aws/config (AWS_PROFILE), or run where a role is \
         given (ECS task, EC2 instance, web identity): {why}"
    )]
    NoCredentials { bucket: String, why: String },
    /// The client could not be made (`error`: the store's words).
    #[error("s3://{bucket}: {error}")]
    Setup { bucket: String, error: String },
    /// S3 answered with an error, or no answer came after the retries; `what` names the
    /// object or listing, `code` and `message` are S3's error document's.
    #[error("{what}: {}", answer_text(.code, .message, .error))]
    Request {
        what: String,
        code: Option<String>,
        message: Option<String>,
        error: String,
    },
    /// An object's body ended before the length S3 gave.
    #[error("{what}: the object ended after {read} of its {size} bytes")]
    Short { what: String, read: u64, size: u64 },
}

/// `Code: Message` of S3's error document, else the transport's words.
fn answer_text(code: &Option<String>, message: &Option<String>, error: &str) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => error.to_string(),
    }
}

impl S3Error {
    /// An error of the store about `what`, with S3's code and message when its answer
    /// carried an error document (`<Code>NoSuchBucket</Code><Message>...`).
    fn request(what: String, error: &object_store::Error) -> S3Error {
        // The store's words hold the answer's body; its chain of causes, the rest.
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            let t = c.to_string();
            if !text.contains(&t) {
                text = format!("{text}: {t}");
            }
            cause = c.source();
        }
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&format!("</{tag}>"))? + start;
            Some(text[start..end].to_string())
        };
        let (code, message) = (field("Code"), field("Message"));
        // The credential chain's own error, said as such.
        if let Some(at) = text.find(NO_CREDENTIALS) {
            let why = text[at + NO_CREDENTIALS.len()..].to_string();
            let bucket = what
                .strip_prefix("s3://")
                .and_then(|w| w.split('/').next())
                .unwrap_or_default()
                .to_string();
            return S3Error::NoCredentials { bucket, why };
        }
        S3Error::Request {
            what,
            code,
            message,
            error: text,
        }
    }

    /// S3's error code, when it answered with one (`NoSuchBucket`, `AccessDenied`).
    pub fn code(&self) -> Option<&str> {
        match self {
            S3Error::Request { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// An `s3://bucket/key-or-prefix` location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    /// Whether `text` is meant as an S3 location.
    pub fn is_s3(text: &str) -> bool {
        text.starts_with("s3://")
    }

    /// Parses `s3://bucket[/key]`.
    pub fn parse(url: &str) -> Result<S3Url, S3Error> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| S3Error::NotS3(url.to_string()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(S3Error::NoBucket(url.to_string()));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

/// The runtime the requests run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // TLS with ring, the one crypto provider of the build. (rustls marks ring's
        // provider deprecated for lacking post-quantum key exchange, which only
        // aws-lc offers, at the cost of a C build several times ring's.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vpcflow-s3")
            .enable_all()
            .build()
            .expect("a runtime for S3 requests")
    })
}

/// The words that mark the credential chain's failure inside a store's error.
const NO_CREDENTIALS: &str = "no AWS credentials: ";

/// aws-config's credential chain as object_store's provider: credentials asked once
/// and kept until five minutes before they expire.
#[derive(Debug)]
struct Chain {
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    held: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl Chain {
    async fn credential(&self) -> Result<Arc<AwsCredential>, String> {
        let mut held = self.held.lock().await;
        if let Some((c, expiry)) = held.as_ref() {
            let fresh = expiry.is_none_or(|e| {
                e.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(300))
            });
            if fresh {
                return Ok(c.clone());
            }
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| chain_error(&e))?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        *held = Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}

/// The credential chain's error with its causes, in one line.
fn chain_error(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

#[async_trait::async_trait]
impl CredentialProvider for Chain {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.credential()
            .await
            .map_err(|why| object_store::Error::Generic {
                store: "S3",
                source: format!("{NO_CREDENTIALS}{why}").into(),
            })
    }
}

/// The settings of the environment, read once: the credential chain, the region and
/// endpoint it names.
struct Settings {
    chain: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    region: Option<String>,
    endpoint: Option<String>,
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        runtime().block_on(async {
            use aws_config::meta::region::RegionProviderChain;
            use aws_smithy_http_client::tls;
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https();
            // The region from the environment and the profile only: asking the instance
            // metadata service for it off EC2 costs seconds, and S3 tells a bucket's.
            let region = RegionProviderChain::first_try(
                aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
            )
            .or_else(aws_config::profile::ProfileFileRegionProvider::builder().build());
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(http)
                .region(region)
                .load()
                .await;
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            Settings {
                chain: config.credentials_provider(),
                region: config.region().map(|r| r.to_string()),
                endpoint: env("AWS_ENDPOINT_URL_S3")
                    .or_else(|| config.endpoint_url().map(str::to_string)),
            }
        })
    })
}

/// How requests are retried: throttling (503 SlowDown), server errors and timeouts,
/// with exponential backoff from 100 ms.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 8,
        retry_timeout: Duration::from_secs(180),
    }
}

/// A client for one bucket.
pub struct Client {
    bucket: String,
    store: Arc<dyn ObjectStore>,
}

/// The client for `bucket`, made once per run (see [`Client::for_bucket`]).
pub fn client(bucket: &str) -> Result<Arc<Client>, S3Error> {
    static CLIENTS: OnceLock<Mutex<HashMap<String, Arc<Client>>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(c) = clients.lock().expect("clients").get(bucket) {
        return Ok(c.clone());
    }
    let c = Arc::new(Client::for_bucket(bucket)?);
    clients
        .lock()
        .expect("clients")
        .insert(bucket.to_string(), c.clone());
    Ok(c)
}

impl Client {
    /// A client for `bucket`, with the settings of the environment (see the module).
    /// The credentials are asked for here, so that their absence is said once, first.
    pub fn for_bucket(bucket: &str) -> Result<Client, S3Error> {
        let s = settings();
        let setup = |error: String| S3Error::Setup {
            bucket: bucket.to_string(),
            error,
        };
        let no_credentials = |why: String| S3Error::NoCredentials {
            bucket: bucket.to_string(),
            why,
        };
        let provider = s
            .chain
            .clone()
            .ok_or_else(|| no_credentials("no credential chain".into()))?;
        let chain = Arc::new(Chain {
            provider,
            held: tokio::sync::Mutex::new(None),
        });
        runtime()
            .block_on(chain.credential())
            .map_err(no_credentials)?;
        let options = ClientOptions::new()
            .with_allow_http(
                s.endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://")),
            )
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120));
        let region = match &s.endpoint {
            Some(_) => s.region.clone(),
            // AWS's S3 says where the bucket is (and fails the same way later if it
            // cannot: the configured region is then as good a guess as any).
            None => runtime()
                .block_on(object_store::aws::resolve_bucket_region(bucket, &options))
                .ok()
                .or_else(|| s.region.clone()),
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(region.unwrap_or_else(|| "us-east-1".into()))
            .with_credentials(chain)
            .with_retry(retry())
            .with_client_options(options);
        builder = match &s.endpoint {
            Some(e) => builder.with_endpoint(e.trim_end_matches('/')),
            // Dotted names do not fit S3's wildcard certificate: path-style for them.
            None => builder.with_virtual_hosted_style_request(!bucket.contains('.')),
        };
        let store = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(Client {
            bucket: bucket.to_string(),
            store: Arc::new(LimitStore::new(store, MAX_IN_FLIGHT)),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Every object under the folder `prefix` (`a/b/` or `a/b`: the keys under `a/b/`;
    /// empty: the whole bucket) with its size, sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, S3Error> {
        let what = format!("{}: listing", self.url(prefix));
        let path = folder(prefix);
        let mut keys = runtime().block_on(async {
            let mut listing = self.store.list(path.as_ref());
            let mut keys = Vec::new();
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(|e| S3Error::request(what.clone(), &e))?;
                keys.push((meta.location.to_string(), meta.size));
            }
            Ok::<_, S3Error>(keys)
        })?;
        keys.sort();
        Ok(keys)
    }

    /// One level under the folder `prefix`: the folders (`a/b/c/`, with their slash)
    /// and the objects with their sizes, each sorted by key.
    pub fn list_level(&self, prefix: &str) -> Result<Level, S3Error> {
        let what = format!("{}: listing", self.url(prefix));
        let path = folder(prefix);
        let found = runtime()
            .block_on(self.store.list_with_delimiter(path.as_ref()))
            .map_err(|e| S3Error::request(what, &e))?;
        let mut level = Level {
            folders: found
                .common_prefixes
                .into_iter()
                .map(|p| format!("{p}/"))
                .collect(),
            objects: found
                .objects
                .into_iter()
                .map(|o| (o.location.to_string(), o.size))
                .collect(),
        };
        level.folders.sort();
        level.objects.sort();
        Ok(level)
    }

    /// The size of the object `key`, or `None` when there is none.
    pub fn size_of(&self, key: &str) -> Result<Option<u64>, S3Error> {
        match runtime().block_on(self.store.head(&ObjectPath::from(key))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(S3Error::request(self.url(key), &e)),
        }
    }

    /// The object `key` as a stream: its body is downloaded as it is read, a few
    /// blocks ahead of the reader.
    pub fn open(&self, key: &str) -> ObjectReader {
        let (tx, rx) = tokio::sync::mpsc::channel(BUFFERED_BLOCKS);
        let store = self.store.clone();
        let path = ObjectPath::from(key);
        let what = self.url(key);
        runtime().spawn(async move {
            let fail =
                |e: &object_store::Error| io::Error::other(S3Error::request(what.clone(), e));
            let got = match store.get(&path).await {
                Ok(g) => g,
                Err(e) => {
                    let _ = tx.send(Err(fail(&e))).await;
                    return;
                }
            };
            let size = got.meta.size;
            if tx.send(Ok(Block::Size(size))).await.is_err() {
                return;
            }
            let mut body = got.into_stream();
            while let Some(block) = body.next().await {
                let last = block.is_err();
                let piece = block.map(Block::Bytes).map_err(|e| fail(&e));
                // A closed channel: the reader was dropped (the scan stopped early).
                if tx.send(piece).await.is_err() || last {
                    return;
                }
            }
        });
        ObjectReader {
            what: self.url(key),
            rx,
            current: Bytes::new(),
            size: None,
            read: 0,
        }
    }
}

/// What [`Client::list_level`] finds.
#[derive(Debug, Default)]
pub struct Level {
    pub folders: Vec<String>,
    pub objects: Vec<(String, u64)>,
}

/// A key prefix as the store's folder (`None`: the bucket's root).
fn folder(prefix: &str) -> Option<ObjectPath> {
    let p = prefix.trim_end_matches('/');
    (!p.is_empty()).then(|| ObjectPath::from(p))
}

enum Block {
    /// The object's length, first.
    Size(u64),
    Bytes(Bytes),
}

/// An object's body as it downloads (see [`Client::open`]). A body that ends before
/// the length S3 gave is an error, not a short object.
pub struct ObjectReader {
    what: String,
    rx: tokio::sync::mpsc::Receiver<io::Result<Block>>,
    current: Bytes,
    size: Option<u64>,
    read: u64,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(Block::Size(n))) => self.size = Some(n),
                Some(Ok(Block::Bytes(b))) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => {
                    return match self.size {
                        Some(size) if self.read < size => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            S3Error::Short {
                                what: self.what.clone(),
                                read: self.read,
                                size,
                            },
                        )),
                        _ => Ok(0),
                    }
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            S3Url::parse("s3://trail-bucket/AWSLogs/o-1/").unwrap(),
            S3Url {
                bucket: "trail-bucket".into(),
                key: "AWSLogs/o-1/".into()
            }
        );
        assert_eq!(S3Url::parse("s3://b").unwrap().key, "");
        assert!(S3Url::parse("s3:///x").is_err());
        assert!(S3Url::parse("/tmp/x").is_err());
    }

    #[test]
    fn folders_of_prefixes() {
        assert_eq!(folder(""), None);
        assert_eq!(folder("/"), None);
        assert_eq!(folder("a/b/").unwrap().as_ref(), "a/b");
        assert_eq!(folder("a/b").unwrap().as_ref(), "a/b");
    }

    #[test]
    fn error_documents_give_code_and_message() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Client error with status 404 Not Found: <?xml version=\"1.0\"?>\
                     <Error><Code>NoSuchBucket</Code><Message>The specified bucket does \
                     not exist</Message></Error>"
                .into(),
        };
        let e = S3Error::request("s3://b/x: listing".into(), &e);
        assert_eq!(e.code(), Some("NoSuchBucket"));
        assert_eq!(
            e.to_string(),
            "s3://b/x: listing: NoSuchBucket: The specified bucket does not exist"
        );
    }
}
