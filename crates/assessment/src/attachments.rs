//! A parcel's photos and sketches. The bytes are kept in the blob store under
//! the town's prefix (`parcels/{parcel_id}/{sha256}`, so no other town's
//! scope can address them); `assessment_attachments` holds what describes
//! them.
//!
//! Only JPEG, PNG and PDF are accepted, recognised from the file's first
//! bytes (never the name or the content type the client sent), up to
//! [`MAX_BYTES`] each. The same file twice on one parcel is refused, naming
//! the attachment it already is. An upload of several files is all or
//! nothing; every upload and deletion is audited (`attachment.add`,
//! `attachment.remove`).

use bytes::Bytes;
use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor};
use munishare_platform::types::{Permission, Timestamp, format_date, hex, parse_date};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::parcels::{self, Parcel, change, json, new_id, require};

/// The largest attachment, in bytes (10 MB).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// What an attachment shows: (code, name).
pub const KINDS: [(&str, &str); 2] = [("photo", "Photo"), ("sketch", "Sketch")];

/// A file as uploaded, before it is checked.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The name the client gave.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Bytes,
}

/// What the uploader says about the files of one upload.
#[derive(Debug, Clone, Default)]
pub struct Describe {
    /// `photo` or `sketch`.
    pub kind: String,
    /// Caption (up to 200 characters).
    pub caption: String,
    /// When the photo was taken (YYYY-MM-DD), empty when not known.
    pub taken_on: String,
}

/// A stored attachment.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attachment {
    /// Id.
    pub id: String,
    /// The parcel's id.
    pub parcel_id: String,
    /// `photo` or `sketch`.
    pub kind: String,
    /// The file's name as uploaded (folders dropped).
    pub file_name: String,
    /// `image/jpeg`, `image/png` or `application/pdf`, from the file's first bytes.
    pub content_type: String,
    /// Size, bytes.
    pub byte_size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Caption.
    pub caption: String,
    /// When it was taken (YYYY-MM-DD), empty when not known.
    pub taken_on: String,
    /// When it was uploaded.
    pub uploaded_at: String,
    /// Who uploaded it.
    pub uploaded_by: String,
}

impl Attachment {
    /// Whether browsers may show it inline as an image.
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    /// The `Content-Disposition` to serve it with: inline for images,
    /// attachment for PDF; the name reduced to safe ASCII, with the full
    /// name percent-encoded in `filename*` (RFC 6266).
    pub fn content_disposition(&self) -> String {
        let ascii: String = self
            .file_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::new();
        for b in self.file_name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!(
            "{}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}",
            if self.is_image() {
                "inline"
            } else {
                "attachment"
            }
        )
    }
}

/// The content type of JPEG, PNG or PDF bytes, from their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The name kept for a file: the last part of any path the client sent
/// (some browsers send `C:\fakepath\…`), trimmed.
fn clean_name(name: &str) -> Result<String> {
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "file_name",
            "name the file (at most 200 characters, no control characters)",
        ));
    }
    Ok(name)
}

/// A file that passed the checks, ready to store.
#[derive(Debug, Clone)]
struct Checked {
    file_name: String,
    content_type: &'static str,
    bytes: Bytes,
    sha256: String,
}

/// Checks each file of an upload; every error names the file.
fn check(kind: &str, files: Vec<Upload>) -> Result<Vec<Checked>> {
    if files.is_empty() {
        return Err(Error::invalid("file", "choose at least one file to attach"));
    }
    let mut out: Vec<Checked> = Vec::new();
    for f in files {
        let file_name = clean_name(&f.file_name)?;
        if f.bytes.is_empty() {
            return Err(Error::invalid(file_name, "the file is empty"));
        }
        if f.bytes.len() > MAX_BYTES {
            return Err(Error::invalid(
                file_name,
                format!(
                    "the file is {} bytes; an attachment is at most 10 MB ({MAX_BYTES} bytes)",
                    f.bytes.len()
                ),
            ));
        }
        let Some(content_type) = sniff(&f.bytes) else {
            return Err(Error::invalid(
                file_name,
                "is not a JPEG, PNG or PDF file (judged from its contents, not its name); \
                 attach photos as JPEG or PNG and sketches as PNG or PDF",
            ));
        };
        if kind == "photo" && content_type == "application/pdf" {
            return Err(Error::invalid(
                file_name,
                "a photo is a JPEG or PNG image; attach a PDF as a sketch",
            ));
        }
        let sha256 = hex(&Sha256::digest(&f.bytes));
        if let Some(twin) = out.iter().find(|c| c.sha256 == sha256) {
            return Err(Error::conflict(
                file_name.as_str(),
                format!(
                    "{file_name}: the same file as {} in this upload",
                    twin.file_name
                ),
            ));
        }
        out.push(Checked {
            file_name,
            content_type,
            bytes: f.bytes,
            sha256,
        });
    }
    Ok(out)
}

