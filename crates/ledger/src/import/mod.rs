//! Imports of a town's books from CSV or XLSX files: the chart of accounts,
//! the adopted budget, opening balances and historical journal lines
//! (docs/design/0003-finance-imports.md).
//!
//! An import is recorded first ([`create`], status `queued`), then run
//! ([`run`]) in one transaction: every row is checked, every problem is named
//! by row and column, and a file with any problem leaves nothing behind
//! (`rejected`). The same file is imported into a town once per kind.

mod journal;
mod read;
mod store;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Timestamp};
use munishare_platform::{Error, Result, audit};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use munishare_platform::jobs::Progress;
pub use read::ImportRead;

use crate::domain::{AccountClass, AccountString, FundType, LineAmount};
use crate::service::{self, entity_id, finance_change, json, new_id, require};
use read::{Batches, Row};

/// Imports of at least this many rows may refresh PostgreSQL's statistics
/// after commit (`store::analyze_journal`).
const BIG_IMPORT_ROWS: i64 = 50_000;

/// At most this many problems are kept and shown; the count says how many more.
const MAX_ERRORS: usize = 200;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Funds and accounts.
    Chart,
    /// The adopted budget of a fiscal year.
    Budget,
    /// Opening balances of a fiscal year.
    Openings,
    /// Historical journal lines, posted as entries.
    Journal,
    /// A new version of the crosswalk from local accounts to uniform accounts.
    Crosswalk,
}

/// A column of an import file.
#[derive(Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub required: bool,
}

pub(crate) const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

const CHART: &[Column] = &[
    opt("entity"),
    req("account"),
    req("name"),
    opt("fund_name"),
    opt("fund_type"),
];
const BUDGET: &[Column] = &[opt("entity"), req("account"), req("amount")];
const CROSSWALK: &[Column] = &[opt("entity"), req("account"), req("uniform_account")];
const OPENINGS: &[Column] = &[opt("entity"), req("account"), req("debit"), req("credit")];
pub(crate) const JOURNAL: &[Column] = &[
    opt("entity"),
    req("reference"),
    req("date"),
    req("description"),
    req("account"),
    req("debit"),
    req("credit"),
    opt("memo"),
];

impl ImportKind {
    /// Every kind, in the order a town sets up its books.
    pub const ALL: [ImportKind; 5] = [
        Self::Chart,
        Self::Crosswalk,
        Self::Openings,
        Self::Budget,
        Self::Journal,
    ];

    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chart => "chart",
            Self::Budget => "budget",
            Self::Openings => "openings",
            Self::Journal => "journal",
            Self::Crosswalk => "crosswalk",
        }
    }

    /// Parses a storage key; names `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    "choose chart, crosswalk, openings, budget or journal",
                )
            })
    }

    /// In words.
    pub fn title(self) -> &'static str {
        match self {
            Self::Chart => "Chart of accounts",
            Self::Budget => "Adopted budget",
            Self::Openings => "Opening balances",
            Self::Journal => "Journal lines",
            Self::Crosswalk => "Crosswalk to the UCOA",
        }
    }

    /// The file's column names, required ones first marked.
    pub fn column_names(self) -> Vec<(&'static str, bool)> {
        self.columns()
            .iter()
            .map(|c| (c.name, c.required))
            .collect()
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Self::Chart => CHART,
            Self::Budget => BUDGET,
            Self::Openings => OPENINGS,
            Self::Journal => JOURNAL,
            Self::Crosswalk => CROSSWALK,
        }
    }

    /// Whether the import is for one fiscal year, given with it.
    pub fn needs_fiscal_year(self) -> bool {
        matches!(self, Self::Budget | Self::Openings | Self::Crosswalk)
    }

    /// The permission it takes: posting history needs approve, the rest administer.
    pub fn permission(self) -> Permission {
        match self {
            Self::Journal => Permission::Approve,
            _ => Permission::Administer,
        }
    }
}

/// One problem in a file: its row (1 is the header; 0 the file as a whole),
/// column and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Row number as a spreadsheet shows it (the header is row 1); 0 for the whole file.
    pub row: u64,
    /// Column name; empty when the problem is not in one column.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    pub(crate) fn new(row: u64, column: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            row,
            column: column.into(),
            message: message.into(),
        }
    }

    pub(crate) fn file(message: impl Into<String>) -> Self {
        Self::new(0, "", message)
    }

    /// "row 12, column debit: …" (or "file: …").
    pub fn describe(&self, file: &str) -> String {
        match (self.row, self.column.is_empty()) {
            (0, _) => format!("{file}: {}", self.message),
            (r, true) => format!("{file} row {r}: {}", self.message),
            (r, false) => format!("{file} row {r}, column {}: {}", self.column, self.message),
        }
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<RowError>,
    total: u64,
}

