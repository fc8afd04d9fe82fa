//! Intake folders: a scanner (or a clerk) drops files into a folder on the server and they are
//! filed by themselves (docs/design/0013, "Intake folders").
//!
//! A town's records administrator names a folder and what its files become (department, type,
//! tags); the folder lives at `ROOT/{town slug}/{name}` on the server (`--intake-dir`, default
//! `DATA_DIR/intake`), where IT shares it with the scanners. The files are filed as the person who
//! set the folder up, with that person's rights as they are when the files arrive: someone who
//! lost them pauses the folder (the page says so) and nothing is filed in their name.
//!
//! The server's watcher ([`run_watcher`]) looks every few seconds. A file is taken once it has not
//! changed for a few seconds (a scanner may still be writing it): it is first moved into the
//! folder's `.claimed/` (a rename, atomic on one filesystem, so two servers sharing the folder
//! never file it twice), then filed in batches like `munishare import records` (`bulk`). A filed
//! file is deleted; a refused one is moved to `.refused/` beside a `NAME.why.txt` that says why.
//! Files left in `.claimed/` by a crash go back to the folder on the next pass; the content of a
//! batch cut off before its commit is swept like any abandoned upload.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use munishare_platform::access::{self, ServiceScope};
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::jobs::Progress;
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp, UserId};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::bulk::{self, BulkReport, Listing};
use crate::documents::{self, DocumentIn};
use crate::{change, new_id, require, types, visibility};

/// A folder whose files are filed by themselves.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntakeFolder {
    /// Id.
    pub id: String,
    /// The folder's name under the town's intake directory.
    pub name: String,
    /// Department code of what it files (absent: town-wide).
    pub department: Option<String>,
    /// Document type name of what it files.
    pub doc_type: Option<String>,
    /// Tags of what it files.
    pub tags: Vec<String>,
    /// Who the files are filed as (who set the folder up).
    pub file_as: String,
    /// Set up.
    pub created_at: String,
    /// When it was last emptied.
    pub last_run_at: Option<String>,
    /// Files filed then.
    pub last_filed: i64,
    /// Files refused then (in `.refused/`, each with its reason).
    pub last_refused: i64,
    /// Why the folder is paused, or what went wrong the last time.
    pub last_message: Option<String>,
}

/// A folder to set up.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct IntakeFolderIn {
    /// 1 to 40 letters, digits and `-` (it names a directory).
    pub name: String,
    /// A department's code; absent for town-wide documents.
    pub department: Option<String>,
    /// A document type's name or id.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// Tags for every file.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    municipality_id: MunicipalityId,
    id: String,
    name: String,
    department: Option<String>,
    doc_type: Option<String>,
    tags: String,
    file_as: UserId,
    file_as_name: String,
    created_at: String,
    last_run_at: Option<String>,
    last_filed: i64,
    last_refused: i64,
    last_message: Option<String>,
}

impl Row {
    fn tags(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn folder(&self) -> IntakeFolder {
        IntakeFolder {
            id: self.id.clone(),
            name: self.name.clone(),
            department: self.department.clone(),
            doc_type: self.doc_type.clone(),
            tags: self.tags(),
            file_as: self.file_as_name.clone(),
            created_at: self.created_at.clone(),
            last_run_at: self.last_run_at.clone(),
            last_filed: self.last_filed,
            last_refused: self.last_refused,
            last_message: self.last_message.clone(),
        }
    }
}

const SELECT: &str = "SELECT f.municipality_id, f.id, f.name, p.code AS department, t.name AS doc_type, f.tags, \
    f.file_as, u.username AS file_as_name, f.created_at, f.last_run_at, f.last_filed, f.last_refused, f.last_message \
    FROM records_intake_folders f JOIN users u ON u.id = f.file_as \
    LEFT JOIN departments p ON p.municipality_id = f.municipality_id AND p.id = f.department_id \
    LEFT JOIN records_document_types t ON t.municipality_id = f.municipality_id AND t.id = f.type_id";

/// The town's intake folders, by name (view).
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<IntakeFolder>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} WHERE f.municipality_id = $1 ORDER BY f.name");
    let rows: Vec<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    Ok(rows.iter().map(Row::folder).collect())
}

