//! Imports on both databases: a town's books set up from files, with every
//! bad row named and nothing written from a bad file, checked against sums
//! computed by hand.

use std::io::Cursor;
use std::sync::Arc;

use munishare_ledger::import::{self, ImportKind, ImportRecord, NewImport, Progress, RowError};
use munishare_ledger::{budget, service};
use munishare_platform::access::ServiceScope;
use munishare_platform::db::{ConnRef, Executor};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::FiscalYear;
use munishare_platform::{Db, Error, audit, demo};
use time::macros::date;

use super::{now, row, scope, totals};

pub(crate) async fn import_file(
    db: &Db,
    who: &ServiceScope,
    kind: ImportKind,
    fy: Option<i32>,
    name: &str,
    bytes: Vec<u8>,
) -> Result<ImportRecord, Error> {
    let (sha256, size) = import::digest(Cursor::new(&bytes)).unwrap();
    let mut tx = db.begin().await.unwrap();
    let record = import::create(
        who,
        &mut tx,
        now(),
        &NewImport {
            kind,
            fiscal_year: fy.map(|y| FiscalYear::ending("fy", y).unwrap()),
            file_name: name.into(),
            sha256,
            size_bytes: size,
            blob_key: None,
        },
    )
    .await?;
    tx.commit().await.unwrap();
    import::run(
        who,
        db,
        now(),
        &record.id,
        Box::new(Cursor::new(bytes)),
        Arc::new(Progress::default()),
    )
    .await
}

fn problems(r: &ImportRecord) -> Vec<(u64, String, String)> {
    assert_eq!(r.status, "rejected", "{r:?}");
    r.problems()
        .into_iter()
        .map(
            |RowError {
                 row,
                 column,
                 message,
             }| (row, column, message),
        )
        .collect()
}

const CHART: &str = "entity,account,name,fund_name,fund_type
town,1005-00-0000-00000-10100-000,Cash,General Fund,general
town,1005-00-0000-00000-20100-000,Accounts payable,,
town,1005-00-0000-00000-30100-000,Unassigned fund balance,,
town,1005-00-0000-00000-41000-000,Current property taxes,,
town,1005-42-4201-00000-51000-000,Police wages,,
town,1005-42-4201-00000-52000-000,Police supplies,,
town,6001-00-0000-00000-10100-000,Cash — WPCA,Wastewater,enterprise
town,6001-00-0000-00000-30100-000,Net position — WPCA,,
town,6001-00-0000-00000-44000-000,Sewer use charges,,
education,2200-00-0000-00000-10100-000,Cash — BOE,Education grants,special_revenue
education,2200-00-0000-00000-43000-000,State education grants,,
";

