//! Field work (docs/design/0009-field-work.md): building permits, the
//! inspections field assessors do, owner data mailers, and the CGS 12-62
//! ten-year full-inspection check.
//!
//! A permit import creates each permit's pick-up inspection in the same
//! transaction. An inspection goes `open → assigned → done`, or `cancelled`
//! from open or assigned; each change is one `save` with a version check and
//! an audit record holding the row before and after. Whoever is assigned must
//! hold edit in assessment in the town — the platform's access service says
//! who does.

use std::collections::{BTreeMap, HashMap, HashSet};

use munishare_platform::access::{self, PermissionHolder, ServiceScope};
use munishare_platform::db::{Executor, SqlBuilder, Tx};
use munishare_platform::types::{Money, Permission, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::csv_table::Table;
use crate::demo::valuation_date;
use crate::imports::{self, ImportKind, ImportRecord};
use crate::parcels::{self, change, json, new_id, require};

/// Why an inspection is needed.
pub const REASONS: [(&str, &str); 5] = [
    ("permit", "Building permit"),
    ("sale", "Sale verification"),
    ("cyclical", "Cyclical (CGS 12-62)"),
    ("appeal", "Appeal"),
    ("other", "Other"),
];

/// An inspection's states.
pub const STATUSES: [&str; 4] = ["open", "assigned", "done", "cancelled"];

/// Years between full inspections (CGS 12-62(b)).
pub const CYCLE_YEARS: i32 = 10;

// ---------------------------------------------------------------- permits

/// A building permit.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Permit {
    /// Id.
    pub id: String,
    /// The building department's number, unique in the town.
    pub permit_number: String,
    /// The parcel's id.
    pub parcel_id: String,
    /// Its map-block-lot.
    pub parcel_key: String,
    /// Its location.
    pub location: String,
    /// When the permit was issued, `YYYY-MM-DD`.
    pub issued_on: String,
    /// Kind of work (e.g. addition, deck, roof), as the building department writes it.
    pub work_type: String,
    /// What the work is.
    pub description: String,
    /// Estimated cost of the work, cents (0 when not given).
    pub value_cents: i64,
    /// The pick-up inspection the permit created.
    pub inspection_id: String,
    /// That inspection's status.
    pub inspection_status: String,
    /// When it was imported.
    pub created_at: String,
}

/// One row of a permit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRow {
    /// The row (the header is row 1).
    pub row: u64,
    /// Permit number.
    pub permit_number: String,
    /// Map-block-lot of the parcel.
    pub parcel_key: String,
    /// Issue date.
    pub issued_on: Date,
    /// Kind of work.
    pub work_type: String,
    /// Description.
    pub description: String,
    /// Estimated cost, cents.
    pub value_cents: i64,
}

/// The columns of the permit file; those marked `true` are required.
pub const PERMIT_COLUMNS: [(&str, bool); 6] = [
    ("permit_number", true),
    ("parcel_id", true),
    ("issued_on", true),
    ("description", true),
    ("work_type", false),
    ("value", false),
];

/// Reads a permit CSV (columns of [`PERMIT_COLUMNS`] in any order, header
/// names case-insensitive). Every error names the file, the row and the
/// column; a permit number repeated in the file names both rows.
pub fn read_permits(file_name: &str, bytes: &[u8]) -> Result<Vec<PermitRow>> {
    let table = Table::open(file_name, bytes, &PERMIT_COLUMNS, "a permit file")?;
    let mut out = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    table.rows(|r| {
        let row = r.number;
        let cell = |k: usize| r.cell(k);
        let place = |k: usize| r.place(k);
        let text = |k: usize, max: usize, required: bool| -> Result<String> {
            if required && cell(k).is_empty() {
                return Err(Error::invalid(place(k), "is empty"));
            }
            r.text(k, max)
        };
        let permit_number = text(0, 40, true)?;
        if let Some(first) = seen.insert(permit_number.clone(), row) {
            return Err(Error::invalid(
                place(0),
                format!("permit {permit_number} is also row {first}"),
            ));
        }
        let parcel_key = text(1, 40, true)?;
        if !parcels::is_map_block_lot(&parcel_key) {
            return Err(Error::invalid(
                place(1),
                format!("'{parcel_key}' is not map-block-lot (e.g. 123-4-56)"),
            ));
        }
        let issued_on = parse_date(&place(2), cell(2)).map_err(|_| {
            Error::invalid(
                place(2),
                format!("'{}' is not a date (YYYY-MM-DD)", cell(2)),
            )
        })?;
        let description = text(3, 500, true)?;
        let work_type = text(4, 40, false)?;
        let value_cents = if cell(5).is_empty() {
            0
        } else {
            let c = Money::parse(&place(5), cell(5))?.cents();
            if c < 0 {
                return Err(Error::invalid(place(5), "the value is negative"));
            }
            c
        };
        out.push(PermitRow {
            row,
            permit_number,
            parcel_key,
            issued_on,
            work_type,
            description,
            value_cents,
        });
        Ok(())
    })?;
    if out.is_empty() {
        return Err(Error::invalid(file_name, "the file has no permits"));
    }
    Ok(out)
}

/// When a permit's pick-up inspection is due: the first October 1 after the
/// permit was issued, so the work is on the next grand list.
pub fn permit_due_on(issued: Date) -> Date {
    let oct1 = |y: i32| Date::from_calendar_date(y, Month::October, 1).unwrap_or(issued);
    if oct1(issued.year()) > issued {
        oct1(issued.year())
    } else {
        oct1(issued.year() + 1)
    }
}

