//! The imports' SQL, including the bulk writes of journal imports:
//! PostgreSQL `COPY … FROM STDIN`, SQLite multi-row `INSERT`s.

use std::fmt::Write as _;

use munishare_platform::db::{ConnRef, Executor};
use munishare_platform::types::MunicipalityId;
use munishare_platform::{Error, Result, dispatch, execute};

use super::ImportRecord;

const COLUMNS: &str = "id, kind, fiscal_year, file_name, sha256, size_bytes, blob_key, status, rows_read, summary, errors, \
     created_by, created_at, finished_at";

pub(crate) async fn insert_import(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    r: &ImportRecord,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_imports (municipality_id, id, kind, fiscal_year, file_name, sha256, size_bytes, blob_key, status, \
         rows_read, summary, errors, created_by, created_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(m).bind(&r.id).bind(&r.kind).bind(r.fiscal_year).bind(&r.file_name).bind(&r.sha256).bind(r.size_bytes)
        .bind(&r.blob_key).bind(&r.status).bind(r.rows_read).bind(&r.summary).bind(&r.errors).bind(&r.created_by)
        .bind(&r.created_at).bind(&r.finished_at).execute(c).await)?)
}

pub(crate) async fn import(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<ImportRecord>> {
    let sql =
        format!("SELECT {COLUMNS} FROM ledger_imports WHERE municipality_id = $1 AND id = $2");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(id).fetch_optional(c).await)?,
    )
}

pub(crate) async fn imports(
    ex: &mut impl Executor,
    m: &MunicipalityId,
) -> Result<Vec<ImportRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_imports WHERE municipality_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).fetch_all(c).await)?,
    )
}

pub(crate) async fn done_import(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    kind: &str,
    sha256: &str,
) -> Result<Option<ImportRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_imports WHERE municipality_id = $1 AND kind = $2 AND sha256 = $3 AND status = 'done'"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(kind).bind(sha256)
        .fetch_optional(c).await)?,
    )
}

pub(crate) async fn set_import_status(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    status: &str,
) -> Result<u64> {
    Ok(
        execute!(ex, c => sqlx::query("UPDATE ledger_imports SET status = $1 WHERE municipality_id = $2 AND id = $3")
        .bind(status).bind(m).bind(id).execute(c).await)?,
    )
}

pub(crate) async fn finish_import(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    r: &ImportRecord,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_imports SET status = $1, rows_read = $2, summary = $3, errors = $4, finished_at = $5 \
         WHERE municipality_id = $6 AND id = $7")
        .bind(&r.status).bind(r.rows_read).bind(&r.summary).bind(&r.errors).bind(&r.finished_at).bind(m).bind(&r.id)
        .execute(c).await)?)
}

/// An entry written by a journal import: posted, with its source.
#[derive(Debug)]
pub(crate) struct BulkEntry {
    pub id: String,
    pub entity_id: String,
    pub fiscal_year: i64,
    pub number: i64,
    pub period: i64,
    pub date: String,
    pub description: String,
    pub source: String,
}

/// A line written by a journal import.
#[derive(Debug)]
pub(crate) struct BulkLine {
    pub entry: usize,
    pub line_no: i64,
    pub account_id: String,
    pub debit: i64,
    pub credit: i64,
    pub memo: String,
}

/// Whether a journal import of the town has ever been posted: only those
/// write entries with an `import:` source.
pub(crate) async fn journal_imported(ex: &mut impl Executor, m: &MunicipalityId) -> Result<bool> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM ledger_imports WHERE municipality_id = $1 AND kind = 'journal' AND status = 'done')")
        .bind(m).fetch_one(c).await)?)
}

/// Which of `sources` (all of one entity) are already in the books. One
/// array parameter per query: SQLite reads it with `json_each`, PostgreSQL
/// as a `text[]`.
pub(crate) async fn sources_present(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    sources: &[&str],
) -> Result<Vec<String>> {
    Ok(match ex.conn() {
        ConnRef::Sqlite(c) => {
            let list = to_json(&sources)?;
            sqlx::query_scalar(
                "SELECT source FROM ledger_entries WHERE municipality_id = $1 AND entity_id = $2 \
                 AND source IS NOT NULL AND source IN (SELECT value FROM json_each($3))",
            )
            .bind(m)
            .bind(entity_id)
            .bind(list)
            .fetch_all(c)
            .await?
        }
        ConnRef::Postgres(c) => {
            sqlx::query_scalar(
                "SELECT source FROM ledger_entries WHERE municipality_id = $1 AND entity_id = $2 \
                 AND source IS NOT NULL AND source = ANY($3)",
            )
            .bind(m)
            .bind(entity_id)
            .bind(sources)
            .fetch_all(c)
            .await?
        }
    })
}

