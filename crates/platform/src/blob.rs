//! Blob storage for documents and backup data: a local directory by default,
//! or any S3-compatible store. The database keeps metadata and hashes; the
//! bytes live here, under a key that starts with the owning town, so one
//! town's objects can never be addressed through another town's scope.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::access::ServiceScope;
use crate::error::{Error, Result};

/// Where an object lives: `towns/{municipality_id}/{service}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobKey(String);

impl BlobKey {
    /// A key inside the scope's town and service. `name` may contain `/` to
    /// make folders; empty segments, `.` and `..` are refused.
    pub fn in_scope(scope: &ServiceScope, name: &str) -> Result<Self> {
        Ok(Self(format!(
            "{}/{}",
            Self::prefix(scope),
            Self::check_name(name)?
        )))
    }

    /// The prefix of every object of the scope's town and service.
    pub fn prefix(scope: &ServiceScope) -> String {
        format!("towns/{}/{}", scope.municipality_id(), scope.service())
    }

    /// A key for platform-owned objects outside any town.
    pub fn system(name: &str) -> Result<Self> {
        Ok(Self(format!("system/{}", Self::check_name(name)?)))
    }

    fn check_name(name: &str) -> Result<&str> {
        let ok = !name.is_empty()
            && name.len() <= 512
            && name
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && !name.contains('\\');
        if ok {
            Ok(name)
        } else {
            Err(Error::invalid("name", "not a valid object name"))
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Explicit settings for an S3-compatible store.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Region name (any value for most S3-compatible servers).
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

/// The object store.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("at", &self.description)
            .finish()
    }
}

fn blob_err(e: object_store::Error) -> Error {
    Error::Blob(e.to_string())
}

impl BlobStore {
    /// Opens `file:///absolute/dir` (created if missing) or `s3://bucket`.
    ///
    /// For S3 the usual variables apply: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
    /// `AWS_ENDPOINT` (for MinIO, Ceph and other S3-compatible stores) and
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint.
    pub fn open(url: &str) -> Result<Self> {
        if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::invalid("object-store", format!("cannot create {dir}: {e}")))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(blob_err)?
                .with_automatic_cleanup(true);
            Ok(Self {
                inner: Arc::new(fs),
                description: url.to_owned(),
            })
        } else if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            if bucket.is_empty() || bucket.contains('/') {
                return Err(Error::invalid("object-store", "write s3://bucket-name"));
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| Error::invalid("object-store", e.to_string()))?;
            Ok(Self {
                inner: Arc::new(s3),
                description: url.to_owned(),
            })
        } else {
            Err(Error::invalid(
                "object-store",
                "must start with file:// or s3://",
            ))
        }
    }

    /// Opens an S3-compatible bucket with explicit settings (rather than the
    /// process environment), e.g. a MinIO or Ceph endpoint on the council's network.
    pub fn open_s3(bucket: &str, s3: &S3Settings) -> Result<Self> {
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&s3.region)
            .with_endpoint(&s3.endpoint)
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(&s3.secret_access_key)
            .with_allow_http(s3.endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| Error::invalid("object-store", e.to_string()))?;
        Ok(Self {
            inner: Arc::new(store),
            description: format!("s3://{bucket} at {}", s3.endpoint),
        })
    }

    /// Where the store is, for logs.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Stores `bytes` under `key`, replacing any object there.
    pub async fn put(&self, key: &BlobKey, bytes: Bytes) -> Result<()> {
        self.inner
            .put(&Path::from(key.as_str()), bytes.into())
            .await
            .map_err(blob_err)?;
        Ok(())
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &BlobKey) -> Result<Bytes> {
        match self.inner.get(&Path::from(key.as_str())).await {
            Ok(r) => r.bytes().await.map_err(blob_err),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { what: "object" }),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Reads bytes `range` of an object (the backup server's ranged reads:
    /// clients read a pack's header from its end).
    pub async fn get_range(&self, key: &BlobKey, range: std::ops::Range<u64>) -> Result<Bytes> {
        match self.inner.get_range(&Path::from(key.as_str()), range).await {
            Ok(b) => Ok(b),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { what: "object" }),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self.inner.head(&Path::from(key.as_str())).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Deletes an object; deleting a missing one is not an error.
    pub async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.inner.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Keys and sizes of the objects of a scope's town and service.
    pub async fn list(&self, scope: &ServiceScope) -> Result<Vec<(String, u64)>> {
        let prefix = Path::from(BlobKey::prefix(scope));
        let metas: Vec<_> = self
            .inner
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(blob_err)?;
        Ok(metas
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect())
    }

    /// Keys and sizes of the objects under one folder of a scope's town and service
    /// (`towns/{town}/{service}/{folder}/…`), e.g. one backup repository.
    pub async fn list_under(
        &self,
        scope: &ServiceScope,
        folder: &str,
    ) -> Result<Vec<(String, u64)>> {
        let prefix = Path::from(BlobKey::in_scope(scope, folder)?.as_str());
        let metas: Vec<_> = self
            .inner
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(blob_err)?;
        Ok(metas
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect())
    }

    /// Starts a streamed write of `key`: bytes go out in parts as they are
    /// written (object_store multipart: 5 MiB parts on S3, a staging file on
    /// disk), so memory stays bounded by the part size, never the object. The
    /// object appears only when [`BlobWriter::finish`] succeeds.
    pub async fn writer(&self, key: &BlobKey) -> Result<BlobWriter> {
        let upload = self
            .inner
            .put_multipart(&Path::from(key.as_str()))
            .await
            .map_err(blob_err)?;
        Ok(BlobWriter {
            inner: object_store::WriteMultipart::new(upload),
        })
    }

    /// Copies an object to another key (replacing what is there).
    pub async fn copy(&self, from: &BlobKey, to: &BlobKey) -> Result<()> {
        match self
            .inner
            .copy(&Path::from(from.as_str()), &Path::from(to.as_str()))
            .await
        {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { what: "object" }),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Reads an object as a stream of chunks, with its size (downloads that
    /// must not hold a whole file in memory).
    pub async fn get_stream(
        &self,
        key: &BlobKey,
    ) -> Result<(u64, futures::stream::BoxStream<'static, Result<Bytes>>)> {
        match self.inner.get(&Path::from(key.as_str())).await {
            Ok(r) => {
                let size = r.meta.size;
                Ok((size, Box::pin(r.into_stream().map_err(blob_err))))
            }
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { what: "object" }),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Checks the store answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        self.exists(&BlobKey::system("readyz-probe")?)
            .await
            .map(|_| ())
    }
}

/// A streamed write in progress (see [`BlobStore::writer`]). Dropping it
/// without [`finish`](Self::finish) leaves no object at the key (a local
/// store may leave a staging file, removed by [`abort`](Self::abort)).
pub struct BlobWriter {
    inner: object_store::WriteMultipart,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter").finish_non_exhaustive()
    }
}

impl BlobWriter {
    /// Writes bytes, waiting while two parts are still being sent (back-pressure).
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.inner.wait_for_capacity(2).await.map_err(blob_err)?;
        self.inner.put(bytes);
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(self) -> Result<()> {
        self.inner.finish().await.map_err(blob_err).map(|_| ())
    }

    /// Gives up: nothing is stored at the key.
    pub async fn abort(self) -> Result<()> {
        self.inner.abort().await.map_err(blob_err)
    }
}
