//! Grand-list totals for a large town (docs/benchmarks.md): imports a
//! generated roll of `--parcels` parcels (50,000 by default) into one demo
//! town through the assessor's own import, takes the October 1 grand list,
//! then times the abstract — gross, exemptions and net by class and PA 490
//! use, accounts, and exemptions by program — and the levy's billed total
//! (every account's tax at the mill rate, summed). Writes the list's items as
//! CSV for the peer (pandas, `bench_grand_list_peer.py`). Then sets a mill
//! rate and times the bulk bill run through the job queue as the assessor
//! queues it (`--bill-runs`, 3 by default): every bill built, drawn into one
//! PDF and stored, on one thread.
//!
//!     cargo run --release -p munishare-assessment --example bench_grand_list -- \
//!         --database-url sqlite:///tmp/gl-bench.db --parcels 50000 --runs 21
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::time::Instant;

use munishare_assessment::{bills, demo as roll, grand_list, imports, parcels};
use munishare_platform::blob::BlobStore;
use munishare_platform::clock::TestClock;
use munishare_platform::jobs::{JobContext, ProgressBoard, Registry};
use munishare_platform::types::{Money, Permission, Service, Timestamp};
use munishare_platform::{Db, access, demo, identity};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-26 14:00 UTC);

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = arg("--database-url").unwrap_or_else(|| "sqlite:///tmp/munishare-gl-bench.db".into());
    let n: usize = arg("--parcels").map_or(50_000, |s| s.parse().unwrap());
    let runs: usize = arg("--runs").map_or(21, |s| s.parse().unwrap());
    let out = arg("--items-csv").unwrap_or_else(|| "/tmp/gl-items.csv".into());
    let blob_dir = std::env::temp_dir().join(format!("munishare-gl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&blob_dir).unwrap();
    let blobs = BlobStore::open(&format!("file://{}", blob_dir.display())).unwrap();

    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let now = Timestamp::new(NOW);
    demo::seed(&db, now, Some("bench-password-123".into()))
        .await
        .unwrap();
    let today = NOW.date();
    let scope = demo::seed_scope(&db, today, "hartford", Service::Assessment)
        .await
        .unwrap();
    let generated = roll::generate(
        "Hartford",
        250_000.0,
        n,
        roll::valuation_date(today),
        today,
        7,
    );
    let t = Instant::now();
    let file = imports::store(
        &scope,
        &blobs,
        "roll.csv",
        bytes::Bytes::from(generated.parcels_csv),
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    parcels::import(&scope, &mut tx, now, &file).await.unwrap();
    tx.commit().await.unwrap();
    let import = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut tx = db.begin().await.unwrap();
    grand_list::take(&scope, &mut tx, now, 2026).await.unwrap();
    tx.commit().await.unwrap();
    let take = t.elapsed().as_secs_f64();
    let mut tx = db.begin().await.unwrap();
    grand_list::sign(&scope, &mut tx, now, 2026).await.unwrap();
    tx.commit().await.unwrap();
    println!(
        "backend {} · {n} parcels · import {import:.2} s · take {take:.2} s",
        db.backend()
    );

    let mut c = db.read().await.unwrap();
    let (mut abstracts, mut levies) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let a = grand_list::abstract_report(&scope, &mut c, 2026)
            .await
            .unwrap();
        abstracts.push(t.elapsed().as_secs_f64());
        // The levy's billed total at an illustrative 30.00 mills.
        let mills = grand_list::mill_rate(
            Money::from_cents(a.total.net_cents * 3 / 100),
            a.total.net_cents,
            2,
        )
        .unwrap();
        let t = Instant::now();
        let billed: i64 = grand_list::items(&scope, &mut c, 2026, None)
            .await
            .unwrap()
            .iter()
            .map(|i| grand_list::tax_cents(i.net_cents, mills))
            .sum();
        levies.push(t.elapsed().as_secs_f64());
        last = Some((a, billed));
    }
    let (a, billed) = last.unwrap();
    for l in &a.lines {
        println!(
            "  {:<16} {:>7} accounts  gross {:>16}  net {:>16}",
            l.class, l.accounts, l.gross_cents, l.net_cents
        );
    }
    println!(
        "  total            {:>7} accounts  gross {:>16}  exemptions {}  net {}  billed at 30 mills {billed}",
        a.total.accounts, a.total.gross_cents, a.total.exemptions_cents, a.total.net_cents
    );
    println!(
        "abstract: median {:.1} ms of {runs} (min {:.1}, max {:.1}) · billed total over every account: median {:.1} ms",
        median(abstracts.clone()) * 1e3,
        abstracts.iter().copied().fold(f64::INFINITY, f64::min) * 1e3,
        abstracts.iter().copied().fold(0.0, f64::max) * 1e3,
        median(levies) * 1e3
    );
    let items = grand_list::items(&scope, &mut c, 2026, None).await.unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    writeln!(
        f,
        "account,property_class,pa490,gross_cents,exemptions,exemptions_cents,net_cents"
    )
    .unwrap();
    for i in items {
        writeln!(
            f,
            "{},{},{},{},{},{},{}",
            i.account,
            i.property_class,
            i.pa490,
            i.gross_cents,
            i.exemptions,
            i.exemptions_cents,
            i.net_cents
        )
        .unwrap();
    }
    drop(f);
    println!("items written to {out}");
    drop(c);

    // The bulk bill run as the assessor queues it: every bill of the list in one PDF, built,
    // drawn and stored by the job worker (one job, one thread), timed from claim to commit.
    let mut c = db.read().await.unwrap();
    let user = identity::user_by_username(&mut c, "assessor.hartford")
        .await
        .unwrap()
        .unwrap();
    drop(c);
    let assessor = access::authorize_service(
        &db,
        &identity::principal_for_user(&user),
        today,
        "hartford",
        Service::Assessment,
        Permission::Approve,
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    grand_list::set_rate(
        &assessor,
        &mut tx,
        now,
        2026,
        &grand_list::RateIn {
            levy: format!("{}.00", a.total.net_cents * 3 / 10_000),
            places: Some(2),
            mill_rate: None,
            mv_mill_rate: None,
            installment_threshold: None,
            collector_name: "Tax Collector".into(),
            collector_address: "550 Main Street\nHartford, CT 06103".into(),
            collector_phone: "(860) 757-9630".into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut registry = Registry::with_platform_jobs();
    bills::register_jobs(&mut registry);
    let ctx = JobContext {
        db: db.clone(),
        clock: std::sync::Arc::new(TestClock::new(NOW)),
        blobs: blobs.clone(),
        replica: None,
        progress: ProgressBoard::default(),
    };
    let mut rates = Vec::new();
    let bill_runs: usize = arg("--bill-runs").map_or(3, |s| s.parse().unwrap());
    for _ in 0..bill_runs {
        let mut tx = db.begin().await.unwrap();
        bills::enqueue(&assessor, &mut tx, now, 2026).await.unwrap();
        tx.commit().await.unwrap();
        let t = Instant::now();
        assert!(registry.run_one(&ctx).await.unwrap());
        let secs = t.elapsed().as_secs_f64();
        let mut c = db.read().await.unwrap();
        let gl = grand_list::get(&assessor, &mut c, 2026).await.unwrap();
        assert_eq!(gl.bills_status, "done", "{}", gl.bills_error);
        rates.push(gl.bills_count as f64 / secs);
        println!(
            "bill run: {} bills in {secs:.2} s = {:.0} bills/s",
            gl.bills_count,
            gl.bills_count as f64 / secs
        );
    }
    if !rates.is_empty() {
        println!(
            "bill run through the job queue: median {:.0} bills/s of {bill_runs}",
            median(rates)
        );
    }
    db.close().await;
    std::fs::remove_dir_all(blob_dir).ok();
}