pub(crate) async fn books_from_files(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let clerk = scope(&db, "clerk.hartford", "hartford").await;

    // A chart with bad rows is refused whole, each problem named by row and column.
    let bad_chart = "entity,account,name,fund_name,fund_type
town,1005-00-0000-00000-10100-000,Cash,General Fund,general
county,1005-00-0000-00000-20100-000,Accounts payable,,
town,1005-00-0000-0000-41000-000,Taxes,,
town,2100-00-0000-00000-10100-000,Cash — grants,,
town,1005-00-0000-00000-10100-000,Cash again,,
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "chart.csv",
        bad_chart.into(),
    )
    .await
    .unwrap();
    let p = problems(&r);
    assert_eq!(p.len(), 4, "{p:?}");
    assert_eq!((p[0].0, p[0].1.as_str()), (3, "entity"));
    assert_eq!((p[1].0, p[1].1.as_str()), (4, "account"));
    assert_eq!((p[2].0, p[2].1.as_str()), (5, "fund_type"));
    assert!(p[2].2.contains("fund 2100 is new"), "{p:?}");
    assert_eq!((p[3].0, p[3].1.as_str()), (6, "account"));
    assert!(p[3].2.contains("first on row 2"), "{p:?}");
    let mut c = db.read().await.unwrap();
    assert!(
        service::accounts(&admin, &mut c, EntityKind::TownGovernment)
            .await
            .unwrap()
            .is_empty(),
        "nothing of a rejected file stays"
    );
    drop(c);

    // A file with an unknown column is refused at its header.
    let r = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "c.csv",
        b"account,name,colour\n".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(problems(&r)[0].0, 1);
    assert_eq!(problems(&r)[0].1, "colour");

    // A clerk may not import a chart.
    let refused = import_file(
        &db,
        &clerk,
        ImportKind::Chart,
        None,
        "chart.csv",
        CHART.into(),
    )
    .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");

    let r = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "chart.csv",
        CHART.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    assert_eq!(r.rows_read, 11);
    let summary: serde_json::Value = serde_json::from_str(r.summary.as_deref().unwrap()).unwrap();
    assert_eq!(summary["accounts_created"], 11);
    assert_eq!(summary["funds_created"], 3);

    // The same file again is refused, naming the earlier import.
    let again = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "chart-copy.csv",
        CHART.into(),
    )
    .await
    .unwrap_err();
    assert!(again.to_string().contains(&r.id), "{again}");
    // A longer chart adds only what is new.
    let more = format!("{CHART}town,1005-00-0000-00000-41500-000,Interest and liens,,\n");
    let r = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "chart2.csv",
        more.into(),
    )
    .await
    .unwrap();
    let summary: serde_json::Value = serde_json::from_str(r.summary.as_deref().unwrap()).unwrap();
    assert_eq!(
        (
            summary["accounts_created"].clone(),
            summary["accounts_already_present"].clone()
        ),
        (1.into(), 11.into())
    );

    let mut tx = db.begin().await.unwrap();
    for e in [EntityKind::TownGovernment, EntityKind::BoardOfEducation] {
        service::open_fiscal_year(
            &admin,
            &mut tx,
            now(),
            e,
            FiscalYear::ending("fy", 2027).unwrap(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    // Opening balances must balance per fund.
    let unbalanced = "account,debit,credit
1005-00-0000-00000-10100-000,\"1,500,000.00\",
1005-00-0000-00000-20100-000,,200000.00
1005-00-0000-00000-30100-000,,1299999.99
1005-00-0000-00000-41000-000,,5
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Openings,
        Some(2027),
        "open.csv",
        unbalanced.into(),
    )
    .await
    .unwrap();
    let p = problems(&r);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!((p[0].0, p[0].1.as_str()), (5, "account"));
    assert!(p[0].2.contains("revenue account"), "{p:?}");
    assert_eq!((p[1].0, p[1].1.as_str()), (2, "debit"));
    assert!(
        p[1].2.contains("fund 1005") && p[1].2.contains("by $0.01"),
        "{p:?}"
    );

    let openings = "account,debit,credit
1005-00-0000-00000-10100-000,\"1,500,000.00\",
1005-00-0000-00000-20100-000,,200000.00
1005-00-0000-00000-30100-000,,1300000
6001-00-0000-00000-10100-000,250000.50,
6001-00-0000-00000-30100-000,,250000.50
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Openings,
        Some(2027),
        "open.csv",
        openings.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    // Not twice for the same year, even from a different file.
    let twice = format!("{openings}\n");
    let r = import_file(
        &db,
        &admin,
        ImportKind::Openings,
        Some(2027),
        "open2.csv",
        twice.into(),
    )
    .await
    .unwrap();
    assert!(
        problems(&r)[0].2.contains("already have opening balances"),
        "{r:?}"
    );

    // Budget: a bad row is named; the good file adopts.
    let r = import_file(
        &db,
        &admin,
        ImportKind::Budget,
        Some(2027),
        "budget.csv",
        "account,amount\n1005-00-0000-00000-41000-000,9000000\n1005-00-0000-00000-10100-000,5\n1005-42-4201-00000-51000-000,lots\n".into(),
    )
    .await
    .unwrap();
    let p = problems(&r);
    assert_eq!((p[0].0, p[0].1.as_str()), (4, "amount"), "{p:?}");
    let budget_csv = "account,amount
1005-00-0000-00000-41000-000,9000000
1005-42-4201-00000-51000-000,\"4,200,000.00\"
1005-42-4201-00000-52000-000,150000
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Budget,
        Some(2027),
        "budget.csv",
        budget_csv.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");

    // A journal with bad entries: every problem is named and nothing is posted.
    let mut tx = db.begin().await.unwrap();
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        FiscalYear::ending("fy", 2027).unwrap(),
        1,
        munishare_ledger::PeriodStatus::Closed,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let bad_journal = "reference,date,description,account,debit,credit,memo
JE-1,2026-08-15,August taxes,1005-00-0000-00000-10100-000,1000.00,,
JE-1,2026-08-15,August taxes,1005-00-0000-00000-41000-000,,999.99,
JE-2,2026-07-20,July wages,1005-42-4201-00000-51000-000,10,,
JE-2,2026-07-20,July wages,1005-00-0000-00000-10100-000,,10,
JE-3,2026-13-01,Bad date,1005-42-4201-00000-51000-000,10,,
JE-3,2026-13-01,Bad date,1005-00-0000-00000-10100-000,,10,
JE-4,2026-09-01,Unknown account,1005-42-4201-00000-59000-000,10,,
JE-4,2026-09-01,Unknown account,1005-00-0000-00000-10100-000,,10,
JE-5,2026-09-02,Both sides,1005-42-4201-00000-51000-000,10,10,
JE-5,2026-09-02,Both sides,1005-00-0000-00000-10100-000,,10,
JE-6,2026-09-03,Fine,1005-42-4201-00000-51000-000,10,,
JE-6,2026-09-03,Fine,1005-00-0000-00000-10100-000,,10,
JE-1,2026-09-04,Again,1005-42-4201-00000-51000-000,10,,
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "gl.csv",
        bad_journal.into(),
    )
    .await
    .unwrap();
    let p = problems(&r);
    let at: Vec<(u64, &str)> = p.iter().map(|(r, c, _)| (*r, c.as_str())).collect();
    assert_eq!(
        at,
        vec![
            (2, "debit"),
            (4, "date"),
            (6, "date"),
            (8, "account"),
            (10, "debit"),
            (14, "reference")
        ],
        "{p:?}"
    );
    assert!(
        p[0].2.contains("does not balance in fund 1005") && p[0].2.contains("$0.01"),
        "{p:?}"
    );
    assert!(p[1].2.contains("period 1 of FY 2027 is closed"), "{p:?}");
    let mut c = db.read().await.unwrap();
    assert!(
        service::entries(&admin, &mut c, EntityKind::TownGovernment, 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(c);

    // The good journal posts: three entries, one of them in two funds and with
    // a memo holding a tab and a quote (which COPY and CSV must both carry).
    let journal = "entity,reference,date,description,account,debit,credit,memo
town,JE-1,2026-08-15,August taxes,1005-00-0000-00000-10100-000,\"1,000,000.00\",,\"batch\t\"\"A\"\"\"
town,JE-1,2026-08-15,August taxes,1005-00-0000-00000-41000-000,,1000000.00,
town,JE-1,2026-08-15,August taxes,6001-00-0000-00000-10100-000,2500.25,,
town,JE-1,2026-08-15,August taxes,6001-00-0000-00000-44000-000,,2500.25,
town,JE-2,2026-09-30,September payroll,1005-42-4201-00000-51000-000,350000.10,,
town,JE-2,2026-09-30,September payroll,1005-00-0000-00000-10100-000,,350000.10,
education,JE-2,2026-09-30,State grant,2200-00-0000-00000-10100-000,75000,,
education,JE-2,2026-09-30,State grant,2200-00-0000-00000-43000-000,,75000,
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "gl.csv",
        journal.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    let summary: serde_json::Value = serde_json::from_str(r.summary.as_deref().unwrap()).unwrap();
    assert_eq!(summary["entries_posted"], 3);
    assert_eq!(summary["lines_posted"], 8);
    assert_eq!(summary["total_debits"], "$1,427,500.35");

    let mut c = db.read().await.unwrap();
    let tb = service::trial_balance(
        &admin,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 09 - 30),
    )
    .await
    .unwrap();
    // Cash: 1,500,000.00 opening + 1,000,000.00 − 350,000.10 = 2,149,999.90 debit.
    let cash = row(&tb, "1005-00-0000-00000-10100-000");
    assert_eq!(cash.debit_cents - cash.credit_cents, 214_999_990);
    assert_eq!(
        row(&tb, "6001-00-0000-00000-10100-000").debit_cents,
        25_000_050 + 250_025
    );
    assert_eq!(
        row(&tb, "1005-42-4201-00000-51000-000").debit_cents,
        35_000_010
    );
    let (d, cr) = totals(&tb);
    assert_eq!(d, cr);
    // The trial balance before September 30 does not see the payroll.
    let tb = service::trial_balance(
        &admin,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 09 - 29),
    )
    .await
    .unwrap();
    assert_eq!(
        row(&tb, "1005-00-0000-00000-10100-000").debit_cents,
        250_000_000
    );
    let boe = service::trial_balance(
        &admin,
        &mut c,
        EntityKind::BoardOfEducation,
        None,
        date!(2026 - 09 - 30),
    )
    .await
    .unwrap();
    assert_eq!(
        row(&boe, "2200-00-0000-00000-43000-000").credit_cents,
        7_500_000
    );
    // Budget vs actual sees the imported wages against the imported budget.
    let bva = budget::budget_vs_actual(
        &admin,
        &mut c,
        EntityKind::TownGovernment,
        date!(2026 - 09 - 30),
    )
    .await
    .unwrap();
    let wages = bva
        .iter()
        .find(|r| r.account == "1005-42-4201-00000-51000-000")
        .unwrap();
    assert_eq!(
        (wages.adopted_cents, wages.actual_cents),
        (420_000_000, 35_000_010)
    );
    let entries = service::entries(&admin, &mut c, EntityKind::TownGovernment, 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.status == "posted"));
    let je1 = entries
        .iter()
        .find(|e| e.source.as_deref() == Some("import:JE-1"))
        .unwrap();
    let (_, lines) = service::entry(&admin, &mut c, &je1.id).await.unwrap();
    assert_eq!(lines[0].memo, "batch\t\"A\"");
    drop(c);

    // A different file repeating an entry is refused, naming it.
    let overlap = "reference,date,description,account,debit,credit