impl Problems {
    pub fn push(&mut self, e: RowError) {
        self.total += 1;
        if self.list.len() < MAX_ERRORS {
            self.list.push(e);
        }
    }

    pub fn add(&mut self, row: u64, column: &str, message: impl Into<String>) {
        self.push(RowError::new(row, column, message));
    }

    /// Files a service's refusal against a row: input errors become row
    /// problems (in the column the error names, when it is one of the file's),
    /// anything else ends the import.
    pub fn refusal(&mut self, row: u64, column: &str, e: Error) -> Result<()> {
        match e {
            Error::Invalid { field, message } => {
                let col = if field.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    field
                } else {
                    column.to_owned()
                };
                self.add(row, &col, message);
                Ok(())
            }
            Error::Conflict { message, field } => {
                self.add(row, field.as_deref().unwrap_or(column), message);
                Ok(())
            }
            other => Err(other),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds the problems another part of the import found.
    pub fn absorb(&mut self, other: Self) {
        let shown = other.list.len();
        for e in other.list {
            self.push(e);
        }
        self.total += other.total - shown as u64;
    }

    /// (how many were found, the first of them).
    pub fn into_parts(self) -> (u64, Vec<RowError>) {
        (self.total, self.list)
    }
}

/// An import as recorded.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportRecord {
    /// Id.
    pub id: String,
    /// `chart`, `budget`, `openings` or `journal`.
    pub kind: String,
    /// For budgets and opening balances: the fiscal year (the year it ends).
    pub fiscal_year: Option<i64>,
    /// The file's name as given.
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Bytes.
    pub size_bytes: i64,
    /// Where the uploaded file is kept in the object store.
    pub blob_key: Option<String>,
    /// `queued`, `running`, `done`, `rejected` or `failed`.
    pub status: String,
    /// Data rows read.
    pub rows_read: i64,
    /// JSON summary of what a finished import did.
    pub summary: Option<String>,
    /// JSON list of [`RowError`]s of a rejected import (or the failure of a failed one).
    pub errors: Option<String>,
    /// Who imported it (user id).
    pub created_by: String,
    /// Recorded.
    pub created_at: String,
    /// Finished.
    pub finished_at: Option<String>,
}

impl ImportRecord {
    /// The problems of a rejected import.
    pub fn problems(&self) -> Vec<RowError> {
        self.errors
            .as_deref()
            .and_then(|e| serde_json::from_str::<ErrorList>(e).ok())
            .map(|l| l.errors)
            .unwrap_or_default()
    }

    /// How many problems were found in all (more than are kept when there are many).
    pub fn problem_count(&self) -> u64 {
        self.errors
            .as_deref()
            .and_then(|e| serde_json::from_str::<ErrorList>(e).ok())
            .map_or(0, |l| l.total)
    }

    /// The summary as key/value pairs, for display.
    pub fn summary_pairs(&self) -> Vec<(String, String)> {
        self.summary
            .as_deref()
            .and_then(|s| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).ok()
            })
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k.replace('_', " "), v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the import has finished, one way or another.
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "rejected" | "failed")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ErrorList {
    total: u64,
    errors: Vec<RowError>,
}

/// An import to record.
#[derive(Debug, Clone)]
pub struct NewImport {
    /// What the file holds.
    pub kind: ImportKind,
    /// For budgets and opening balances.
    pub fiscal_year: Option<FiscalYear>,
    /// The file's name.
    pub file_name: String,
    /// Its SHA-256, hex (see [`digest`]).
    pub sha256: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Where the file is kept, when it was uploaded.
    pub blob_key: Option<String>,
}

/// SHA-256 (hex) and length of a file, read once.
pub fn digest(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = sha2::Sha256::new();
    let len = std::io::copy(&mut r, &mut hasher)?;
    Ok((munishare_platform::types::hex(&hasher.finalize()), len))
}

