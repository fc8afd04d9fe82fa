//! Ingestion: an upload arrives as a stream of chunks and becomes content
//! stored once per town under its SHA-256, then a document or a new version
//! (docs/design/0013, "Content" and "Crash safety").
//!
//! [`stage`] commits an intent row (`records_staged_uploads`) before any byte
//! is stored, streams the body to a temporary object while hashing it,
//! sniffing its first bytes and counting it against the town's limit, records
//! the hash on the intent row, and copies the object to its content key unless
//! the town already has that content. [`commit`] then, in one transaction that
//! first takes the town's ingestion lock (its `records_settings` row), makes
//! sure the content object exists (a sweep may have removed it meanwhile),
//! writes the rows, deletes the intent row, audits and removes the temporary
//! object. A crash anywhere before that commit leaves an intent row, which
//! [`sweep`] turns, after a grace period and under the same lock, into the
//! removal of the temporary object and of the content object if no version
//! references it. So a document never lacks its content, and content no
//! version references does not stay.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::jobs::{JobContext, Registry};
use munishare_platform::types::{Permission, Service, Timestamp, UserId};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sniff;
use crate::{change, new_id, require};

/// The upload limit of a town that has not set one: 256 MiB.
pub const DEFAULT_MAX_UPLOAD: i64 = 256 * 1024 * 1024;
/// The largest limit a town may set: 4 GiB.
pub const MAX_MAX_UPLOAD: i64 = 4 * 1024 * 1024 * 1024;
/// How long an upload may stay staged before the sweep takes it for abandoned.
pub const GRACE: time::Duration = time::Duration::hours(24);
/// The sweep job.
pub const SWEEP_JOB: &str = "records.sweep";

/// An ingestion failure: the limit (413), or any other refusal.
#[derive(Debug)]
pub enum IngestError {
    /// The file is larger than the town's limit.
    TooLarge {
        /// The file, as named by the uploader.
        file: String,
        /// The limit in bytes.
        limit: i64,
    },
    /// Anything else.
    Other(Error),
}

impl From<Error> for IngestError {
    fn from(e: Error) -> Self {
        Self::Other(e)
    }
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        Self::Other(Error::from(e))
    }
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { file, limit } => write!(
                f,
                "file: {} is larger than this town's upload limit of {}",
                sniff::shown(file),
                human_bytes(*limit)
            ),
            Self::Other(e) => e.fmt(f),
        }
    }
}

/// Bytes for messages: `256 MiB`, `1000 bytes`.
pub fn human_bytes(n: i64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A town's records settings.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordsSettings {
    /// The largest file accepted, in bytes (1 to 4 GiB; 256 MiB unless set).
    pub max_upload_bytes: i64,
}

/// The town's settings.
pub async fn settings(scope: &ServiceScope, ex: &mut impl Executor) -> Result<RecordsSettings> {
    crate::require_reader(scope)?;
    let v: Option<(i64,)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT max_upload_bytes FROM records_settings WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_optional(c).await)?;
    Ok(RecordsSettings {
        max_upload_bytes: v.map_or(DEFAULT_MAX_UPLOAD, |v| v.0),
    })
}

/// Makes sure the town's settings row exists (it is also the ingestion lock).
pub(crate) async fn ensure_settings(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
) -> Result<()> {
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_settings (municipality_id, max_upload_bytes, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (municipality_id) DO NOTHING")
        .bind(scope.municipality_id()).bind(DEFAULT_MAX_UPLOAD).bind(now.to_db()).execute(c).await)?;
    Ok(())
}

/// Takes the town's ingestion lock for the rest of the transaction (a row lock
/// on PostgreSQL; SQLite's write transactions are exclusive already).
pub(crate) async fn lock_town(scope: &ServiceScope, tx: &mut Tx, now: Timestamp) -> Result<()> {
    ensure_settings(scope, tx, now).await?;
    execute!(tx, c => sqlx::query(
        "UPDATE records_settings SET max_upload_bytes = max_upload_bytes WHERE municipality_id = $1")
        .bind(scope.municipality_id()).execute(c).await)?;
    Ok(())
}