/// Writes posted entries and their lines.
pub(crate) async fn insert_bulk(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    now: &str,
    entries: &[BulkEntry],
    lines: &[BulkLine],
) -> Result<()> {
    match ex.conn() {
        ConnRef::Postgres(c) => copy_bulk(c, m, now, entries, lines).await,
        ConnRef::Sqlite(c) => insert_bulk_sqlite(c, m, now, entries, lines).await,
    }
}

/// PostgreSQL: refreshes the planner's statistics of the entries, when they
/// still look (nearly) empty, inside the import's transaction (ANALYZE counts
/// the transaction's own new rows). Without it, the check of a large first
/// import's lines against their entries is planned as a scan of a table
/// believed empty, and every statement scans it: a 270,000-line import ran
/// at 8,000 lines/s instead of 22,000. Only a region's first imports find the
/// entries so small; the lock ANALYZE holds to the end of the transaction
/// makes an import beside them wait for their commit. Accounts are few (a
/// town's chart), and a scan of them costs little. SQLite plans without
/// statistics: nothing to do.
pub(crate) async fn refresh_statistics(ex: &mut impl Executor) -> Result<()> {
    if let ConnRef::Postgres(c) = ex.conn() {
        let stale: bool = sqlx::query_scalar(
            "SELECT reltuples < 10000 FROM pg_class WHERE relname = 'ledger_entries' \
             AND relkind = 'r' AND relnamespace = current_schema()::regnamespace",
        )
        .fetch_one(&mut *c)
        .await?;
        if stale {
            sqlx::query("ANALYZE ledger_entries")
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

/// PostgreSQL: refreshes the statistics of the journal's tables after a large
/// import that, with what changed before it, changed the journal's lines by a
/// tenth since their statistics were last refreshed (autovacuum's own
/// threshold, which production runs later; this makes reports planned on the
/// new sizes at once: a town's partial-period trial balance took 113 ms on
/// stale statistics at 10 million lines and 9 ms after). Below the threshold
/// the plans do not change, and the refresh, 0.3 s or more, is skipped.
/// `lines` is how many lines the import added: the server's count of changes
/// may not include them yet. SQLite: nothing to do.
pub(crate) async fn analyze_journal(ex: &mut impl Executor, lines: i64) -> Result<()> {
    if let ConnRef::Postgres(c) = ex.conn() {
        let stale: bool = sqlx::query_scalar(
            "SELECT COALESCE(s.n_mod_since_analyze, 0) + $1 >= 0.1 * GREATEST(c.reltuples, 0) + 50 \
             FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
             WHERE c.relname = 'ledger_lines' AND c.relnamespace = current_schema()::regnamespace",
        )
        .bind(lines)
        .fetch_one(&mut *c)
        .await?;
        if stale {
            sqlx::query("ANALYZE ledger_entries, ledger_lines, ledger_balances")
                .execute(c)
                .await?;
        }
    }
    Ok(())
}

/// Escapes a text value for `COPY … FROM STDIN` text format.
fn copy_text(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

async fn copy_bulk(
    c: &mut sqlx::PgConnection,
    m: &MunicipalityId,
    now: &str,
    entries: &[BulkEntry],
    lines: &[BulkLine],
) -> Result<()> {
    let m = m.as_str();
    let mut buf = String::with_capacity(entries.len() * 200);
    for e in entries {
        let _ = write!(
            buf,
            "{m}\t{}\t{}\t{}\t{}\t{}\t{}\t",
            e.id, e.entity_id, e.fiscal_year, e.number, e.period, e.date
        );
        copy_text(&mut buf, &e.description);
        let _ = write!(buf, "\tposted\t\\N\t{now}\t{now}\t");
        copy_text(&mut buf, &e.source);
        buf.push('\n');
    }
    let mut copy = c
        .copy_in_raw(
            "COPY ledger_entries (municipality_id, id, entity_id, fiscal_year, number, period, entry_date, description, \
             status, reverses_id, created_at, posted_at, source) FROM STDIN",
        )
        .await?;
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    buf.clear();
    for l in lines {
        let entry = entries
            .get(l.entry)
            .ok_or_else(|| Error::Internal("bulk line without its entry".into()))?;
        let _ = write!(
            buf,
            "{m}\t{}\t{}\t{}\t{}\t{}\t",
            entry.id, l.line_no, l.account_id, l.debit, l.credit
        );
        copy_text(&mut buf, &l.memo);
        buf.push('\n');
    }
    let mut copy = c
        .copy_in_raw(
            "COPY ledger_lines (municipality_id, entry_id, line_no, account_id, debit_cents, credit_cents, memo) FROM STDIN",
        )
        .await?;
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

async fn insert_bulk_sqlite(
    c: &mut sqlx::SqliteConnection,
    m: &MunicipalityId,
    now: &str,
    entries: &[BulkEntry],
    lines: &[BulkLine],
) -> Result<()> {
    /// An entry as a JSON array: id, entity, year, number, period, date, description, source.
    #[derive(serde::Serialize)]
    struct EntryRow<'a>(&'a str, &'a str, i64, i64, i64, &'a str, &'a str, &'a str);
    /// A line as a JSON array: entry id, line number, account id, debit, credit, memo.
    #[derive(serde::Serialize)]
    struct LineRow<'a>(&'a str, i64, &'a str, i64, i64, &'a str);
    // One JSON array parameter per statement: SQLite's cost of binding a
    // parameter grows with the number of parameters, its JSON reader's does not.
    // `jsonb_each` hands each row over in SQLite's binary JSON, which `->>`
    // reads as it is (`json_each` would hand it over as text, parsed again by
    // each `->>`).
    let rows: Vec<EntryRow<'_>> = entries
        .iter()
        .map(|e| {
            EntryRow(
                &e.id,
                &e.entity_id,
                e.fiscal_year,
                e.number,
                e.period,
                &e.date,
                &e.description,
                &e.source,
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO ledger_entries (municipality_id, id, entity_id, fiscal_year, number, period, entry_date, \
         description, status, reverses_id, created_at, posted_at, source) \
         SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
         'posted', NULL, $2, $2, value ->> 7 FROM jsonb_each($3)",
    )
    .bind(m.as_str())
    .bind(now)
    .bind(to_json(&rows)?)
    .execute(&mut *c)
    .await?;
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        let entry = entries
            .get(l.entry)
            .ok_or_else(|| Error::Internal("bulk line without its entry".into()))?;
        rows.push(LineRow(
            &entry.id,
            l.line_no,
            &l.account_id,
            l.debit,
            l.credit,
            &l.memo,
        ));
    }
    sqlx::query(
        "INSERT INTO ledger_lines (municipality_id, entry_id, line_no, account_id, debit_cents, credit_cents, memo) \
         SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM jsonb_each($2)",
    )
    .bind(m.as_str())
    .bind(to_json(&rows)?)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Activity to add to one account's kept balance of one period:
/// ((account id, fiscal year, period), (debits, credits)).
pub(crate) type BalanceDelta = ((String, i64, i64), (i64, i64));

/// Adds per-account, per-period activity to the kept balances:
/// ((account id, fiscal year, period), (debits, credits)).
pub(crate) async fn add_to_balances(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    deltas: &[BalanceDelta],
) -> Result<()> {
    const HEAD: &str = "INSERT INTO ledger_balances (municipality_id, account_id, fiscal_year, period, debit_cents, credit_cents)";
    const TAIL: &str = " ON CONFLICT (municipality_id, account_id, fiscal_year, period) DO UPDATE SET \
         debit_cents = ledger_balances.debit_cents + excluded.debit_cents, \
         credit_cents = ledger_balances.credit_cents + excluded.credit_cents";
    match ex.conn() {
        ConnRef::Sqlite(c) => {
            // One JSON parameter (see `insert_bulk_sqlite`); `WHERE true` lets
            // SQLite parse the upsert after a SELECT.
            let rows: Vec<(&str, i64, i64, i64, i64)> = deltas
                .iter()
                .map(|((a, fy, p), (d, cr))| (a.as_str(), *fy, *p, *d, *cr))
                .collect();
            let sql = format!(
                "{HEAD} SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 \
                 FROM jsonb_each($2) WHERE true{TAIL}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(m.as_str())
                .bind(to_json(&rows)?)
                .execute(c)
                .await?;
        }
        ConnRef::Postgres(c) => {
            // One array parameter per column: one short statement whatever the count.
            let accounts: Vec<&str> = deltas.iter().map(|((a, _, _), _)| a.as_str()).collect();
            let years: Vec<i64> = deltas.iter().map(|((_, fy, _), _)| *fy).collect();
            let periods: Vec<i64> = deltas.iter().map(|((_, _, p), _)| *p).collect();
            let debits: Vec<i64> = deltas.iter().map(|(_, (d, _))| *d).collect();
            let credits: Vec<i64> = deltas.iter().map(|(_, (_, cr))| *cr).collect();
            let sql = format!(
                "{HEAD} SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]){TAIL}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(m.as_str())
                .bind(accounts)
                .bind(years)
                .bind(periods)
                .bind(debits)
                .bind(credits)
                .execute(c)
                .await?;
        }
    }
    Ok(())
}