/// Records an import to run. Refused when the same file was already imported
/// into this town as this kind.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewImport,
) -> Result<ImportRecord> {
    require(scope, new.kind.permission())?;
    let name = new.file_name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(Error::invalid(
            "file",
            "name the file (at most 200 characters)",
        ));
    }
    if new.kind.needs_fiscal_year() != new.fiscal_year.is_some() {
        return Err(Error::invalid(
            "fiscal_year",
            if new.kind.needs_fiscal_year() {
                "give the fiscal year this file is for"
            } else {
                "only budgets and opening balances are for one fiscal year"
            },
        ));
    }
    refuse_repeat(scope, tx, new.kind, &new.sha256).await?;
    let record = ImportRecord {
        id: new_id(),
        kind: new.kind.as_str().into(),
        fiscal_year: new.fiscal_year.map(|f| i64::from(f.end_year())),
        file_name: name.to_owned(),
        sha256: new.sha256.clone(),
        size_bytes: i64::try_from(new.size_bytes).unwrap_or(i64::MAX),
        blob_key: new.blob_key.clone(),
        status: "queued".into(),
        rows_read: 0,
        summary: None,
        errors: None,
        created_by: scope.user_id().as_str().to_owned(),
        created_at: now.to_db(),
        finished_at: None,
    };
    store::insert_import(tx, scope.municipality_id(), &record).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "import.create",
            "import",
            &record.id,
            None,
            Some(json(&record)?),
        ),
    )
    .await?;
    Ok(record)
}

async fn refuse_repeat(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    kind: ImportKind,
    sha256: &str,
) -> Result<()> {
    if let Some(done) =
        store::done_import(ex, scope.municipality_id(), kind.as_str(), sha256).await?
    {
        return Err(Error::conflict(
            "file",
            format!(
                "this file was already imported into {} as {} on {} (import {}); nothing was imported again",
                scope.town().name,
                kind.title().to_lowercase(),
                Timestamp::parse("created_at", &done.created_at)
                    .map(Timestamp::human)
                    .unwrap_or(done.created_at.clone()),
                done.id
            ),
        ));
    }
    Ok(())
}

/// One import.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<ImportRecord> {
    require(scope, Permission::View)?;
    store::import(ex, scope.municipality_id(), id)
        .await?
        .ok_or(Error::NotFound { what: "import" })
}

/// The town's imports, newest first.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<ImportRecord>> {
    require(scope, Permission::View)?;
    store::imports(ex, scope.municipality_id()).await
}

/// Runs a recorded import over `file`, reporting to `progress`. Returns the
/// record as finished: `done`, or `rejected` with every problem found (and
/// nothing written), or an error when the database failed (`failed`).
pub async fn run(
    scope: &ServiceScope,
    db: &Db,
    now: Timestamp,
    id: &str,
    file: Box<dyn ImportRead>,
    progress: Arc<Progress>,
) -> Result<ImportRecord> {
    let mut record = {
        let mut conn = db.read().await?;
        get(scope, &mut conn, id).await?
    };
    let kind = ImportKind::parse("kind", &record.kind)?;
    require(scope, kind.permission())?;
    if !matches!(record.status.as_str(), "queued" | "failed") {
        return Err(Error::conflict(
            "status",
            format!("import {id} is {}; it runs once", record.status),
        ));
    }
    let fy = record
        .fiscal_year
        .map(|y| FiscalYear::ending("fiscal_year", i32::try_from(y).unwrap_or(0)))
        .transpose()?;
    set_status(db, scope, id, "running").await?;
    let size = u64::try_from(record.size_bytes).unwrap_or(0);
    let rows = read::spawn(kind.columns(), file, size, progress.clone());
    let mut tx = db.begin().await?;
    let mut problems = Problems::default();
    let outcome = async {
        refuse_repeat(scope, &mut tx, kind, &record.sha256).await?;
        match kind {
            ImportKind::Chart => chart(scope, &mut tx, now, rows, &mut problems).await,
            ImportKind::Budget => budget(scope, &mut tx, now, fy, rows, &mut problems).await,
            ImportKind::Openings => openings(scope, &mut tx, fy, rows, &mut problems).await,
            ImportKind::Journal => journal::import(scope, &mut tx, now, rows, &mut problems).await,
            ImportKind::Crosswalk => crosswalk(scope, &mut tx, now, fy, rows, &mut problems).await,
        }
    }
    .await;
    record.rows_read = i64::try_from(progress.items()).unwrap_or(i64::MAX);
    record.finished_at = Some(now.to_db());
    match outcome {
        Ok(summary) if problems.is_empty() => {
            record.status = "done".into();
            record.summary = Some(summary.to_string());
            store::finish_import(&mut tx, scope.municipality_id(), &record).await?;
            audit::record(
                &mut tx,
                now,
                scope.actor(),
                finance_change(
                    scope,
                    match kind {
                        ImportKind::Chart => "import.chart",
                        ImportKind::Budget => "import.budget",
                        ImportKind::Openings => "import.openings",
                        ImportKind::Journal => "import.journal",
                        ImportKind::Crosswalk => "import.crosswalk",
                    },
                    "import",
                    id,
                    None,
                    Some(serde_json::json!({
                        "file": record.file_name, "sha256": record.sha256, "rows": record.rows_read, "summary": summary,
                    })),
                ),
            )
            .await?;
            tx.commit().await?;
            // A large import can change the tables enough that PostgreSQL's
            // plans for reports go stale until autovacuum catches up.
            if record.rows_read >= BIG_IMPORT_ROWS {
                store::analyze_journal(&mut db.read().await?, record.rows_read).await?;
            }
        }
        Ok(_) | Err(Error::Invalid { .. } | Error::Conflict { .. }) => {
            if let Err(e) = outcome {
                problems.refusal(0, "", e)?;
            }
            drop(tx);
            record.status = "rejected".into();
            record.errors = Some(error_list(problems.total, problems.list)?);
            let mut tx = db.begin().await?;
            store::finish_import(&mut tx, scope.municipality_id(), &record).await?;
            audit::record(
                &mut tx,
                now,
                scope.actor(),
                finance_change(
                    scope,
                    "import.reject",
                    "import",
                    id,
                    None,
                    Some(serde_json::json!({"file": record.file_name, "problems": problems.total})),
                ),
            )
            .await?;
            tx.commit().await?;
        }
        Err(e) => {
            drop(tx);
            record.status = "failed".into();
            record.errors = Some(error_list(
                1,
                vec![RowError::file(
                    "the import stopped because of a problem on our side; nothing was imported. It is tried again \
                     automatically; if it keeps failing, tell the council's support staff.",
                )],
            )?);
            let mut tx = db.begin().await?;
            store::finish_import(&mut tx, scope.municipality_id(), &record).await?;
            tx.commit().await?;
            return Err(e);
        }
    }
    progress.finish();
    Ok(record)
}