/// Imports a permit file: each new permit and its pick-up inspection; a
/// permit number already held is skipped; a parcel not on the roll is an
/// error on its row. All or nothing; the same file twice is refused.
pub async fn import_permits(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    file: &imports::Stored,
) -> Result<ImportRecord> {
    require(scope, Permission::Edit)?;
    let rows = read_permits(&file.file_name, &file.bytes)?;
    let m = scope.municipality_id();
    let keys: HashMap<String, String> = dispatch!(tx, c => sqlx::query_as::<_, (String, String)>(
        "SELECT parcel_key, id FROM assessment_parcels WHERE municipality_id = $1")
        .bind(m).fetch_all(c).await)?
    .into_iter()
    .collect();
    let held: HashSet<String> = dispatch!(tx, c => sqlx::query_scalar::<_, String>(
        "SELECT permit_number FROM assessment_permits WHERE municipality_id = $1")
        .bind(m).fetch_all(c).await)?
    .into_iter()
    .collect();
    let mut fresh = Vec::new();
    for r in &rows {
        let Some(parcel_id) = keys.get(&r.parcel_key) else {
            return Err(Error::invalid(
                format!("{}, row {}, column parcel_id", file.file_name, r.row),
                format!("no parcel {} on the town's roll", r.parcel_key),
            ));
        };
        if !held.contains(&r.permit_number) {
            fresh.push((r, parcel_id.clone()));
        }
    }
    let import_id = new_id();
    let stamp = now.to_db();
    for (r, parcel_id) in &fresh {
        let inspection = Inspection {
            id: new_id(),
            parcel_id: parcel_id.clone(),
            parcel_key: r.parcel_key.clone(),
            location: String::new(),
            neighbourhood: String::new(),
            reason: "permit".into(),
            source: format!("permit {}", r.permit_number),
            due_on: format_date(permit_due_on(r.issued_on)),
            status: "open".into(),
            inspector_id: String::new(),
            inspector_name: String::new(),
            inspected_on: String::new(),
            interior: false,
            changes: String::new(),
            notes: r.description.clone(),
            created_at: stamp.clone(),
            created_by: scope.actor().label.clone(),
            version: 1,
        };
        insert_inspection(tx, scope, &inspection).await?;
        let permit_id = new_id();
        execute!(tx, c => sqlx::query(
            "INSERT INTO assessment_permits (municipality_id, id, permit_number, parcel_id, issued_on, work_type, description, \
             value_cents, inspection_id, import_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(m).bind(&permit_id).bind(&r.permit_number).bind(parcel_id).bind(format_date(r.issued_on))
            .bind(&r.work_type).bind(&r.description).bind(r.value_cents).bind(&inspection.id).bind(&import_id)
            .bind(&stamp).execute(c).await)?;
        audit::record(
            tx,
            now,
            scope.actor(),
            change(
                scope,
                "permit.import",
                "permit",
                &permit_id,
                None,
                Some(serde_json::json!({
                    "permit_number": r.permit_number, "parcel": r.parcel_key, "issued_on": format_date(r.issued_on),
                    "value_cents": r.value_cents, "inspection": inspection.id, "due_on": inspection.due_on,
                    "file": file.file_name,
                })),
            ),
        )
        .await?;
    }
    imports::record(
        scope,
        tx,
        now,
        file,
        ImportKind::Permits,
        rows.len() as i64,
        fresh.len() as i64,
        0,
    )
    .await
}

/// Which permits.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PermitFilter {
    /// Text in the permit number, parcel id, location, work type or description.
    pub q: Option<String>,
    /// Issued on or after (YYYY-MM-DD).
    pub from: Option<String>,
    /// Issued on or before (YYYY-MM-DD).
    pub to: Option<String>,
}

/// The town's permits, newest first, filtered.
pub async fn permits(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &PermitFilter,
) -> Result<Vec<Permit>> {
    require(scope, Permission::View)?;
    let mut q = SqlBuilder::new(
        "SELECT t.id, t.permit_number, t.parcel_id, p.parcel_key, p.location, t.issued_on, t.work_type, t.description, \
         t.value_cents, t.inspection_id, COALESCE(i.status, '') AS inspection_status, t.created_at \
         FROM assessment_permits t \
         JOIN assessment_parcels p ON p.municipality_id = t.municipality_id AND p.id = t.parcel_id \
         LEFT JOIN assessment_inspections i ON i.municipality_id = t.municipality_id AND i.id = t.inspection_id \
         WHERE t.municipality_id = ",
    );
    q.bind(scope.municipality_id().as_str());
    if let Some(d) = date_opt("from", f.from.as_deref())? {
        q.push(" AND t.issued_on >= ").bind(format_date(d));
    }
    if let Some(d) = date_opt("to", f.to.as_deref())? {
        q.push(" AND t.issued_on <= ").bind(format_date(d));
    }
    if let Some(t) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q.push(
            " AND LOWER(t.permit_number || ' ' || p.parcel_key || ' ' || p.location || ' ' || t.work_type || ' ' || t.description) LIKE ",
        )
        .bind(format!("%{}%", t.to_lowercase()));
    }
    q.push(" ORDER BY t.issued_on DESC, t.permit_number");
    let (sql, args) = q.build();
    Ok(dispatch!(ex, c => {
        let mut s = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for a in args { s = s.bind(a); }
        s.fetch_all(c).await
    })?)
}

fn date_opt(field: &str, s: Option<&str>) -> Result<Option<Date>> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(field, s))
        .transpose()
}

// ---------------------------------------------------------------- inspections

/// An inspection to do, or done.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Inspection {
    /// Id.
    pub id: String,
    /// The parcel's id.
    pub parcel_id: String,
    /// Its map-block-lot.
    pub parcel_key: String,
    /// Its location.
    pub location: String,
    /// Its neighbourhood.
    pub neighbourhood: String,
    /// `permit`, `sale`, `cyclical`, `appeal` or `other`.
    pub reason: String,
    /// What asked for it (e.g. `permit B-2026-0142`).
    pub source: String,
    /// Due date, `YYYY-MM-DD`.
    pub due_on: String,
    /// `open`, `assigned`, `done` or `cancelled`.
    pub status: String,
    /// The assigned inspector's user id (empty while open).
    pub inspector_id: String,
    /// The inspector's name.
    pub inspector_name: String,
    /// When it was done, `YYYY-MM-DD` (empty until done).
    pub inspected_on: String,
    /// Whether the interior was inspected (with the exterior: a full inspection under CGS 12-62).
    pub interior: bool,
    /// Data changes noted in the field.
    pub changes: String,
    /// Notes (why it was created, why cancelled).
    pub notes: String,
    /// Created.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// Version, for optimistic concurrency.
    pub version: i64,
}

