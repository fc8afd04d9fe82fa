//! Bulk filing of a directory of files (`munishare import records DIR`): every file becomes a
//! document with the same type, department and tags; a file that is refused (empty, a kind
//! records does not accept, an odd name, over the town's limit, unreadable) is reported by its
//! path and the others still land.
//!
//! Small files are filed in batches, which is what makes a bulk load fast: a batch's files are
//! read and hashed first, one transaction records the intents, the new contents are written
//! straight to their content keys (the hash is known before the first byte is stored, so there
//! is no temporary object to copy), and one transaction under the town's ingestion lock makes
//! sure every content object exists, writes the rows and audit events, removes the intents and
//! logs the documents for the search index. The crash-safety argument is the upload's
//! (`ingest`): rows are written only after their content exists, checked under the lock, and
//! an intent left by a crash is swept with its content if no version references it. Files
//! larger than [`SMALL`] go through the streaming upload one by one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{self, Db, Executor, SqlBuilder};
use munishare_platform::jobs::Progress;
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use sha2::{Digest, Sha256};

use crate::documents::{self, CheckedMeta};
use crate::ingest::{self, IngestError, Staged};
use crate::{new_id, require, sniff};

/// Files up to this size are read whole and filed in batches; larger ones stream.
pub const SMALL: u64 = 8 << 20;
/// Files per batch.
const BATCH_FILES: usize = 256;
/// Content bytes per batch.
const BATCH_BYTES: u64 = 64 << 20;
/// Content objects written at once.
const PARALLEL_PUTS: usize = 8;

/// A file that was not filed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its path under the directory.
    pub file: String,
    /// Why, in words.
    pub message: String,
}

/// What a bulk import did.
#[derive(Debug, Clone, Default)]
pub struct BulkReport {
    /// Documents filed.
    pub filed: u64,
    /// Of those, how many the town already held the content of (stored once).
    pub deduplicated: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files refused, in path order.
    pub refused: Vec<Refused>,
    /// The files filed, in the order they were committed.
    pub filed_files: Vec<PathBuf>,
}

/// The files of a directory to file.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The directory.
    pub dir: PathBuf,
    /// Its regular files, depth first by name.
    pub files: Vec<PathBuf>,
    /// Hidden files and folders passed over (a name starting with a dot).
    pub hidden: u64,
}

/// The regular files under `dir`, depth first by name; hidden ones (a leading dot) are counted
/// and passed over; symbolic links are not followed.
pub fn list_files(dir: &Path) -> Result<Listing> {
    let mut files = Vec::new();
    let mut hidden = 0;
    walk(dir, &mut files, &mut hidden)?;
    Ok(Listing {
        dir: dir.to_owned(),
        files,
        hidden,
    })
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, hidden: &mut u64) -> Result<()> {
    let read = |e: std::io::Error| Error::invalid("dir", format!("{}: {e}", dir.display()));
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<std::io::Result<_>>()
        .map_err(read)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            *hidden += 1;
            continue;
        }
        let kind = e.file_type().map_err(read)?;
        if kind.is_dir() {
            walk(&e.path(), files, hidden)?;
        } else if kind.is_file() {
            files.push(e.path());
        }
    }
    Ok(())
}

/// A small file read, hashed and sniffed, waiting for its batch.
struct Ready {
    path: PathBuf,
    shown: String,
    staged: Staged,
    bytes: Bytes,
}

/// Files every file of `listing` as a document with `meta` (edit), reporting
/// files done and bytes read to `progress`. Refusals are per file; an error of the database or
/// the store stops the import, leaving the batches before it filed: `report` says which files
/// those are either way.
#[allow(clippy::too_many_arguments)] // the CLI and the intake folders call it; each argument is a different thing
pub async fn import(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    listing: &Listing,
    meta: &CheckedMeta,
    progress: &Progress,
    report: &mut BulkReport,
) -> Result<()> {
    let (dir, files) = (&listing.dir, &listing.files);
    require(scope, Permission::Edit)?;
    let limit = {
        let mut c = db.read().await?;
        ingest::settings(scope, &mut c).await?.max_upload_bytes
    };
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let mut batch: Vec<Ready> = Vec::new();
    let mut batch_bytes = 0;
    let mut next_analyze = 0;
    for (i, path) in files.iter().enumerate() {
        let shown = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        let refuse = |report: &mut BulkReport, message: String| {
            report.refused.push(Refused {
                file: shown.clone(),
                message,
            });
        };
        let len = match std::fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) => {
                refuse(report, format!("cannot be read: {e}"));
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if len > SMALL {
            match stream_one(scope, db, blobs, now, path, &name, meta).await {
                Ok(f) => {
                    report.filed += 1;
                    report.deduplicated += u64::from(f.deduplicated);
                    report.filed_files.push(path.clone());
                }
                Err(IngestError::Other(e @ (Error::Invalid { .. } | Error::Conflict { .. }))) => {
                    refuse(report, message_of(&e));
                }
                Err(e @ IngestError::TooLarge { .. }) => refuse(report, e.to_string()),
                Err(IngestError::Other(e)) => return Err(e),
            }
        } else {
            match read_small(path, &name, len, limit).await {
                Ok((sha256, media_type, bytes)) => {
                    batch_bytes += len;
                    batch.push(Ready {
                        path: path.clone(),
                        shown,
                        staged: Staged::in_place(
                            new_id(),
                            sha256,
                            i64::try_from(len).unwrap_or(i64::MAX),
                            media_type,
                            name,
                        ),
                        bytes,
                    });
                }
                Err(message) => refuse(report, message),
            }
        }
        report.bytes += len;
        if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
            keep_statistics(db, report.filed, &mut next_analyze).await?;
            file_batch(
                scope,
                db,
                blobs,
                now,
                std::mem::take(&mut batch),
                meta,
                report,
            )
            .await?;
            batch_bytes = 0;
        }
        progress.set(i as u64 + 1, report.bytes, total);
    }
    if !batch.is_empty() {
        keep_statistics(db, report.filed, &mut next_analyze).await?;
        file_batch(scope, db, blobs, now, batch, meta, report).await?;
    }
    progress.finish();
    Ok(())
}

