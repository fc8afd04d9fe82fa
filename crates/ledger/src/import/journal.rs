//! Journal imports: consecutive lines with the same entity and reference are
//! one entry, checked like a hand-posted one (open period, existing active
//! accounts, balanced per fund) and written posted, in bulk, with the source
//! `import:REFERENCE`. Per-account, per-period balances are summed in memory
//! and added once at the end.
//!
//! The file is checked on a thread of its own, which hands checked chunks of
//! entries to the import's transaction: the database writes one chunk while
//! the next is checked (docs/design/0003, "Posting throughput").

use std::collections::{HashMap, HashSet};

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Tx;
use munishare_platform::types::{FiscalYear, Money, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result};
use time::Date;
use tokio::sync::mpsc;

use super::read::{Batches, Row};
use super::store::{self, BulkEntry, BulkLine};
use super::{ENTITIES, Problems, amount_in, entity_in, entity_index};
use crate::domain::PeriodStatus;
use crate::service::{entity_id, new_id};

/// Lines written per bulk write.
const FLUSH_LINES: usize = 20_000;
/// Checked chunks waiting for the writer, besides the one it writes and the
/// one being checked: memory stays bounded at a few chunks.
const CHUNKS_IN_FLIGHT: usize = 1;

// Column positions in `super::JOURNAL`.
const ENTITY: usize = 0;
const REFERENCE: usize = 1;
const DATE: usize = 2;
const DESCRIPTION: usize = 3;
const ACCOUNT: usize = 4;
const DEBIT: usize = 5;
const CREDIT: usize = 6;
const MEMO: usize = 7;

struct AccountRef {
    id: String,
    fund: String,
    active: bool,
}

struct Pending {
    entity: usize,
    reference: String,
    date_text: String,
    date: Option<Date>,
    description: String,
    first_row: u64,
    ok: bool,
    lines: Vec<(u64, usize, i64, i64, String)>,
}

struct Books {
    entity_ids: Vec<String>,
    /// Per entity: account string → index into `accounts`.
    by_string: [HashMap<String, usize>; 2],
    accounts: Vec<AccountRef>,
    /// (entity, fiscal year, period) → status.
    periods: HashMap<(usize, i64, i64), String>,
    next_number: HashMap<(usize, i64), i64>,
}

/// Checked entries, ready to be written.
#[derive(Default)]
struct Chunk {
    entries: Vec<BulkEntry>,
    lines: Vec<BulkLine>,
}

/// What the checker keeps while it reads the file, and hands back at its end.
#[derive(Default)]
struct Queue {
    /// (entity, reference) of every entry met so far.
    seen: HashSet<(usize, String)>,
    chunk: Chunk,
    /// (account index, fiscal year, period) → (debits, credits).
    balances: HashMap<(usize, i64, i64), (i64, i64)>,
    totals: Totals,
    problems: Problems,
}

#[derive(Default)]
struct Totals {
    entries: u64,
    lines: u64,
    debits: i64,
    credits: i64,
    first_date: Option<Date>,
    last_date: Option<Date>,
}