const INSPECTION_SELECT: &str = "SELECT i.id, i.parcel_id, p.parcel_key, p.location, p.neighbourhood, i.reason, i.source, \
    i.due_on, i.status, i.inspector_id, i.inspector_name, i.inspected_on, i.interior, i.changes, i.notes, i.created_at, \
    i.created_by, i.version FROM assessment_inspections i \
    JOIN assessment_parcels p ON p.municipality_id = i.municipality_id AND p.id = i.parcel_id \
    WHERE i.municipality_id = ";

async fn insert_inspection(tx: &mut Tx, scope: &ServiceScope, i: &Inspection) -> Result<()> {
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_inspections (municipality_id, id, parcel_id, reason, source, due_on, status, inspector_id, \
         inspector_name, inspected_on, interior, changes, notes, created_at, created_by, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(scope.municipality_id()).bind(&i.id).bind(&i.parcel_id).bind(&i.reason).bind(&i.source).bind(&i.due_on)
        .bind(&i.status).bind(&i.inspector_id).bind(&i.inspector_name).bind(&i.inspected_on).bind(i.interior)
        .bind(&i.changes).bind(&i.notes).bind(&i.created_at).bind(&i.created_by).bind(i.version)
        .execute(c).await)?;
    Ok(())
}

/// A new inspection.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct InspectionIn {
    /// The parcel: id or map-block-lot.
    pub parcel: String,
    /// `permit`, `sale`, `cyclical`, `appeal` or `other`.
    pub reason: String,
    /// Due date, `YYYY-MM-DD`.
    pub due_on: String,
    /// Why (optional, at most 1,000 characters).
    #[serde(default)]
    pub notes: String,
}

fn check_reason(reason: &str) -> Result<()> {
    if REASONS.iter().any(|r| r.0 == reason) {
        Ok(())
    } else {
        Err(Error::invalid(
            "reason",
            format!(
                "'{reason}' is not a reason: use {}",
                REASONS.map(|r| r.0).join(", ")
            ),
        ))
    }
}

/// Creates an inspection on a parcel of the town.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &InspectionIn,
) -> Result<Inspection> {
    require(scope, Permission::Edit)?;
    let reason = new.reason.trim();
    check_reason(reason)?;
    let due = parse_date("due_on", new.due_on.trim())?;
    let notes = new.notes.trim();
    if notes.chars().count() > 1000 {
        return Err(Error::invalid("notes", "longer than 1,000 characters"));
    }
    let parcel = match parcels::get(scope, tx, new.parcel.trim()).await {
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "parcel",
                format!("no parcel '{}' on the town's roll", new.parcel.trim()),
            ));
        }
        other => other?,
    };
    let i = Inspection {
        id: new_id(),
        parcel_id: parcel.id.clone(),
        parcel_key: parcel.parcel_key.clone(),
        location: parcel.location.clone(),
        neighbourhood: parcel.neighbourhood.clone(),
        reason: reason.to_owned(),
        source: String::new(),
        due_on: format_date(due),
        status: "open".into(),
        inspector_id: String::new(),
        inspector_name: String::new(),
        inspected_on: String::new(),
        interior: false,
        changes: String::new(),
        notes: notes.to_owned(),
        created_at: now.to_db(),
        created_by: scope.actor().label.clone(),
        version: 1,
    };
    insert_inspection(tx, scope, &i).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "inspection.create",
            "inspection",
            &i.id,
            None,
            Some(json(&i)?),
        ),
    )
    .await?;
    Ok(i)
}

/// One inspection of the town.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Inspection> {
    require(scope, Permission::View)?;
    let sql = format!("{INSPECTION_SELECT}$1 AND i.id = $2");
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "inspection" })
}

/// Which inspections.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct InspectionFilter {
    /// `permit`, `sale`, `cyclical`, `appeal` or `other`.
    pub reason: Option<String>,
    /// `open`, `assigned`, `done`, `cancelled`, `active` (open or assigned) or `all`; default `active`.
    pub status: Option<String>,
    /// The inspector's user id.
    pub inspector: Option<String>,
    /// The parcel's id.
    #[param(ignore)]
    #[serde(skip)]
    pub parcel_id: Option<String>,
}

/// The town's inspections matching a filter, by due date.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &InspectionFilter,
) -> Result<Vec<Inspection>> {
    require(scope, Permission::View)?;
    let mut q = SqlBuilder::new(INSPECTION_SELECT);
    q.bind(scope.municipality_id().as_str());
    match f.status.as_deref().map(str::trim).unwrap_or("") {
        "" | "active" => {
            q.push(" AND i.status IN ('open', 'assigned')");
        }
        "all" => {}
        s if STATUSES.contains(&s) => {
            q.push(" AND i.status = ").bind(s);
        }
        s => {
            return Err(Error::invalid(
                "status",
                format!(
                    "'{s}' is not a status: use open, assigned, done, cancelled, active or all"
                ),
            ));
        }
    }
    if let Some(r) = f.reason.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        check_reason(r)?;
        q.push(" AND i.reason = ").bind(r);
    }
    if let Some(u) = f
        .inspector
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q.push(" AND i.inspector_id = ").bind(u);
    }
    if let Some(p) = f.parcel_id.as_deref() {
        q.push(" AND i.parcel_id = ").bind(p);
    }
    q.push(" ORDER BY i.due_on, p.parcel_key, i.id");
    let (sql, args) = q.build();
    Ok(dispatch!(ex, c => {
        let mut s = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for a in args { s = s.bind(a); }
        s.fetch_all(c).await
    })?)
}

