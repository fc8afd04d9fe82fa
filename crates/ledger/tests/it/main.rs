//! The ledger on both databases: set up books, draft, post, reverse, close
//! periods, and a trial balance checked against sums computed by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod benchmarks;
mod imports;
mod properties;
mod ucoa;

use munishare_ledger::service::{self, NewEntry, NewLine, TrialBalanceRow};
use munishare_ledger::{AccountString, FundType, PeriodStatus};
use munishare_platform::access::{self, ServiceScope};
use munishare_platform::db::testing::{Backend, TestDb};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Service, Timestamp};
use munishare_platform::{Db, Error, audit, demo, identity};
use time::Date;
use time::macros::{date, datetime};

const NOW: time::OffsetDateTime = datetime!(2026-11-26 14:00 UTC);

async fn scope(db: &Db, user: &str, town: &str) -> ServiceScope {
    let mut c = db.read().await.unwrap();
    let u = identity::user_by_username(&mut c, user)
        .await
        .unwrap()
        .unwrap();
    drop(c);
    access::authorize_service(
        db,
        &identity::principal_for_user(&u),
        NOW.date(),
        town,
        Service::Finance,
        Permission::View,
    )
    .await
    .unwrap()
}

fn now() -> Timestamp {
    Timestamp::new(NOW)
}

fn line(account: &str, debit: &str, credit: &str) -> NewLine {
    NewLine {
        account: account.into(),
        debit: Money::parse("debit", debit).unwrap(),
        credit: Money::parse("credit", credit).unwrap(),
        memo: String::new(),
    }
}

fn entry(date: Date, description: &str, lines: Vec<NewLine>) -> NewEntry {
    NewEntry {
        entity: EntityKind::TownGovernment,
        date,
        adjustment: false,
        description: description.into(),
        lines,
    }
}

const CASH: &str = "1005-00-0000-00000-10100-000";
const TAXES: &str = "1005-00-0000-00000-41000-000";
const WAGES: &str = "1005-42-4201-00000-51000-000";
const WPCA_CASH: &str = "6001-00-0000-00000-10100-000";
const SEWER: &str = "6001-00-0000-00000-44000-000";