fn error_list(total: u64, errors: Vec<RowError>) -> Result<String> {
    serde_json::to_string(&ErrorList { total, errors }).map_err(|e| Error::Internal(e.to_string()))
}

async fn set_status(db: &Db, scope: &ServiceScope, id: &str, status: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    store::set_import_status(&mut tx, scope.municipality_id(), id, status).await?;
    tx.commit().await
}

/// Starts reading `file` as rows of `columns` on the reader thread.
pub(crate) fn rows(
    columns: &'static [Column],
    file: Box<dyn ImportRead>,
    size: u64,
    progress: Arc<Progress>,
) -> Batches {
    read::spawn(columns, file, size, progress)
}

/// The next batch of rows, or None at the end; a problem reading the file
/// ends the import's rows and is filed.
pub(crate) async fn next_batch(rows: &mut Batches, problems: &mut Problems) -> Option<Vec<Row>> {
    match rows.recv().await? {
        Ok(batch) => Some(batch),
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// The entity named in a row: `town` (the default) or `education`.
pub(crate) fn entity_in(row: &Row, col: usize, problems: &mut Problems) -> Option<EntityKind> {
    let cell = row.cell(col);
    let is = |names: &[&str]| names.iter().any(|n| cell.eq_ignore_ascii_case(n));
    if is(&["", "town", "town_government"]) {
        return Some(EntityKind::TownGovernment);
    }
    match cell {
        _ if is(&["education", "board_of_education", "boe"]) => Some(EntityKind::BoardOfEducation),
        other => {
            problems.add(
                row.no,
                "entity",
                format!("'{other}' is not town or education"),
            );
            None
        }
    }
}

/// An amount cell: empty is zero.
pub(crate) fn amount_in(
    row: &Row,
    col: usize,
    name: &str,
    problems: &mut Problems,
) -> Option<Money> {
    let s = row.cell(col);
    if s.is_empty() {
        return Some(Money::from_cents(0));
    }
    if let Some(cents) = plain_cents(s) {
        return Some(Money::from_cents(cents));
    }
    match Money::parse(name, s) {
        Ok(m) => Some(m),
        Err(e) => {
            problems.add(row.no, name, invalid_message(e));
            None
        }
    }
}

/// The cents of a plain amount like `1234`, `1234.5` or `1234.56` (most
/// cells of a file), without allocating; anything else is left to `Money::parse`.
fn plain_cents(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return None,
        None => (s, ""),
    };
    if whole.is_empty() || whole.len() > 15 || frac.len() > 2 {
        return None;
    }
    let digits = |t: &str| {
        t.bytes().try_fold(0i64, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let cents = digits(whole)? * 100 + digits(frac)? * if frac.len() == 1 { 10 } else { 1 };
    Some(cents)
}

fn invalid_message(e: Error) -> String {
    match e {
        Error::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

fn account_in(row: &Row, col: usize, problems: &mut Problems) -> Option<AccountString> {
    match AccountString::parse("account", row.cell(col)) {
        Ok(a) => Some(a),
        Err(e) => {
            problems.add(row.no, "account", invalid_message(e));
            None
        }
    }
}

fn entity_index(e: EntityKind) -> usize {
    match e {
        EntityKind::TownGovernment => 0,
        EntityKind::BoardOfEducation => 1,
    }
}

const ENTITIES: [EntityKind; 2] = [EntityKind::TownGovernment, EntityKind::BoardOfEducation];

/// Chart: creates the funds and accounts that are not there yet; accounts
/// already in the books are left as they are and counted.
async fn chart(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    mut rows: Batches,
    problems: &mut Problems,
) -> Result<serde_json::Value> {
    let mut funds: [HashSet<String>; 2] = Default::default();
    let mut accounts: [HashMap<String, u64>; 2] = Default::default();
    for (i, e) in ENTITIES.into_iter().enumerate() {
        for f in service::funds(scope, tx, e).await? {
            funds[i].insert(f.code);
        }
        for a in service::accounts(scope, tx, e).await? {
            accounts[i].insert(a.account, 0);
        }
    }
    let (mut created, mut unchanged, mut funds_created) = (0u64, 0u64, 0u64);
    while let Some(batch) = next_batch(&mut rows, problems).await {
        for row in batch {
            let Some(entity) = entity_in(&row, 0, problems) else {
                continue;
            };
            let Some(account) = account_in(&row, 1, problems) else {
                continue;
            };
            let ei = entity_index(entity);
            match accounts[ei].get(&account.to_string()) {
                Some(0) => {
                    unchanged += 1;
                    continue;
                }
                Some(first) => {
                    problems.add(
                        row.no,
                        "account",
                        format!("{account} is listed twice (first on row {first})"),
                    );
                    continue;
                }
                None => {}
            }
            accounts[ei].insert(account.to_string(), row.no);
            if !funds[ei].contains(account.fund()) {
                let (fund_name, fund_type) = (row.cell(3), row.cell(4));
                if fund_type.is_empty() || fund_name.is_empty() {
                    problems.add(
                        row.no,
                        if fund_type.is_empty() {
                            "fund_type"
                        } else {
                            "fund_name"
                        },
                        format!(
                            "fund {} is new in these books; give its fund_name and fund_type",
                            account.fund()
                        ),
                    );
                    continue;
                }
                let fund_type = match FundType::parse("fund_type", fund_type) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.refusal(row.no, "fund_type", e)?;
                        continue;
                    }
                };
                match service::create_fund(
                    scope,
                    tx,
                    now,
                    entity,
                    account.fund(),
                    fund_name,
                    fund_type,
                )
                .await
                {
                    Ok(_) => {
                        funds[ei].insert(account.fund().to_owned());
                        funds_created += 1;
                    }
                    Err(e) => {
                        problems.refusal(row.no, "fund_name", e)?;
                        continue;
                    }
                }
            }
            match service::create_account(scope, tx, now, entity, &account, row.cell(2)).await {
                Ok(_) => created += 1,
                Err(e) => problems.refusal(row.no, "account", e)?,
            }
        }
    }
    Ok(serde_json::json!({
        "accounts_created": created, "funds_created": funds_created, "accounts_already_present": unchanged,
    }))
}

/// Budget: adopts the file's amounts for the fiscal year, per entity.
async fn budget(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    fy: Option<FiscalYear>,
    mut rows: Batches,
    problems: &mut Problems,
) -> Result<serde_json::Value> {
    let fy = fy.ok_or_else(|| Error::invalid("fiscal_year", "give the fiscal year"))?;
    let mut lines: [Vec<(u64, String, Money)>; 2] = Default::default();
    while let Some(batch) = next_batch(&mut rows, problems).await {
        for row in batch {
            let (Some(entity), Some(account), Some(amount)) = (
                entity_in(&row, 0, problems),
                account_in(&row, 1, problems),
                amount_in(&row, 2, "amount", problems),
            ) else {
                continue;
            };
            lines[entity_index(entity)].push((row.no, account.to_string(), amount));
        }
    }
    let mut total = 0i64;
    let mut count = 0usize;
    for (ei, entity) in ENTITIES.into_iter().enumerate() {
        let these = &lines[ei];
        if these.is_empty() || !problems.is_empty() {
            continue;
        }
        let pairs: Vec<(String, Money)> = these.iter().map(|(_, a, m)| (a.clone(), *m)).collect();
        match crate::budget::adopt(scope, tx, now, entity, fy, &pairs).await {
            Ok(n) => {
                count += n;
                total += pairs.iter().map(|(_, m)| m.cents()).sum::<i64>();
            }
            Err(e) => {
                // adopt names its line as `lines[N].column`; point at the file's row.
                let (row, column) = indexed_field(&e)
                    .and_then(|(i, col)| these.get(i.wrapping_sub(1)).map(|l| (l.0, col)))
                    .unwrap_or((0, String::new()));
                problems.refusal(row, &column, e)?;
            }
        }
    }
    Ok(serde_json::json!({
        "fiscal_year": fy.to_string(), "accounts_budgeted": count, "total": Money::from_cents(total).to_string(),
    }))
}

/// `lines[3].amount` → (3, "amount").
fn indexed_field(e: &Error) -> Option<(usize, String)> {
    let field = match e {
        Error::Invalid { field, .. } => field.as_str(),
        Error::Conflict { field, .. } => field.as_deref()?,
        _ => return None,
    };
    let rest = field.strip_prefix("lines[")?;
    let (n, col) = rest.split_once(']')?;
    Some((n.parse().ok()?, col.trim_start_matches('.').to_owned()))
}

/// Crosswalk: a new version mapping local accounts to uniform account
/// strings, effective from the fiscal year given.
async fn crosswalk(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    fy: Option<FiscalYear>,
    mut rows: Batches,
    problems: &mut Problems,
) -> Result<serde_json::Value> {
    let fy =
        fy.ok_or_else(|| Error::invalid("fiscal_year", "give the first fiscal year it maps"))?;
    let mut books: Vec<HashMap<String, String>> = Vec::new();
    for e in ENTITIES {
        books.push(
            service::accounts(scope, tx, e)
                .await?
                .into_iter()
                .map(|a| (a.account, a.id))
                .collect(),
        );
    }
    // account id → (row, uniform account)
    let mut lines: HashMap<String, (u64, String)> = HashMap::new();
    while let Some(batch) = next_batch(&mut rows, problems).await {
        for row in batch {
            let (Some(entity), Some(account)) =
                (entity_in(&row, 0, problems), account_in(&row, 1, problems))
            else {
                continue;
            };
            let uniform = match AccountString::parse("uniform_account", row.cell(2)) {
                Ok(u) => u,
                Err(e) => {
                    problems.refusal(row.no, "uniform_account", e)?;
                    continue;
                }
            };
            let Some(id) = books[entity_index(entity)].get(&account.to_string()) else {
                problems.add(
                    row.no,
                    "account",
                    format!("account {account} does not exist in these books"),
                );
                continue;
            };
            if let Some((first, _)) = lines.get(id) {
                problems.add(
                    row.no,
                    "account",
                    format!("{account} is mapped twice (first on row {first})"),
                );
                continue;
            }
            lines.insert(id.clone(), (row.no, uniform.to_string()));
        }
    }
    if lines.is_empty() && problems.is_empty() {
        problems.push(RowError::file("the file maps no accounts"));
    }
    if !problems.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    let mut pairs: Vec<(String, String)> = lines.into_iter().map(|(id, (_, u))| (id, u)).collect();
    pairs.sort();
    let cw = crate::ucoa::insert_version(scope, tx, now, fy, &pairs).await?;
    Ok(serde_json::json!({
        "crosswalk_version": cw.version, "effective_from": fy.to_string(), "accounts_mapped": pairs.len(),
    }))
}

/// Opening balances: the balance-sheet accounts' balances on the first day of
/// the fiscal year. Each fund must balance; the year must have none yet.
async fn openings(
    scope: &ServiceScope,
    tx: &mut Tx,
    fy: Option<FiscalYear>,
    mut rows: Batches,
    problems: &mut Problems,
) -> Result<serde_json::Value> {
    let fy = fy.ok_or_else(|| Error::invalid("fiscal_year", "give the fiscal year"))?;
    let fy_num = i64::from(fy.end_year());
    let m = scope.municipality_id().clone();
    let mut books: Vec<HashMap<String, crate::service::Account>> = Vec::new();
    let mut entity_ids = Vec::new();
    for e in ENTITIES {
        let id = entity_id(scope, tx, e).await?;
        books.push(
            crate::store::accounts(tx, &m, &id)
                .await?
                .into_iter()
                .map(|a| (a.account.clone(), a))
                .collect(),
        );
        entity_ids.push(id);
    }
    // (entity, account id) → (debit, credit, row); (entity, fund) → (net, first row).
    let mut amounts: HashMap<(usize, String), (i64, i64, u64)> = HashMap::new();
    let mut funds: HashMap<(usize, String), (i64, u64)> = HashMap::new();
    while let Some(batch) = next_batch(&mut rows, problems).await {
        for row in batch {
            let (Some(entity), Some(account), Some(debit), Some(credit)) = (
                entity_in(&row, 0, problems),
                account_in(&row, 1, problems),
                amount_in(&row, 2, "debit", problems),
                amount_in(&row, 3, "credit", problems),
            ) else {
                continue;
            };
            let ei = entity_index(entity);
            let Some(a) = books[ei].get(&account.to_string()) else {
                problems.add(
                    row.no,
                    "account",
                    format!("account {account} does not exist in these books"),
                );
                continue;
            };
            match account.class() {
                Ok(AccountClass::Asset | AccountClass::Liability | AccountClass::FundBalance) => {}
                Ok(c) => {
                    problems.add(
                        row.no,
                        "account",
                        format!("{account} is a {} account; opening balances are for assets, liabilities and fund balance", c.as_str()),
                    );
                    continue;
                }
                Err(e) => {
                    problems.refusal(row.no, "account", e)?;
                    continue;
                }
            }
            let (d, c) = match LineAmount::from_columns("debit", debit, credit) {
                Ok(amount) => amount.columns(),
                Err(e) => {
                    problems.refusal(row.no, "debit", e)?;
                    continue;
                }
            };
            if let Some(prev) = amounts.get(&(ei, a.id.clone())) {
                problems.add(
                    row.no,
                    "account",
                    format!("{account} is listed twice (first on row {})", prev.2),
                );
                continue;
            }
            amounts.insert((ei, a.id.clone()), (d, c, row.no));
            let f = funds
                .entry((ei, a.fund_code.clone()))
                .or_insert((0, row.no));
            f.0 += d - c;
        }
    }
    let mut unbalanced: Vec<_> = funds.iter().filter(|(_, (net, _))| *net != 0).collect();
    unbalanced.sort_by_key(|(_, (_, row))| *row);
    for ((ei, fund), (net, row)) in unbalanced {
        problems.add(
            *row,
            if *net > 0 { "debit" } else { "credit" },
            format!(
                "fund {fund} of the {} books does not balance: {} exceed {} by {} (the fund's rows start here)",
                if *ei == 0 { "town" } else { "education" },
                if *net > 0 { "debits" } else { "credits" },
                if *net > 0 { "credits" } else { "debits" },
                Money::from_cents(net.abs())
            ),
        );
    }
    for (ei, id) in entity_ids.iter().enumerate() {
        if !amounts.keys().any(|(e, _)| *e == ei) {
            continue;
        }
        if crate::store::period(tx, &m, id, fy_num, 1).await?.is_none() {
            problems.push(RowError::file(format!(
                "{fy} is not open in the {} books; open the year first",
                if ei == 0 { "town" } else { "education" }
            )));
        } else if !crate::store::period_totals(tx, &m, id, fy_num, 1)
            .await?
            .is_empty()
        {
            problems.push(RowError::file(format!(
                "the {} books already have opening balances for {fy} (from closing the year before, or an earlier import)",
                if ei == 0 { "town" } else { "education" }
            )));
        }
    }
    if !problems.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    let count = amounts.len();
    let total: i64 = amounts.values().map(|(d, _, _)| d).sum();
    crate::store::add_to_balances(
        tx,
        &m,
        fy_num,
        0,
        amounts
            .into_iter()
            .map(|((_, account_id), (d, c, _))| (account_id, d, c)),
    )
    .await?;
    Ok(serde_json::json!({
        "fiscal_year": fy.to_string(), "accounts": count, "total_debits": Money::from_cents(total).to_string(),
    }))
}

/// The job that runs an uploaded import.
pub const IMPORT_JOB: &str = "finance.import";

/// What the import job needs: the town, the import and who asked for it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ImportJob {
    /// Town short name.
    pub town: String,
    /// Import id.
    pub import: String,
    /// The user who uploaded it; the job acts with their grants as they are when it runs.
    pub user: String,
}

/// Registers the import job.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register(
        IMPORT_JOB,
        |ctx: munishare_platform::jobs::JobContext, payload: serde_json::Value| async move {
            let job: ImportJob = serde_json::from_value(payload)
                .map_err(|e| Error::Internal(format!("bad import job: {e}")))?;
            let now = Timestamp::new(ctx.clock.now());
            let mut conn = ctx.db.read().await?;
            let user = munishare_platform::identity::user_by_id(
                &mut conn,
                &job.user.parse::<munishare_platform::types::UserId>()?,
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
            drop(conn);
            let scope = munishare_platform::access::authorize_service(
                &ctx.db,
                &munishare_platform::identity::principal_for_user(&user),
                now.datetime().date(),
                &job.town,
                munishare_platform::types::Service::Finance,
                Permission::View,
            )
            .await?;
            let record = {
                let mut conn = ctx.db.read().await?;
                get(&scope, &mut conn, &job.import).await?
            };
            let key = record
                .blob_key
                .as_deref()
                .ok_or_else(|| Error::Internal("an uploaded import without its file".into()))?;
            let bytes = ctx
                .blobs
                .get(&munishare_platform::blob::BlobKey::in_scope(&scope, key)?)
                .await?;
            let progress = ctx.progress.track(&record.id);
            let outcome = run(
                &scope,
                &ctx.db,
                now,
                &record.id,
                Box::new(std::io::Cursor::new(bytes)),
                progress,
            )
            .await;
            ctx.progress.forget(&record.id);
            let done = outcome?;
            Ok(serde_json::json!({"import": done.id, "status": done.status, "rows": done.rows_read}))
        },
    );
}

/// A file uploaded to import.
#[derive(Debug)]
pub struct Upload {
    /// What it holds.
    pub kind: ImportKind,
    /// For budgets and opening balances.
    pub fiscal_year: Option<FiscalYear>,
    /// Its name.
    pub file_name: String,
    /// Its bytes.
    pub bytes: bytes::Bytes,
}

/// Keeps an uploaded file in the town's part of the object store, records the
/// import and queues the job that runs it, all or nothing: a refused import
/// leaves no file behind.
pub async fn upload(
    scope: &ServiceScope,
    db: &Db,
    blobs: &munishare_platform::blob::BlobStore,
    now: Timestamp,
    file: Upload,
) -> Result<ImportRecord> {
    let Upload {
        kind,
        fiscal_year,
        file_name,
        bytes,
    } = file;
    require(scope, kind.permission())?;
    if bytes.is_empty() {
        return Err(Error::invalid("file", "the file is empty"));
    }
    let (sha256, size) =
        digest(bytes.as_ref()).map_err(|e| Error::Internal(format!("reading an upload: {e}")))?;
    let name = format!("imports/{}", new_id());
    let key = munishare_platform::blob::BlobKey::in_scope(scope, &name)?;
    blobs.put(&key, bytes).await?;
    let queued = async {
        let mut tx = db.begin().await?;
        let record = create(
            scope,
            &mut tx,
            now,
            &NewImport {
                kind,
                fiscal_year,
                file_name,
                sha256,
                size_bytes: size,
                blob_key: Some(name),
            },
        )
        .await?;
        let job = ImportJob {
            town: scope.town().slug.to_string(),
            import: record.id.clone(),
            user: scope.user_id().as_str().to_owned(),
        };
        munishare_platform::jobs::enqueue(
            &mut tx,
            now,
            IMPORT_JOB,
            Some(scope.municipality_id()),
            &serde_json::to_value(&job).map_err(|e| Error::Internal(e.to_string()))?,
            3,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }
    .await;
    if queued.is_err() {
        let _ = blobs.delete(&key).await;
    }
    queued
}

#[cfg(test)]
mod tests {
    use super::plain_cents;

    #[test]
    fn plain_amounts_are_read_to_the_cent() {
        for (s, cents) in [
            ("0", 0),
            ("7", 700),
            ("12.5", 1250),
            ("12.50", 1250),
            ("1234.56", 123_456),
            ("0.01", 1),
            ("999999999999999.99", 99_999_999_999_999_999),
        ] {
            assert_eq!(plain_cents(s), Some(cents), "{s}");
        }
        // Left to Money::parse: signs, separators, symbols, more places, a bare point.
        for s in [
            "-1",
            "1,000",
            "$5",
            "1.234",
            ".5",
            "1.",
            "1e3",
            "12a",
            "1234567890123456",
        ] {
            assert_eq!(plain_cents(s), None, "{s}");
        }
    }
}
