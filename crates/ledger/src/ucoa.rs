//! The region's UCOA catalog and each town's crosswalk
//! (docs/design/0004-ucoa-catalog-crosswalk.md).
//!
//! The catalog names the codes of the uniform segments and says where each
//! name came from: OPM's official list (imported by a council administrator),
//! OPM's published data (observed), or neither (illustrative). A town whose
//! books are `local` maps its accounts to uniform accounts with a versioned
//! crosswalk; the UCOA filing uses the version in effect for its year and
//! refuses to run while an account with activity is unmapped.

use std::collections::HashMap;
use std::sync::Arc;

use munishare_platform::access::{CouncilAdmin, ServiceScope};
use munishare_platform::audit::{self, Change};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, MunicipalityId, Permission, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::Serialize;

use crate::domain::AccountString;
use crate::import::{Column, ImportRead, Problems, RowError, req};
use crate::service::{Account, entity_id, finance_change, json, new_id, require};

/// A uniform segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// 4 digits.
    Fund,
    /// 2 digits.
    Function,
    /// 4 digits.
    Department,
    /// 5 digits.
    Object,
    /// 3 digits.
    Project,
}

impl Segment {
    /// In the order of the account string.
    pub const ALL: [Segment; 5] = [
        Self::Fund,
        Self::Function,
        Self::Department,
        Self::Object,
        Self::Project,
    ];

    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fund => "fund",
            Self::Function => "function",
            Self::Department => "department",
            Self::Object => "object",
            Self::Project => "project",
        }
    }

    fn width(self) -> usize {
        match self {
            Self::Fund | Self::Department => 4,
            Self::Function => 2,
            Self::Object => 5,
            Self::Project => 3,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// This segment's code in an account string.
    pub fn of(self, a: &AccountString) -> String {
        let s = a.to_string();
        let parts: Vec<&str> = s.split('-').collect();
        let i = match self {
            Self::Fund => 0,
            Self::Function => 1,
            Self::Department => 2,
            Self::Object => 4,
            Self::Project => 5,
        };
        parts.get(i).map_or_else(String::new, |p| (*p).to_owned())
    }
}

/// A code of the catalog.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CatalogCode {
    /// `fund`, `function`, `department`, `object` or `project`.
    pub segment: String,
    /// The code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// `official`, `observed` (seen in OPM's published data) or `illustrative`.
    pub source: String,
    /// Last changed.
    pub updated_at: String,
}

impl CatalogCode {
    /// How the code is labelled wherever it is shown.
    pub fn label(&self) -> &'static str {
        source_label(&self.source)
    }
}

/// The label of a catalog source.
pub fn source_label(source: &str) -> &'static str {
    match source {
        "official" => "official (OPM code list)",
        "observed" => "seen in OPM's published data",
        _ => "illustrative — not from an official source",
    }
}

/// The whole catalog, by segment and code.
pub async fn catalog(ex: &mut impl Executor) -> Result<Vec<CatalogCode>> {
    let mut codes: Vec<CatalogCode> = dispatch!(ex, c => sqlx::query_as(
        "SELECT segment, code, name, source, updated_at FROM ucoa_codes").fetch_all(c).await)?;
    let order = |s: &str| Segment::ALL.iter().position(|g| g.as_str() == s);
    codes.sort_by(|a, b| (order(&a.segment), &a.code).cmp(&(order(&b.segment), &b.code)));
    Ok(codes)
}

/// What an import of OPM's code list did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CatalogImport {
    /// `done` or `rejected`.
    pub status: String,
    /// Codes read.
    pub codes: u64,
    /// Codes that were not in the catalog before.
    pub added: u64,
    /// How many problems were found.
    pub problem_count: u64,
    /// Problems of a rejected file, by row and column (at most 200; nothing was changed).
    pub problems: Vec<RowError>,
}

const CATALOG_COLUMNS: &[Column] = &[req("segment"), req("code"), req("name")];