/// Where a location falls on an inspector's drive: the street, then the
/// house number (`12B Elm St` → `("ELM ST", 12, "12B ELM ST")`), so a route
/// takes one street at a time, in house-number order. A location without a
/// leading number sorts at the street's start.
pub fn route_key(location: &str) -> (String, u64, String) {
    let upper = location.trim().to_uppercase();
    let digits: String = upper.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse::<u64>().unwrap_or(0);
    let rest = &upper[digits.len()..];
    // A unit letter right after the number ("12B Elm St").
    let unit_letter = !digits.is_empty()
        && rest.starts_with(|c: char| c.is_ascii_alphabetic())
        && rest[1..].starts_with(' ');
    let street = if unit_letter { &rest[1..] } else { rest }
        .trim()
        .to_owned();
    (street, number, upper)
}

/// Every inspection of one parcel, by due date.
pub async fn of_parcel(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel_id: &str,
) -> Result<Vec<Inspection>> {
    list(
        scope,
        ex,
        &InspectionFilter {
            status: Some("all".into()),
            parcel_id: Some(parcel_id.to_owned()),
            ..InspectionFilter::default()
        },
    )
    .await
}

/// Who may be assigned inspections in the town: users with edit in assessment there.
pub async fn inspectors(
    scope: &ServiceScope,
    ex: &mut impl Executor,
) -> Result<Vec<PermissionHolder>> {
    require(scope, Permission::View)?;
    access::users_with_permission(scope, ex, Permission::Edit).await
}

fn check_version(i: &Inspection, version: i64) -> Result<()> {
    if i.version == version {
        Ok(())
    } else {
        Err(Error::conflict(
            "version",
            format!(
                "the inspection of {} changed since you read it (version {} now); reload and try again",
                i.parcel_key, i.version
            ),
        ))
    }
}

async fn save(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    action: &'static str,
    before: &Inspection,
    after: &Inspection,
    parcel_change: Option<serde_json::Value>,
) -> Result<Inspection> {
    let n = execute!(tx, c => sqlx::query(
        "UPDATE assessment_inspections SET status = $1, inspector_id = $2, inspector_name = $3, inspected_on = $4, \
         interior = $5, changes = $6, notes = $7, version = version + 1 \
         WHERE municipality_id = $8 AND id = $9 AND version = $10")
        .bind(&after.status).bind(&after.inspector_id).bind(&after.inspector_name).bind(&after.inspected_on)
        .bind(after.interior).bind(&after.changes).bind(&after.notes)
        .bind(scope.municipality_id()).bind(&before.id).bind(before.version).execute(c).await)?;
    if n != 1 {
        return Err(Error::conflict(
            "version",
            format!(
                "the inspection of {} changed meanwhile; reload and try again",
                before.parcel_key
            ),
        ));
    }
    let saved = get(scope, tx, &before.id).await?;
    let mut after_json = json(&saved)?;
    if let (Some(link), Some(o)) = (parcel_change, after_json.as_object_mut()) {
        o.insert("parcel_change".into(), link);
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            action,
            "inspection",
            &before.id,
            Some(json(before)?),
            Some(after_json),
        ),
    )
    .await?;
    Ok(saved)
}

/// Assigns (or reassigns) an open or assigned inspection to `inspector`, a
/// user id; they must hold edit in assessment in the town.
pub async fn assign(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    version: i64,
    inspector: &str,
) -> Result<Inspection> {
    require(scope, Permission::Edit)?;
    let before = get(scope, tx, id).await?;
    check_version(&before, version)?;
    if !["open", "assigned"].contains(&before.status.as_str()) {
        return Err(Error::conflict(
            "status",
            format!(
                "the inspection of {} is {}; only an open or assigned inspection is assigned",
                before.parcel_key, before.status
            ),
        ));
    }
    let who = access::users_with_permission(scope, tx, Permission::Edit)
        .await?
        .into_iter()
        .find(|u| u.user_id.as_str() == inspector.trim())
        .ok_or_else(|| {
            Error::invalid(
                "inspector",
                format!(
                    "not someone who may inspect in {} (edit in property assessment there)",
                    scope.town().name
                ),
            )
        })?;
    let after = Inspection {
        status: "assigned".into(),
        inspector_id: who.user_id.as_str().to_owned(),
        inspector_name: who.display_name,
        ..before.clone()
    };
    save(scope, tx, now, "inspection.assign", &before, &after, None).await
}

/// What was found.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResultIn {
    /// The inspection's version as read.
    pub version: i64,
    /// When it was inspected, `YYYY-MM-DD` (not in the future).
    pub inspected_on: String,
    /// Whether the interior was inspected too.
    pub interior: bool,
    /// The inspector's note on what changed (at most 2,000 characters; empty when none).
    #[serde(default)]
    pub changes: String,
    /// The parcel's version as the inspector read it; needed with any correction.
    #[serde(default)]
    pub parcel_version: Option<i64>,
    /// Characteristics found in the field; an absent one is unchanged.
    #[serde(default, flatten)]
    pub found: Found,
}

/// A parcel's characteristics as found in the field; `None` is unchanged.
/// Values of record (land and building cents) are not here: revaluing is
/// the model runs' job, not the inspector's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct Found {
    /// Building style.
    #[serde(default)]
    pub style: Option<String>,
    /// Year built (0 for land only).
    #[serde(default)]
    pub year_built: Option<i64>,
    /// Finished living area, square feet.
    #[serde(default)]
    pub living_sqft: Option<i64>,
    /// Rooms.
    #[serde(default)]
    pub rooms: Option<i64>,
    /// Bedrooms.
    #[serde(default)]
    pub bedrooms: Option<i64>,
    /// Full baths.
    #[serde(default)]
    pub full_baths: Option<i64>,
    /// Half baths.
    #[serde(default)]
    pub half_baths: Option<i64>,
    /// Quality grade 1–6 (0 for land only).
    #[serde(default)]
    pub quality: Option<i64>,
    /// Condition grade 1–6 (0 for land only).
    #[serde(default)]
    pub condition: Option<i64>,
    /// Garage spaces.
    #[serde(default)]
    pub garage_spaces: Option<i64>,
    /// Land-use code.
    #[serde(default)]
    pub land_use: Option<String>,
    /// Zoning district.
    #[serde(default)]
    pub zoning: Option<String>,
}

impl Found {
    /// Whether any characteristic is given.
    pub fn any(&self) -> bool {
        *self != Found::default()
    }
}

