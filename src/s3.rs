//! Reading objects from Amazon S3 and S3-compatible servers: list the keys under a
//! prefix, get an object as a stream. Requests are signed with AWS Signature V4
//! (`rusty-s3`) and sent over HTTPS (`ureq`); nothing else of an SDK is needed.
//!
//! Where the settings come from, as the AWS CLI reads them:
//! - credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`),
//!   else the profile `AWS_PROFILE` (else `default`) of the shared credentials file
//!   (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`);
//! - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in
//!   `~/.aws/config` (`AWS_CONFIG_FILE`), else `us-east-1`;
//! - endpoint: `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (an S3-compatible server,
//!   addressed path-style), else the region's S3 endpoint (virtual-hosted style).

use std::io::Read;
use std::time::Duration;

use rusty_s3::actions::S3Action;
use rusty_s3::{Bucket, Credentials, UrlStyle};

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// What went wrong with a location, the settings or a request; each names where.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("{0}: not an s3:// location")]
    NotS3(String),
    #[error("{0}: no bucket (s3://BUCKET/PREFIX)")]
    NoBucket(String),
    #[error(
        "s3://{0}: no AWS credentials: set AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or a profile in \
         ~/.aws/credentials (AWS_PROFILE)"
    )]
    NoCredentials(String),
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` is no URL (`error`: the URL
    /// parser's words).
    #[error("S3 endpoint {endpoint:?}: {error}")]
    Endpoint { endpoint: String, error: String },
    /// The bucket cannot be addressed at the endpoint.
    #[error("s3://{bucket}: {error}")]
    Bucket {
        bucket: String,
        error: rusty_s3::BucketError,
    },
    /// The request failed before an answer (`what` names the object or listing).
    #[error("{what}: {error}")]
    Request { what: String, error: ureq::Error },
    /// S3 answered with an error status, and what its error document says.
    #[error("{what}: HTTP {status}{}", code_and_message(.code, .message))]
    Status {
        what: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// A listing's answer could not be read.
    #[error("{what}: listing: {error}")]
    Listing { what: String, error: ureq::Error },
    /// A listing's answer is not S3's XML (`error`: the XML reader's words).
    #[error("{what}: listing: unexpected answer: {error}")]
    Answer { what: String, error: String },
}

/// `: Code: Message` as S3's error document gives them (the message only with a code).
fn code_and_message(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        _ => String::new(),
    }
}

/// An `s3://bucket/key-or-prefix` location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
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

/// A client for one bucket.
pub struct Client {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
}

/// A value of an INI file (`~/.aws/credentials`, `~/.aws/config`) in a section.
fn ini_value(path: &std::path::Path, section: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            inside = name == section || name.strip_prefix("profile ") == Some(section);
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn aws_file(var: &str, name: &str) -> Option<std::path::PathBuf> {
    env(var)
        .map(Into::into)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".aws").join(name)))
}

impl Client {
    /// A client for `bucket`, with the settings of the environment (see the module).
    pub fn for_bucket(bucket: &str) -> Result<Client, S3Error> {
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let credentials_file = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let config_file = aws_file("AWS_CONFIG_FILE", "config");
        let from_file = |key: &str| {
            credentials_file
                .as_deref()
                .and_then(|f| ini_value(f, &profile, key))
        };
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(k), Some(s)) => match env("AWS_SESSION_TOKEN") {
                Some(t) => Credentials::new_with_token(k, s, t),
                None => Credentials::new(k, s),
            },
            _ => match (
                from_file("aws_access_key_id"),
                from_file("aws_secret_access_key"),
            ) {
                (Some(k), Some(s)) => match from_file("aws_session_token") {
                    Some(t) => Credentials::new_with_token(k, s, t),
                    None => Credentials::new(k, s),
                },
                _ => return Err(S3Error::NoCredentials(bucket.to_string())),
            },
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| {
                config_file
                    .as_deref()
                    .and_then(|f| ini_value(f, &profile, "region"))
            })
            .unwrap_or_else(|| "us-east-1".into());
        let (endpoint, style) = match env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL"))
        {
            Some(e) => (e, UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let url = endpoint.parse().map_err(|e| S3Error::Endpoint {
            endpoint: endpoint.clone(),
            error: format!("{e}"),
        })?;
        let bucket = Bucket::new(url, style, bucket.to_string(), region).map_err(|error| {
            S3Error::Bucket {
                bucket: bucket.to_string(),
                error,
            }
        })?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        Ok(Client {
            bucket,
            credentials,
            agent,
        })
    }

    fn name(&self) -> &str {
        self.bucket.name()
    }

    /// The response to a signed GET, or the error S3 answered with.
    fn get(&self, url: &str, what: &str) -> Result<ureq::http::Response<ureq::Body>, S3Error> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|error| S3Error::Request {
                what: what.to_string(),
                error,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut response = response;
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        // S3's error document: <Error><Code>NoSuchBucket</Code><Message>...</Message>.
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = body.find(&open)? + open.len();
            let end = body[start..].find(&format!("</{tag}>"))? + start;
            Some(body[start..end].to_string())
        };
        Err(S3Error::Status {
            what: what.to_string(),
            status: status.as_u16(),
            code: field("Code"),
            message: field("Message"),
        })
    }

    /// Every key under `prefix` with its size, in S3's (lexicographic) order.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, S3Error> {
        let what = format!("s3://{}/{prefix}", self.name());
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            if !prefix.is_empty() {
                action.with_prefix(prefix);
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let mut response = self.get(url.as_str(), &format!("{what}: listing"))?;
            let text = response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|error| S3Error::Listing {
                    what: what.clone(),
                    error,
                })?;
            let page =
                rusty_s3::actions::ListObjectsV2::parse_response(&text).map_err(|error| {
                    S3Error::Answer {
                        what: what.clone(),
                        error: error.to_string(),
                    }
                })?;
            keys.extend(
                page.contents
                    .into_iter()
                    .map(|c| (c.key, c.size.unwrap_or(0))),
            );
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(keys)
    }

    /// The object `key`, as a stream.
    pub fn open(&self, key: &str) -> Result<impl Read + Send, S3Error> {
        let what = format!("s3://{}/{key}", self.name());
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let response = self.get(url.as_str(), &what)?;
        Ok(response.into_body().into_reader())
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
    fn profiles_of_ini_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config");
        std::fs::write(
            &p,
            "[default]\nregion = eu-west-1\n[profile audit]\nregion=us-east-2\n",
        )
        .unwrap();
        assert_eq!(
            ini_value(&p, "default", "region").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            ini_value(&p, "audit", "region").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(ini_value(&p, "other", "region"), None);
    }
}