/// Imports OPM's official code list (columns `segment, code, name`): all or
/// nothing; the codes become `official`, other codes keep their source.
pub async fn import_catalog(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    file_name: &str,
    file: Box<dyn ImportRead>,
    size: u64,
) -> Result<CatalogImport> {
    let mut rows = crate::import::rows(CATALOG_COLUMNS, file, size, Arc::default());
    let mut problems = Problems::default();
    let mut codes: Vec<(u64, Segment, String, String)> = Vec::new();
    while let Some(batch) = crate::import::next_batch(&mut rows, &mut problems).await {
        for row in batch {
            let Some(segment) = Segment::parse(row.cell(0)) else {
                problems.add(
                    row.no,
                    "segment",
                    "use fund, function, department, object or project",
                );
                continue;
            };
            let code = row.cell(1);
            if code.len() != segment.width() || !code.bytes().all(|b| b.is_ascii_digit()) {
                problems.add(
                    row.no,
                    "code",
                    format!("a {} code has {} digits", segment.as_str(), segment.width()),
                );
                continue;
            }
            let name = row.cell(2);
            if name.is_empty() || name.chars().count() > 150 {
                problems.add(
                    row.no,
                    "name",
                    "give the code's name (at most 150 characters)",
                );
                continue;
            }
            if let Some(first) = codes.iter().find(|(_, s, c, _)| *s == segment && c == code) {
                problems.add(
                    row.no,
                    "code",
                    format!(
                        "{} {code} is listed twice (first on row {})",
                        segment.as_str(),
                        first.0
                    ),
                );
                continue;
            }
            codes.push((row.no, segment, code.to_owned(), name.to_owned()));
        }
    }
    if codes.is_empty() && problems.is_empty() {
        problems.push(RowError::file("the file lists no codes"));
    }
    if !problems.is_empty() {
        let (total, list) = problems.into_parts();
        return Ok(CatalogImport {
            status: "rejected".into(),
            codes: 0,
            added: 0,
            problem_count: total,
            problems: list,
        });
    }
    let mut tx = db.begin().await?;
    let before = catalog(&mut tx).await?;
    let mut added = 0u64;
    for (_, segment, code, name) in &codes {
        if !before
            .iter()
            .any(|c| c.segment == segment.as_str() && &c.code == code)
        {
            added += 1;
        }
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO ucoa_codes (segment, code, name, source, updated_at) VALUES ($1, $2, $3, 'official', $4) \
             ON CONFLICT (segment, code) DO UPDATE SET name = excluded.name, source = 'official', updated_at = excluded.updated_at")
            .bind(segment.as_str()).bind(code).bind(name).bind(now.to_db()).execute(c).await)?;
    }
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: "ucoa.import",
            entity_type: "ucoa_catalog",
            entity_id: "region".into(),
            before: None,
            after: Some(
                serde_json::json!({"file": file_name, "codes": codes.len(), "added": added}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CatalogImport {
        status: "done".into(),
        codes: codes.len() as u64,
        added,
        problem_count: 0,
        problems: Vec::new(),
    })
}

/// How a town's books meet the UCOA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartMode {
    /// The account strings are UCOA account strings: each maps to itself.
    Uniform,
    /// The town's own codes, mapped by a crosswalk.
    Local,
}

impl ChartMode {
    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Local => "local",
        }
    }

    /// Parses a key; names `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "local" => Ok(Self::Local),
            _ => Err(Error::invalid(field, "choose uniform or local")),
        }
    }
}

/// The town's chart mode.
pub async fn chart_mode(scope: &ServiceScope, ex: &mut impl Executor) -> Result<ChartMode> {
    require(scope, Permission::View)?;
    mode_of(ex, scope.municipality_id()).await
}

async fn mode_of(ex: &mut impl Executor, m: &MunicipalityId) -> Result<ChartMode> {
    let mode: Option<String> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT chart FROM ledger_settings WHERE municipality_id = $1").bind(m).fetch_optional(c).await)?;
    ChartMode::parse("chart", mode.as_deref().unwrap_or("uniform"))
}

/// Sets the town's chart mode.
pub async fn set_chart_mode(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    mode: ChartMode,
) -> Result<()> {
    require(scope, Permission::Administer)?;
    let before = chart_mode(scope, tx).await?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_settings (municipality_id, appropriation_control, chart) VALUES ($1, 'warn', $2) \
         ON CONFLICT (municipality_id) DO UPDATE SET chart = excluded.chart")
        .bind(scope.municipality_id()).bind(mode.as_str()).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "settings.chart",
            "settings",
            scope.municipality_id().as_str(),
            Some(serde_json::json!({"chart": before.as_str()})),
            Some(serde_json::json!({"chart": mode.as_str()})),
        ),
    )
    .await?;
    Ok(())
}

/// A crosswalk version.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Crosswalk {
    /// Id.
    pub id: String,
    /// 1, 2, … in the order they were made.
    pub version: i64,
    /// The first fiscal year it maps (the year it ends).
    pub effective_fiscal_year: i64,
    /// Made.
    pub created_at: String,
}

/// One mapping of a version: local account → uniform account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Mapping {
    /// The local account string.
    pub account: String,
    /// Its name.
    pub name: String,
    /// Which books: `town_government` or `board_of_education`.
    pub entity: String,
    /// The uniform account string.
    pub uniform_account: String,
}

/// Every version of the town's crosswalk, newest first.
pub async fn crosswalks(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Crosswalk>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, version, effective_fiscal_year, created_at FROM ledger_crosswalks WHERE municipality_id = $1 \
         ORDER BY version DESC").bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// The version in effect for `fy`: the newest one effective that year or earlier.
pub async fn crosswalk_for(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    fy: FiscalYear,
) -> Result<Option<Crosswalk>> {
    Ok(crosswalks(scope, ex)
        .await?
        .into_iter()
        .find(|c| c.effective_fiscal_year <= i64::from(fy.end_year())))
}

/// The mappings of a version.
pub async fn mappings(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    crosswalk_id: &str,
) -> Result<Vec<Mapping>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT a.account, a.name, e.kind AS entity, l.uniform_account FROM ledger_crosswalk_lines l \
         JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         JOIN entities e ON e.municipality_id = a.municipality_id AND e.id = a.entity_id \
         WHERE l.municipality_id = $1 AND l.crosswalk_id = $2 ORDER BY e.kind DESC, a.account")
        .bind(scope.municipality_id()).bind(crosswalk_id).fetch_all(c).await)?)
}