/// Sets the town's upload limit (administer); audited.
pub async fn set_settings(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &RecordsSettings,
) -> Result<RecordsSettings> {
    require(scope, Permission::Administer)?;
    if !(1..=MAX_MAX_UPLOAD).contains(&req.max_upload_bytes) {
        return Err(Error::invalid(
            "max_upload_bytes",
            format!("must be from 1 byte to {}", human_bytes(MAX_MAX_UPLOAD)),
        ));
    }
    let before = settings(scope, tx).await?;
    ensure_settings(scope, tx, now).await?;
    execute!(tx, c => sqlx::query(
        "UPDATE records_settings SET max_upload_bytes = $2, updated_at = $3 WHERE municipality_id = $1")
        .bind(scope.municipality_id()).bind(req.max_upload_bytes).bind(now.to_db()).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.settings.set",
            "records_settings",
            scope.municipality_id().as_str(),
            Some(serde_json::json!(before)),
            Some(serde_json::json!(req)),
        ),
    )
    .await?;
    Ok(req.clone())
}

/// Where a town's content with this SHA-256 lives.
pub fn content_key(scope: &ServiceScope, sha256: &str) -> Result<BlobKey> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !ok {
        return Err(Error::Internal(format!("not a SHA-256: {sha256}")));
    }
    BlobKey::in_scope(scope, &format!("content/{}/{sha256}", &sha256[..2]))
}

/// An upload whose bytes are stored, waiting for [`commit`].
#[derive(Debug, Clone)]
pub struct Staged {
    /// The intent row's id.
    pub id: String,
    temp_name: String,
    /// The content's SHA-256 (lowercase hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its media type, told from its first bytes.
    pub media_type: &'static str,
    /// The file name, checked.
    pub file_name: String,
}

impl Staged {
    /// An upload whose content was written straight to its content key (the bulk import, which
    /// hashes a file before storing it): its intent row names a temporary object that is never
    /// written, so a sweep of the row removes only content no version references.
    pub(crate) fn in_place(
        id: String,
        sha256: String,
        size: i64,
        media_type: &'static str,
        file_name: String,
    ) -> Staged {
        Staged {
            temp_name: format!("tmp/{id}"),
            id,
            sha256,
            size,
            media_type,
            file_name,
        }
    }

    /// The intent row's temporary object's name under the town's scope.
    pub(crate) fn temp_name(&self) -> &str {
        &self.temp_name
    }
}

/// Streams an upload into the store (see the module documentation): refuses
/// an odd name, an empty file, a kind that is not accepted (from its first
/// bytes, before the rest is read) and a file over the town's limit (from
/// `declared_len` at once, or as soon as the count passes it). Nothing of a
/// refused upload stays. Edit in records.
pub async fn stage<S, E>(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    file_name: &str,
    declared_len: Option<u64>,
    body: S,
) -> Result<Staged, IngestError>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    require(scope, Permission::Edit)?;
    let file_name = sniff::file_name(file_name)?;
    let limit = {
        let mut c = db.read().await?;
        settings(scope, &mut c).await?.max_upload_bytes
    };
    if declared_len.is_some_and(|n| i64::try_from(n).map_or(true, |n| n > limit)) {
        return Err(IngestError::TooLarge {
            file: file_name,
            limit,
        });
    }
    let id = new_id();
    let temp_name = format!("tmp/{id}");
    let temp_key = BlobKey::in_scope(scope, &temp_name)?;
    {
        let mut tx = db.begin().await?;
        ensure_settings(scope, &mut tx, now).await?;
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO records_staged_uploads (municipality_id, id, temp_key, started_by, started_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(scope.municipality_id()).bind(&id).bind(&temp_name).bind(scope.user_id()).bind(now.to_db())
            .execute(c).await)?;
        tx.commit().await?;
    }
    let staged = Staged {
        id,
        temp_name,
        sha256: String::new(),
        size: 0,
        media_type: sniff::TEXT,
        file_name,
    };
    match stream_to(blobs, &temp_key, &staged.file_name, limit, body).await {
        Ok((sha256, size, media_type)) => {
            let staged = Staged {
                sha256,
                size,
                media_type,
                ..staged
            };
            let mut tx = db.begin().await?;
            execute!(&mut tx, c => sqlx::query(
                "UPDATE records_staged_uploads SET sha256 = $3 WHERE municipality_id = $1 AND id = $2")
                .bind(scope.municipality_id()).bind(&staged.id).bind(&staged.sha256).execute(c).await)?;
            tx.commit().await?;
            let known = content_known(scope, &mut db.read().await?, &staged.sha256).await?;
            if !known {
                blobs
                    .copy(&temp_key, &content_key(scope, &staged.sha256)?)
                    .await?;
            }
            Ok(staged)
        }
        Err(e) => {
            // A refused upload leaves nothing behind: its temporary object and its intent row go.
            blobs.delete(&temp_key).await?;
            let mut tx = db.begin().await?;
            execute!(&mut tx, c => sqlx::query(
                "DELETE FROM records_staged_uploads WHERE municipality_id = $1 AND id = $2")
                .bind(scope.municipality_id()).bind(&staged.id).execute(c).await)?;
            tx.commit().await?;
            Err(e)
        }
    }
}