pub(super) async fn import(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    rows: Batches,
    problems: &mut Problems,
) -> Result<serde_json::Value> {
    let m = scope.municipality_id().clone();
    let books = load_books(scope, tx).await?;
    let entity_ids = books.entity_ids.clone();
    let (send, mut chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let checker = tokio::task::spawn_blocking(move || check(books, rows, &send));
    // A town's first journal import has no imported entry to repeat (entries
    // of the file are checked against each other as it is read, and the
    // unique index on sources holds against an import running beside it).
    let repeats_possible = store::journal_imported(tx, &m).await?;
    let now_text = now.to_db();
    let mut analyzed = false;
    while let Some(chunk) = chunks.recv().await {
        // After a refusal the rest is only read, so the check can report on the whole file.
        if problems.is_empty() {
            if repeats_possible {
                refuse_repeats(tx, scope, &entity_ids, &chunk, problems).await?;
            }
            if problems.is_empty() {
                store::insert_bulk(tx, &m, &now_text, &chunk.entries, &chunk.lines).await?;
                if !analyzed {
                    store::refresh_statistics(tx).await?;
                    analyzed = true;
                }
            }
        }
    }
    let (books, q) = checker
        .await
        .map_err(|e| Error::Internal(format!("the journal check stopped: {e}")))??;
    problems.absorb(q.problems);
    if !problems.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    let mut deltas: Vec<store::BalanceDelta> = q
        .balances
        .into_iter()
        .map(|((a, fy, p), v)| ((books.accounts[a].id.clone(), fy, p), v))
        .collect();
    deltas.sort();
    store::add_to_balances(tx, &m, &deltas).await?;
    Ok(serde_json::json!({
        "entries_posted": q.totals.entries,
        "lines_posted": q.totals.lines,
        "total_debits": Money::from_cents(q.totals.debits).to_string(),
        "total_credits": Money::from_cents(q.totals.credits).to_string(),
        "first_date": q.totals.first_date.map(format_date),
        "last_date": q.totals.last_date.map(format_date),
        "appropriation_control": "not applied to imported history",
    }))
}

/// The town's charts, periods and next entry numbers, for both entities.
async fn load_books(scope: &ServiceScope, tx: &mut Tx) -> Result<Books> {
    let m = scope.municipality_id();
    let mut books = Books {
        entity_ids: Vec::new(),
        by_string: Default::default(),
        accounts: Vec::new(),
        periods: HashMap::new(),
        next_number: HashMap::new(),
    };
    for (ei, e) in ENTITIES.into_iter().enumerate() {
        let id = entity_id(scope, tx, e).await?;
        for a in crate::store::accounts(tx, m, &id).await? {
            books.by_string[ei].insert(a.account.clone(), books.accounts.len());
            books.accounts.push(AccountRef {
                id: a.id,
                fund: a.fund_code,
                active: a.active,
            });
        }
        for p in crate::store::periods(tx, m, &id).await? {
            books
                .periods
                .insert((ei, p.fiscal_year, p.period), p.status);
        }
        books.entity_ids.push(id);
    }
    // Entries are numbered on from the last number of each open year.
    let years: HashSet<(usize, i64)> = books.periods.keys().map(|(e, fy, _)| (*e, *fy)).collect();
    for (ei, fy) in years {
        let next = crate::store::next_entry_number(tx, m, &books.entity_ids[ei], fy).await?;
        books.next_number.insert((ei, fy), next - 1);
    }
    Ok(books)
}

/// Reads the file's rows, checks them entry by entry, and hands chunks of
/// checked entries to `chunks` while the file has no problem. Runs on a
/// blocking thread.
fn check(
    mut books: Books,
    mut rows: Batches,
    chunks: &mpsc::Sender<Chunk>,
) -> Result<(Books, Queue)> {
    let mut pending: Option<Pending> = None;
    let mut q = Queue::default();
    while let Some(batch) = rows.blocking_recv() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                q.problems.push(e);
                break;
            }
        };
        for row in batch {
            let problems = &mut q.problems;
            let Some(entity) = entity_in(&row, ENTITY, problems) else {
                continue;
            };
            let ei = entity_index(entity);
            let reference = row.cell(REFERENCE);
            if reference.is_empty() {
                problems.add(row.no, "reference", "give the entry's reference");
                continue;
            }
            let same = pending
                .as_ref()
                .is_some_and(|p| p.entity == ei && p.reference == reference);
            if !same {
                if let Some(done) = pending.take() {
                    finish(&mut books, done, &mut q)?;
                }
                if q.chunk.lines.len() >= FLUSH_LINES && q.problems.is_empty() {
                    hand_over(chunks, &mut q)?;
                }
                pending = start(&row, ei, reference, &mut q.problems, &q.seen);
            }
            let Some(p) = pending.as_mut() else {
                continue;
            };
            add_line(&books, p, &row, &mut q.problems);
        }
    }
    if let Some(done) = pending.take() {
        finish(&mut books, done, &mut q)?;
    }
    if q.totals.entries == 0 && q.problems.is_empty() {
        q.problems
            .push(super::RowError::file("the file has no journal lines"));
    }
    if q.problems.is_empty() && !q.chunk.entries.is_empty() {
        hand_over(chunks, &mut q)?;
    }
    Ok((books, q))
}