/// The uniform account of every account of an entity's books with activity
/// in `fy` (or an opening balance), for the filing. Refused, naming the
/// accounts, when the books are `local` and some are not mapped.
pub async fn uniform_accounts(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<HashMap<String, String>> {
    let (map, unmapped) = mapping_and_gaps(scope, ex, entity, fy).await?;
    if unmapped.is_empty() {
        return Ok(map);
    }
    let named: Vec<String> = unmapped
        .iter()
        .take(20)
        .map(|a| format!("{} {}", a.account, a.name))
        .collect();
    Err(Error::conflict(
        "crosswalk",
        format!(
            "the filing for {fy} cannot be made: {} account(s) with activity are not mapped to a uniform account by the \
             crosswalk in effect: {}{}",
            unmapped.len(),
            named.join("; "),
            if unmapped.len() > 20 { "; …" } else { "" }
        ),
    ))
}

/// The accounts with activity in `fy` that the crosswalk in effect does not map
/// (none when the books are `uniform`).
pub async fn unmapped(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<Vec<Account>> {
    Ok(mapping_and_gaps(scope, ex, entity, fy).await?.1)
}

async fn mapping_and_gaps(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<(HashMap<String, String>, Vec<Account>)> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let entity_id = entity_id(scope, ex, entity).await?;
    let accounts = crate::store::accounts(ex, m, &entity_id).await?;
    let Some(map) = crosswalk_map(ex, m, fy).await? else {
        return Ok((
            accounts.into_iter().map(|a| (a.id, a.account)).collect(),
            Vec::new(),
        ));
    };
    let active: std::collections::HashSet<String> =
        crate::store::year_totals(ex, m, &entity_id, i64::from(fy.end_year()))
            .await?
            .into_iter()
            .filter(|(_, d, c)| *d != 0 || *c != 0)
            .map(|(a, _, _)| a)
            .collect();
    let gaps = accounts
        .into_iter()
        .filter(|a| active.contains(&a.id) && !map.contains_key(&a.id))
        .collect();
    Ok((map, gaps))
}

/// The crosswalk of a town's books for `fy` (account id → uniform account),
/// or None when its books are `uniform` (each account is its own uniform
/// account). A `local` town with no version in effect maps nothing.
pub(crate) async fn crosswalk_map(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    fy: FiscalYear,
) -> Result<Option<HashMap<String, String>>> {
    if mode_of(ex, m).await? == ChartMode::Uniform {
        return Ok(None);
    }
    let rows: Vec<(String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT l.account_id, l.uniform_account FROM ledger_crosswalk_lines l \
         JOIN ledger_crosswalks w ON w.municipality_id = l.municipality_id AND w.id = l.crosswalk_id \
         WHERE l.municipality_id = $1 AND w.version = (SELECT MAX(version) FROM ledger_crosswalks \
         WHERE municipality_id = $1 AND effective_fiscal_year <= $2)")
        .bind(m).bind(i64::from(fy.end_year())).fetch_all(c).await)?;
    Ok(Some(rows.into_iter().collect()))
}

/// Writes a new crosswalk version from checked rows (the `crosswalk` import):
/// (row, account id, uniform account string).
pub(crate) async fn insert_version(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    fy: FiscalYear,
    lines: &[(String, String)],
) -> Result<Crosswalk> {
    require(scope, Permission::Administer)?;
    let m = scope.municipality_id();
    let last: Option<i64> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT MAX(version) FROM ledger_crosswalks WHERE municipality_id = $1").bind(m).fetch_one(c).await)?;
    let cw = Crosswalk {
        id: new_id(),
        version: last.unwrap_or(0) + 1,
        effective_fiscal_year: i64::from(fy.end_year()),
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_crosswalks (municipality_id, id, version, effective_fiscal_year, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(m).bind(&cw.id).bind(cw.version).bind(cw.effective_fiscal_year).bind(scope.user_id().as_str())
        .bind(&cw.created_at).execute(c).await)?;
    for (account_id, uniform) in lines {
        execute!(tx, c => sqlx::query(
            "INSERT INTO ledger_crosswalk_lines (municipality_id, crosswalk_id, account_id, uniform_account) VALUES ($1, $2, $3, $4)")
            .bind(m).bind(&cw.id).bind(account_id).bind(uniform).execute(c).await)?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "crosswalk.create",
            "crosswalk",
            &cw.id,
            None,
            Some(serde_json::json!({"crosswalk": json(&cw)?, "accounts": lines.len()})),
        ),
    )
    .await?;
    Ok(cw)
}