/// Sets up a folder whose files are filed as the caller (administer, and edit to file); audited.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &IntakeFolderIn,
) -> Result<IntakeFolder> {
    require(scope, Permission::Administer)?;
    require(scope, Permission::Edit)?;
    let name = req.name.trim();
    if name.is_empty()
        || name.len() > 40
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || name.starts_with('-')
    {
        return Err(Error::invalid(
            "name",
            "1 to 40 letters, digits and '-' (it names a folder on the server)",
        ));
    }
    // The same checks as a document filed with these details.
    documents::check_meta(
        scope,
        tx,
        &DocumentIn {
            doc_type: req.doc_type.clone(),
            department: req.department.clone(),
            tags: req.tags.clone(),
            ..DocumentIn::default()
        },
    )
    .await?;
    let department_id = match req.department.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => {
            Some(visibility::department(scope, tx, "department", d).await?.id)
        }
        _ => None,
    };
    let type_id = match req.doc_type.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(types::find(scope, tx, "type", t).await?.id),
        _ => None,
    };
    let taken: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT id FROM records_intake_folders WHERE municipality_id = $1 AND LOWER(name) = $2")
        .bind(scope.municipality_id()).bind(name.to_lowercase()).fetch_optional(c).await)?;
    if taken.is_some() {
        return Err(Error::conflict(
            "name",
            format!("the town already has an intake folder named '{name}'"),
        ));
    }
    let id = new_id();
    let tags: Vec<String> = req
        .tags
        .iter()
        .map(|t| t.trim().replace(',', " "))
        .collect();
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_intake_folders (municipality_id, id, name, department_id, type_id, tags, file_as, created_at, \
         last_filed, last_refused) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0)")
        .bind(scope.municipality_id()).bind(&id).bind(name).bind(&department_id).bind(&type_id)
        .bind(tags.join(",")).bind(scope.user_id()).bind(now.to_db()).execute(c).await)?;
    let folder = list(scope, tx)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| Error::Internal("the new intake folder is missing".into()))?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.intake.create",
            "records_intake_folder",
            &id,
            None,
            Some(serde_json::json!(folder)),
        ),
    )
    .await?;
    Ok(folder)
}

/// Removes a folder's set-up (administer; the directory and any files in it stay); audited.
pub async fn delete(scope: &ServiceScope, tx: &mut Tx, now: Timestamp, id: &str) -> Result<()> {
    require(scope, Permission::Administer)?;
    let folder = list(scope, tx)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(Error::NotFound {
            what: "intake folder",
        })?;
    execute!(tx, c => sqlx::query("DELETE FROM records_intake_folders WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.intake.delete",
            "records_intake_folder",
            id,
            Some(serde_json::json!(folder)),
            None,
        ),
    )
    .await?;
    Ok(())
}

/// Where a town's folder lives under the intake root.
pub fn folder_path(root: &Path, town_slug: &str, name: &str) -> PathBuf {
    root.join(town_slug).join(name)
}

/// What one pass did in one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Files filed.
    pub filed: u64,
    /// Files refused (moved to `.refused/`).
    pub refused: u64,
}