/// Sends the queued entries to the writer.
fn hand_over(chunks: &mpsc::Sender<Chunk>, q: &mut Queue) -> Result<()> {
    chunks
        .blocking_send(std::mem::take(&mut q.chunk))
        .map_err(|_| Error::Internal("the journal writer stopped".into()))
}

/// Starts an entry at its first row.
fn start(
    row: &Row,
    ei: usize,
    reference: &str,
    problems: &mut Problems,
    seen: &HashSet<(usize, String)>,
) -> Option<Pending> {
    if reference.len() > 100 {
        problems.add(row.no, "reference", "at most 100 characters");
        return None;
    }
    if seen.contains(&(ei, reference.to_owned())) {
        problems.add(
            row.no,
            "reference",
            format!(
                "entry {reference} appeared earlier in the file; an entry's lines must be together"
            ),
        );
        return None;
    }
    let date_text = row.cell(DATE);
    let date = parse_date("date", date_text).ok();
    if date.is_none() {
        problems.add(
            row.no,
            "date",
            format!("'{date_text}' is not a date (YYYY-MM-DD)"),
        );
    }
    let mut ok = date.is_some();
    let description = row.cell(DESCRIPTION);
    if description.is_empty() || description.chars().count() > 300 {
        problems.add(
            row.no,
            "description",
            "describe the entry (at most 300 characters)",
        );
        ok = false;
    }
    Some(Pending {
        entity: ei,
        reference: reference.to_owned(),
        date_text: date_text.to_owned(),
        date,
        description: description.to_owned(),
        first_row: row.no,
        ok,
        lines: Vec::new(),
    })
}

fn add_line(books: &Books, p: &mut Pending, row: &Row, problems: &mut Problems) {
    if row.no != p.first_row {
        if row.cell(DATE) != p.date_text {
            problems.add(
                row.no,
                "date",
                format!(
                    "entry {} is dated {} on its first row (row {})",
                    p.reference, p.date_text, p.first_row
                ),
            );
            p.ok = false;
        }
        if row.cell(DESCRIPTION) != p.description {
            problems.add(
                row.no,
                "description",
                format!(
                    "entry {} has a different description on its first row (row {})",
                    p.reference, p.first_row
                ),
            );
            p.ok = false;
        }
    }
    let account_text = row.cell(ACCOUNT);
    let account = match books.by_string[p.entity].get(account_text) {
        Some(&i) if books.accounts[i].active => Some(i),
        Some(_) => {
            problems.add(
                row.no,
                "account",
                format!("account {account_text} is inactive"),
            );
            None
        }
        None => {
            let message = match crate::domain::AccountString::parse("account", account_text) {
                Ok(a) => format!(
                    "account {a} does not exist in the {} books",
                    if p.entity == 0 { "town" } else { "education" }
                ),
                Err(e) => super::invalid_message(e),
            };
            problems.add(row.no, "account", message);
            None
        }
    };
    let debit = amount_in(row, DEBIT, "debit", problems);
    let credit = amount_in(row, CREDIT, "credit", problems);
    let (Some(account), Some(debit), Some(credit)) = (account, debit, credit) else {
        p.ok = false;
        return;
    };
    match crate::domain::LineAmount::from_columns("debit", debit, credit) {
        Ok(amount) => {
            let (d, c) = amount.columns();
            let memo: String = row.cell(MEMO).chars().take(200).collect();
            p.lines.push((row.no, account, d, c, memo));
        }
        Err(e) => {
            problems.add(row.no, "debit", super::invalid_message(e));
            p.ok = false;
        }
    }
}

