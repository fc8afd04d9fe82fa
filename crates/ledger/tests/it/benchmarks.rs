//! Regional benchmarks on both databases: only towns that opt in are compared,
//! only with towns that opt in, and per-capita figures match hand arithmetic
//! on OPM's 2018 populations (Hartford 122,587; West Hartford 62,939).

use munishare_ledger::benchmarks;
use munishare_ledger::ucoa::{self, ChartMode};
use munishare_ledger::{AccountString, FundType, service};
use munishare_platform::access::ServiceScope;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::FiscalYear;
use munishare_platform::{Db, Error, demo};
use time::macros::date;

use super::{draft_and_post, entry, line, now, scope};

const CASH: &str = "1005-00-0000-00000-10100-000";
const POLICE: &str = "1005-42-4201-00000-51000-000";
const SCHOOLS: &str = "1005-45-4500-00000-50000-000";

async fn books(db: &Db, admin: &ServiceScope, spending: &[(&str, &str)]) {
    let mut tx = db.begin().await.unwrap();
    service::create_fund(
        admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        "1005",
        "General",
        FundType::General,
    )
    .await
    .unwrap();
    for a in [CASH, POLICE, SCHOOLS] {
        service::create_account(
            admin,
            &mut tx,
            now(),
            EntityKind::TownGovernment,
            &AccountString::parse("a", a).unwrap(),
            "x",
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
    for (account, amount) in spending {
        draft_and_post(
            db,
            admin,
            admin,
            entry(
                date!(2026 - 09 - 30),
                "Spending",
                vec![line(account, amount, "0"), line(CASH, "0", amount)],
            ),
        )
        .await;
    }
}

async fn share(db: &Db, admin: &ServiceScope, yes: bool) {
    let mut tx = db.begin().await.unwrap();
    benchmarks::set_sharing(admin, &mut tx, now(), yes)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub(crate) async fn towns_that_share_compare(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let hartford = scope(&db, "townadmin.hartford", "hartford").await;
    let west = scope(&db, "townadmin.west-hartford", "west-hartford").await;
    books(
        &db,
        &hartford,
        &[(POLICE, "1,000,000.00"), (SCHOOLS, "2,000,000.00")],
    )
    .await;
    books(&db, &west, &[(POLICE, "500,000.00")]).await;
    let fy = FiscalYear::ending("fy", 2027).unwrap();

    // A town that does not share sees no one's.
    let refused = benchmarks::regional(&hartford, &mut db.read().await.unwrap(), fy).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");

    // Hartford shares, West Hartford not yet: Hartford sees only itself.
    share(&db, &hartford, true).await;
    let b = benchmarks::regional(&hartford, &mut db.read().await.unwrap(), fy)
        .await
        .unwrap();
    assert_eq!(
        b.towns.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
        vec!["hartford"]
    );

    share(&db, &west, true).await;
    let b = benchmarks::regional(&west, &mut db.read().await.unwrap(), fy)
        .await
        .unwrap();
    assert_eq!(
        b.towns.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["Hartford", "West Hartford"]
    );
    assert_eq!(
        (b.towns[0].population, b.towns[1].population),
        (122_587, 62_939)
    );
    // $1,000,000.00 / 122,587 = $8.1576… → $8.16; $2,000,000.00 / 122,587 = $16.3149… → $16.31;
    // $3,000,000.00 / 122,587 = $24.4725… → $24.47; $500,000.00 / 62,939 = $7.9442… → $7.94.
    let police = b.functions.iter().find(|f| f.function == "42").unwrap();
    assert_eq!(
        (police.name.as_str(), police.per_capita_cents.clone()),
        ("Public Safety", vec![816, 794])
    );
    let schools = b.functions.iter().find(|f| f.function == "45").unwrap();
    assert_eq!(schools.per_capita_cents, vec![1631, 0]);
    assert_eq!(
        (b.towns[0].per_capita_cents, b.towns[1].per_capita_cents),
        (2447, 794)
    );
    assert_eq!(b.towns[0].total_cents, 300_000_000);

    // West Hartford moves to a local chart without a crosswalk: its spending is left out and counted.
    let mut tx = db.begin().await.unwrap();
    ucoa::set_chart_mode(&west, &mut tx, now(), ChartMode::Local)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b = benchmarks::regional(&hartford, &mut db.read().await.unwrap(), fy)
        .await
        .unwrap();
    assert_eq!(
        (b.towns[1].total_cents, b.towns[1].unmapped_accounts),
        (0, 1)
    );

    // Opting out ends the sharing both ways.
    share(&db, &west, false).await;
    let b = benchmarks::regional(&hartford, &mut db.read().await.unwrap(), fy)
        .await
        .unwrap();
    assert_eq!(b.towns.len(), 1);
    assert!(matches!(
        benchmarks::regional(&west, &mut db.read().await.unwrap(), fy).await,
        Err(Error::Forbidden(_))
    ));
}
