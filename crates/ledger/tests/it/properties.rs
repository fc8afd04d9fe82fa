//! Properties of posting on the real store, on both databases: random
//! sequences of entries (drawn with proptest's strategies; a failing case is
//! reported as drawn, not shrunk, since each case changes the database) keep
//! the trial balance balanced in total and in every fund, at year end and
//! inside a period; an entry dated in a closed period is refused and changes
//! nothing; a reversal nets its entry to zero. The expected balances are the
//! drawn amounts, summed here.

use std::collections::HashMap;

use munishare_ledger::PeriodStatus;
use munishare_ledger::service::{self, TrialBalanceRow};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::FiscalYear;
use munishare_platform::{Db, demo};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use time::macros::date;

use super::{CASH, SEWER, TAXES, WAGES, WPCA_CASH, entry, line, now, scope, set_up_books};

/// Entries drawn per database.
const CASES: usize = 40;
/// The period closed before posting: September 2026 (period 3 of FY2027).
const CLOSED: u8 = 3;

/// One drawn entry: (kind, cents) pairs, the day of the fiscal year, and
/// whether it is reversed after posting. Kind 0 pays wages from cash, 1
/// receives taxes into cash, 2 bills sewer charges into the sewer fund's cash:
/// each pair balances within its fund.
fn drawn() -> impl Strategy<Value = (Vec<(u8, i64)>, i64, bool)> {
    (
        proptest::collection::vec((0u8..3, 1i64..100_000_000), 1..6),
        0i64..365,
        any::<bool>(),
    )
}

fn dollars(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Σ (debits − credits) per fund, and in total.
fn nets(tb: &[TrialBalanceRow]) -> (HashMap<String, i64>, i64) {
    let mut by_fund = HashMap::new();
    let mut total = 0;
    for r in tb {
        *by_fund.entry(r.fund.clone()).or_default() += r.debit_cents - r.credit_cents;
        total += r.debit_cents - r.credit_cents;
    }
    (by_fund, total)
}

pub(crate) async fn posting_keeps_the_books_balanced(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    let clerk = scope(&db, "clerk.hartford", "hartford").await;
    set_up_books(&db, &admin).await;
    let mut tx = db.begin().await.unwrap();
    service::set_period_status(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        FiscalYear::ending("fy", 2027).unwrap(),
        i64::from(CLOSED),
        PeriodStatus::Closed,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let strategy = drawn();
    let mut runner = TestRunner::deterministic();
    // Net debit per account of what stays posted.
    let mut expected: HashMap<&str, i64> = HashMap::new();
    let (mut posted, mut refused, mut reversed) = (0, 0, 0);
    for case in 0..CASES {
        let (pairs, day, reverse) = strategy.new_tree(&mut runner).unwrap().current();
        let on = date!(2026 - 07 - 01) + time::Duration::days(day);
        let mut lines = Vec::new();
        let mut net: HashMap<&str, i64> = HashMap::new();
        for (kind, cents) in &pairs {
            let (debit, credit) = match kind {
                0 => (WAGES, CASH),
                1 => (CASH, TAXES),
                _ => (WPCA_CASH, SEWER),
            };
            lines.push(line(debit, &dollars(*cents), "0"));
            lines.push(line(credit, "0", &dollars(*cents)));
            *net.entry(debit).or_default() += cents;
            *net.entry(credit).or_default() -= cents;
        }
        let what = format!("case {case}: {pairs:?} on {on}, reversed: {reverse}");
        let mut tx = db.begin().await.unwrap();
        let draft = service::create_draft(
            &clerk,
            &mut tx,
            now(),
            &entry(on, &format!("Case {case}"), lines),
        )
        .await;
        if FiscalYear::period_of(on) == CLOSED {
            let e = draft.expect_err(&what).to_string();
            assert!(e.contains("is closed; no posting"), "{what}: {e}");
            refused += 1;
            continue;
        }
        let (draft, _) = draft.expect(&what);
        service::post_entry(&admin, &mut tx, now(), &draft.id)
            .await
            .expect(&what);
        if reverse {
            service::reverse_entry(&admin, &mut tx, now(), &draft.id, on)
                .await
                .expect(&what);
            reversed += 1;
        } else {
            for (account, n) in net {
                *expected.entry(account).or_default() += n;
            }
        }
        tx.commit().await.unwrap();
        posted += 1;

        let mut c = db.read().await.unwrap();
        for as_of in [on, date!(2027 - 06 - 30)] {
            let tb =
                service::trial_balance(&admin, &mut c, EntityKind::TownGovernment, None, as_of)
                    .await
                    .unwrap();
            let (by_fund, total) = nets(&tb);
            assert_eq!(total, 0, "{what}: the trial balance at {as_of}");
            for (fund, n) in by_fund {
                assert_eq!(n, 0, "{what}: fund {fund} at {as_of}");
            }
            if as_of == date!(2027 - 06 - 30) {
                for account in [CASH, TAXES, WAGES, WPCA_CASH, SEWER] {
                    let actual = tb
                        .iter()
                        .find(|r| r.account == account)
                        .map_or(0, |r| r.debit_cents - r.credit_cents);
                    assert_eq!(
                        actual,
                        expected.get(account).copied().unwrap_or(0),
                        "{what}: {account}"
                    );
                }
            }
        }
    }
    // The draws reached every branch.
    assert!(
        posted > 0 && refused > 0 && reversed > 0,
        "posted {posted}, refused {refused}, reversed {reversed}"
    );
}