fn key(scope: &ServiceScope, a: &Attachment) -> Result<BlobKey> {
    BlobKey::in_scope(scope, &format!("parcels/{}/{}", a.parcel_id, a.sha256))
}

const SELECT: &str = "SELECT id, parcel_id, kind, file_name, content_type, byte_size, sha256, caption, taken_on, \
    uploaded_at, uploaded_by FROM assessment_attachments WHERE municipality_id = $1";

/// A parcel's attachments (by the parcel's id), newest first.
pub async fn of_parcel(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel_id: &str,
) -> Result<Vec<Attachment>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND parcel_id = $2 ORDER BY uploaded_at DESC, id DESC");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(parcel_id).fetch_all(c).await)?,
    )
}

/// A parcel's attachments, the parcel named by its id or map-block-lot.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel: &str,
) -> Result<Vec<Attachment>> {
    let p = parcels::get(scope, ex, parcel).await?;
    of_parcel(scope, ex, &p.id).await
}

async fn get(
    ex: &mut impl Executor,
    scope: &ServiceScope,
    p: &Parcel,
    id: &str,
) -> Result<Attachment> {
    let sql = format!("{SELECT} AND parcel_id = $2 AND id = $3");
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(&p.id).bind(id).fetch_optional(c).await)?
    .ok_or(Error::NotFound { what: "attachment" })
}