/// The characteristics a field result may correct, as `(field, current value)`
/// of a parcel: what the result form shows prefilled.
pub fn characteristics(p: &parcels::Parcel) -> Vec<(&'static str, String)> {
    vec![
        ("style", p.style.clone()),
        ("year_built", p.year_built.to_string()),
        ("living_sqft", p.living_sqft.to_string()),
        ("rooms", p.rooms.to_string()),
        ("bedrooms", p.bedrooms.to_string()),
        ("full_baths", p.full_baths.to_string()),
        ("half_baths", p.half_baths.to_string()),
        ("quality", p.quality.to_string()),
        ("condition", p.condition.to_string()),
        ("garage_spaces", p.garage_spaces.to_string()),
        ("land_use", p.land_use.clone()),
        ("zoning", p.zoning.clone()),
    ]
}

fn data_of(p: &parcels::Parcel) -> parcels::ParcelData {
    parcels::ParcelData {
        parcel_key: p.parcel_key.clone(),
        location: p.location.clone(),
        neighbourhood: p.neighbourhood.clone(),
        zoning: p.zoning.clone(),
        property_class: p.property_class.clone(),
        land_use: p.land_use.clone(),
        land_sqft: p.land_sqft,
        pa490: p.pa490.clone(),
        pa490_use_cents: p.pa490_use_cents,
        style: p.style.clone(),
        year_built: p.year_built,
        living_sqft: p.living_sqft,
        rooms: p.rooms,
        bedrooms: p.bedrooms,
        full_baths: p.full_baths,
        half_baths: p.half_baths,
        quality: p.quality,
        condition: p.condition,
        garage_spaces: p.garage_spaces,
        land_cents: p.land_cents,
        building_cents: p.building_cents,
        owner: p.owner.clone(),
        mailing_address: p.mailing_address.clone(),
    }
}

/// `1850` → `1,850`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// What a field result changes on a parcel: the parcel's data after, and a
/// summary such as `living_sqft 1,850 → 2,100; condition Average → Good`
/// (empty when nothing differs).
pub fn apply_found(before: &parcels::ParcelData, f: &Found) -> (parcels::ParcelData, String) {
    fn text(parts: &mut Vec<String>, name: &str, slot: &mut String, v: &Option<String>) {
        if let Some(v) = v.as_deref().map(str::trim)
            && v != slot.as_str()
        {
            let shown = |s: &str| {
                if s.is_empty() {
                    "—".to_owned()
                } else {
                    s.to_owned()
                }
            };
            parts.push(format!("{name} {} → {}", shown(slot), shown(v)));
            *slot = v.to_owned();
        }
    }
    fn number(
        parts: &mut Vec<String>,
        name: &str,
        slot: &mut i64,
        v: Option<i64>,
        show: fn(i64) -> String,
    ) {
        if let Some(v) = v
            && v != *slot
        {
            parts.push(format!("{name} {} → {}", show(*slot), show(v)));
            *slot = v;
        }
    }
    let plain: fn(i64) -> String = |n| n.to_string();
    let grade: fn(i64) -> String = |g| parcels::grade_name(g).to_owned();
    let mut after = before.clone();
    let mut parts = Vec::new();
    let p = &mut parts;
    text(p, "style", &mut after.style, &f.style);
    number(p, "year_built", &mut after.year_built, f.year_built, plain);
    number(
        p,
        "living_sqft",
        &mut after.living_sqft,
        f.living_sqft,
        grouped,
    );
    number(p, "rooms", &mut after.rooms, f.rooms, plain);
    number(p, "bedrooms", &mut after.bedrooms, f.bedrooms, plain);
    number(p, "full_baths", &mut after.full_baths, f.full_baths, plain);
    number(p, "half_baths", &mut after.half_baths, f.half_baths, plain);
    number(p, "quality", &mut after.quality, f.quality, grade);
    number(p, "condition", &mut after.condition, f.condition, grade);
    number(
        p,
        "garage_spaces",
        &mut after.garage_spaces,
        f.garage_spaces,
        plain,
    );
    text(p, "land_use", &mut after.land_use, &f.land_use);
    text(p, "zoning", &mut after.zoning, &f.zoning);
    (after, parts.join("; "))
}

/// Records the result of an assigned inspection; it is then done. The
/// characteristics found in the field correct the parcel in the same
/// transaction through [`parcels::update`] (same checks as a hand edit,
/// audited `parcel.update`); its values of record are not touched. The
/// inspection keeps a summary of what changed beside the inspector's note,
/// and its `inspection.result` audit record names the parcel change.
pub async fn record_result(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    r: &ResultIn,
) -> Result<Inspection> {
    require(scope, Permission::Edit)?;
    let before = get(scope, tx, id).await?;
    check_version(&before, r.version)?;
    if before.status != "assigned" {
        return Err(Error::conflict(
            "status",
            format!(
                "the inspection of {} is {}; assign it before recording a result",
                before.parcel_key, before.status
            ),
        ));
    }
    let on = parse_date("inspected_on", r.inspected_on.trim())?;
    if on > now.datetime().date() {
        return Err(Error::invalid("inspected_on", "is in the future"));
    }
    let note = r.changes.trim();
    if note.chars().count() > 2000 {
        return Err(Error::invalid("changes", "longer than 2,000 characters"));
    }
    let parcel = parcels::get(scope, tx, &before.parcel_id).await?;
    let mut link = None;
    let mut summary = String::new();
    if r.found.any() || r.parcel_version.is_some() {
        let Some(read) = r.parcel_version else {
            return Err(Error::invalid(
                "parcel_version",
                "give the parcel's version as you read it with the corrections",
            ));
        };
        if read != parcel.version {
            return Err(Error::conflict(
                "parcel_version",
                format!(
                    "parcel {} changed since you read it (version {} now, you read {read}); reload and try again",
                    parcel.parcel_key, parcel.version
                ),
            ));
        }
        let data = data_of(&parcel);
        let (after, s) = apply_found(&data, &r.found);
        if !s.is_empty() {
            let updated = parcels::update(scope, tx, now, &parcel.id, read, &after).await?;
            link = Some(serde_json::json!({
                "parcel": parcel.parcel_key, "parcel_id": parcel.id, "action": "parcel.update",
                "version_before": parcel.version, "version_after": updated.version, "summary": s,
            }));
            summary = s;
        }
    }
    let changes = match (summary.is_empty(), note.is_empty()) {
        (true, _) => note.to_owned(),
        (false, true) => summary,
        (false, false) => format!("{summary} — {note}"),
    };
    let after = Inspection {
        status: "done".into(),
        inspected_on: format_date(on),
        interior: r.interior,
        changes,
        ..before.clone()
    };
    save(scope, tx, now, "inspection.result", &before, &after, link).await
}