/// Writes the body to `key`, hashing, counting and sniffing as it goes.
async fn stream_to<S, E>(
    blobs: &BlobStore,
    key: &BlobKey,
    file_name: &str,
    limit: i64,
    mut body: S,
) -> Result<(String, i64, &'static str), IngestError>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut writer = blobs.writer(key).await?;
    let mut hasher = Sha256::new();
    let mut size: i64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(sniff::HEAD);
    let mut media: Option<&'static str> = None;
    // The last bytes, for the PDF checks at the end (bounded: at most twice PDF_TAIL).
    let mut tail: Vec<u8> = Vec::with_capacity(2 * PDF_TAIL);
    let unsupported = || {
        Error::invalid(
            "file",
            format!(
                "{} is not a kind of file records accepts ({})",
                sniff::shown(file_name),
                sniff::ACCEPTED
            ),
        )
    };
    let outcome: Result<(), IngestError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                Error::invalid(
                    "file",
                    format!("{} did not arrive whole: {e}", sniff::shown(file_name)),
                )
            })?;
            size = size.saturating_add(i64::try_from(chunk.len()).unwrap_or(i64::MAX));
            if size > limit {
                return Err(IngestError::TooLarge {
                    file: file_name.to_owned(),
                    limit,
                });
            }
            hasher.update(&chunk);
            if media.is_none() {
                let take = (sniff::HEAD - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if head.len() >= sniff::HEAD {
                    media = Some(sniff::media_type(&head, false).ok_or_else(unsupported)?);
                }
            }
            tail.extend_from_slice(&chunk[chunk.len().saturating_sub(PDF_TAIL)..]);
            if tail.len() > 2 * PDF_TAIL {
                tail.drain(..tail.len() - PDF_TAIL);
            }
            writer.write(chunk).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        writer.abort().await?;
        return Err(e);
    }
    if size == 0 {
        writer.abort().await?;
        return Err(Error::invalid(
            "file",
            format!("{} is empty (0 bytes)", sniff::shown(file_name)),
        )
        .into());
    }
    let media = match media {
        Some(m) => m,
        None => match sniff::media_type(&head, true) {
            Some(m) => m,
            None => {
                writer.abort().await?;
                return Err(unsupported().into());
            }
        },
    };
    if media == sniff::PDF
        && let Err(e) = pdf_tail(file_name, &tail)
    {
        writer.abort().await?;
        return Err(e.into());
    }
    writer.finish().await?;
    Ok((
        munishare_platform::types::hex(&hasher.finalize()),
        size,
        media,
    ))
}

/// How many of a PDF's last bytes [`pdf_tail`] looks at.
pub const PDF_TAIL: usize = 8 * 1024;