/// Attaches files to a parcel (Edit permission): checks every file, records
/// them and their audit events in one transaction, and stores the bytes
/// before it commits (so no row ever names a missing object). Nothing is
/// attached when any file is refused.
pub async fn attach(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    parcel: &str,
    describe: &Describe,
    files: Vec<Upload>,
) -> Result<Vec<Attachment>> {
    require(scope, Permission::Edit)?;
    if !KINDS.iter().any(|k| k.0 == describe.kind) {
        return Err(Error::invalid("kind", "use photo or sketch"));
    }
    let caption = describe.caption.trim();
    if caption.chars().count() > 200 || caption.chars().any(char::is_control) {
        return Err(Error::invalid(
            "caption",
            "at most 200 characters, no control characters",
        ));
    }
    let taken_on = match describe.taken_on.trim() {
        "" => String::new(),
        s => format_date(parse_date("taken_on", s)?),
    };
    if !taken_on.is_empty() && taken_on.as_str() > format_date(now.datetime().date()).as_str() {
        return Err(Error::invalid("taken_on", "is after today"));
    }
    let files = check(&describe.kind, files)?;
    let mut tx = db.begin().await?;
    let p = parcels::get(scope, &mut tx, parcel).await?;
    let m = scope.municipality_id();
    let stamp = now.to_db();
    // Every file is checked against what the parcel holds before anything is written.
    for f in &files {
        let held: Option<(String, String)> = dispatch!(&mut tx, c => sqlx::query_as(
            "SELECT file_name, uploaded_at FROM assessment_attachments WHERE municipality_id = $1 AND parcel_id = $2 AND sha256 = $3")
            .bind(m).bind(&p.id).bind(&f.sha256).fetch_optional(c).await)?;
        if let Some((name, at)) = held {
            return Err(Error::conflict(
                f.file_name.as_str(),
                format!(
                    "{}: already attached as {name} (uploaded {}); nothing was attached",
                    f.file_name,
                    Timestamp::parse("uploaded_at", &at).map_or(at.clone(), |t| t.human())
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for f in &files {
        let a = Attachment {
            id: new_id(),
            parcel_id: p.id.clone(),
            kind: describe.kind.clone(),
            file_name: f.file_name.clone(),
            content_type: f.content_type.to_owned(),
            byte_size: i64::try_from(f.bytes.len()).unwrap_or(i64::MAX),
            sha256: f.sha256.clone(),
            caption: caption.to_owned(),
            taken_on: taken_on.clone(),
            uploaded_at: stamp.clone(),
            uploaded_by: scope.actor().label.clone(),
        };
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO assessment_attachments (municipality_id, id, parcel_id, kind, file_name, content_type, byte_size, \
             sha256, caption, taken_on, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .bind(m).bind(&a.id).bind(&a.parcel_id).bind(&a.kind).bind(&a.file_name).bind(&a.content_type)
            .bind(a.byte_size).bind(&a.sha256).bind(&a.caption).bind(&a.taken_on).bind(&a.uploaded_at)
            .bind(&a.uploaded_by).execute(c).await)
        .map_err(|e| {
            Error::from(e).on_conflict(
                &a.file_name,
                format!("{}: already attached to parcel {}", a.file_name, p.parcel_key),
            )
        })?;
        audit::record(
            &mut tx,
            now,
            scope.actor(),
            change(
                scope,
                "attachment.add",
                "attachment",
                &a.id,
                None,
                Some(serde_json::json!({"parcel": p.parcel_key, "attachment": json(&a)?})),
            ),
        )
        .await?;
        out.push(a);
    }
    for (a, f) in out.iter().zip(&files) {
        blobs.put(&key(scope, a)?, f.bytes.clone()).await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// An attachment and its bytes (View permission).
pub async fn open(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    parcel: &str,
    id: &str,
) -> Result<(Attachment, Bytes)> {
    let mut c = db.read().await?;
    let p = parcels::get(scope, &mut c, parcel).await?;
    let a = get(&mut c, scope, &p, id).await?;
    drop(c);
    let bytes = blobs.get(&key(scope, &a)?).await?;
    Ok((a, bytes))
}

/// Deletes an attachment (Edit permission): the row and its audit event in
/// one transaction, then, once that has committed, the bytes.
pub async fn remove(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    parcel: &str,
    id: &str,
) -> Result<Attachment> {
    require(scope, Permission::Edit)?;
    let mut tx = db.begin().await?;
    let p = parcels::get(scope, &mut tx, parcel).await?;
    let a = get(&mut tx, scope, &p, id).await?;
    execute!(&mut tx, c => sqlx::query(
        "DELETE FROM assessment_attachments WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(&a.id).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "attachment.remove",
            "attachment",
            &a.id,
            Some(serde_json::json!({"parcel": p.parcel_key, "attachment": json(&a)?})),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    blobs.delete(&key(scope, &a)?).await?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn files_are_recognised_by_their_first_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some("image/jpeg")
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn names_are_served_safely() {
        let a = |name: &str, ct: &str| Attachment {
            id: String::new(),
            parcel_id: String::new(),
            kind: "photo".into(),
            file_name: name.into(),
            content_type: ct.into(),
            byte_size: 1,
            sha256: String::new(),
            caption: String::new(),
            taken_on: String::new(),
            uploaded_at: String::new(),
            uploaded_by: String::new(),
        };
        assert_eq!(
            a("front.jpg", "image/jpeg").content_disposition(),
            "inline; filename=\"front.jpg\"; filename*=UTF-8''front.jpg"
        );
        assert_eq!(
            a("plan \"a\";\r\nx.pdf", "application/pdf").content_disposition(),
            "attachment; filename=\"plan _a____x.pdf\"; filename*=UTF-8''plan%20%22a%22%3B%0D%0Ax.pdf"
        );
        assert_eq!(clean_name("C:\\fakepath\\shed.png").unwrap(), "shed.png");
        assert_eq!(clean_name("../../x.png").unwrap(), "x.png");
        assert!(clean_name("dir/").is_err());
    }
}