/// Cancels an open or assigned inspection; the reason joins its notes.
pub async fn cancel(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    version: i64,
    reason: &str,
) -> Result<Inspection> {
    require(scope, Permission::Edit)?;
    let before = get(scope, tx, id).await?;
    check_version(&before, version)?;
    if !["open", "assigned"].contains(&before.status.as_str()) {
        return Err(Error::conflict(
            "status",
            format!(
                "the inspection of {} is {} already",
                before.parcel_key, before.status
            ),
        ));
    }
    let reason = reason.trim();
    if reason.chars().count() < 5 || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            "say why it is cancelled (5 to 500 characters)",
        ));
    }
    let notes = if before.notes.is_empty() {
        format!("Cancelled: {reason}")
    } else {
        format!("{} — Cancelled: {reason}", before.notes)
    };
    let after = Inspection {
        status: "cancelled".into(),
        notes,
        ..before.clone()
    };
    save(scope, tx, now, "inspection.cancel", &before, &after, None).await
}

// ---------------------------------------------------------------- CGS 12-62

/// An owner data mailer.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Mailer {
    /// Id.
    pub id: String,
    /// The parcel's id.
    pub parcel_id: String,
    /// Its map-block-lot.
    pub parcel_key: String,
    /// Its location.
    pub location: String,
    /// Owner of record.
    pub owner: String,
    /// Sent, `YYYY-MM-DD`.
    pub sent_on: String,
    /// Returned by the owner, `YYYY-MM-DD` (empty while outstanding).
    pub returned_on: String,
    /// Version, for optimistic concurrency.
    pub version: i64,
}

/// Mailers of the town, newest first; only outstanding ones when asked.
pub async fn mailers(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    outstanding_only: bool,
) -> Result<Vec<Mailer>> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT ml.id, ml.parcel_id, p.parcel_key, p.location, p.owner, ml.sent_on, ml.returned_on, ml.version \
         FROM assessment_mailers ml JOIN assessment_parcels p ON p.municipality_id = ml.municipality_id AND p.id = ml.parcel_id \
         WHERE ml.municipality_id = $1{} ORDER BY ml.sent_on DESC, p.parcel_key",
        if outstanding_only {
            " AND ml.returned_on = ''"
        } else {
            ""
        }
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

/// Records that the owner returned a mailer: a full inspection under CGS 12-62 as of that date.
pub async fn return_mailer(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    version: i64,
    returned_on: &str,
) -> Result<Mailer> {
    require(scope, Permission::Edit)?;
    let all = mailers(scope, tx, false).await?;
    let before = all
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(Error::NotFound { what: "mailer" })?;
    if before.version != version {
        return Err(Error::conflict(
            "version",
            format!(
                "the mailer of {} changed since you read it; reload and try again",
                before.parcel_key
            ),
        ));
    }
    if !before.returned_on.is_empty() {
        return Err(Error::conflict(
            "returned_on",
            format!(
                "the mailer of {} was returned already ({})",
                before.parcel_key, before.returned_on
            ),
        ));
    }
    let on = parse_date("returned_on", returned_on.trim())?;
    if on > now.datetime().date() {
        return Err(Error::invalid("returned_on", "is in the future"));
    }
    if format_date(on) < before.sent_on {
        return Err(Error::invalid(
            "returned_on",
            format!("is before the mailer was sent ({})", before.sent_on),
        ));
    }
    let n = execute!(tx, c => sqlx::query(
        "UPDATE assessment_mailers SET returned_on = $1, version = version + 1 WHERE municipality_id = $2 AND id = $3 AND version = $4")
        .bind(format_date(on)).bind(scope.municipality_id()).bind(id).bind(version).execute(c).await)?;
    if n != 1 {
        return Err(Error::conflict(
            "version",
            "the mailer changed meanwhile; reload and try again",
        ));
    }
    let after = Mailer {
        returned_on: format_date(on),
        version: version + 1,
        ..before.clone()
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "mailer.return",
            "mailer",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

/// A parcel that needs its full inspection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DueParcel {
    /// The parcel's id.
    pub parcel_id: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Neighbourhood.
    pub neighbourhood: String,
    /// Its last full inspection, `YYYY-MM-DD` (empty: never).
    pub last_full: String,
    /// Whether a cyclical inspection is open or assigned, or a mailer is outstanding.
    pub scheduled: bool,
}

/// One neighbourhood's figures.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct NeighbourhoodCompliance {
    /// Neighbourhood code.
    pub neighbourhood: String,
    /// Parcels.
    pub parcels: i64,
    /// Parcels whose last full inspection is too old, or missing.
    pub due: i64,
    /// Of those, never inspected.
    pub never: i64,
    /// Of those, already scheduled (cyclical inspection or mailer out).
    pub scheduled: i64,
}

/// The town's CGS 12-62 position.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Compliance {
    /// The current October 1 (the grand-list date in force), `YYYY-MM-DD`.
    pub october_1: String,
    /// A full inspection before this date is too old, `YYYY-MM-DD`.
    pub cutoff: String,
    /// The whole town.
    pub total: NeighbourhoodCompliance,
    /// By neighbourhood.
    pub by_neighbourhood: Vec<NeighbourhoodCompliance>,
    /// The parcels due, by parcel id.
    pub due: Vec<DueParcel>,
}

