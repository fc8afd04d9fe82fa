//! The files a town's assessor imports (parcel rolls, sales, permits, the
//! DMV's vehicles): each is kept in the blob store under the town's prefix,
//! so what was imported can always be read again, and recorded with its
//! SHA-256, so the same file is never imported twice as the same kind.

use bytes::Bytes;
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::types::{Permission, Timestamp, hex};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::parcels::{change, json, new_id, require};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A parcel roll.
    Parcels,
    /// Sales in OPM's layout.
    SalesOpm,
    /// Sales in the generic layout.
    SalesCsv,
    /// Building permits (`field`).
    Permits,
    /// The DMV's motor vehicles of a grand list.
    MotorVehicles,
    /// The DMV's vehicles registered after October 1 (the supplemental list, CGS 12-71b).
    SupplementalMotorVehicles,
}

impl ImportKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Parcels => "parcels",
            ImportKind::SalesOpm => "sales-opm",
            ImportKind::SalesCsv => "sales-csv",
            ImportKind::Permits => "permits",
            ImportKind::MotorVehicles => "motor-vehicles",
            ImportKind::SupplementalMotorVehicles => "supplemental-motor-vehicles",
        }
    }
}

/// An uploaded file, already in the blob store.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The name the user gave.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Bytes,
    /// SHA-256, hex.
    pub sha256: String,
    /// Where it is kept.
    pub blob_key: String,
}

/// Keeps an uploaded file in the town's part of the blob store. Done before
/// the import's transaction; a failed import leaves an unreferenced copy,
/// which is harmless (the import record is what counts).
pub async fn store(
    scope: &ServiceScope,
    blobs: &BlobStore,
    file_name: &str,
    bytes: Bytes,
) -> Result<Stored> {
    require(scope, Permission::Edit)?;
    let file_name = file_name.trim();
    if file_name.is_empty() || file_name.chars().count() > 200 {
        return Err(Error::invalid(
            "file_name",
            "name the file (at most 200 characters)",
        ));
    }
    if bytes.is_empty() {
        return Err(Error::invalid(file_name, "the file is empty"));
    }
    let sha256 = hex(&Sha256::digest(&bytes));
    let key = BlobKey::in_scope(scope, &format!("imports/{}", new_id()))?;
    blobs.put(&key, bytes.clone()).await?;
    Ok(Stored {
        file_name: file_name.to_owned(),
        bytes,
        sha256,
        blob_key: key.as_str().to_owned(),
    })
}

/// What to import a file as, with what that import needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// The parcel roll.
    Parcels,
    /// Sales, in OPM's layout or the generic one.
    Sales(crate::sales::Layout),
    /// Building permits.
    Permits,
    /// The DMV's vehicles registered on October 1 of the list year.
    MotorVehicles(i64),
    /// The DMV's vehicles registered after October 1 of the list year (CGS 12-71b).
    SupplementalMotorVehicles(i64),
}

impl Load {
    /// Parses `parcels`, `sales-csv`, `sales-opm`, `permits`, `motor-vehicles`
    /// or `supplemental-motor-vehicles` (the last two need the list year).
    pub fn parse(kind: &str, list_year: Option<i64>) -> Result<Self> {
        let year = || {
            list_year.ok_or_else(|| {
                Error::invalid(
                    "list_year",
                    format!("a {kind} file needs its grand-list year"),
                )
            })
        };
        Ok(match kind.trim() {
            "parcels" => Load::Parcels,
            "sales-csv" => Load::Sales(crate::sales::Layout::Csv),
            "sales-opm" => Load::Sales(crate::sales::Layout::Opm),
            "permits" => Load::Permits,
            "motor-vehicles" => Load::MotorVehicles(year()?),
            "supplemental-motor-vehicles" => Load::SupplementalMotorVehicles(year()?),
            other => {
                return Err(Error::invalid(
                    "kind",
                    format!(
                        "'{other}' is not a kind of file: use parcels, sales-csv, sales-opm, permits, \
                         motor-vehicles or supplemental-motor-vehicles"
                    ),
                ));
            }
        })
    }
}

/// Keeps a file in the town's part of the blob store, then imports it in one
/// transaction: all of it or none. The one way the API, the pages and the
/// command line import a town's assessment files.
pub async fn run(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    load: Load,
    file_name: &str,
    bytes: Bytes,
) -> Result<ImportRecord> {
    let file = store(scope, blobs, file_name, bytes).await?;
    let mut tx = db.begin().await?;
    let rec = match load {
        Load::Parcels => crate::parcels::import(scope, &mut tx, now, &file).await?,
        Load::Sales(layout) => {
            crate::sales::import(scope, &mut tx, now, now.datetime().date(), layout, &file).await?
        }
        Load::Permits => crate::field::import_permits(scope, &mut tx, now, &file).await?,
        Load::MotorVehicles(year) => {
            crate::motor_vehicles::import(scope, &mut tx, now, year, &file).await?
        }
        Load::SupplementalMotorVehicles(year) => {
            crate::supplemental::import(scope, &mut tx, now, year, &file).await?
        }
    };
    tx.commit().await?;
    Ok(rec)
}

/// A recorded import.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportRecord {
    /// Id.
    pub id: String,
    /// `parcels`, `sales-opm`, `sales-csv`, `motor-vehicles` or `permits`.
    pub kind: String,
    /// File name.
    pub file_name: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Rows read.
    pub rows: i64,
    /// New records.
    pub added: i64,
    /// Records changed.
    pub changed: i64,
    /// Who imported it.
    pub created_by: String,
    /// When.
    pub created_at: String,
}

/// Records a finished import (inside its transaction) and audits it. Refused
/// when the same file was imported before as the same kind.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    file: &Stored,
    kind: ImportKind,
    rows: i64,
    added: i64,
    changed: i64,
) -> Result<ImportRecord> {
    let m = scope.municipality_id();
    let before: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT created_at FROM assessment_imports WHERE municipality_id = $1 AND kind = $2 AND sha256 = $3")
        .bind(m).bind(kind.as_str()).bind(&file.sha256).fetch_optional(c).await)?;
    if let Some(at) = before {
        return Err(Error::conflict(
            "file",
            format!(
                "{}: this file was imported already (on {}); nothing was changed",
                file.file_name,
                Timestamp::parse("created_at", &at).map_or(at.clone(), |t| t.human())
            ),
        ));
    }
    let rec = ImportRecord {
        id: new_id(),
        kind: kind.as_str().to_owned(),
        file_name: file.file_name.clone(),
        sha256: file.sha256.clone(),
        rows,
        added,
        changed,
        created_by: scope.actor().label.clone(),
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_imports (municipality_id, id, kind, file_name, sha256, blob_key, rows, added, changed, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(m).bind(&rec.id).bind(&rec.kind).bind(&rec.file_name).bind(&rec.sha256).bind(&file.blob_key)
        .bind(rows).bind(added).bind(changed).bind(&rec.created_by).bind(&rec.created_at).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "import.record",
            "assessment_import",
            &rec.id,
            None,
            Some(json(&rec)?),
        ),
    )
    .await?;
    Ok(rec)
}

/// The town's imports, newest first.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<ImportRecord>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, kind, file_name, sha256, rows, added, changed, created_by, created_at FROM assessment_imports \
         WHERE municipality_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}