/// The cheap checks of a PDF's end, made while it streams in: a PDF ends with
/// `%%EOF` (ISO 32000-1, 7.5.5; readers accept it within the last 1024 bytes),
/// so one without is cut short or damaged; one whose trailer names an
/// `/Encrypt` dictionary (7.6.1) is password-protected, and its text cannot be
/// taken. What this misses, the extraction job reports.
pub fn pdf_tail(file_name: &str, tail: &[u8]) -> Result<()> {
    let last = &tail[tail.len().saturating_sub(1024)..];
    if !last.windows(5).any(|w| w == b"%%EOF") {
        return Err(Error::invalid(
            "file",
            format!(
                "{} is damaged or cut short: it does not end like a PDF (no %%EOF); upload it again, or scan it again",
                sniff::shown(file_name)
            ),
        ));
    }
    let trailer = tail
        .windows(7)
        .rposition(|w| w == b"trailer")
        .map_or(tail, |i| &tail[i..]);
    // A cross-reference stream (PDF 1.5) carries the trailer's keys in its dictionary.
    let xref_stream = tail.windows(10).any(|w| w == b"/Type/XRef")
        || tail.windows(11).any(|w| w == b"/Type /XRef");
    let looked = if xref_stream { tail } else { trailer };
    if looked.windows(8).any(|w| w == b"/Encrypt") {
        return Err(Error::invalid(
            "file",
            format!(
                "{} is password-protected: remove the password and upload it again",
                sniff::shown(file_name)
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn content_known(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    sha256: &str,
) -> Result<bool> {
    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_contents WHERE municipality_id = $1 AND sha256 = $2")
        .bind(scope.municipality_id()).bind(sha256).fetch_one(c).await)?;
    Ok(n > 0)
}

/// What [`commit`] did with the content.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    /// The town already had this content: nothing new was stored.
    pub deduplicated: bool,
}

/// The transaction that makes a staged upload part of a document: takes the
/// town's ingestion lock, makes sure the content object exists, inserts the
/// content row if new, runs `write` (the document or version rows and their
/// audit event), deletes the intent row and the temporary object.
pub(crate) async fn commit(
    scope: &ServiceScope,
    tx: &mut Tx,
    blobs: &BlobStore,
    now: Timestamp,
    staged: &Staged,
) -> Result<Committed> {
    lock_town(scope, tx, now).await?;
    let gone = execute!(tx, c => sqlx::query(
        "DELETE FROM records_staged_uploads WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(&staged.id).execute(c).await)?;
    if gone == 0 {
        return Err(Error::Conflict {
            field: Some("file".into()),
            message: "the upload was abandoned too long ago and has been cleaned up; upload the file again".into(),
        });
    }
    let key = content_key(scope, &staged.sha256)?;
    let temp = BlobKey::in_scope(scope, &staged.temp_name)?;
    let known = content_known(scope, tx, &staged.sha256).await?;
    if !known {
        if !blobs.exists(&key).await? {
            // A sweep took the content of an abandoned upload of the same bytes
            // after this one copied it: copy again, under the lock.
            blobs.copy(&temp, &key).await?;
        }
        execute!(tx, c => sqlx::query(
            "INSERT INTO records_contents (municipality_id, sha256, size, media_type, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(scope.municipality_id()).bind(&staged.sha256).bind(staged.size).bind(staged.media_type)
            .bind(now.to_db()).execute(c).await)?;
    }
    blobs.delete(&temp).await?;
    Ok(Committed {
        deduplicated: known,
    })
}

/// What a sweep did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    /// Abandoned uploads cleaned up.
    pub abandoned_uploads: i64,
    /// Content objects deleted because no version references them.
    pub content_deleted: i64,
}

/// Cleans up uploads staged before `now - GRACE` and never committed (all of
/// the town's, or only those `started_by` one person): their temporary
/// objects, and their content when no version references it; audited when it
/// did anything. Runs under the town's ingestion lock.
pub async fn sweep(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    started_by: Option<&UserId>,
) -> Result<SweepReport> {
    match started_by {
        Some(u) if u == scope.user_id() => require(scope, Permission::Edit)?,
        _ => require(scope, Permission::Administer)?,
    }
    let cutoff = Timestamp::new(now.datetime() - GRACE).to_db();
    let mut tx = db.begin().await?;
    lock_town(scope, &mut tx, now).await?;
    // At most 1,000 a run (the lock is held while objects are deleted); the next run takes the rest.
    let only = started_by.map_or("", |u| u.as_str());
    let rows: Vec<(String, String, Option<String>)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT id, temp_key, sha256 FROM records_staged_uploads \
         WHERE municipality_id = $1 AND started_at < $2 AND ($3 = '' OR started_by = $3) \
         ORDER BY started_at, id LIMIT 1000")
        .bind(scope.municipality_id()).bind(&cutoff).bind(only).fetch_all(c).await)?;
    let mut report = SweepReport::default();
    let mut ids = Vec::new();
    for (id, temp_name, sha256) in rows {
        blobs.delete(&BlobKey::in_scope(scope, &temp_name)?).await?;
        if let Some(sha) = sha256
            && !content_known(scope, &mut tx, &sha).await?
        {
            blobs.delete(&content_key(scope, &sha)?).await?;
            report.content_deleted += 1;
        }
        execute!(&mut tx, c => sqlx::query(
            "DELETE FROM records_staged_uploads WHERE municipality_id = $1 AND id = $2")
            .bind(scope.municipality_id()).bind(&id).execute(c).await)?;
        report.abandoned_uploads += 1;
        ids.push(id);
    }
    if report.abandoned_uploads > 0 {
        audit::record(
            &mut tx,
            now,
            scope.actor(),
            change(
                scope,
                "records.sweep",
                "records_staged_upload",
                scope.municipality_id().as_str(),
                None,
                Some(
                    serde_json::json!({"uploads": ids, "content_deleted": report.content_deleted}),
                ),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Registers the hourly `records.sweep` job: for each person with abandoned
/// uploads in a town, it sweeps theirs with their rights today (edit in the
/// town's records); a person who lost them is skipped with the reason, and a
/// town's records administrator can sweep the whole town from the API.
pub fn register_jobs(registry: &mut Registry) {
    registry.register_periodic(
        SWEEP_JOB,
        time::Duration::hours(1),
        |ctx: JobContext, _p: serde_json::Value| async move { sweep_all(&ctx).await },
    );
}

async fn sweep_all(ctx: &JobContext) -> Result<serde_json::Value> {
    use munishare_platform::types::MunicipalityId;
    let now = Timestamp::new(ctx.clock.now());
    let cutoff = Timestamp::new(now.datetime() - GRACE).to_db();
    // Ids only; each town's rows are read again through the scope below.
    let who: Vec<(MunicipalityId, UserId)> = {
        let mut c = ctx.db.read().await?;
        dispatch!(&mut c, c => sqlx::query_as(
            "SELECT DISTINCT municipality_id, started_by FROM records_staged_uploads WHERE started_at < $1 \
             ORDER BY municipality_id, started_by")
            .bind(&cutoff).fetch_all(c).await)?
    };
    let mut runs = Vec::new();
    for (town, user) in who {
        let outcome = match munishare_platform::access::authorize_issued_credential(
            &ctx.db,
            now.datetime().date(),
            &user,
            &town,
            Service::Records,
            Permission::Edit,
            SWEEP_JOB,
        )
        .await
        {
            Ok(scope) => sweep(&scope, &ctx.db, &ctx.blobs, now, Some(&user))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!(
                "the person who started the uploads may no longer file records: {e}"
            )),
        };
        match outcome {
            Ok(r) => runs.push(serde_json::json!({"municipality_id": town.to_string(), "user_id": user.to_string(), "report": r})),
            Err(why) => {
                tracing::warn!(town = %town, reason = %why, "records sweep skipped");
                runs.push(serde_json::json!({"municipality_id": town.to_string(), "user_id": user.to_string(), "skipped": why}));
            }
        }
    }
    Ok(serde_json::json!({ "runs": runs }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::pdf_tail;

    #[test]
    fn a_pdf_without_its_end_or_with_a_password_is_refused_by_name() {
        let whole = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<</Root 1 0 R>>\nstartxref\n9\n%%EOF\n";
        assert!(pdf_tail("a.pdf", whole).is_ok());
        let cut = pdf_tail("scan-0042.pdf", &whole[..40])
            .unwrap_err()
            .to_string();
        assert!(
            cut.contains("\"scan-0042.pdf\" is damaged or cut short"),
            "{cut}"
        );
        let locked = b"%PDF-1.4\ntrailer << /Root 1 0 R /ID [<aa><aa>] /Encrypt 6 0 R >>\nstartxref\n1084\n%%EOF\n";
        let e = pdf_tail("scan-0042.pdf", locked).unwrap_err().to_string();
        assert!(
            e.contains(
                "\"scan-0042.pdf\" is password-protected: remove the password and upload it again"
            ),
            "{e}"
        );
        // "/Encrypt" in a page's text before the trailer is not a password.
        let text =
            b"%PDF-1.4\n5 0 obj<<>>stream\n(/Encrypt) Tj\nendstream\ntrailer<</Root 1 0 R>>\n%%EOF";
        assert!(pdf_tail("a.pdf", text).is_ok());
    }
}