/// Which parcels' last full inspection (interior inspection done, or
/// mailer returned) is more than ten years before the current October 1, or
/// missing (CGS 12-62(b)).
pub async fn compliance(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    today: Date,
) -> Result<Compliance> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let oct1 = valuation_date(today);
    let cutoff =
        Date::from_calendar_date(oct1.year() - CYCLE_YEARS, Month::October, 1).unwrap_or(oct1);
    let cutoff_s = format_date(cutoff);
    let roll: Vec<(String, String, String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, parcel_key, location, neighbourhood FROM assessment_parcels WHERE municipality_id = $1 ORDER BY parcel_key")
        .bind(m).fetch_all(c).await)?;
    let inspected: Vec<(String, Option<String>)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT parcel_id, MAX(inspected_on) FROM assessment_inspections \
         WHERE municipality_id = $1 AND status = 'done' AND interior = $2 GROUP BY parcel_id")
        .bind(m).bind(true).fetch_all(c).await)?;
    let returned: Vec<(String, Option<String>)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT parcel_id, MAX(returned_on) FROM assessment_mailers \
         WHERE municipality_id = $1 AND returned_on <> '' GROUP BY parcel_id")
        .bind(m).fetch_all(c).await)?;
    let pending: Vec<String> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT parcel_id FROM assessment_inspections WHERE municipality_id = $1 AND reason = 'cyclical' \
         AND status IN ('open', 'assigned') \
         UNION SELECT parcel_id FROM assessment_mailers WHERE municipality_id = $1 AND returned_on = ''")
        .bind(m).fetch_all(c).await)?;
    let mut last: HashMap<String, String> = HashMap::new();
    for (p, d) in inspected.into_iter().chain(returned) {
        if let Some(d) = d {
            let e = last.entry(p).or_default();
            if d > *e {
                *e = d;
            }
        }
    }
    let pending: HashSet<String> = pending.into_iter().collect();
    let mut by: BTreeMap<String, NeighbourhoodCompliance> = BTreeMap::new();
    let mut total = NeighbourhoodCompliance {
        neighbourhood: "All".into(),
        ..Default::default()
    };
    let mut due = Vec::new();
    for (id, key, location, nb) in roll {
        let n = by
            .entry(nb.clone())
            .or_insert_with(|| NeighbourhoodCompliance {
                neighbourhood: nb.clone(),
                ..Default::default()
            });
        n.parcels += 1;
        total.parcels += 1;
        let last_full = last.get(&id).cloned().unwrap_or_default();
        if !last_full.is_empty() && last_full >= cutoff_s {
            continue;
        }
        let scheduled = pending.contains(&id);
        for t in [&mut *n, &mut total] {
            t.due += 1;
            t.never += i64::from(last_full.is_empty());
            t.scheduled += i64::from(scheduled);
        }
        due.push(DueParcel {
            parcel_id: id,
            parcel_key: key,
            location,
            neighbourhood: nb,
            last_full,
            scheduled,
        });
    }
    Ok(Compliance {
        october_1: format_date(oct1),
        cutoff: cutoff_s,
        total,
        by_neighbourhood: by.into_values().collect(),
        due,
    })
}

/// What to send to the parcels due.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CyclicalIn {
    /// `inspection` (a cyclical inspection each) or `mailer` (an owner data mailer each).
    pub method: String,
    /// Inspections: their due date; mailers: the date sent. `YYYY-MM-DD`.
    pub date: String,
    /// Only this neighbourhood (optional).
    #[serde(default)]
    pub neighbourhood: Option<String>,
}

/// What a bulk action made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CyclicalOut {
    /// `inspection` or `mailer`.
    pub method: String,
    /// How many were created.
    pub created: i64,
}