async fn set_up_books(db: &Db, admin: &ServiceScope) {
    let mut tx = db.begin().await.unwrap();
    service::create_fund(
        admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        "1005",
        "General Fund",
        FundType::General,
    )
    .await
    .unwrap();
    service::create_fund(
        admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        "6001",
        "Wastewater",
        FundType::Enterprise,
    )
    .await
    .unwrap();
    for (a, name) in [
        (CASH, "Cash"),
        (TAXES, "Current property taxes"),
        (WAGES, "Police wages"),
        (WPCA_CASH, "Cash — WPCA"),
        (SEWER, "Sewer use charges"),
    ] {
        service::create_account(
            admin,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            &AccountString::parse("account", a).unwrap(),
            name,
        )
        .await
        .unwrap();
    }
    service::open_fiscal_year(
        admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        FiscalYear::ending("fy", 2027).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn draft_and_post(
    db: &Db,
    clerk: &ServiceScope,
    admin: &ServiceScope,
    e: NewEntry,
) -> String {
    let mut tx = db.begin().await.unwrap();
    let (draft, _) = service::create_draft(clerk, &mut tx, now(), &e)
        .await
        .unwrap();
    service::post_entry(admin, &mut tx, now(), &draft.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    draft.id
}

fn row<'a>(tb: &'a [TrialBalanceRow], account: &str) -> &'a TrialBalanceRow {
    tb.iter()
        .find(|r| r.account == account)
        .unwrap_or_else(|| panic!("{account} not in the trial balance"))
}

fn totals(tb: &[TrialBalanceRow]) -> (i64, i64) {
    tb.iter()
        .fold((0, 0), |(d, c), r| (d + r.debit_cents, c + r.credit_cents))
}

async fn books_post_reverse_and_balance(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let clerk = scope(&db, "clerk.hartford", "hartford").await;

    // A clerk cannot set up the books.
    let mut tx = db.begin().await.unwrap();
    let refused = service::create_fund(
        &clerk,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        "1005",
        "General",
        FundType::General,
    )
    .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    drop(tx);
    set_up_books(&db, &admin).await;
    let periods = service::periods(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
    )
    .await
    .unwrap();
    assert_eq!(periods.len(), 13);
    assert_eq!(
        (periods[0].starts_on.as_str(), periods[0].ends_on.as_str()),
        ("2026-07-01", "2026-07-31")
    );
    assert_eq!(
        (periods[7].starts_on.as_str(), periods[7].ends_on.as_str()),
        ("2027-02-01", "2027-02-28")
    );
    assert_eq!(
        (periods[11].starts_on.as_str(), periods[11].ends_on.as_str()),
        ("2027-06-01", "2027-06-30")
    );

    // An account in a fund that does not exist is refused, naming the field.
    let mut tx = db.begin().await.unwrap();
    let err = service::create_account(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        &AccountString::parse("a", "2100-00-0000-00000-10100-000").unwrap(),
        "Cash",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "account: fund 2100 does not exist in these books; add it first"
    );
    drop(tx);

    draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 08 - 15),
            "August tax receipts",
            vec![
                line(CASH, "1,250,000.00", "0"),
                line(TAXES, "0", "1,250,000.00"),
            ],
        ),
    )
    .await;
    let payroll = draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 11 - 20),
            "Police payroll 11/20",
            vec![line(WAGES, "84,321.57", "0"), line(CASH, "0", "84,321.57")],
        ),
    )
    .await;
    draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 09 - 30),
            "Sewer billing receipts",
            vec![
                line(WPCA_CASH, "10,000.00", "0"),
                line(SEWER, "0", "10,000.00"),
            ],
        ),
    )
    .await;

    // The clerk drafts but may not post.
    let mut tx = db.begin().await.unwrap();
    let (draft, _) = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2026 - 11 - 21),
            "Off by $12.50",
            vec![line(WAGES, "100.00", "0"), line(CASH, "0", "87.50")],
        ),
    )
    .await
    .unwrap();
    assert!(matches!(
        service::post_entry(&clerk, &mut tx, now(), &draft.id).await,
        Err(Error::Forbidden(_))
    ));
    let err = service::post_entry(&admin, &mut tx, now(), &draft.id)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lines: fund 1005 is out of balance by $12.50: debits $100.00, credits $87.50"
    );
    // Balanced in total but across funds: each fund must balance on its own.
    let (cross, _) = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2026 - 11 - 21),
            "Cross-fund",
            vec![line(CASH, "5.00", "0"), line(SEWER, "0", "5.00")],
        ),
    )
    .await
    .unwrap();
    let err = service::post_entry(&admin, &mut tx, now(), &cross.id)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("fund 1005 is out of balance by $5.00"),
        "{err}"
    );
    let err = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2026 - 11 - 21),
            "Bad line",
            vec![line(WAGES, "1.00", "1.00"), line(CASH, "0", "1.00")],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lines[1]: enter a debit or a credit, not both"
    );
    let err = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2026 - 11 - 21),
            "Unknown",
            vec![
                line("1005-00-0000-00000-19999-000", "1.00", "0"),
                line(CASH, "0", "1.00"),
            ],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lines[1].account: account 1005-00-0000-00000-19999-000 does not exist in these books"
    );
    let err = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2027 - 07 - 01),
            "Next year",
            vec![line(WAGES, "1.00", "0"), line(CASH, "0", "1.00")],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "date: FY 2027-28 is not open in these books"
    );
    drop(tx);

    // Trial balance at 2026-11-26, against sums computed by hand.
    let mut c = db.read().await.unwrap();
    let tb = service::trial_balance(
        &clerk,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 11 - 26),
    )
    .await
    .unwrap();
    assert_eq!(
        (row(&tb, CASH).debit_cents, row(&tb, CASH).credit_cents),
        (125_000_000, 8_432_157)
    );
    assert_eq!(
        (row(&tb, WAGES).debit_cents, row(&tb, WAGES).credit_cents),
        (8_432_157, 0)
    );
    assert_eq!(
        (row(&tb, TAXES).debit_cents, row(&tb, TAXES).credit_cents),
        (0, 125_000_000)
    );
    assert_eq!(
        (
            row(&tb, WPCA_CASH).debit_cents,
            row(&tb, SEWER).credit_cents
        ),
        (1_000_000, 1_000_000)
    );
    assert_eq!(
        totals(&tb),
        (
            125_000_000 + 8_432_157 + 1_000_000,
            125_000_000 + 8_432_157 + 1_000_000
        )
    );
    // One day before payroll: the November entry is not there yet (the current period is read line by line).
    let before = service::trial_balance(
        &clerk,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 11 - 19),
    )
    .await
    .unwrap();
    assert!(before.iter().all(|r| r.account != WAGES));
    assert_eq!(row(&before, CASH).credit_cents, 0);
    // One fund only.
    let sewer_only = service::trial_balance(
        &clerk,
        &mut c,
        EntityKind::TownGovernment,
        Some("6001"),
        date!(2026 - 11 - 26),
    )
    .await
    .unwrap();
    assert_eq!(sewer_only.len(), 2);
    drop(c);

    // Reverse the payroll: wages net to zero; a second reversal and a re-post are refused.
    let mut tx = db.begin().await.unwrap();
    let reversal = service::reverse_entry(&admin, &mut tx, now(), &payroll, date!(2026 - 11 - 25))
        .await
        .unwrap();
    assert_eq!(reversal.status, "posted");
    assert_eq!(
        reversal.description,
        "Reversal of entry 2 (Police payroll 11/20)"
    );
    assert!(matches!(
        service::reverse_entry(&admin, &mut tx, now(), &payroll, date!(2026 - 11 - 25)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        service::post_entry(&admin, &mut tx, now(), &payroll).await,
        Err(Error::Conflict { .. })
    ));
    tx.commit().await.unwrap();
    let mut c = db.read().await.unwrap();
    let tb = service::trial_balance(
        &clerk,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 11 - 26),
    )
    .await
    .unwrap();
    let w = row(&tb, WAGES);
    assert_eq!(w.debit_cents - w.credit_cents, 0);
    let (d, cr) = totals(&tb);
    assert_eq!(d, cr, "the trial balance balances");
    drop(c);

    // Periods: close October; posting into it is refused; reopen; lock only from closed; locked is final.
    let fy = FiscalYear::ending("fy", 2027).unwrap();
    let mut tx = db.begin().await.unwrap();
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        fy,
        4,
        PeriodStatus::Closed,
    )
    .await
    .unwrap();
    let err = service::create_draft(
        &clerk,
        &mut tx,
        now(),
        &entry(
            date!(2026 - 10 - 15),
            "Late October",
            vec![line(WAGES, "1.00", "0"), line(CASH, "0", "1.00")],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "date: period 4 of FY 2026-27 is closed; no posting"
    );
    assert!(
        service::set_period_status(
            &clerk,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            fy,
            4,
            PeriodStatus::Open
        )
        .await
        .is_err()
    );
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        fy,
        4,
        PeriodStatus::Open,
    )
    .await
    .unwrap();
    assert!(matches!(
        service::set_period_status(
            &admin,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            fy,
            4,
            PeriodStatus::Locked
        )
        .await,
        Err(Error::Conflict { .. })
    ));
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        fy,
        3,
        PeriodStatus::Closed,
    )
    .await
    .unwrap();
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        fy,
        3,
        PeriodStatus::Locked,
    )
    .await
    .unwrap();
    assert!(matches!(
        service::set_period_status(
            &admin,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            fy,
            3,
            PeriodStatus::Open
        )
        .await,
        Err(Error::Conflict { .. })
    ));
    tx.commit().await.unwrap();

    // Another town's finance staff cannot see Hartford's entries.
    let west = scope(&db, "townadmin.west-hartford", "west-hartford").await;
    let mut c = db.read().await.unwrap();
    assert!(matches!(
        service::entry(&west, &mut c, &payroll).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        service::entries(&west, &mut c, EntityKind::TownGovernment, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        service::entries(&clerk, &mut c, EntityKind::TownGovernment, 100)
            .await
            .unwrap()
            .len(),
        4,
        "three entries and one reversal; the drafts rolled back with their transaction"
    );
    drop(c);

    // Every change is audited, and the chains still verify.
    let report = audit::verify(&db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
}

/// Runs `test` on a fresh database of `backend`, dropping it afterwards even when the test panics.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(tdb) = TestDb::create(backend).await.unwrap() else {
        eprintln!("skipped: MUNISHARE_TEST_POSTGRES_URL is not set");
        return;
    };
    let outcome = tokio::spawn(test(tdb.db.clone())).await;
    tdb.destroy().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_on_sqlite() {
    run(Backend::Sqlite, books_post_reverse_and_balance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_on_postgres() {
    run(Backend::Postgres, books_post_reverse_and_balance).await;
}

/// Journal lines keep their references on both databases — SQLite by row-level foreign keys,
/// PostgreSQL by a statement-level check (docs/design/0002, "Integrity of journal lines") — and
/// are append-only: a line of no entry or on no account is refused, a statement with one such
/// line among good ones writes none, and lines, or the entries and accounts they point to, can
/// be neither changed nor deleted through SQL.
async fn journal_lines_keep_their_references(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let clerk = scope(&db, "clerk.hartford", "hartford").await;
    set_up_books(&db, &admin).await;
    let posted = draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 08 - 03),
            "Tax receipts",
            vec![line(CASH, "100.00", "0"), line(TAXES, "0", "100.00")],
        ),
    )
    .await;
    let town = admin.municipality_id().to_string();
    let (account, lines): (String, i64) = {
        let mut c = db.read().await.unwrap();
        munishare_platform::dispatch!(&mut c, c => sqlx::query_as(
            "SELECT MIN(account_id), COUNT(*) FROM ledger_lines WHERE municipality_id = $1 AND entry_id = $2")
            .bind(&town).bind(&posted).fetch_one(c).await)
        .unwrap()
    };
    assert_eq!(lines, 2);
    let insert = "INSERT INTO ledger_lines (municipality_id, entry_id, line_no, account_id, debit_cents, credit_cents, memo) \
                  VALUES ($1, $2, 3, $3, 1, 0, '')";
    let refused = [
        (
            insert,
            vec![town.clone(), posted.clone(), "no-such-account".into()],
        ),
        (
            insert,
            vec![town.clone(), "no-such-entry".into(), account.clone()],
        ),
        // A statement of one good line and one bad writes neither.
        (
            "INSERT INTO ledger_lines (municipality_id, entry_id, line_no, account_id, debit_cents, credit_cents, memo) \
             VALUES ($1, $2, 3, $3, 1, 0, ''), ($1, $2, 4, $4, 0, 1, '')",
            vec![
                town.clone(),
                posted.clone(),
                account.clone(),
                "no-such-account".into(),
            ],
        ),
        (
            "UPDATE ledger_lines SET debit_cents = debit_cents + 1 WHERE municipality_id = $1 AND entry_id = $2",
            vec![town.clone(), posted.clone()],
        ),
        (
            "DELETE FROM ledger_lines WHERE municipality_id = $1 AND entry_id = $2",
            vec![town.clone(), posted.clone()],
        ),
        (
            "DELETE FROM ledger_entries WHERE municipality_id = $1 AND id = $2",
            vec![town.clone(), posted.clone()],
        ),
        (
            "DELETE FROM ledger_accounts WHERE municipality_id = $1 AND id = $2",
            vec![town.clone(), account.clone()],
        ),
        (
            "UPDATE ledger_accounts SET id = 'renamed' WHERE municipality_id = $1 AND id = $2",
            vec![town.clone(), account.clone()],
        ),
        // Entries keep their town.
        (
            "INSERT INTO ledger_entries (municipality_id, id, entity_id, fiscal_year, number, period, entry_date, \
             description, status, created_at) VALUES ($1, 'e-1', 'x', 2027, 999, 1, '2026-07-01', 'Stray', 'draft', '')",
            vec!["no-such-town".into()],
        ),
        (
            "DELETE FROM municipalities WHERE id = $1",
            vec![town.clone()],
        ),
    ];
    for (sql, args) in refused {
        let mut tx = db.begin().await.unwrap();
        let r = munishare_platform::execute!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in &args {
                q = q.bind(a);
            }
            q.execute(c).await
        });
        // Refused for the reason under test, not for some mistake in the statement.
        let e = r
            .expect_err(&format!("{sql} {args:?} was let through"))
            .to_string();
        assert!(
            [
                "FOREIGN KEY",
                "not in the town",
                "not in the region",
                "append-only",
                "has journal lines",
                "has journal entries"
            ]
            .iter()
            .any(|why| e.contains(why)),
            "{sql}: {e}"
        );
        drop(tx);
    }
    // An entry without lines cannot be moved to a town that is not in the region.
    let mut tx = db.begin().await.unwrap();
    munishare_platform::execute!(&mut tx, c => sqlx::query(
        "INSERT INTO ledger_entries (municipality_id, id, entity_id, fiscal_year, number, period, entry_date, \
         description, status, created_at) VALUES ($1, 'e-1', 'x', 2027, 999, 1, '2026-07-01', 'Stray', 'draft', '')")
        .bind(&town).execute(c).await)
    .unwrap();
    let moved = munishare_platform::execute!(&mut tx, c => sqlx::query(
        "UPDATE ledger_entries SET municipality_id = 'no-such-town' WHERE municipality_id = $1 AND id = 'e-1'")
        .bind(&town).execute(c).await)
    .expect_err("an entry was moved out of the region")
    .to_string();
    assert!(
        moved.contains("FOREIGN KEY") || moved.contains("not in the region"),
        "{moved}"
    );
    drop(tx);
    // The good line alone is accepted (and rolled back: it would unbalance the entry).
    let mut tx = db.begin().await.unwrap();
    let n = munishare_platform::execute!(&mut tx, c => sqlx::query(insert)
        .bind(&town).bind(&posted).bind(&account).execute(c).await)
    .unwrap();
    assert_eq!(n, 1);
    drop(tx);
    let mut c = db.read().await.unwrap();
    let after: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger_lines WHERE municipality_id = $1 AND entry_id = $2")
        .bind(&town).bind(&posted).fetch_one(c).await)
    .unwrap();
    assert_eq!(after, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_integrity_on_sqlite() {
    run(Backend::Sqlite, journal_lines_keep_their_references).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_integrity_on_postgres() {
    run(Backend::Postgres, journal_lines_keep_their_references).await;
}

/// FY2018 figures of every town in OPM's fiscal indicators
/// (../shared/data/ct_municipal/opm_FISCIN18.csv), in cents, by upper-case
/// town name, read here independently of the embedded seed.
fn fiscin18() -> std::collections::HashMap<String, std::collections::HashMap<String, i64>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ct_municipal/opm_FISCIN18.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let header = r.headers().unwrap().clone();
    let wanted = [
        "Tax_Rev",
        "Inter_Gov_Rev",
        "Total_Revenue",
        "Education",
        "Debt_Service",
        "Total_Expenditures",
    ];
    let mut out = std::collections::HashMap::new();
    for row in r.records() {
        let row = row.unwrap();
        let mut figures = std::collections::HashMap::new();
        for w in wanted {
            let i = header.iter().position(|h| h == w).unwrap();
            // Dollars with four decimals, e.g. "283758000.0000": exact cents, no floats.
            let (whole, frac) = row[i].split_once('.').unwrap_or((&row[i], "0000"));
            assert!(frac[2..].bytes().all(|b| b == b'0'), "{w}: {}", &row[i]);
            let cents = whole.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap();
            figures.insert(w.to_owned(), cents);
        }
        out.insert(row[0].to_owned(), figures);
    }
    out
}

fn sum_class(
    rows: &[munishare_ledger::budget::BudgetRow],
    class: &str,
    f: fn(&munishare_ledger::budget::BudgetRow) -> i64,
) -> i64 {
    rows.iter().filter(|r| r.class == class).map(f).sum()
}

/// The finance demo: every subscribing town's books against OPM's FY2018
/// figures, balanced per fund, closed last year, filed on the UCOA.
async fn demo_books_match_opm_figures(db: Db) {
    use munishare_ledger::{benchmarks, budget, filing, payables, purchasing};
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let seeded = munishare_ledger::demo::seed(&db, now()).await.unwrap();
    // Every member town but Bloomfield, whose finance subscription starts in 2027.
    assert_eq!(seeded.len(), 37, "{seeded:?}");
    assert!(!seeded.iter().any(|s| s == "bloomfield"));
    let opm = fiscin18();
    let current = FiscalYear::containing(NOW.date());
    let prior = FiscalYear::ending("fy", current.end_year() - 1).unwrap();
    let mut c = db.read().await.unwrap();
    let auditor = identity::user_by_username(&mut c, "auditor")
        .await
        .unwrap()
        .unwrap();
    drop(c);
    let auditor = identity::principal_for_user(&auditor);
    for slug in &seeded {
        let town = access::authorize_service(
            &db,
            &auditor,
            NOW.date(),
            slug,
            Service::Finance,
            Permission::View,
        )
        .await
        .unwrap();
        let fig = &opm[&town.town().name.to_uppercase()];
        let mut c = db.read().await.unwrap();
        for (entity, revenue, expenditure) in [
            (
                EntityKind::TownGovernment,
                fig["Total_Revenue"],
                fig["Total_Expenditures"],
            ),
            (
                EntityKind::BoardOfEducation,
                fig["Education"],
                fig["Education"],
            ),
        ] {
            // The adopted budgets are the town's FY2018 figures, both years.
            for as_of in [prior.end(), NOW.date()] {
                let rows = budget::budget_vs_actual(&town, &mut c, entity, as_of)
                    .await
                    .unwrap();
                assert_eq!(
                    sum_class(&rows, "expenditure", |r| r.adopted_cents),
                    expenditure,
                    "{slug} {entity:?} {as_of}"
                );
                assert_eq!(
                    sum_class(&rows, "revenue", |r| r.adopted_cents),
                    revenue,
                    "{slug} {entity:?} {as_of}"
                );
            }
            // Last year's revenue came in as budgeted; spending, but for the
            // tenth of June's supplies carried forward, too.
            let rows = budget::budget_vs_actual(&town, &mut c, entity, prior.end())
                .await
                .unwrap();
            assert_eq!(
                sum_class(&rows, "revenue", |r| r.actual_cents),
                revenue,
                "{slug} {entity:?}"
            );
            let spent = sum_class(&rows, "expenditure", |r| r.actual_cents);
            assert!(
                spent < expenditure && spent * 1000 > expenditure * 995,
                "{slug} {entity:?}: {spent} of {expenditure}"
            );
            // Each fund balances, at last year's end and today.
            for fund in service::funds(&town, &mut c, entity).await.unwrap() {
                for as_of in [prior.end(), NOW.date()] {
                    let tb = service::trial_balance(&town, &mut c, entity, Some(&fund.code), as_of)
                        .await
                        .unwrap();
                    assert!(!tb.is_empty(), "{slug} {entity:?} {as_of}");
                    let (d, cr) = totals(&tb);
                    assert_eq!(d, cr, "{slug} {entity:?} fund {} on {as_of}", fund.code);
                }
            }
            // The UCOA filing maps every account with activity (it refuses otherwise).
            for fy in [prior, current] {
                let rows = filing::ucoa_filing(&town, &mut c, entity, fy)
                    .await
                    .unwrap();
                assert!(!rows.is_empty(), "{slug} {entity:?} {fy}");
                assert!(
                    rows.iter().all(|r| r.uniform_account.starts_with("1005-")
                        && r.uniform_account != r.account)
                );
            }
            // Payables: invoices paid by check, the last month's waiting; open orders encumber.
            let invoices = payables::invoices(&town, &mut c, entity).await.unwrap();
            assert!(invoices.iter().any(|i| i.status == "paid"), "{slug}");
            assert!(invoices.iter().any(|i| i.status == "approved"), "{slug}");
            let open = purchasing::pos(&town, &mut c, entity).await.unwrap();
            assert!(
                open.iter()
                    .any(|p| p.status == "open" && p.carried_to.is_some()),
                "{slug}: a carried order"
            );
        }
        // The town's transfer is the board's revenue: FY2018 education.
        let rows = budget::budget_vs_actual(&town, &mut c, EntityKind::TownGovernment, NOW.date())
            .await
            .unwrap();
        let transfer = rows
            .iter()
            .find(|r| r.account.get(19..24) == Some("91000"))
            .unwrap();
        assert_eq!(transfer.adopted_cents, fig["Education"]);
        let boe = budget::budget_vs_actual(&town, &mut c, EntityKind::BoardOfEducation, NOW.date())
            .await
            .unwrap();
        assert_eq!(
            sum_class(&boe, "revenue", |r| r.actual_cents),
            transfer.actual_cents
        );
    }

    // Hartford in detail: July–October of FY2027 posted, July–September closed.
    let hartford = scope(&db, "clerk.hartford", "hartford").await;
    let mut c = db.read().await.unwrap();
    let rows = budget::budget_vs_actual(&hartford, &mut c, EntityKind::TownGovernment, NOW.date())
        .await
        .unwrap();
    // OPM FISCIN18: Hartford's FY2018 education expenditure was $351,430,000.
    let transfer = rows
        .iter()
        .find(|r| r.account.get(19..24) == Some("91000"))
        .unwrap();
    assert_eq!(transfer.adopted_cents, 35_143_000_000);
    // Quarterly, in July and October: a quarter each.
    assert_eq!(transfer.actual_cents, 2 * (35_143_000_000 / 4));
    let periods = service::periods(&hartford, &mut c, EntityKind::TownGovernment)
        .await
        .unwrap();
    let closed: Vec<i64> = periods
        .iter()
        .filter(|p| p.fiscal_year == 2027 && p.status == "closed")
        .map(|p| p.period)
        .collect();
    assert_eq!(closed, [1, 2, 3]);
    // Most towns compare themselves on the regional benchmarks; two opt out.
    let bench = benchmarks::regional(&hartford, &mut c, prior)
        .await
        .unwrap();
    assert_eq!(bench.towns.len(), 35);
    assert!(bench.towns.iter().all(|t| t.unmapped_accounts == 0));
    // Education is counted once (the board's spending, not the town's transfer too).
    let h = bench.towns.iter().find(|t| t.slug == "hartford").unwrap();
    let total = opm["HARTFORD"]["Total_Expenditures"];
    assert!(
        h.total_cents <= total && h.total_cents * 1000 > total * 995,
        "{}",
        h.total_cents
    );
    drop(c);
    // The seed acted as the system, through audited service calls.
    let report = audit::verify(&db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_books_on_sqlite() {
    run(Backend::Sqlite, demo_books_match_opm_figures).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_books_on_postgres() {
    run(Backend::Postgres, demo_books_match_opm_figures).await;
}

const FB_GENERAL: &str = "1005-00-0000-00000-39000-000";
const FB_SEWER: &str = "6001-00-0000-00000-39000-000";

async fn year_end_close_and_reopen(db: Db) {
    use munishare_ledger::close;
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let clerk = scope(&db, "clerk.hartford", "hartford").await;
    set_up_books(&db, &admin).await;
    let mut tx = db.begin().await.unwrap();
    service::create_account(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        &AccountString::parse("a", FB_GENERAL).unwrap(),
        "Unassigned fund balance",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 08 - 15),
            "Taxes",
            vec![
                line(CASH, "1,250,000.00", "0"),
                line(TAXES, "0", "1,250,000.00"),
            ],
        ),
    )
    .await;
    draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 11 - 20),
            "Payroll",
            vec![line(WAGES, "84,321.57", "0"), line(CASH, "0", "84,321.57")],
        ),
    )
    .await;
    draft_and_post(
        &db,
        &clerk,
        &admin,
        entry(
            date!(2026 - 09 - 30),
            "Sewer",
            vec![
                line(WPCA_CASH, "10,000.00", "0"),
                line(SEWER, "0", "10,000.00"),
            ],
        ),
    )
    .await;
    let fy = FiscalYear::ending("fy", 2027).unwrap();
    let te = EntityKind::TownGovernment;

    let mut tx = db.begin().await.unwrap();
    let err = close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "fiscal_year: close periods 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 of FY 2026-27 first"
        ),
        "{err}"
    );
    for p in 1..=12 {
        service::set_period_status(&admin, &mut tx, now(), te, fy, p, PeriodStatus::Closed)
            .await
            .unwrap();
    }
    let err = close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "fiscal_year: open FY 2027-28 first, to receive the opening balances"
    );
    service::open_fiscal_year(
        &admin,
        &mut tx,
        now(),
        te,
        FiscalYear::ending("fy", 2028).unwrap(),
    )
    .await
    .unwrap();
    let err = close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "fiscal_year: fund 6001 has no fund-balance account (object 3xxxx); add one, e.g. 6001-00-0000-00000-39000-000"
    );
    assert!(matches!(
        close::close_year(&clerk, &mut tx, now(), te, fy).await,
        Err(Error::Forbidden(_))
    ));
    service::create_account(
        &admin,
        &mut tx,
        now(),
        te,
        &AccountString::parse("a", FB_SEWER).unwrap(),
        "Net position — sewer",
    )
    .await
    .unwrap();
    let closing = close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap();
    assert!(matches!(
        close::close_year(&admin, &mut tx, now(), te, fy).await,
        Err(Error::Conflict { .. })
    ));
    let (closing_entry, lines) = service::entry(&admin, &mut tx, &closing).await.unwrap();
    assert_eq!(
        (closing_entry.period, closing_entry.entry_date.as_str()),
        (14, "2027-06-30")
    );
    let cols = |a: &str| {
        lines
            .iter()
            .find(|l| l.account == a)
            .map(|l| (l.debit_cents, l.credit_cents))
            .unwrap()
    };
    // Hand-computed: taxes and sewer are debited out, wages credited out, the surpluses credited to fund balance.
    assert_eq!(cols(TAXES), (125_000_000, 0));
    assert_eq!(cols(WAGES), (0, 8_432_157));
    assert_eq!(cols(FB_GENERAL), (0, 125_000_000 - 8_432_157));
    assert_eq!(cols(SEWER), (1_000_000, 0));
    assert_eq!(cols(FB_SEWER), (0, 1_000_000));
    tx.commit().await.unwrap();

    let mut c = db.read().await.unwrap();
    // The pre-closing trial balance at June 30 is unchanged by the close.
    let june = service::trial_balance(&clerk, &mut c, te, None, date!(2027 - 06 - 30))
        .await
        .unwrap();
    assert_eq!(row(&june, TAXES).credit_cents, 125_000_000);
    // The next year opens with the balance sheet only.
    let july = service::trial_balance(&clerk, &mut c, te, None, date!(2027 - 07 - 01))
        .await
        .unwrap();
    let net = |a: &str| {
        let r = row(&july, a);
        r.debit_cents - r.credit_cents
    };
    assert_eq!(net(CASH), 125_000_000 - 8_432_157);
    assert_eq!(net(FB_GENERAL), -(125_000_000 - 8_432_157));
    assert_eq!(net(WPCA_CASH), 1_000_000);
    assert_eq!(net(FB_SEWER), -1_000_000);
    assert!(
        july.iter()
            .all(|r| r.class != "revenue" && r.class != "expenditure"),
        "{july:?}"
    );
    let (d, cr) = totals(&july);
    assert_eq!(d, cr);
    drop(c);

    // Reopen: the closing entry is reversed and the openings removed; closing again gives the same openings.
    let mut tx = db.begin().await.unwrap();
    close::reopen_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap();
    assert!(matches!(
        close::reopen_year(&admin, &mut tx, now(), te, fy).await,
        Err(Error::Conflict { .. })
    ));
    tx.commit().await.unwrap();
    let mut c = db.read().await.unwrap();
    assert!(
        service::trial_balance(&clerk, &mut c, te, None, date!(2027 - 07 - 01))
            .await
            .unwrap()
            .is_empty()
    );
    drop(c);
    let mut tx = db.begin().await.unwrap();
    close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut c = db.read().await.unwrap();
    let again = service::trial_balance(&clerk, &mut c, te, None, date!(2027 - 07 - 01))
        .await
        .unwrap();
    assert_eq!(row(&again, CASH).debit_cents, 125_000_000 - 8_432_157);
    assert!(audit::verify(&db).await.unwrap().broken.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn year_end_on_sqlite() {
    run(Backend::Sqlite, year_end_close_and_reopen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn year_end_on_postgres() {
    run(Backend::Postgres, year_end_close_and_reopen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_on_sqlite() {
    run(Backend::Sqlite, imports::books_from_files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_on_postgres() {
    run(Backend::Postgres, imports::books_from_files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_properties_on_sqlite() {
    run(
        Backend::Sqlite,
        properties::posting_keeps_the_books_balanced,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_properties_on_postgres() {
    run(
        Backend::Postgres,
        properties::posting_keeps_the_books_balanced,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_journal_on_sqlite() {
    run(Backend::Sqlite, imports::long_journal_in_chunks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_journal_on_postgres() {
    run(Backend::Postgres, imports::long_journal_in_chunks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ucoa_on_sqlite() {
    run(Backend::Sqlite, ucoa::catalog_and_crosswalk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ucoa_on_postgres() {
    run(Backend::Postgres, ucoa::catalog_and_crosswalk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarks_on_sqlite() {
    run(Backend::Sqlite, benchmarks::towns_that_share_compare).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarks_on_postgres() {
    run(Backend::Postgres, benchmarks::towns_that_share_compare).await;
}

/// An inter-fund entry gets its due-to/due-from lines when the funds have
/// those accounts, posts, and reverses whole.
async fn interfund_entries_balance_each_fund(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    set_up_books(&db, &admin).await;
    const DUE_TO: &str = "1005-00-0000-00000-21100-000";
    const DUE_FROM: &str = "6001-00-0000-00000-13100-000";
    let mut tx = db.begin().await.unwrap();
    for (a, name) in [
        (DUE_TO, "Due to other funds"),
        (DUE_FROM, "Due from other funds"),
    ] {
        service::create_account(
            &admin,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            &AccountString::parse("a", a).unwrap(),
            name,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Sewer charges of $250.00 received into the general fund's cash.
    let id = draft_and_post(
        &db,
        &admin,
        &admin,
        entry(
            date!(2026 - 10 - 05),
            "Sewer charges received by the collector",
            vec![line(CASH, "250.00", "0"), line(SEWER, "0", "250.00")],
        ),
    )
    .await;
    let (_, lines) = service::entry(&admin, &mut db.read().await.unwrap(), &id)
        .await
        .unwrap();
    let added: Vec<(&str, i64, i64)> = lines[2..]
        .iter()
        .map(|l| (l.account.as_str(), l.debit_cents, l.credit_cents))
        .collect();
    assert_eq!(added, vec![(DUE_TO, 0, 25_000), (DUE_FROM, 25_000, 0)]);
    let tb = service::trial_balance(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
        None,
        date!(2026 - 10 - 31),
    )
    .await
    .unwrap();
    assert_eq!(row(&tb, DUE_TO).credit_cents, 25_000);
    assert_eq!(row(&tb, DUE_FROM).debit_cents, 25_000);
    let (d, c) = totals(&tb);
    assert_eq!(d, c);
    // Reversal undoes all four lines.
    let mut tx = db.begin().await.unwrap();
    service::reverse_entry(&admin, &mut tx, now(), &id, date!(2026 - 10 - 06))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tb = service::trial_balance(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
        None,
        date!(2026 - 10 - 31),
    )
    .await
    .unwrap();
    assert_eq!(row(&tb, DUE_TO).debit_cents, row(&tb, DUE_TO).credit_cents);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interfund_on_sqlite() {
    run(Backend::Sqlite, interfund_entries_balance_each_fund).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interfund_on_postgres() {
    run(Backend::Postgres, interfund_entries_balance_each_fund).await;
}

/// Open purchase orders carry into the next year at close, with their
/// appropriation; reopening brings them back.
async fn open_encumbrances_carry_forward(db: Db) {
    use munishare_ledger::{budget, close, purchasing};
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    set_up_books(&db, &admin).await;
    let te = EntityKind::TownGovernment;
    let fy = FiscalYear::ending("fy", 2027).unwrap();
    let mut tx = db.begin().await.unwrap();
    budget::adopt(
        &admin,
        &mut tx,
        now(),
        te,
        fy,
        &[(WAGES.into(), Money::parse("a", "1,000.00").unwrap())],
    )
    .await
    .unwrap();
    let vendor = purchasing::create_vendor(
        &admin,
        &mut tx,
        now(),
        "Elm Street Supply",
        "1 Elm St",
        false,
    )
    .await
    .unwrap();
    let (po, _) = purchasing::create_po(
        &admin,
        &mut tx,
        now(),
        &purchasing::NewPurchaseOrder {
            entity: te,
            vendor_id: vendor.id,
            date: date!(2027 - 06 - 10),
            description: "Radios ordered in June".into(),
            lines: vec![(WAGES.into(), Money::parse("a", "300.00").unwrap())],
        },
    )
    .await
    .unwrap();
    purchasing::approve_po(&admin, &mut tx, now(), &po.id)
        .await
        .unwrap();
    for p in 1..=12 {
        service::set_period_status(&admin, &mut tx, now(), te, fy, p, PeriodStatus::Closed)
            .await
            .unwrap();
    }
    service::open_fiscal_year(
        &admin,
        &mut tx,
        now(),
        te,
        FiscalYear::ending("fy", 2028).unwrap(),
    )
    .await
    .unwrap();
    // Next year already has its own order number 1: the carried order keeps its own number and year.
    let (next_po, _) = purchasing::create_po(
        &admin,
        &mut tx,
        now(),
        &purchasing::NewPurchaseOrder {
            entity: te,
            vendor_id: po.vendor_id.clone(),
            date: date!(2027 - 07 - 15),
            description: "Paper for July".into(),
            lines: vec![(WAGES.into(), Money::parse("a", "50.00").unwrap())],
        },
    )
    .await
    .unwrap();
    assert_eq!((next_po.number, po.number), (1, 1));
    purchasing::approve_po(&admin, &mut tx, now(), &next_po.id)
        .await
        .unwrap();
    close::close_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let wages = |rows: Vec<budget::BudgetRow>| {
        let r = rows.into_iter().find(|r| r.account == WAGES).unwrap();
        (r.revised_cents, r.encumbered_cents, r.available_cents)
    };
    let mut c = db.read().await.unwrap();
    // FY2028: no budget of its own yet; the carried $300.00 appropriation, its $300.00 encumbrance and July's $50.00 order.
    let next = budget::budget_vs_actual(&admin, &mut c, te, date!(2027 - 07 - 31))
        .await
        .unwrap();
    assert_eq!(wages(next), (30_000, 35_000, -5_000));
    let orders = purchasing::pos_with_lines(&admin, &mut c, te)
        .await
        .unwrap();
    let carried: Vec<(i64, i64, Option<i64>)> = orders
        .iter()
        .map(|(p, _)| (p.fiscal_year, p.number, p.carried_to))
        .collect();
    assert_eq!(carried, vec![(2028, 1, None), (2027, 1, Some(2028))]);
    // FY2027 no longer holds it: $1,000.00 budget, nothing encumbered.
    let last = budget::budget_vs_actual(&admin, &mut c, te, date!(2027 - 06 - 30))
        .await
        .unwrap();
    assert_eq!(wages(last), (100_000, 0, 100_000));
    drop(c);

    let mut tx = db.begin().await.unwrap();
    close::reopen_year(&admin, &mut tx, now(), te, fy)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut c = db.read().await.unwrap();
    let last = budget::budget_vs_actual(&admin, &mut c, te, date!(2027 - 06 - 30))
        .await
        .unwrap();
    assert_eq!(wages(last), (100_000, 30_000, 70_000));
    let next = budget::budget_vs_actual(&admin, &mut c, te, date!(2027 - 07 - 31))
        .await
        .unwrap();
    // FY2028 keeps only its own July order.
    assert_eq!(wages(next), (0, 5_000, -5_000));
    drop(c);
    let report = audit::verify(&db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carry_forward_on_sqlite() {
    run(Backend::Sqlite, open_encumbrances_carry_forward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carry_forward_on_postgres() {
    run(Backend::Postgres, open_encumbrances_carry_forward).await;
}