JE-2,2026-09-30,September payroll,1005-42-4201-00000-51000-000,1,
JE-2,2026-09-30,September payroll,1005-00-0000-00000-10100-000,,1
";
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "gl2.csv",
        overlap.into(),
    )
    .await
    .unwrap();
    assert!(
        problems(&r)[0]
            .2
            .contains("entry JE-2 is already in the books"),
        "{r:?}"
    );

    // XLSX: date cells and number cells are read as people see them.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (i, h) in [
        "Reference",
        "Date",
        "Description",
        "Account",
        "Debit",
        "Credit",
    ]
    .iter()
    .enumerate()
    {
        sheet
            .write_string(0, u16::try_from(i).unwrap(), *h)
            .unwrap();
    }
    let when = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 10, 15).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (r, (account, debit, credit)) in [
        ("1005-42-4201-00000-52000-000", 1234.56, 0.0),
        ("1005-00-0000-00000-10100-000", 0.0, 1234.56),
    ]
    .into_iter()
    .enumerate()
    {
        let r = u32::try_from(r + 1).unwrap();
        sheet.write_string(r, 0, "AP-77").unwrap();
        sheet.write_datetime_with_format(r, 1, &when, &fmt).unwrap();
        sheet.write_string(r, 2, "Ammunition").unwrap();
        sheet.write_string(r, 3, account).unwrap();
        if debit > 0.0 {
            sheet.write_number(r, 4, debit).unwrap();
        }
        if credit > 0.0 {
            sheet.write_number(r, 5, credit).unwrap();
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "october.xlsx",
        bytes,
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    let mut c = db.read().await.unwrap();
    let tb = service::trial_balance(
        &admin,
        &mut c,
        EntityKind::TownGovernment,
        None,
        date!(2026 - 10 - 31),
    )
    .await
    .unwrap();
    assert_eq!(
        row(&tb, "1005-42-4201-00000-52000-000").debit_cents,
        123_456
    );
    let list = import::list(&admin, &mut c).await.unwrap();
    assert_eq!(list.iter().filter(|r| r.status == "done").count(), 6);
    drop(c);

    let report = audit::verify(&db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
}

/// A journal of 25,000 two-line entries (50,000 lines, three write chunks):
/// entry n moves n cents from cash to police supplies. `reference` names
/// entry n; `last_credit` is the last entry's credit, in cents.
fn long_journal(reference: impl Fn(u64) -> String, last_credit: u64) -> Vec<u8> {
    let mut csv = String::from("reference,date,description,account,debit,credit\n");
    for n in 1..=LONG_ENTRIES {
        let r = reference(n);
        let credit = if n == LONG_ENTRIES { last_credit } else { n };
        csv.push_str(&format!(
            "{r},2026-08-15,Supplies {n},1005-42-4201-00000-52000-000,{}.{:02},\n\
             {r},2026-08-15,Supplies {n},1005-00-0000-00000-10100-000,,{}.{:02}\n",
            n / 100,
            n % 100,
            credit / 100,
            credit % 100
        ));
    }
    csv.into_bytes()
}

const LONG_ENTRIES: u64 = 25_000;

/// A journal longer than one write chunk: a problem in its last entry, or an
/// entry of a later chunk already posted by an earlier import, leaves nothing
/// of the file in the books, though earlier chunks were written; the good file
/// posts every line, checked against sums computed by hand.
pub(crate) async fn long_journal_in_chunks(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let r = import_file(
        &db,
        &admin,
        ImportKind::Chart,
        None,
        "chart.csv",
        CHART.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    let mut tx = db.begin().await.unwrap();
    service::open_fiscal_year(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        FiscalYear::ending("fy", 2027).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let supplies_and_cash = |db: Db| {
        let admin = admin.clone();
        async move {
            let mut c = db.read().await.unwrap();
            let tb = service::trial_balance(
                &admin,
                &mut c,
                EntityKind::TownGovernment,
                None,
                date!(2026 - 08 - 31),
            )
            .await
            .unwrap();
            let net = |a: &str| {
                tb.iter()
                    .find(|r| r.account == a)
                    .map_or(0, |r| r.debit_cents - r.credit_cents)
            };
            (
                net("1005-42-4201-00000-52000-000"),
                net("1005-00-0000-00000-10100-000"),
            )
        }
    };

    // The last entry is a cent short: row 50,000 (its first row) is named, and
    // the 40,000 lines written before it was read are rolled back.
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "short.csv",
        long_journal(|n| format!("JE-{n}"), LONG_ENTRIES - 1),
    )
    .await
    .unwrap();
    let p = problems(&r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].0, p[0].1.as_str()), (50_000, "debit"), "{p:?}");
    assert!(
        p[0].2
            .contains("entry JE-25000 does not balance in fund 1005")
    );
    assert_eq!(supplies_and_cash(db.clone()).await, (0, 0));

    // The good file posts all of it: 1 + 2 + … + 25,000 cents = $3,125,125.00.
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "good.csv",
        long_journal(|n| format!("JE-{n}"), LONG_ENTRIES),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    assert_eq!(r.rows_read, 50_000);
    let summary: serde_json::Value = serde_json::from_str(r.summary.as_deref().unwrap()).unwrap();
    assert_eq!(summary["entries_posted"], 25_000);
    assert_eq!(summary["lines_posted"], 50_000);
    assert_eq!(summary["total_debits"], "$3,125,125.00");
    assert_eq!(
        supplies_and_cash(db.clone()).await,
        (312_512_500, -312_512_500)
    );
    // PostgreSQL: an import of 50,000 lines into an empty journal refreshes
    // the planner's statistics of the lines (its size is counted only then).
    let mut c = db.read().await.unwrap();
    if let ConnRef::Postgres(pg) = c.conn() {
        let counted: i64 = sqlx::query_scalar(
            "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE relname = 'ledger_lines' \
             AND relnamespace = current_schema()::regnamespace",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        assert!(counted >= 50_000, "{counted}");
    }
    drop(c);

    // Another file whose entry 14,000 (in its second chunk) repeats one
    // already posted: refused by name, and its first chunk is rolled back.
    let r = import_file(
        &db,
        &admin,
        ImportKind::Journal,
        None,
        "again.csv",
        long_journal(
            |n| {
                if n == 14_000 {
                    "JE-14000".into()
                } else {
                    format!("GL-{n}")
                }
            },
            LONG_ENTRIES,
        ),
    )
    .await
    .unwrap();
    let p = problems(&r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].2
            .contains("entry JE-14000 is already in the books from an earlier import"),
        "{p:?}"
    );
    assert_eq!(
        supplies_and_cash(db.clone()).await,
        (312_512_500, -312_512_500)
    );
}