/// Creates a cyclical inspection (or a mailer) for every parcel due under
/// CGS 12-62 that has none scheduled, optionally in one neighbourhood. One
/// audit record lists every one made.
pub async fn schedule_cyclical(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    today: Date,
    req: &CyclicalIn,
) -> Result<CyclicalOut> {
    require(scope, Permission::Edit)?;
    let method = req.method.trim();
    if !["inspection", "mailer"].contains(&method) {
        return Err(Error::invalid("method", "use inspection or mailer"));
    }
    let date = parse_date("date", req.date.trim())?;
    if method == "mailer" && date > today {
        return Err(Error::invalid(
            "date",
            "a mailer's sent date is not in the future",
        ));
    }
    let nb = req
        .neighbourhood
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let c = compliance(scope, tx, today).await?;
    if let Some(nb) = nb
        && !c.by_neighbourhood.iter().any(|n| n.neighbourhood == nb)
    {
        return Err(Error::invalid(
            "neighbourhood",
            format!("no neighbourhood '{nb}' on the roll"),
        ));
    }
    let targets: Vec<&DueParcel> = c
        .due
        .iter()
        .filter(|d| !d.scheduled && nb.is_none_or(|n| d.neighbourhood == n))
        .collect();
    let stamp = now.to_db();
    let day = format_date(date);
    let m = scope.municipality_id();
    let mut made = Vec::new();
    for d in &targets {
        let id = new_id();
        if method == "inspection" {
            insert_inspection(
                tx,
                scope,
                &Inspection {
                    id: id.clone(),
                    parcel_id: d.parcel_id.clone(),
                    parcel_key: d.parcel_key.clone(),
                    location: d.location.clone(),
                    neighbourhood: d.neighbourhood.clone(),
                    reason: "cyclical".into(),
                    source: format!("CGS 12-62 (as of {})", c.october_1),
                    due_on: day.clone(),
                    status: "open".into(),
                    inspector_id: String::new(),
                    inspector_name: String::new(),
                    inspected_on: String::new(),
                    interior: false,
                    changes: String::new(),
                    notes: if d.last_full.is_empty() {
                        "No full inspection on record".into()
                    } else {
                        format!("Last full inspection {}", d.last_full)
                    },
                    created_at: stamp.clone(),
                    created_by: scope.actor().label.clone(),
                    version: 1,
                },
            )
            .await?;
        } else {
            execute!(tx, c => sqlx::query(
                "INSERT INTO assessment_mailers (municipality_id, id, parcel_id, sent_on, returned_on, created_at, created_by, version) \
                 VALUES ($1, $2, $3, $4, '', $5, $6, 1)")
                .bind(m).bind(&id).bind(&d.parcel_id).bind(&day).bind(&stamp).bind(&scope.actor().label)
                .execute(c).await)?;
        }
        made.push(serde_json::json!({"id": id, "parcel": d.parcel_key}));
    }
    let out = CyclicalOut {
        method: method.to_owned(),
        created: made.len() as i64,
    };
    if !made.is_empty() {
        audit::record(
            tx,
            now,
            scope.actor(),
            change(
                scope,
                if method == "inspection" {
                    "inspection.cyclical"
                } else {
                    "mailer.send"
                },
                if method == "inspection" {
                    "inspection"
                } else {
                    "mailer"
                },
                &new_id(),
                None,
                Some(serde_json::json!({
                    "october_1": c.october_1, "date": day, "neighbourhood": nb, "created": made,
                })),
            ),
        )
        .await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn a_route_takes_one_street_at_a_time_in_house_number_order() {
        let mut stops = [
            "100 Main St",
            "12B Elm St",
            "9 Main St",
            "Main St",
            "2 elm st",
            "10 Main St",
        ];
        stops.sort_by_key(|l| route_key(l));
        assert_eq!(
            stops,
            [
                "2 elm st",
                "12B Elm St",
                "Main St",
                "9 Main St",
                "10 Main St",
                "100 Main St"
            ]
        );
        assert_eq!(
            route_key("12B Elm St"),
            ("ELM ST".into(), 12, "12B ELM ST".into())
        );
    }

    #[test]
    fn a_field_result_changes_only_what_differs_and_says_so() {
        let before = parcels::ParcelData {
            parcel_key: "1-2-3".into(),
            location: "12 Elm St".into(),
            neighbourhood: "N1".into(),
            zoning: "R1".into(),
            property_class: "residential".into(),
            land_use: "101".into(),
            land_sqft: 10_000,
            pa490: String::new(),
            pa490_use_cents: 0,
            style: "Colonial".into(),
            year_built: 1985,
            living_sqft: 1_850,
            rooms: 7,
            bedrooms: 3,
            full_baths: 2,
            half_baths: 1,
            quality: 3,
            condition: 3,
            garage_spaces: 2,
            land_cents: 10_000_000,
            building_cents: 25_000_000,
            owner: "A".into(),
            mailing_address: String::new(),
        };
        let found = Found {
            living_sqft: Some(2_100),
            condition: Some(4),
            rooms: Some(7),
            style: Some(" Colonial ".into()),
            ..Found::default()
        };
        let (after, summary) = apply_found(&before, &found);
        assert_eq!(
            summary,
            "living_sqft 1,850 → 2,100; condition Average → Good"
        );
        assert_eq!(
            (after.living_sqft, after.condition, after.rooms),
            (2_100, 4, 7)
        );
        assert_eq!(
            (after.land_cents, after.building_cents),
            (10_000_000, 25_000_000)
        );
        let (same, none) = apply_found(&before, &Found::default());
        assert_eq!((same, none.as_str()), (before.clone(), ""));
        let (_, z) = apply_found(
            &before,
            &Found {
                zoning: Some(String::new()),
                ..Found::default()
            },
        );
        assert_eq!(z, "zoning R1 → —");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }

    #[test]
    fn a_permit_is_picked_up_by_the_next_october_first() {
        assert_eq!(permit_due_on(date!(2026 - 11 - 02)), date!(2027 - 10 - 01));
        assert_eq!(permit_due_on(date!(2026 - 09 - 30)), date!(2026 - 10 - 01));
        // Issued on October 1 itself: that list is taken; the next one.
        assert_eq!(permit_due_on(date!(2026 - 10 - 01)), date!(2027 - 10 - 01));
    }

    const HEAD: &str = "permit_number,parcel_id,issued_on,description,work_type,value\n";

    fn err(body: &str) -> String {
        match read_permits("permits.csv", format!("{HEAD}{body}").as_bytes()) {
            Err(Error::Invalid { field, message }) => format!("{field}: {message}"),
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn reads_a_permit_file() {
        let rows = read_permits(
            "permits.csv",
            format!("{HEAD}B-1,1-2-3,2026-11-02,Rear deck,deck,\"$12,500.50\"\nB-2,1-2-4,2026-06-30,Roof,,\n")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].value_cents, 1_250_050);
        assert_eq!(rows[0].issued_on, date!(2026 - 11 - 02));
        assert_eq!((rows[1].work_type.as_str(), rows[1].value_cents), ("", 0));
    }

    #[test]
    fn bad_permit_rows_name_the_row_and_column() {
        assert!(
            err("B-1,1-2-3,2026-13-01,Deck,,\n")
                .starts_with("permits.csv, row 2, column issued_on: '2026-13-01'")
        );
        assert!(
            err("B-1,123,2026-11-01,Deck,,\n").starts_with("permits.csv, row 2, column parcel_id")
        );
        assert!(
            err("B-1,1-2-3,2026-11-01,,,\n").starts_with("permits.csv, row 2, column description")
        );
        assert!(
            err("B-1,1-2-3,2026-11-01,Deck,,-5\n").starts_with("permits.csv, row 2, column value")
        );
        assert!(
            err("B-1,1-2-3,2026-11-01,Deck,,abc\n").starts_with("permits.csv, row 2, column value")
        );
        assert_eq!(
            err("B-1,1-2-3,2026-11-01,Deck,,\nB-1,1-2-4,2026-11-01,Deck,,\n"),
            "permits.csv, row 3, column permit_number: permit B-1 is also row 2"
        );
        assert_eq!(err(""), "permits.csv: the file has no permits");
        match read_permits("permits.csv", b"permit_number,parcel_id\nB-1,1-2-3\n") {
            Err(Error::Invalid { field, .. }) => {
                assert_eq!(field, "permits.csv, row 1, column issued_on")
            }
            other => unreachable!("{other:?}"),
        }
    }
}
