//! The backup client's view of the council's server (docs/design/0012, "Server contract"): each
//! object is a URL under `/api/v1/backup/repo/`, the token says whose. Failed connections and
//! server errors are retried with back-off (a restarted server does not fail a night's backup);
//! refusals (401, 409, 422, 507) are not.

use std::time::Duration;

use munishare_backup::backend::{Backend, ObjectKind, Put};
use munishare_backup::{Error, Result};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

/// Attempts per request (the waits between them: 1, 2, 4, 8, 16 s).
const ATTEMPTS: u32 = 6;

/// A repository on the council's server.
#[derive(Debug)]
pub struct HttpBackend {
    base: String,
    token: String,
    client: Client,
}

impl HttpBackend {
    /// A backend for `server` (its base URL) with a backup token.
    pub fn new(server: &str, token: &str) -> anyhow::Result<HttpBackend> {
        let url =
            url::Url::parse(server).map_err(|e| anyhow::anyhow!("--server {server:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("--server {server:?}: use an http:// or https:// address");
        }
        let client = Client::builder()
            .timeout(Duration::from_secs(600))
            .connect_timeout(Duration::from_secs(20))
            .user_agent(concat!("munishare-backup/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpBackend {
            base: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            client,
        })
    }

    fn url(&self, kind: ObjectKind, name: &str) -> String {
        match kind {
            ObjectKind::Config => format!("{}/api/v1/backup/repo/config", self.base),
            _ => format!("{}/api/v1/backup/repo/{}/{name}", self.base, kind.as_str()),
        }
    }

    /// Sends a request built by `make`, retrying connection failures and 5xx other than 507.
    fn send(
        &self,
        what: &str,
        make: &dyn Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<Response> {
        let mut wait = Duration::from_secs(1);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match make().bearer_auth(&self.token).send() {
                Ok(r)
                    if r.status().is_server_error()
                        && r.status() != StatusCode::INSUFFICIENT_STORAGE =>
                {
                    last = format!("{what}: the server answered {}", r.status());
                }
                Ok(r) => return Ok(r),
                Err(e) => last = format!("{what}: {e}"),
            }
            if attempt < ATTEMPTS {
                eprintln!("{last}; retrying in {} s", wait.as_secs());
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
        Err(Error::Backend(format!(
            "{last} (gave up after {ATTEMPTS} attempts)"
        )))
    }
}

impl HttpBackend {
    /// Sends a restore drill's report (retried like an upload); refused reports are errors.
    pub fn report_drill(
        &self,
        report: &munishare_backup_server::drills::DrillReport,
    ) -> Result<()> {
        let url = format!("{}/api/v1/backup/repo/drills", self.base);
        let r = self.send("drill report", &|| self.client.post(&url).json(report))?;
        if r.status() == StatusCode::CREATED {
            Ok(())
        } else {
            Err(refusal("drill report", r))
        }
    }
}

/// The server's explanation of a refusal (RFC 9457 `detail`, else the status).
fn refusal(what: &str, response: Response) -> Error {
    let status = response.status();
    let detail = response
        .json::<serde_json::Value>()
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let prefix = match status {
        StatusCode::UNAUTHORIZED => "the server refused the token",
        StatusCode::FORBIDDEN => "the token may not do this",
        StatusCode::INSUFFICIENT_STORAGE => "the town's backup quota is exhausted",
        _ => "the server refused",
    };
    Error::Backend(format!("{what}: {prefix} ({}): {detail}", status.as_u16()))
}

impl Backend for HttpBackend {
    fn get(&self, kind: ObjectKind, name: &str) -> Result<Vec<u8>> {
        let url = self.url(kind, name);
        let what = kind.object(name);
        let r = self.send(&what, &|| self.client.get(&url))?;
        match r.status() {
            StatusCode::OK => Ok(r
                .bytes()
                .map_err(|e| Error::Backend(format!("{what}: {e}")))?
                .to_vec()),
            StatusCode::NOT_FOUND => Err(Error::Missing(what)),
            _ => Err(refusal(&what, r)),
        }
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: Option<u64>,
        len: u64,
    ) -> Result<Vec<u8>> {
        let url = self.url(kind, name);
        let what = kind.object(name);
        let range = match offset {
            Some(o) => format!("bytes={o}-{}", o + len.max(1) - 1),
            None => format!("bytes=-{len}"),
        };
        let r = self.send(&what, &|| {
            self.client.get(&url).header(reqwest::header::RANGE, &range)
        })?;
        match r.status() {
            StatusCode::PARTIAL_CONTENT => {
                let body = r
                    .bytes()
                    .map_err(|e| Error::Backend(format!("{what}: {e}")))?;
                if body.len() as u64 != len {
                    return Err(Error::damaged(
                        what,
                        format!("{} bytes where {len} were asked", body.len()),
                    ));
                }
                Ok(body.to_vec())
            }
            StatusCode::NOT_FOUND => Err(Error::Missing(what)),
            _ => Err(refusal(&what, r)),
        }
    }

    fn put(&self, kind: ObjectKind, name: &str, bytes: &[u8]) -> Result<Put> {
        let url = self.url(kind, name);
        let what = kind.object(name);
        let body = bytes::Bytes::copy_from_slice(bytes);
        let r = self.send(&what, &|| {
            self.client
                .put(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body.clone())
        })?;
        match r.status() {
            StatusCode::CREATED | StatusCode::OK | StatusCode::NO_CONTENT => Ok(Put::Created),
            StatusCode::CONFLICT => Ok(Put::Existed),
            _ => Err(refusal(&what, r)),
        }
    }

    fn list(&self, kind: ObjectKind) -> Result<Vec<(String, u64)>> {
        let url = format!("{}/api/v1/backup/repo/{}/", self.base, kind.as_str());
        let what = format!("{}/", kind.as_str());
        let r = self.send(&what, &|| self.client.get(&url))?;
        if r.status() != StatusCode::OK {
            return Err(refusal(&what, r));
        }
        #[derive(serde::Deserialize)]
        struct Item {
            name: String,
            size: u64,
        }
        let items: Vec<Item> = r
            .json()
            .map_err(|e| Error::Backend(format!("{what}: bad listing: {e}")))?;
        Ok(items.into_iter().map(|i| (i.name, i.size)).collect())
    }

    fn remove(&self, kind: ObjectKind, name: &str) -> Result<()> {
        Err(Error::Invalid(format!(
            "{}: the server keeps the town's history; keys and snapshots are removed by the town on its backup page, and retention by the server",
            kind.object(name)
        )))
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}