/// Checks a whole entry (line count, balance per fund, open period) and
/// queues it for writing.
fn finish(books: &mut Books, p: Pending, q: &mut Queue) -> Result<()> {
    q.seen.insert((p.entity, p.reference.clone()));
    let problems = &mut q.problems;
    let (true, Some(date)) = (p.ok, p.date) else {
        return Ok(());
    };
    if p.lines.len() < 2 || p.lines.len() > 10_000 {
        problems.add(
            p.first_row,
            "reference",
            format!(
                "entry {} has {} line(s); an entry has 2 to 10,000",
                p.reference,
                p.lines.len()
            ),
        );
        return Ok(());
    }
    let mut by_fund: Vec<(&str, i64)> = Vec::new();
    for (_, a, d, c, _) in &p.lines {
        let fund = books.accounts[*a].fund.as_str();
        match by_fund.iter_mut().find(|(f, _)| *f == fund) {
            Some(e) => e.1 += d - c,
            None => by_fund.push((fund, d - c)),
        }
    }
    let mut balanced = true;
    for (fund, net) in &by_fund {
        if *net != 0 {
            problems.add(
                p.first_row,
                if *net > 0 { "debit" } else { "credit" },
                format!(
                    "entry {} does not balance in fund {fund}: {} exceed {} by {}",
                    p.reference,
                    if *net > 0 { "debits" } else { "credits" },
                    if *net > 0 { "credits" } else { "debits" },
                    Money::from_cents(net.abs())
                ),
            );
            balanced = false;
        }
    }
    let fy = i64::from(FiscalYear::containing(date).end_year());
    let period = i64::from(FiscalYear::period_of(date));
    match books.periods.get(&(p.entity, fy, period)) {
        None => {
            problems.add(
                p.first_row,
                "date",
                format!("FY {fy} is not open in these books (entry {})", p.reference),
            );
            return Ok(());
        }
        Some(s) if s != PeriodStatus::Open.as_str() => {
            problems.add(
                p.first_row,
                "date",
                format!(
                    "period {period} of FY {fy} is {s}; no posting (entry {})",
                    p.reference
                ),
            );
            return Ok(());
        }
        Some(_) => {}
    }
    if !balanced || !problems.is_empty() {
        return Ok(());
    }
    let number = match books.next_number.get_mut(&(p.entity, fy)) {
        Some(n) => {
            *n += 1;
            *n
        }
        None => {
            return Err(Error::Internal(format!("no entry number for FY {fy}")));
        }
    };
    q.totals.entries += 1;
    q.totals.first_date = Some(q.totals.first_date.map_or(date, |d| d.min(date)));
    q.totals.last_date = Some(q.totals.last_date.map_or(date, |d| d.max(date)));
    let entry = q.chunk.entries.len();
    q.chunk.entries.push(BulkEntry {
        id: new_id(),
        entity_id: books.entity_ids[p.entity].clone(),
        fiscal_year: fy,
        number,
        period,
        date: p.date_text,
        description: p.description,
        source: format!("import:{}", p.reference),
    });
    for (i, (_, a, d, c, memo)) in p.lines.into_iter().enumerate() {
        q.totals.lines += 1;
        q.totals.debits += d;
        q.totals.credits += c;
        let b = q.balances.entry((a, fy, period)).or_default();
        b.0 += d;
        b.1 += c;
        q.chunk.lines.push(BulkLine {
            entry,
            line_no: i64::try_from(i + 1).unwrap_or(i64::MAX),
            account_id: books.accounts[a].id.clone(),
            debit: d,
            credit: c,
            memo,
        });
    }
    Ok(())
}

/// Files a problem for each entry of `chunk` (up to 20) whose source an
/// earlier import already posted.
async fn refuse_repeats(
    tx: &mut Tx,
    scope: &ServiceScope,
    entity_ids: &[String],
    chunk: &Chunk,
    problems: &mut Problems,
) -> Result<()> {
    let m = scope.municipality_id();
    let mut present = Vec::new();
    for entity_id in entity_ids {
        let sources: Vec<&str> = chunk
            .entries
            .iter()
            .filter(|e| &e.entity_id == entity_id)
            .map(|e| e.source.as_str())
            .collect();
        if !sources.is_empty() {
            present.extend(store::sources_present(tx, m, entity_id, &sources).await?);
        }
    }
    for s in present.iter().take(20) {
        problems.push(super::RowError::new(
            0,
            "reference",
            format!(
                "entry {} is already in the books from an earlier import",
                s.trim_start_matches("import:")
            ),
        ));
    }
    Ok(())
}
