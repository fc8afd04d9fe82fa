//! The UCOA catalog and the crosswalk on both databases: official codes
//! replace observed ones only from a clean file, and a town with its own chart
//! files through the crosswalk in effect — or is told which accounts are unmapped.

use std::io::Cursor;

use munishare_ledger::import::ImportKind;
use munishare_ledger::ucoa::{self, ChartMode};
use munishare_ledger::{AccountString, FundType, filing, service};
use munishare_platform::access::CouncilAdmin;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::FiscalYear;
use munishare_platform::{Db, Error, audit, demo};
use time::macros::date;

use super::imports::import_file;
use super::{draft_and_post, entry, line, now, scope};

pub(crate) async fn catalog_and_crosswalk(db: Db) {
    demo::seed(&db, now(), Some("ledger-test-password".into()))
        .await
        .unwrap();
    let council = CouncilAdmin::operator_console("test");

    // Seeded: the 17 codes of OPM's FY2014 sample (observed) and the demo's own (illustrative).
    let codes = ucoa::catalog(&mut db.read().await.unwrap()).await.unwrap();
    assert_eq!(codes.iter().filter(|c| c.source == "observed").count(), 17);
    let police = codes
        .iter()
        .find(|c| c.segment == "department" && c.code == "4201")
        .unwrap();
    assert_eq!(
        (police.name.as_str(), police.label()),
        ("Police", "seen in OPM's published data")
    );
    let cash = codes
        .iter()
        .find(|c| c.segment == "object" && c.code == "10100")
        .unwrap();
    assert_eq!(cash.label(), "illustrative — not from an official source");

    // A code list with bad rows changes nothing and names every problem.
    let bad = "segment,code,name\nobject,10100,Cash\ncounty,01,Hartford\nfunction,4,General Government\nobject,10100,Cash again\n";
    let out = ucoa::import_catalog(
        &council,
        &db,
        now(),
        "opm.csv",
        Box::new(Cursor::new(bad.as_bytes().to_vec())),
        0,
    )
    .await
    .unwrap();
    assert_eq!(out.status, "rejected");
    let at: Vec<(u64, &str)> = out
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(at, vec![(3, "segment"), (4, "code"), (5, "code")]);
    assert!(
        out.problems[1]
            .message
            .contains("a function code has 2 digits")
    );
    let still = ucoa::catalog(&mut db.read().await.unwrap()).await.unwrap();
    assert_eq!(
        still.iter().find(|c| c.code == "10100").unwrap().source,
        "illustrative"
    );

    let good =
        "segment,code,name\nobject,10100,Cash and Cash Equivalents\nfunction,43,Public Works\n";
    let out = ucoa::import_catalog(
        &council,
        &db,
        now(),
        "opm.csv",
        Box::new(Cursor::new(good.as_bytes().to_vec())),
        0,
    )
    .await
    .unwrap();
    assert_eq!((out.status.as_str(), out.codes, out.added), ("done", 2, 1));
    let codes = ucoa::catalog(&mut db.read().await.unwrap()).await.unwrap();
    let cash = codes
        .iter()
        .find(|c| c.segment == "object" && c.code == "10100")
        .unwrap();
    assert_eq!(
        (cash.name.as_str(), cash.source.as_str()),
        ("Cash and Cash Equivalents", "official")
    );
    assert_eq!(
        codes.iter().filter(|c| c.source == "observed").count(),
        17,
        "other codes keep their source"
    );

    // Hartford keeps its own chart here: local codes, filed through the crosswalk.
    let admin = scope(&db, "townadmin.hartford", "hartford").await;
    const L_CASH: &str = "1000-00-0000-00000-10100-000";
    const L_TAX: &str = "1000-00-0000-00000-40100-000";
    const L_WAGES: &str = "1000-10-1000-00000-51000-000";
    let mut tx = db.begin().await.unwrap();
    service::create_fund(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        "1000",
        "General",
        FundType::General,
    )
    .await
    .unwrap();
    for (a, name) in [
        (L_CASH, "Cash"),
        (L_TAX, "Taxes"),
        (L_WAGES, "Police wages"),
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
    service::open_fiscal_year(
        &admin,
        &mut tx,
        now(),
        EntityKind::TownGovernment,
        FiscalYear::ending("fy", 2027).unwrap(),
    )
    .await
    .unwrap();
    ucoa::set_chart_mode(&admin, &mut tx, now(), ChartMode::Local)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    draft_and_post(
        &db,
        &admin,
        &admin,
        entry(
            date!(2026 - 08 - 01),
            "Taxes",
            vec![line(L_CASH, "500.00", "0"), line(L_TAX, "0", "500.00")],
        ),
    )
    .await;
    draft_and_post(
        &db,
        &admin,
        &admin,
        entry(
            date!(2026 - 08 - 15),
            "Payroll",
            vec![line(L_WAGES, "200.00", "0"), line(L_CASH, "0", "200.00")],
        ),
    )
    .await;
    let fy = FiscalYear::ending("fy", 2027).unwrap();

    // No crosswalk yet: the filing refuses and names all three accounts.
    let err = filing::ucoa_filing(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
        fy,
    )
    .await
    .unwrap_err();
    let Error::Conflict { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("3 account(s)") && message.contains(L_WAGES),
        "{message}"
    );

    // Version 1 maps two of them: the third is still named.
    let v1 = format!(
        "account,uniform_account\n{L_CASH},1005-00-0000-00000-10100-000\n{L_TAX},1005-00-0000-00000-41000-000\n"
    );
    let r = import_file(
        &db,
        &admin,
        ImportKind::Crosswalk,
        Some(2027),
        "cw1.csv",
        v1.clone().into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    let gaps = ucoa::unmapped(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
        fy,
    )
    .await
    .unwrap();
    assert_eq!(
        gaps.iter().map(|a| a.account.as_str()).collect::<Vec<_>>(),
        vec![L_WAGES]
    );
    // A bad crosswalk names its rows.
    let bad = format!(
        "account,uniform_account\n{L_WAGES},1005-42-42-00000-51000-000\n1000-99-0000-00000-10100-000,1005-00-0000-00000-10100-000\n"
    );
    let r = import_file(
        &db,
        &admin,
        ImportKind::Crosswalk,
        Some(2027),
        "cw-bad.csv",
        bad.into(),
    )
    .await
    .unwrap();
    let p = r.problems();
    assert_eq!(
        p.iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, "uniform_account"), (3, "account")]
    );

    // Version 2 (the whole map) makes the filing possible, in OPM's layout with the uniform columns mapped.
    let v2 = format!("{}{L_WAGES},1005-42-4201-00000-51000-000\n", v1);
    let r = import_file(
        &db,
        &admin,
        ImportKind::Crosswalk,
        Some(2027),
        "cw2.csv",
        v2.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{r:?}");
    // A version effective from a later year does not change this year's filing.
    let later = format!("account,uniform_account\n{L_CASH},6001-00-0000-00000-10100-000\n");
    import_file(
        &db,
        &admin,
        ImportKind::Crosswalk,
        Some(2028),
        "cw3.csv",
        later.into(),
    )
    .await
    .unwrap();
    let in_effect = ucoa::crosswalk_for(&admin, &mut db.read().await.unwrap(), fy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_effect.version, 2);
    let rows = filing::ucoa_filing(
        &admin,
        &mut db.read().await.unwrap(),
        EntityKind::TownGovernment,
        fy,
    )
    .await
    .unwrap();
    let table = filing::opm_layout(fy, "Hartford", &rows).unwrap();
    let wages = table.iter().find(|r| r[2] == L_WAGES).unwrap();
    // LocalAccount, LocalFund, LocalFunction, LocalDepartment … UniformAccount, UniformFund, UniformFunction, UniformDepartment, UniformObject, Debit, Credit.
    assert_eq!(
        (
            &wages[3], &wages[4], &wages[5], &wages[9], &wages[10], &wages[11], &wages[12],
            &wages[13], &wages[15], &wages[16]
        ),
        (
            &"1000".to_owned(),
            &"10".to_owned(),
            &"1000".to_owned(),
            &"1005-42-4201-00000-51000-000".to_owned(),
            &"1005".to_owned(),
            &"42".to_owned(),
            &"4201".to_owned(),
            &"51000".to_owned(),
            &"200.00".to_owned(),
            &"0.00".to_owned()
        )
    );
    let tax = table.iter().find(|r| r[2] == L_TAX).unwrap();
    assert_eq!(
        (tax[9].as_str(), tax[16].as_str()),
        ("1005-00-0000-00000-41000-000", "-500.00")
    );

    let report = audit::verify(&db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
}