/// Empties every town's intake folders once: files unchanged for `settle` are filed; returns
/// the files filed and refused in all.
pub async fn run_once(
    db: &Db,
    blobs: &BlobStore,
    root: &Path,
    now: Timestamp,
    settle: Duration,
) -> Result<Pass> {
    let rows: Vec<Row> = {
        let mut c = db.read().await?;
        let sql = format!("{SELECT} ORDER BY f.municipality_id, f.name");
        dispatch!(&mut c, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?
    };
    let mut total = Pass::default();
    for row in rows {
        let outcome = empty_folder(db, blobs, root, now, settle, &row).await;
        let (pass, message) = match outcome {
            Ok(p) => (p, None),
            Err(e) => (Pass::default(), Some(e.to_string())),
        };
        if pass.filed + pass.refused > 0 || message.is_some() || row.last_message.is_some() {
            let mut tx = db.begin().await?;
            execute!(&mut tx, c => sqlx::query(
                "UPDATE records_intake_folders SET last_run_at = $3, last_filed = $4, last_refused = $5, last_message = $6 \
                 WHERE municipality_id = $1 AND id = $2")
                .bind(&row.municipality_id).bind(&row.id).bind(now.to_db())
                .bind(i64::try_from(pass.filed).unwrap_or(i64::MAX))
                .bind(i64::try_from(pass.refused).unwrap_or(i64::MAX)).bind(&message).execute(c).await)?;
            tx.commit().await?;
        }
        total.filed += pass.filed;
        total.refused += pass.refused;
    }
    Ok(total)
}

async fn empty_folder(
    db: &Db,
    blobs: &BlobStore,
    root: &Path,
    now: Timestamp,
    settle: Duration,
    row: &Row,
) -> Result<Pass> {
    let town = {
        let mut c = db.read().await?;
        munishare_platform::tenancy::find_by_id(&mut c, &row.municipality_id)
            .await?
            .ok_or(Error::NotFound { what: "town" })?
    };
    let dir = folder_path(root, town.slug.as_str(), &row.name);
    let claimed = dir.join(".claimed");
    let refused_dir = dir.join(".refused");
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Error::Internal(format!("intake folder {}: {what}: {e}", p.display()))
    };
    std::fs::create_dir_all(&claimed).map_err(|e| io("cannot create", &claimed, e))?;
    // What a crash left claimed goes back first, then whatever has settled is claimed.
    for e in std::fs::read_dir(&claimed).map_err(|e| io("cannot read", &claimed, e))? {
        let e = e.map_err(|e| io("cannot read", &claimed, e))?;
        let _ = std::fs::rename(e.path(), dir.join(e.file_name()));
    }
    let mut files = Vec::new();
    let cutoff = SystemTime::now()
        .checked_sub(settle)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&dir)
        .map_err(|e| io("cannot read", &dir, e))?
        .filter_map(std::result::Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name();
        let Ok(meta) = e.metadata() else { continue };
        if name.to_string_lossy().starts_with('.') || !meta.is_file() {
            continue;
        }
        if meta.modified().is_ok_and(|m| m > cutoff) {
            continue; // still being written
        }
        let to = claimed.join(&name);
        // Another server sharing the folder may have taken it first.
        if std::fs::rename(e.path(), &to).is_ok() {
            files.push(to);
        }
    }
    if files.is_empty() {
        return Ok(Pass::default());
    }
    let give_back = |files: &[PathBuf]| {
        for f in files {
            if let Some(n) = f.file_name() {
                let _ = std::fs::rename(f, dir.join(n));
            }
        }
    };
    let scope = match scope_of(db, now, row).await {
        Ok(s) => s,
        Err(e) => {
            give_back(&files);
            return Err(e);
        }
    };
    let meta = {
        let mut c = db.read().await?;
        documents::check_meta(
            &scope,
            &mut c,
            &DocumentIn {
                doc_type: row.doc_type.clone(),
                department: row.department.clone(),
                tags: row.tags(),
                ..DocumentIn::default()
            },
        )
        .await
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            give_back(&files);
            return Err(e);
        }
    };
    let listing = Listing {
        dir: claimed.clone(),
        files,
        hidden: 0,
    };
    let mut report = BulkReport::default();
    let outcome = bulk::import(
        &scope,
        db,
        blobs,
        now,
        &listing,
        &meta,
        &Progress::default(),
        &mut report,
    )
    .await;
    for f in &report.filed_files {
        let _ = std::fs::remove_file(f);
    }
    if !report.refused.is_empty() {
        std::fs::create_dir_all(&refused_dir).map_err(|e| io("cannot create", &refused_dir, e))?;
    }
    for r in &report.refused {
        let from = claimed.join(&r.file);
        let _ = std::fs::rename(&from, refused_dir.join(&r.file));
        let _ = std::fs::write(
            refused_dir.join(format!("{}.why.txt", r.file)),
            format!("{} {}\n", r.file, r.message),
        );
    }
    // Whatever is still claimed (an error stopped the import) goes back for the next pass.
    let left: Vec<PathBuf> = listing
        .files
        .iter()
        .filter(|f| f.exists())
        .cloned()
        .collect();
    give_back(&left);
    outcome?;
    Ok(Pass {
        filed: report.filed,
        refused: report.refused.len() as u64,
    })
}

/// The scope of the folder's owner, as their grants are today.
async fn scope_of(db: &Db, now: Timestamp, row: &Row) -> Result<ServiceScope> {
    access::authorize_issued_credential(
        db,
        now.datetime().date(),
        &row.file_as,
        &row.municipality_id,
        Service::Records,
        Permission::Edit,
        &format!("intake folder {}", row.name),
    )
    .await
    .map_err(|e| {
        let why = match e {
            Error::Unauthenticated(_) => "'s account is disabled",
            Error::NotFound { .. } => " no longer has records in this town",
            Error::Forbidden(_) => " may no longer file records here",
            other => return other,
        };
        Error::Forbidden(format!(
            "paused: {}{why}; a records administrator should set the folder up again",
            row.file_as_name
        ))
    })
}

/// Empties the intake folders under `root` every `interval` until `shutdown` turns true.
pub async fn run_watcher(
    db: Db,
    blobs: BlobStore,
    root: PathBuf,
    clock: std::sync::Arc<dyn munishare_platform::Clock>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Timestamp::new(clock.now());
        if let Err(e) = run_once(&db, &blobs, &root, now, Duration::from_secs(5)).await {
            tracing::error!(error = %e, "intake folders could not be emptied");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Where this server's intake folders live (`--intake-dir`); kept in the application state's
/// module extensions so pages can show the full path.
#[derive(Debug, Clone)]
pub struct IntakeRoot(pub PathBuf);