/// The tables a load grows, whose statistics the database's planner needs to keep up.
const GROWN: &[&str] = &[
    "records_documents",
    "records_versions",
    "records_contents",
    "records_version_texts",
    "records_document_tags",
    "records_index_log",
    "records_staged_uploads",
];

/// Refreshes the statistics of [`GROWN`] before the first batch and whenever the load has
/// doubled what it filed (256, 512, 1,024, … documents): about log2 of its size times, so
/// PostgreSQL's plans follow the tables as they grow (a stale estimate of a few rows made it
/// filter a town's contents instead of looking them up).
async fn keep_statistics(db: &Db, filed: u64, next: &mut u64) -> Result<()> {
    if filed >= *next {
        db::dialect::analyze(db, GROWN).await?;
        *next = filed.max(BATCH_FILES as u64) * 2;
    }
    Ok(())
}

fn message_of(e: &Error) -> String {
    match e {
        Error::Invalid { message, .. } | Error::Conflict { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Reads a small file whole and checks it as an upload is checked; the refusal names nothing
/// but the reason (the caller names the file by its path).
async fn read_small(
    path: &Path,
    name: &str,
    len: u64,
    limit: i64,
) -> std::result::Result<(String, &'static str, Bytes), String> {
    sniff::file_name(name).map_err(|e| message_of(&e))?;
    if i64::try_from(len).map_or(true, |n| n > limit) {
        return Err(format!(
            "is larger than the town's limit of {}",
            ingest::human_bytes(limit)
        ));
    }
    let bytes = Bytes::from(
        tokio::fs::read(path)
            .await
            .map_err(|e| format!("cannot be read: {e}"))?,
    );
    if bytes.is_empty() {
        return Err("is empty (0 bytes)".into());
    }
    let head = &bytes[..bytes.len().min(sniff::HEAD)];
    let media = sniff::media_type(head, bytes.len() <= sniff::HEAD).ok_or_else(|| {
        format!(
            "is not a kind of file records accepts ({})",
            sniff::ACCEPTED
        )
    })?;
    if media == sniff::PDF {
        ingest::pdf_tail(name, &bytes[bytes.len().saturating_sub(ingest::PDF_TAIL)..])
            .map_err(|e| message_of(&e))?;
    }
    let sha = munishare_platform::types::hex(&Sha256::digest(&bytes));
    Ok((sha, media, bytes))
}

/// A large file through the streaming upload.
async fn stream_one(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    path: &Path,
    name: &str,
    meta: &CheckedMeta,
) -> std::result::Result<documents::Filed, IngestError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::invalid("file", format!("cannot be read: {e}")))?;
    let len = file.metadata().await.ok().map(|m| m.len());
    let body = futures::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
    .boxed();
    let staged = ingest::stage(scope, db, blobs, now, name, len, body).await?;
    Ok(documents::file(scope, db, blobs, now, &staged, meta).await?)
}

/// Files one batch of small files (see the module documentation for the order).
async fn file_batch(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    batch: Vec<Ready>,
    meta: &CheckedMeta,
    report: &mut BulkReport,
) -> Result<()> {
    // 1. The intents, before any byte is stored.
    let mut tx = db.begin().await?;
    ingest::ensure_settings(scope, &mut tx, now).await?;
    for chunk in batch.chunks(db::rows_per_statement(3 + 3)) {
        let sql = format!(
            "INSERT INTO records_staged_uploads (id, temp_key, sha256, municipality_id, started_by, started_at) VALUES {}",
            db::value_rows(chunk.len(), 3, 3)
        );
        execute!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for r in chunk {
                q = q.bind(&r.staged.id).bind(r.staged.temp_name()).bind(&r.staged.sha256);
            }
            q.bind(scope.municipality_id()).bind(scope.user_id()).bind(now.to_db()).execute(c).await
        })?;
    }
    tx.commit().await?;

    // 2. The contents the town does not hold yet, written straight to their keys.
    let known = {
        let mut c = db.read().await?;
        known_contents(scope, &mut c, batch.iter().map(|r| &r.staged.sha256)).await?
    };
    let mut fresh: Vec<&Ready> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for r in &batch {
        if !known.contains(&r.staged.sha256) && seen.insert(&r.staged.sha256) {
            fresh.push(r);
        }
    }
    for chunk in fresh.chunks(PARALLEL_PUTS) {
        let puts: Vec<_> = chunk.iter().map(|r| put_content(scope, blobs, r)).collect();
        futures::future::try_join_all(puts).await?;
    }

    // 3. One transaction under the town's lock: contents checked, rows, audit, intents gone.
    let mut tx = db.begin().await?;
    ingest::lock_town(scope, &mut tx, now).await?;
    let checks = fresh
        .iter()
        .map(|r| {
            Ok((
                ingest::content_key(scope, &r.staged.sha256)?,
                r.bytes.clone(),
            ))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .map(|(key, bytes)| async move {
            if !blobs.exists(&key).await? {
                // A sweep of an abandoned upload of the same bytes took it meanwhile: store it again.
                blobs.put(&key, bytes).await?;
            }
            Ok::<_, Error>(())
        });
    futures::stream::iter(checks)
        .buffer_unordered(PARALLEL_PUTS)
        .try_collect::<()>()
        .await?;
    // Under the lock, the contents another filing added meanwhile are known; the rest go in.
    let known_now = if fresh.is_empty() {
        HashSet::new()
    } else {
        known_contents(scope, &mut tx, fresh.iter().map(|r| &r.staged.sha256)).await?
    };
    let new_contents: Vec<&&Ready> = fresh
        .iter()
        .filter(|r| !known_now.contains(&r.staged.sha256))
        .collect();
    for chunk in new_contents.chunks(db::rows_per_statement(3 + 2)) {
        let sql = format!(
            "INSERT INTO records_contents (sha256, size, media_type, municipality_id, created_at) VALUES {}",
            db::value_rows(chunk.len(), 3, 2)
        );
        execute!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for r in chunk {
                q = q.bind(&r.staged.sha256).bind(r.staged.size).bind(r.staged.media_type);
            }
            q.bind(scope.municipality_id()).bind(now.to_db()).execute(c).await
        })?;
    }
    let mut deduplicated = 0;
    let mut first_of_content: HashSet<&str> = HashSet::new();
    let mut docs = Vec::with_capacity(batch.len());
    for r in &batch {
        let dedup = known.contains(&r.staged.sha256) || !first_of_content.insert(&r.staged.sha256);
        deduplicated += u64::from(dedup);
        docs.push(documents::NewDocument {
            staged: &r.staged,
            deduplicated: dedup,
            // A plain-text file's text is the file, read whole already: no extraction job.
            text: (r.staged.media_type == sniff::TEXT)
                .then(|| std::str::from_utf8(&r.bytes).ok().map(str::to_owned))
                .flatten(),
        });
    }
    let ids = documents::insert_filed(scope, &mut tx, now, meta, &docs).await?;
    for (r, id) in batch.iter().zip(&ids) {
        tracing::debug!(file = %r.shown, document = %id, "filed");
    }
    let mut del = SqlBuilder::new("DELETE FROM records_staged_uploads WHERE municipality_id = ");
    del.bind(scope.municipality_id().to_string())
        .push(" AND id IN ")
        .bind_list(batch.iter().map(|r| r.staged.id.clone()));
    let (sql, args) = del.build();
    dispatch!(&mut tx, c => {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.execute(c).await.map(|r| r.rows_affected())
    })?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    crate::index::touch(scope, &mut tx, now, &refs).await?;
    tx.commit().await?;
    report.filed += batch.len() as u64;
    report.deduplicated += deduplicated;
    report.filed_files.extend(batch.into_iter().map(|r| r.path));
    Ok(())
}

async fn put_content(scope: &ServiceScope, blobs: &BlobStore, r: &Ready) -> Result<()> {
    blobs
        .put(
            &ingest::content_key(scope, &r.staged.sha256)?,
            r.bytes.clone(),
        )
        .await
}

/// Which of `shas` (at least one) the town holds.
async fn known_contents<'a>(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    shas: impl Iterator<Item = &'a String>,
) -> Result<HashSet<String>> {
    let mut q = SqlBuilder::new("SELECT sha256 FROM records_contents WHERE municipality_id = ");
    q.bind(scope.municipality_id().to_string())
        .push(" AND sha256 IN ")
        .bind_list(shas.cloned());
    let (sql, args) = q.build();
    let rows: Vec<String> = dispatch!(ex, c => {
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?;
    Ok(rows.into_iter().collect())
}
