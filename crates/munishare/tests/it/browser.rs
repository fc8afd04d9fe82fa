//! End to end in a real browser: Debian's headless Chromium driven through
//! chromedriver. Signs in, creates a user and a grant, finds the grant in the
//! audit log, then signs in as shared staff and switches town in the header.
//! With `MUNISHARE_SCREENSHOTS=DIR` it saves screenshots of the main pages.
//! It runs on both databases.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use munishare_platform::db::testing::Backend;
use thirtyfour::prelude::*;

use crate::harness::{PASSWORD, TestApp};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on port {port}");
}

async fn browser() -> (Driver, WebDriver) {
    let port = free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's chromium-driver (scripts/test.sh installs it)");
    let driver = Driver(child);
    wait_for_port(port).await;
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let user_data = std::env::temp_dir().join(format!(
        "munishare-chrome-{}",
        uuid::Uuid::now_v7().simple()
    ));
    caps.add_arg(&format!("--user-data-dir={}", user_data.display()))
        .unwrap();
    let wd = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
        .await
        .expect("start chromium");
    // Wait for elements to appear after navigation, as a person would.
    wd.set_implicit_wait_timeout(Duration::from_secs(10))
        .await
        .unwrap();
    (driver, wd)
}

async fn shot(wd: &WebDriver, name: &str) {
    if let Ok(dir) = std::env::var("MUNISHARE_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        wd.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")))
            .await
            .unwrap();
    }
}

async fn sign_in(wd: &WebDriver, base: &str, user: &str, password: &str) {
    wd.goto(format!("{base}/signin")).await.unwrap();
    wd.find(By::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    wd.find(By::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_and_wait(wd, By::Css("form.stacked button[type=submit]")).await;
    wd.find(By::Css("header.site")).await.unwrap();
}

/// Clicks and waits until the browser has left the current page.
async fn click_and_wait(wd: &WebDriver, selector: By) {
    let old = wd.find(By::Tag("html")).await.unwrap();
    wd.find(selector).await.unwrap().click().await.unwrap();
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            wd.find(By::Tag("main")).await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page did not change after the click");
}

/// Clicks a button whose form asks for confirmation, accepts, and waits for the next page.
async fn click_confirm_and_wait(wd: &WebDriver, selector: By) {
    let old = wd.find(By::Tag("html")).await.unwrap();
    wd.find(selector).await.unwrap().click().await.unwrap();
    wd.accept_alert().await.unwrap();
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            wd.find(By::Tag("main")).await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page did not change after the confirmed click");
}

async fn flash_text(wd: &WebDriver) -> String {
    match wd.find(By::Css(".flash")).await {
        Ok(e) => e.text().await.unwrap(),
        Err(_) => format!(
            "no flash message on {}: {}",
            wd.current_url().await.unwrap(),
            text(wd).await
        ),
    }
}

async fn text(wd: &WebDriver) -> String {
    wd.find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flow_on_sqlite() {
    crate::harness::run(
        Backend::Sqlite,
        sign_in_create_a_user_and_grant_see_the_audit_entry_and_switch_town,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flow_on_postgres() {
    crate::harness::run(
        Backend::Postgres,
        sign_in_create_a_user_and_grant_see_the_audit_entry_and_switch_town,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_flow_on_sqlite() {
    crate::harness::run(
        Backend::Sqlite,
        a_finance_director_sets_up_books_and_posts_an_entry,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_flow_on_postgres() {
    crate::harness::run(
        Backend::Postgres,
        a_finance_director_sets_up_books_and_posts_an_entry,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_flow_on_sqlite() {
    crate::harness::run(Backend::Sqlite, an_assessor_imports_validates_and_studies).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_flow_on_postgres() {
    crate::harness::run(Backend::Postgres, an_assessor_imports_validates_and_studies).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeal_flow_on_sqlite() {
    crate::harness::run(Backend::Sqlite, the_board_reduces_an_assessment).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeal_flow_on_postgres() {
    crate::harness::run(Backend::Postgres, the_board_reduces_an_assessment).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_flow_on_sqlite() {
    crate::harness::run(
        Backend::Sqlite,
        an_assessor_enters_declarations_and_vehicles,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_flow_on_postgres() {
    crate::harness::run(
        Backend::Postgres,
        an_assessor_enters_declarations_and_vehicles,
    )
    .await;
}

/// The grand list's other parts in a browser: a late personal property
/// declaration ($50,000 of machinery → $35,000 assessed + $8,750 penalty),
/// the DMV's file of three vehicles ($51,414 assessed in all), a certificate
/// of correction on a vehicle and the supplemental list (CGS 12-71b).
async fn an_assessor_enters_declarations_and_vehicles(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let dir = std::env::temp_dir().join(format!("munishare-dmv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dmv = dir.join("dmv-2026.csv");
    std::fs::write(&dmv, crate::other_property::DMV).unwrap();

    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment/grand-list"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("personal property declarations")).await;
    fill(&wd, "pp-business", "Main Street Hardware").await;
    fill(&wd, "pp-owner", "Main Street LLC").await;
    fill(&wd, "pp-location", "100 Main St").await;
    set_value(&wd, "pp-filed", "2026-11-10").await;
    fill(&wd, "pp-v-machinery", "50,000").await;
    click_and_wait(&wd, By::Css("#declaration-form button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "PP-00001 (Main Street Hardware): assessed $35,000.00 plus a 25% penalty of $8,750.00."
    );
    let totals = wd
        .find(By::Id("pp-totals"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(totals.contains("$43,750.00"), "{totals}");
    shot(&wd, "assessment-personal-property").await;

    wd.goto(format!(
        "{base}/t/hartford/assessment/grand-list/2026/motor-vehicles"
    ))
    .await
    .unwrap();
    wd.find(By::Id("mv-file"))
        .await
        .unwrap()
        .send_keys(dmv.display().to_string())
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#mv-import button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "dmv-2026.csv: 3 vehicles imported (replacing 0)."
    );
    let total = wd
        .find(By::Id("mv-total"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(total, "$51,414.00");
    shot(&wd, "assessment-motor-vehicles").await;

    // The list taken, signed and rated at an adopted 37.54 mills (through the API); then
    // in the browser a certificate on a vehicle and the supplemental list.
    use axum::http::{Method, StatusCode};
    let api = app.demo_session("assessor.hartford").await;
    let a = "/api/v1/towns/hartford/assessment";
    let r = app
        .raw(
            Method::POST,
            &format!("{a}/parcel-imports?file_name=roll.csv"),
            &api,
            Some("text/csv"),
            crate::assessment::SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for (m, path, body) in [
        (
            Method::POST,
            "grand-lists",
            Some(serde_json::json!({"list_year": 2026})),
        ),
        (Method::POST, "grand-lists/2026/sign", None),
        (
            Method::PUT,
            "grand-lists/2026/mill-rate",
            Some(
                serde_json::json!({"levy": "50,000.00", "mill_rate": "37.54", "collector_name": "Tax Collector",
                "collector_address": "550 Main Street\nHartford, CT 06103", "collector_phone": "860-555-0100"}),
            ),
        ),
    ] {
        let r = app.api(m, &format!("{a}/{path}"), &api, body).await;
        assert!(r.status.is_success(), "{path}: {}", r.text());
    }
    // The Honda, sold in March: its whole assessment set to $8,200 on the grand list's form.
    wd.goto(format!("{base}/t/hartford/assessment/grand-list/2026"))
        .await
        .unwrap();
    wd.find(By::Css("#clerical summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&wd, "cc-account", "MV-4LA012345").await;
    fill(&wd, "cc-assessment", "8,200").await;
    fill(&wd, "cc-reason", "Sold in March and not replaced").await;
    click_and_wait(&wd, By::Css("#clerical-form button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Certificate of correction CC-2026-0001 is issued for MV-4LA012345."
    );
    // A Corolla registered November 2 ($20,000 → $14,000): 11 months,
    // 14,000 × 32.46 ÷ 1,000 × 11 ÷ 12 = $416.57.
    let supp = dir.join("dmv-supplemental-2026.csv");
    std::fs::write(
        &supp,
        "vin,plate,model_year,make,model,owner,mailing_address,retail_value,registered_on\n\
         2T1BURHE0JC000001,NEW1,2018,Toyota,Corolla,Cy Diaz,\"5 Main St, Hartford, CT 06103\",20000,2026-11-02\n",
    )
    .unwrap();
    wd.goto(format!(
        "{base}/t/hartford/assessment/grand-list/2026/motor-vehicles"
    ))
    .await
    .unwrap();
    wd.find(By::Id("sup-file"))
        .await
        .unwrap()
        .send_keys(supp.display().to_string())
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#sup-import button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "dmv-supplemental-2026.csv: 1 supplemental vehicles imported (replacing 0)."
    );
    click_and_wait(&wd, By::Css("#sup-take button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "The 2026 supplemental list is taken: accounts 1, tax $416.57."
    );
    click_and_wait(&wd, By::Css("#sup-sign button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "The 2026 supplemental list is signed."
    );
    let levy = wd
        .find(By::Id("sup-levy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(levy, "$416.57");
    shot(&wd, "assessment-supplemental").await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Sets an input's value by script (date and time inputs take no keystrokes portably).
async fn set_value(wd: &WebDriver, id: &str, value: &str) {
    wd.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![serde_json::json!(id), serde_json::json!(value)],
    )
    .await
    .unwrap();
}

/// An appeal in a browser: a signed 2026 list (set up through the API), a
/// petition filed from the form, its hearing scheduled, and in March the
/// board's reduction, which issues a certificate of correction: $226,420 net
/// becomes $210,000 and the tax at 34.79 mills $7,877.15 → $7,305.90.
async fn the_board_reduces_an_assessment(app: TestApp) {
    use axum::http::{Method, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let api = app.demo_session("assessor.hartford").await;
    let a = "/api/v1/towns/hartford/assessment";
    let r = app
        .raw(
            Method::POST,
            &format!("{a}/parcel-imports?file_name=roll.csv"),
            &api,
            Some("text/csv"),
            crate::assessment::SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for (m, path, body) in [
        (
            Method::POST,
            "grand-lists",
            Some(serde_json::json!({"list_year": 2026})),
        ),
        (Method::POST, "grand-lists/2026/sign", None),
        (
            Method::PUT,
            "grand-lists/2026/mill-rate",
            Some(
                serde_json::json!({"levy": "42,000.00", "collector_name": "Tax Collector",
                "collector_address": "550 Main Street\nHartford, CT 06103", "collector_phone": "860-555-0100"}),
            ),
        ),
    ] {
        let r = app.api(m, &format!("{a}/{path}"), &api, body).await;
        assert!(r.status.is_success(), "{path}: {}", r.text());
    }

    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("Appeals")).await;
    fill(&wd, "pf-account", "RE-1-1-2").await;
    fill(&wd, "pf-appellant", "Bo Chen").await;
    fill(
        &wd,
        "pf-grounds",
        "Assessed above what comparable houses sold for",
    )
    .await;
    fill(&wd, "pf-opinion", "300,000").await;
    click_and_wait(&wd, By::Css("#petition-form button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Petition 2026-001 on RE-1-1-2 is filed."
    );
    set_value(&wd, "hf-at", "2027-03-10T18:00").await;
    click_and_wait(&wd, By::Css("#hearing-form button[type=submit]")).await;
    let status = wd
        .find(By::Id("appeal-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "Hearing scheduled");
    wd.goto(format!("{base}/t/hartford/assessment/appeals"))
        .await
        .unwrap();
    let hearings = wd
        .find(By::Css("table.hearings"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        hearings.contains("18:00") && hearings.contains("2026-001"),
        "{hearings}"
    );
    shot(&wd, "assessment-appeals").await;

    // March 12, 2027: the board has heard it and reduces the buildings to $154,000.
    app.advance(time::Duration::days(106));
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment/appeals"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("2026-001")).await;
    wd.find(By::Css("#df-decision option[value=reduced]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    set_value(&wd, "df-on", "2027-03-11").await;
    fill(&wd, "df-building", "154,000").await;
    fill(
        &wd,
        "df-note",
        "Comparable sales on Main St support $300,000",
    )
    .await;
    click_and_wait(&wd, By::Css("#decision-form button[type=submit]")).await;
    let decision = wd
        .find(By::Id("appeal-decision"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        decision.starts_with("Assessment reduced on 2027-03-11"),
        "{decision}"
    );
    let cert = wd
        .find(By::Id("appeal-certificate"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        cert.contains("CC-2026-0001")
            && cert.contains("226,420.00 → $210,000.00")
            && cert.contains("7,877.15 → $7,305.90"),
        "{cert}"
    );
    shot(&wd, "assessment-appeal").await;
    click_and_wait(&wd, By::LinkText("CC-2026-0001")).await;
    let change = wd
        .find(By::Id("correction-change"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(change, "-$571.25");
    // The grand list keeps its signed abstract and lists the certificate.
    wd.goto(format!("{base}/t/hartford/assessment/grand-list/2026"))
        .await
        .unwrap();
    let page = text(&wd).await;
    assert!(
        page.contains("$1,207,100.00") && page.contains("CC-2026-0001"),
        "{page}"
    );
    shot(&wd, "assessment-grand-list").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_flow_on_sqlite() {
    crate::harness::run(
        Backend::Sqlite,
        a_field_assessor_imports_permits_and_works_the_queue,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_flow_on_postgres() {
    crate::harness::run(
        Backend::Postgres,
        a_field_assessor_imports_permits_and_works_the_queue,
    )
    .await;
}

/// The council's field assessor in a browser: imports a town's building
/// permits, creates the CGS 12-62 cyclical inspections, then takes the first
/// inspection of the regional queue and records an interior inspection.
async fn a_field_assessor_imports_permits_and_works_the_queue(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // Hartford's four-parcel roll, as its assessor imported it.
    let assessor = app.demo_session("assessor.hartford").await;
    let r = app
        .raw(
            axum::http::Method::POST,
            "/api/v1/towns/hartford/assessment/parcel-imports?file_name=roll.csv",
            &assessor,
            Some("text/csv"),
            crate::assessment::SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let dir = std::env::temp_dir().join(format!(
        "munishare-permits-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let permits = dir.join("permits.csv");
    std::fs::write(
        &permits,
        "permit_number,parcel_id,issued_on,description,work_type,value\n\
         B-2026-0101,1-1-1,2026-11-02,Rear deck,deck,12500\n\
         B-2026-0102,1-1-4,2026-09-15,Storefront renovation,alteration,250000\n",
    )
    .unwrap();

    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "field.assessor", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("Field inspections")).await;
    assert_eq!(
        wd.current_url().await.unwrap().path(),
        "/t/hartford/assessment/field"
    );
    click_and_wait(&wd, By::LinkText("Building permits")).await;
    wd.find(By::Id("pi-file"))
        .await
        .unwrap()
        .send_keys(permits.display().to_string())
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#permit-import button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "permits.csv: 2 permits read, 2 added with their inspections."
    );
    let table = wd
        .find(By::Id("permits"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("B-2026-0102") && table.contains("$250,000.00"),
        "{table}"
    );

    // No parcel has a full inspection on record: all four are due under CGS 12-62.
    click_and_wait(&wd, By::LinkText("Field inspections")).await;
    let compliance = wd
        .find(By::Id("compliance"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(compliance.contains("All 4 4 4 0"), "{compliance}");
    click_and_wait(&wd, By::Css("#cyclical-form button[type=submit]")).await;
    assert_eq!(flash_text(&wd).await, "4 cyclical inspections created.");
    shot(&wd, "assessment-field").await;

    // The regional queue, by due date: the storefront permit (due 2026-10-01) first.
    click_and_wait(&wd, By::LinkText("Regional queue")).await;
    let first = "#queue tbody tr:first-child";
    let row = wd.find(By::Css(first)).await.unwrap().text().await.unwrap();
    assert!(
        row.contains("2026-10-01") && row.contains("1-1-4") && row.contains("Hartford"),
        "{row}"
    );
    click_and_wait(&wd, By::Css(format!("{first} form.assign-me button"))).await;
    assert_eq!(
        flash_text(&wd).await,
        "Inspection of 1-1-4 assigned to Regional Field Assessor."
    );
    wd.find(By::Css(format!(
        "{first} form.record-result input[name=interior]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wd.find(By::Css(format!(
        "{first} form.record-result input[name=changes]"
    )))
    .await
    .unwrap()
    .send_keys("Storefront glazing replaced")
    .await
    .unwrap();
    shot(&wd, "assessment-field-queue").await;
    click_and_wait(&wd, By::Css(format!("{first} form.record-result button"))).await;
    assert_eq!(
        flash_text(&wd).await,
        "Inspection of 1-1-4 done on 2026-11-26 (interior and exterior): Storefront glazing replaced"
    );

    // On the town's page the result form shows the parcel as recorded; the
    // inspector changes what differs and the parcel takes it.
    wd.goto(format!("{base}/t/hartford/assessment/field"))
        .await
        .unwrap();
    let row = "#inspections tbody tr:first-child";
    let key = wd
        .find(By::Css(format!("{row} td:nth-child(2)")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    click_and_wait(&wd, By::Css(format!("{row} form.assign button"))).await;
    assert!(flash_text(&wd).await.contains("assigned to"));
    wd.find(By::Css(format!(
        "{row} form.record-result details.found summary"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let living = wd
        .find(By::Css(format!(
            "{row} form.record-result input[name=living_sqft]"
        )))
        .await
        .unwrap();
    assert_eq!(living.value().await.unwrap().as_deref(), Some("0"));
    living.clear().await.unwrap();
    living.send_keys("1500").await.unwrap();
    let condition = wd
        .find(By::Css(format!(
            "{row} form.record-result input[name=condition]"
        )))
        .await
        .unwrap();
    condition.clear().await.unwrap();
    condition.send_keys("4").await.unwrap();
    click_and_wait(&wd, By::Css(format!("{row} form.record-result button"))).await;
    assert_eq!(
        flash_text(&wd).await,
        format!(
            "Inspection of {key} done on 2026-11-26 (exterior only): living_sqft 0 → 1,500; condition — → Good"
        )
    );
    wd.goto(format!("{base}/t/hartford/assessment/parcels/{key}"))
        .await
        .unwrap();
    let facts = wd
        .find(By::Id("parcel-facts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        facts.contains("1,500 sq ft") && facts.contains("/ Good"),
        "{facts}"
    );
    let history = wd
        .find(By::Id("parcel-inspections"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(history.contains("living_sqft 0 → 1,500"), "{history}");
    click_and_wait(&wd, By::Id("parcel-history")).await;
    let audit = wd
        .find(By::Id("audit-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let newest = audit.lines().nth(1).unwrap_or_default().to_owned();
    assert!(newest.contains("parcel.update"), "{audit}");

    // Hartford's assessor (approve in assessment) records the revaluation cycle.
    click_and_wait(&wd, By::Css("form[action='/signout'] button")).await;
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment/field"))
        .await
        .unwrap();
    let status = wd
        .find(By::Id("revaluation-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("No revaluation cycle recorded"), "{status}");
    for (last, next) in [("2021", "2027"), ("2021", "")] {
        let l = wd.find(By::Id("rv-last")).await.unwrap();
        l.clear().await.unwrap();
        l.send_keys(last).await.unwrap();
        let n = wd.find(By::Id("rv-next")).await.unwrap();
        n.clear().await.unwrap();
        if !next.is_empty() {
            n.send_keys(next).await.unwrap();
        }
        click_and_wait(&wd, By::Css("#revaluation-form button[type=submit]")).await;
        if next == "2027" {
            let refused = flash_text(&wd).await;
            assert!(
                refused.contains("next_year") && refused.contains("CGS 12-62(b)"),
                "{refused}"
            );
        }
    }
    assert_eq!(
        flash_text(&wd).await,
        "Revaluation cycle of Hartford: last 2021, next 2026."
    );
    let status = wd
        .find(By::Id("revaluation-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        status.contains("Last revaluation 2021, next 2026 (5 grand lists since)")
            && status.contains("due this year"),
        "{status}"
    );
    click_and_wait(&wd, By::LinkText("Regional view")).await;
    let table = wd
        .find(By::Id("revaluation-cycles"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("Hartford 2021 2026 5 due this year no"),
        "{table}"
    );
    let lanes = wd
        .find_all(By::Css("#revaluation-timeline g.lane"))
        .await
        .unwrap();
    assert_eq!(lanes.len(), 1);
    shot(&wd, "assessment-revaluation").await;
    wd.quit().await.unwrap();
}

async fn upload(wd: &WebDriver, kind: &str, path: &std::path::Path) {
    wd.find(By::Css(format!("#imp-kind option[value='{kind}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wd.find(By::Id("imp-file"))
        .await
        .unwrap()
        .send_keys(path.display().to_string())
        .await
        .unwrap();
    click_and_wait(wd, By::Css("#assessment-import button[type=submit]")).await;
}

/// The assessor's main flow in a browser: import a roll and its sales,
/// correct a parcel, decide a flagged sale, read the ratio study.
async fn an_assessor_imports_validates_and_studies(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // A roll and sales as the town's CAMA would export them (the demo's generator).
    let today = time::macros::date!(2026 - 11 - 26);
    let roll = munishare_assessment::demo::generate(
        "Hartford",
        160_000.0,
        600,
        munishare_assessment::demo::valuation_date(today),
        today,
        11,
    );
    let dir = std::env::temp_dir().join(format!("munishare-roll-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (roll_file, sales_file) = (
        dir.join("hartford-roll.csv"),
        dir.join("hartford-sales.csv"),
    );
    std::fs::write(&roll_file, &roll.parcels_csv).unwrap();
    std::fs::write(&sales_file, &roll.sales_csv).unwrap();
    let sales_rows = roll.sales_csv.lines().count() - 1;

    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford")).await.unwrap();
    click_and_wait(&wd, By::LinkText("Property assessment")).await;
    assert_eq!(
        wd.current_url().await.unwrap().path(),
        "/t/hartford/assessment"
    );
    upload(&wd, "parcels", &roll_file).await;
    assert_eq!(
        flash_text(&wd).await,
        "hartford-roll.csv: 600 rows read, 600 added, 0 changed."
    );
    upload(&wd, "sales-csv", &sales_file).await;
    assert_eq!(
        flash_text(&wd).await,
        format!("hartford-sales.csv: {sales_rows} rows read, {sales_rows} added, 0 changed.")
    );
    // The same file again is refused, and says so.
    upload(&wd, "sales-csv", &sales_file).await;
    assert!(
        flash_text(&wd).await.starts_with(
            "Nothing was imported. hartford-sales.csv: this file was imported already"
        ),
        "{}",
        flash_text(&wd).await
    );
    shot(&wd, "assessment-overview").await;

    // The roll, filtered by neighbourhood; one parcel opened and corrected.
    click_and_wait(&wd, By::LinkText("Parcels")).await;
    wd.find(By::Css("#pf-n option[value='N03']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#parcel-filter button[type=submit]")).await;
    let table = wd
        .find(By::Id("parcels"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = roll
        .parcels_csv
        .lines()
        .filter(|l| l.contains(",N03,"))
        .count();
    assert!(
        text(&wd)
            .await
            .contains(&format!("{expected} parcels match")),
        "{table}"
    );
    shot(&wd, "assessment-parcels").await;
    click_and_wait(&wd, By::Css("#parcels tbody tr:first-child a")).await;
    wd.find(By::Id("parcel-values")).await.unwrap();
    fill(&wd, "pe-liv", "1,777").await;
    click_and_wait(&wd, By::Css("#parcel-edit button[type=submit]")).await;
    assert!(
        flash_text(&wd).await.ends_with("saved (version 2)."),
        "{}",
        flash_text(&wd).await
    );
    let facts = wd
        .find(By::Id("parcel-facts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(facts.contains("1,777 sq ft"), "{facts}");
    shot(&wd, "assessment-parcel").await;

    // The parcel record: a shed among its outbuildings, and two photos uploaded at once.
    wd.find(By::Css("#ob-kind option[value='shed']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&wd, "ob-desc", "8x10 frame shed").await;
    fill(&wd, "ob-size", "80").await;
    fill(&wd, "ob-year", "1998").await;
    fill(&wd, "ob-value", "2,500").await;
    click_and_wait(&wd, By::Css("#outbuilding-add button[type=submit]")).await;
    assert_eq!(flash_text(&wd).await, "Shed added ($2,500.00).");
    let outbuildings = wd
        .find(By::Id("outbuildings"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for cell in [
        "Shed",
        "8x10 frame shed",
        "80 sq ft",
        "1998",
        "Average",
        "$2,500.00",
    ] {
        assert!(outbuildings.contains(cell), "{outbuildings}");
    }
    let (front, rear) = (dir.join("front.png"), dir.join("rear.jpg"));
    std::fs::write(&front, crate::parcel_record::PNG).unwrap();
    std::fs::write(&rear, crate::parcel_record::jpeg()).unwrap();
    wd.find(By::Id("at-file"))
        .await
        .unwrap()
        .send_keys(format!("{}\n{}", front.display(), rear.display()))
        .await
        .unwrap();
    fill(&wd, "at-caption", "Street view").await;
    click_and_wait(&wd, By::Css("#attachment-upload button[type=submit]")).await;
    assert_eq!(flash_text(&wd).await, "Attached front.png, rear.jpg.");
    // Both thumbnails load as images: the 1×1 PNG and the 8×8 JPEG.
    wd.execute(
        "document.getElementById('parcel-photos').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    let mut widths = serde_json::Value::Null;
    for _ in 0..100 {
        widths = wd
            .execute(
                "return Array.from(document.querySelectorAll('#parcel-photos img')).map(i => i.complete ? i.naturalWidth : -1).sort();",
                Vec::new(),
            )
            .await
            .unwrap()
            .json()
            .clone();
        if widths == serde_json::json!([1, 8]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(widths, serde_json::json!([1, 8]));
    wd.execute(
        "document.getElementById('outbuildings-h').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    shot(&wd, "assessment-parcel-record").await;

    // A flagged sale: the analyst disqualifies or qualifies it with a note.
    wd.goto(format!("{base}/t/hartford/assessment/sales?status=flagged"))
        .await
        .unwrap();
    let first = wd
        .find(By::Css("#sales tbody tr:first-child"))
        .await
        .unwrap();
    first
        .find(By::Css("select[name=decision] option[value=qualified]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    first
        .find(By::Css("input[name=note]"))
        .await
        .unwrap()
        .send_keys("Verified with the buyer: listed on MLS, arm's length")
        .await
        .unwrap();
    click_and_wait(
        &wd,
        By::Css("#sales tbody tr:first-child form.decide button"),
    )
    .await;
    assert!(
        flash_text(&wd).await.ends_with(": qualified."),
        "{}",
        flash_text(&wd).await
    );
    let decided = wd
        .find(By::Id("sales"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        decided.contains("qualified: Verified with the buyer"),
        "{decided}"
    );
    shot(&wd, "assessment-sales").await;

    // The town's ratio study, by neighbourhood, with its chart.
    click_and_wait(&wd, By::LinkText("Ratio study")).await;
    let strata = wd
        .find(By::Id("strata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(strata.contains("All qualified sales"), "{strata}");
    for hood in ["N01", "N06"] {
        assert!(strata.contains(hood), "{strata}");
    }
    wd.find(By::Css("figure.bars svg rect")).await.unwrap();
    shot(&wd, "assessment-ratio-study").await;
    std::fs::remove_dir_all(&dir).ok();
}

async fn fill(wd: &WebDriver, id: &str, value: &str) {
    let e = wd.find(By::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// The finance main flow in a browser: books, a year, an entry, posting, the trial balance.
async fn a_finance_director_sets_up_books_and_posts_an_entry(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "townadmin.hartford", PASSWORD).await;
    // From the town page's sidebar to the finance pages.
    wd.goto(format!("{base}/t/hartford")).await.unwrap();
    click_and_wait(&wd, By::LinkText("Finance")).await;
    assert_eq!(
        wd.current_url().await.unwrap().path(),
        "/t/hartford/finance"
    );

    fill(&wd, "f-code", "1005").await;
    fill(&wd, "f-name", "General Fund").await;
    click_and_wait(&wd, By::XPath("//form[.//input[@id='f-code']]//button")).await;
    assert_eq!(flash_text(&wd).await, "Fund 1005 General Fund added.");
    for (account, name) in [
        ("1005-00-0000-00000-10100-000", "Cash"),
        ("1005-00-0000-00000-20100-000", "Accounts payable"),
        ("1005-42-4201-00000-51000-000", "Police wages"),
    ] {
        fill(&wd, "a-account", account).await;
        fill(&wd, "a-name", name).await;
        click_and_wait(&wd, By::XPath("//form[.//input[@id='a-account']]//button")).await;
        assert_eq!(
            flash_text(&wd).await,
            format!("Account {account} {name} added.")
        );
    }
    fill(&wd, "fy", "2027").await;
    click_and_wait(&wd, By::XPath("//form[.//input[@id='fy']]//button")).await;
    assert!(flash_text(&wd).await.starts_with("FY 2026-27 is open"));
    shot(&wd, "finance-books").await;

    // A journal entry: save the draft, then post it.
    click_and_wait(&wd, By::LinkText("Journal")).await;
    fill(&wd, "e-date", "11/20/2026").await;
    fill(&wd, "e-desc", "Police payroll 11/20").await;
    for (name, value) in [
        ("account_1", "1005-42-4201-00000-51000-000"),
        ("debit_1", "84,321.57"),
        ("account_2", "1005-00-0000-00000-10100-000"),
        ("credit_2", "84,321.57"),
    ] {
        wd.find(By::Name(name))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    shot(&wd, "finance-journal").await;
    click_and_wait(&wd, By::Css("#new-entry button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Draft saved. Check it, then post it."
    );
    click_and_wait(&wd, By::Id("post-entry")).await;
    assert_eq!(flash_text(&wd).await, "Entry 1 is posted.");
    shot(&wd, "finance-entry").await;

    // The trial balance is in balance and shows the payroll.
    click_and_wait(&wd, By::LinkText("Trial balance")).await;
    let table = wd
        .find(By::Id("trial-balance"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("Police wages expenditure 1005 $84,321.57 $0.00 $84,321.57")
            && table.contains("in balance"),
        "{table}"
    );
    shot(&wd, "finance-trial-balance").await;

    // Adopt a budget for the account and see what is left of it.
    click_and_wait(&wd, By::LinkText("Budget")).await;
    wd.find(By::Id("a-lines"))
        .await
        .unwrap()
        .send_keys("1005-42-4201-00000-51000-000, 1,000,000.00")
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#adopt-budget button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Budget for FY 2026-27 adopted for 1 account."
    );
    let bva = wd
        .find(By::Id("budget-vs-actual"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        bva.contains("$1,000,000.00 $0.00 $1,000,000.00 $84,321.57 $0.00 $915,678.43"),
        "{bva}"
    );
    shot(&wd, "finance-budget").await;

    // The fund statements tie out; the purchasing page offers a vendor form.
    click_and_wait(&wd, By::LinkText("Statements")).await;
    assert!(text(&wd).await.contains("Fund 1005 General Fund balances"));
    shot(&wd, "finance-statements").await;
    click_and_wait(&wd, By::PartialLinkText("Purchasing")).await;

    // Pay a vendor by ACH: add the vendor, set up the books' origination, put the
    // vendor's bank account on file, enter and approve an invoice, run payables
    // and make the NACHA file.
    fill(&wd, "v-name", "Acme Paving LLC").await;
    fill(&wd, "v-remit", "12 Main St, Hartford CT 06103").await;
    click_and_wait(&wd, By::Css("#new-vendor button[type=submit]")).await;
    assert_eq!(flash_text(&wd).await, "Vendor Acme Paving LLC added.");
    fill(&wd, "o-routing", "011000015").await;
    fill(&wd, "o-bank", "Federal Reserve Bank").await;
    fill(&wd, "o-company", "Town of Hartford").await;
    fill(&wd, "o-id", "1066001234").await;
    click_and_wait(&wd, By::Css("#ach-originator button[type=submit]")).await;
    assert!(
        flash_text(&wd)
            .await
            .starts_with("ACH files are sent through Federal Reserve Bank (011000015)")
    );
    fill(&wd, "b-routing", "021000021").await;
    fill(&wd, "b-account", "123456789").await;
    fill(&wd, "b-confirm", "123456789").await;
    click_and_wait(&wd, By::Css("#bank-account button[type=submit]")).await;
    assert!(
        flash_text(&wd)
            .await
            .starts_with("Bank account checking ••••6789 at 021000021 is on file")
    );
    fill(&wd, "i-number", "1001").await;
    fill(&wd, "i-desc", "Paving, Main St").await;
    fill(&wd, "i-lines", "1005-42-4201-00000-51000-000, 1,250.50").await;
    click_and_wait(&wd, By::Css("#new-invoice button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Invoice 1001 from Acme Paving LLC entered; approve it to post it."
    );
    click_and_wait(
        &wd,
        By::XPath("//table[@id='invoices']//button[text()='Approve']"),
    )
    .await;
    assert_eq!(
        flash_text(&wd).await,
        "Invoice 1001 is approved and posted."
    );
    click_confirm_and_wait(&wd, By::XPath("//form[.//input[@id='pay-date']]//button")).await;
    assert!(
        flash_text(&wd)
            .await
            .contains("is posted; its check register and ACH file")
    );
    let runs = wd
        .find(By::Id("payment-runs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(runs.contains("2026-11-26 $1,250.50 0 1"), "{runs}");
    // The file downloads (the page stays); the run then counts it.
    wd.find(By::XPath(
        "//table[@id='payment-runs']//button[text()='Make the ACH file']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wd.accept_alert().await.unwrap();
    let mut made = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        wd.refresh().await.unwrap();
        made = wd
            .find(By::Id("payment-runs"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if made.contains("Make the ACH file again (1 made)") {
            break;
        }
    }
    assert!(made.contains("Make the ACH file again (1 made)"), "{made}");
    assert!(
        text(&wd)
            .await
            .contains("ACH (CCD) to checking ••••6789 at 021000021")
    );
    shot(&wd, "finance-purchasing").await;

    // History from a file: upload it, watch the job run, see what it posted.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(munishare_platform::jobs::run_worker(
        munishare::jobs(),
        app.jobs.clone(),
        munishare_platform::jobs::Waker::default(),
        Duration::from_millis(200),
        stopped,
    ));
    let file = std::env::temp_dir().join(format!("august-{}.csv", uuid::Uuid::now_v7().simple()));
    std::fs::write(
        &file,
        "reference,date,description,account,debit,credit\n\
         GL-801,2026-08-31,August payroll,1005-42-4201-00000-51000-000,\"12,500.00\",\n\
         GL-801,2026-08-31,August payroll,1005-00-0000-00000-10100-000,,12500.00\n",
    )
    .unwrap();
    click_and_wait(&wd, By::LinkText("Imports")).await;
    wd.find(By::Id("import-kind"))
        .await
        .unwrap()
        .send_keys("Journal lines")
        .await
        .unwrap();
    wd.find(By::Id("import-file"))
        .await
        .unwrap()
        .send_keys(file.display().to_string())
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("#upload-import button[type=submit]")).await;
    // The page polls the job and reloads when it has finished.
    let summary = wd
        .query(By::Id("import-summary"))
        .wait(Duration::from_secs(20), Duration::from_millis(200))
        .first()
        .await
        .unwrap();
    let summary = summary.text().await.unwrap();
    assert!(
        summary.contains("entries posted") && summary.contains("$12,500.00"),
        "{summary}"
    );
    shot(&wd, "finance-import").await;

    // Compare with the neighbours: opt in, and the chart and table appear.
    click_and_wait(&wd, By::LinkText("Regional benchmarks")).await;
    click_and_wait(&wd, By::Css("#sharing-form button[type=submit]")).await;
    let table = wd
        .find(By::Id("benchmarks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("Public Safety") && table.contains("Hartford"),
        "{table}"
    );
    wd.find(By::Css("figure.bars svg rect.bar-mine"))
        .await
        .unwrap();
    shot(&wd, "finance-benchmarks").await;
    // The UCOA crosswalk page: these books are on UCOA strings.
    click_and_wait(&wd, By::LinkText("UCOA crosswalk")).await;
    assert!(text(&wd).await.contains("are on UCOA account strings"));
    shot(&wd, "finance-crosswalk").await;
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = std::fs::remove_file(file);
    wd.quit().await.unwrap();
}

async fn sign_in_create_a_user_and_grant_see_the_audit_entry_and_switch_town(app: TestApp) {
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let (_driver, wd) = browser().await;

        // The sign-in page, then a wrong password: the message says what happened.
        wd.goto(format!("{base}/signin")).await.unwrap();
        shot(&wd, "signin").await;
        wd.find(By::Id("username"))
            .await
            .unwrap()
            .send_keys("admin")
            .await
            .unwrap();
        wd.find(By::Id("password"))
            .await
            .unwrap()
            .send_keys("not the password")
            .await
            .unwrap();
        click_and_wait(&wd, By::Css("form.stacked button[type=submit]")).await;
        let err = wd
            .find(By::Id("signin-error"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            err.contains("After 4 more failed attempts the account will be locked for 15 minutes"),
            "{err}"
        );

        sign_in(&wd, &base, "admin", &app.creds.admin_password).await;
        wd.goto(format!("{base}/admin/towns")).await.unwrap();
        assert!(text(&wd).await.contains("38 towns"));
        shot(&wd, "admin-towns").await;

        // Create a user.
        wd.goto(format!("{base}/admin/users")).await.unwrap();
        wd.find(By::Id("u-username"))
            .await
            .unwrap()
            .send_keys("jane.doe")
            .await
            .unwrap();
        wd.find(By::Id("u-name"))
            .await
            .unwrap()
            .send_keys("Jane Doe")
            .await
            .unwrap();
        wd.find(By::Id("u-email"))
            .await
            .unwrap()
            .send_keys("jdoe@westhartford.example")
            .await
            .unwrap();
        click_and_wait(&wd, By::Css("#new-user button[type=submit]")).await;
        let flash = flash_text(&wd).await;
        assert!(
            flash.contains("User jane.doe created. Temporary password"),
            "{flash}"
        );
        assert!(
            wd.current_url()
                .await
                .unwrap()
                .path()
                .starts_with("/admin/users/")
        );

        // Grant her West Hartford's finance as a finance director.
        wd.find(By::XPath(
            "//select[@id='g-role']/option[starts-with(normalize-space(.), 'Finance director')]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wd.find(By::Css("#g-town option[value='west-hartford']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wd.find(By::Css("#g-service option[value='finance']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click_and_wait(&wd, By::Css("#new-grant button[type=submit]")).await;
        let flash = flash_text(&wd).await;
        assert_eq!(
            flash,
            "Granted Finance director to jane.doe in West Hartford (only finance)."
        );
        assert!(
            wd.find(By::Id("grants"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("West Hartford")
        );
        shot(&wd, "admin-user").await;

        // The grant is in the audit log, with who did it.
        wd.goto(format!("{base}/audit?entity_type=grant"))
            .await
            .unwrap();
        let rows = wd
            .find(By::Id("audit-table"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let first = rows.lines().nth(1).unwrap_or_default().to_owned();
        assert!(
            first.contains("West Hartford")
                && first.contains("admin")
                && first.contains("grant.create"),
            "{rows}"
        );
        shot(&wd, "audit").await;
        wd.goto(format!("{base}/admin/jobs")).await.unwrap();
        shot(&wd, "admin-jobs").await;

        // The council administrator imports OPM's sales; each member town's ratio study appears.
        click_and_wait(&wd, By::LinkText("Ratio studies")).await;
        assert!(text(&wd).await.contains("No OPM sales are imported yet."));
        let sales = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assessment/seed/opm_sales_crcog.csv");
        wd.find(By::Id("opm-file"))
            .await
            .unwrap()
            .send_keys(std::fs::canonicalize(sales).unwrap().display().to_string())
            .await
            .unwrap();
        click_and_wait(&wd, By::Css("#import-opm-sales button[type=submit]")).await;
        assert_eq!(
            flash_text(&wd).await,
            "opm_sales_crcog.csv: 2431 sales read, 2431 new, 0 replaced."
        );
        let table = wd
            .find(By::Id("ratio-studies"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(table.contains("Manchester 304 230 5 0.5538"), "{table}");
        wd.find(By::Css("figure.bars svg rect.bar-fail"))
            .await
            .unwrap();
        shot(&wd, "ratio-studies").await;
        // One town in detail: the scatter of ratio against price, and the strata.
        click_and_wait(&wd, By::LinkText("Manchester")).await;
        assert_eq!(
            wd.find(By::Css("#scatter circle.dot"))
                .await
                .unwrap()
                .tag_name()
                .await
                .unwrap(),
            "circle"
        );
        let strata = wd
            .find(By::Id("strata-price"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(strata.contains("$76,000 – $220,000"), "{strata}");
        shot(&wd, "ratio-study-town").await;

        // Sign out; shared staff switch between their towns in the header.
        click_and_wait(&wd, By::Css("nav.user button")).await;
        wd.find(By::Id("username")).await.unwrap();
        sign_in(&wd, &base, "field.assessor", PASSWORD).await;
        let home = text(&wd).await;
        for town in ["East Hartford", "Hartford", "Manchester", "Wethersfield"] {
            assert!(home.contains(town), "{home}");
        }
        shot(&wd, "home").await;
        wd.find(By::Css("#town-switch option[value='/t/manchester']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for _ in 0..50 {
            if wd.current_url().await.unwrap().path() == "/t/manchester" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(wd.current_url().await.unwrap().path(), "/t/manchester");
        assert_eq!(
            wd.find(By::Tag("h1")).await.unwrap().text().await.unwrap(),
            "Manchester"
        );
        let selected = wd
            .find(By::Css("#town-switch option[selected]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(selected, "Manchester");
        shot(&wd, "town").await;
        wd.quit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valuation_flow_on_sqlite() {
    crate::harness::run(Backend::Sqlite, an_assessor_runs_compares_and_adopts_models).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valuation_flow_on_postgres() {
    crate::harness::run(
        Backend::Postgres,
        an_assessor_runs_compares_and_adopts_models,
    )
    .await;
}

/// The valuation flow in a browser: a regression run and a cost run created
/// from the form, valued by the job worker, compared, and one adopted.
async fn an_assessor_runs_compares_and_adopts_models(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // The demo's generated roll and sales, imported through the API.
    let today = time::macros::date!(2026 - 11 - 26);
    let roll = munishare_assessment::demo::generate(
        "Hartford",
        160_000.0,
        600,
        munishare_assessment::demo::valuation_date(today),
        today,
        11,
    );
    let assessor = app.demo_session("assessor.hartford").await;
    for (path, body) in [
        ("parcel-imports?file_name=roll.csv", &roll.parcels_csv),
        (
            "sale-imports?file_name=sales.csv&layout=csv",
            &roll.sales_csv,
        ),
    ] {
        let r = app
            .raw(
                axum::http::Method::POST,
                &format!("/api/v1/towns/hartford/assessment/{path}"),
                &assessor,
                Some("text/csv"),
                body.clone().into_bytes(),
            )
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.text());
    }

    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "assessor.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/assessment"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("Valuation")).await;
    assert_eq!(
        wd.current_url().await.unwrap().path(),
        "/t/hartford/assessment/valuation"
    );
    // The town's land schedule: one neighbourhood of the roll gets its own, from the table.
    click_and_wait(&wd, By::LinkText("Cost & land schedule")).await;
    let unscheduled = wd
        .find(By::Id("unscheduled"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first = unscheduled
        .split_once(": ")
        .and_then(|(_, list)| list.trim_end_matches('.').split(", ").next())
        .unwrap()
        .to_owned();
    // The illustrative schedule has only the default row; the next row is a blank neighbourhood.
    for (name, value) in [
        ("code", first.as_str()),
        ("base_lot_sqft", "20000"),
        ("site_value", "95000"),
        ("tiers", "0:30000, 3:9000"),
    ] {
        let e = wd
            .find(By::Css(format!(
                "#land-rows tbody tr:nth-child(2) input[name={name}]"
            )))
            .await
            .unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }
    click_and_wait(&wd, By::Css("#land-schedule button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "The cost schedule is saved (version 1): 1 neighbourhood and 0 zone land schedules."
    );
    let unscheduled = wd
        .find(By::Id("unscheduled"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let left: Vec<&str> = unscheduled
        .split_once(": ")
        .map(|(_, l)| l.trim_end_matches('.').split(", ").collect())
        .unwrap_or_default();
    assert!(
        !left.is_empty() && !left.contains(&first.as_str()),
        "{unscheduled}"
    );
    shot(&wd, "assessment-cost-schedule").await;
    click_and_wait(&wd, By::LinkText("Valuation")).await;

    // A run that cannot work is refused with the field named, and nothing is queued.
    fill(&wd, "run-name", "Regression 2025").await;
    fill(&wd, "run-date", "12/01/2027").await;
    click_and_wait(&wd, By::Css("#new-run button[type=submit]")).await;
    let refused = flash_text(&wd).await;
    assert!(refused.contains("valuation_date"), "{refused}");
    // The regression, then the cost approach.
    for (name, approach) in [("Regression 2025", "regression"), ("Cost 2025", "cost")] {
        fill(&wd, "run-name", name).await;
        wd.find(By::Css(format!("#run-approach option[value='{approach}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click_and_wait(&wd, By::Css("#new-run button[type=submit]")).await;
        assert_eq!(flash_text(&wd).await, format!("The run {name} is queued."));
        let state = wd
            .find(By::Id("run-state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(state, "queued");
        // The job worker values the parcels; the page then shows the run done.
        assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
        wd.refresh().await.unwrap();
        let state = wd
            .find(By::Id("run-state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(state, "done", "{}", text(&wd).await);
        wd.find(By::Css("#run-ratio")).await.unwrap();
        if approach == "regression" {
            wd.find(By::Css("#run-terms")).await.unwrap();
            shot(&wd, "assessment-model-run").await;
        }
        wd.goto(format!("{base}/t/hartford/assessment/valuation"))
            .await
            .unwrap();
    }
    let runs = wd.find(By::Id("runs")).await.unwrap().text().await.unwrap();
    assert!(
        runs.contains("Regression 2025") && runs.contains("Cost 2025"),
        "{runs}"
    );
    shot(&wd, "assessment-valuation").await;

    // Both compared: the table and the chart.
    for cb in wd
        .find_all(By::Css("#runs input[type=checkbox]"))
        .await
        .unwrap()
    {
        cb.click().await.unwrap();
    }
    click_and_wait(&wd, By::Css("#compare-runs button[type=submit]")).await;
    let fit = wd
        .find(By::Id("compare-fit"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fit.contains("Regression 2025") && fit.contains("Cost 2025"),
        "{fit}"
    );
    wd.find(By::Css("figure.bars svg rect")).await.unwrap();
    shot(&wd, "assessment-valuation-compare").await;

    // The regression adopted into the roll.
    wd.goto(format!("{base}/t/hartford/assessment/valuation"))
        .await
        .unwrap();
    click_and_wait(&wd, By::LinkText("Regression 2025")).await;
    click_confirm_and_wait(&wd, By::Css("#adopt-run button[type=submit]")).await;
    let adopted = flash_text(&wd).await;
    assert!(
        adopted.starts_with("Regression 2025 adopted:") && adopted.contains("parcels revalued"),
        "{adopted}"
    );
    // A parcel it valued explains its value.
    click_and_wait(&wd, By::Css("#run-values tbody tr:first-child a")).await;
    let x = wd
        .find(By::Id("parcel-explanation"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        x.contains("Regression 2025") && x.contains("ln(value)"),
        "{x}"
    );
    wd.execute(
        "document.getElementById('parcel-explanation').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    shot(&wd, "assessment-parcel-explanation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_flow_on_sqlite() {
    crate::harness::run(Backend::Sqlite, a_town_it_director_sets_up_backup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_flow_on_postgres() {
    crate::harness::run(Backend::Postgres, a_town_it_director_sets_up_backup).await;
}

/// Issue 5's story in a browser: the town's IT director creates a repository and a token for
/// host fs01, backs the file server up with the real client over HTTP, sees the host on the
/// backup page and sets its retention; the regional overview shows the town.
async fn a_town_it_director_sets_up_backup(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "townadmin.hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/hartford/backup")).await.unwrap();
    fill(&wd, "repo-name", "town-hall").await;
    click_and_wait(&wd, By::Css("#backup-create-repo button[type=submit]")).await;
    assert!(
        flash_text(&wd).await.contains("town-hall"),
        "{}",
        flash_text(&wd).await
    );
    fill(&wd, "tok-host", "fs01").await;
    click_and_wait(&wd, By::Css("#backup-create-token button[type=submit]")).await;
    let secret = wd
        .find(By::Id("new-token-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.starts_with("msb_"), "{secret}");

    // The file server backs up with the client, over HTTP, with that token.
    let dir = std::env::temp_dir().join(format!("munishare-fs01-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("minutes")).unwrap();
    std::fs::write(
        dir.join("minutes/2026-11-17.txt"),
        "Board of Selectmen, regular meeting.\n".repeat(500),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_munishare"))
            .args(&args)
            .env("MUNISHARE_BACKUP_PASSWORD", "town hall fs01")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let server = [
        "--server".to_string(),
        base.clone(),
        "--token".into(),
        secret.clone(),
    ];
    let (init_base, backup_base, drill_base) = (server.to_vec(), server.to_vec(), server.to_vec());
    tokio::task::spawn_blocking(move || {
        run([vec!["init".into()], init_base].concat());
        let out = run([
            vec!["backup".into(), "--host".into(), "fs01".into()],
            backup_base,
            vec![dir.to_string_lossy().into_owned()],
        ]
        .concat());
        assert!(out.contains("Files:     1 new"), "{out}");
        let out = run([
            vec!["drill".into(), "--subset".into(), "1/1".into()],
            drill_base,
        ]
        .concat());
        assert!(out.contains("Drill passed."), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
    // The hourly meter reads the town's stored bytes.
    let registry = munishare::jobs();
    registry
        .schedule_due(
            &app.db,
            munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock)),
        )
        .await
        .unwrap();
    while registry.run_one(&app.jobs).await.unwrap() {}

    wd.goto(format!("{base}/t/hartford/backup")).await.unwrap();
    let hosts = wd
        .find(By::Id("backup-hosts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(hosts.contains("fs01") && hosts.contains("ok"), "{hosts}");
    wd.execute(
        "document.querySelector('#backup-retention input[name=keep_daily]').value = '7';",
        vec![],
    )
    .await
    .unwrap();
    click_and_wait(&wd, By::Css("#backup-retention button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Retention for fs01 saved; it applies the next time retention runs."
    );
    // The drill the client reported, and its interval set in the form.
    let drills = wd
        .find(By::Id("backup-drills"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        drills.contains("passed") && drills.contains("from fs01"),
        "{drills}"
    );
    wd.execute(
        "document.querySelector('#backup-drills input[name=drill_interval_days]').value = '14';",
        vec![],
    )
    .await
    .unwrap();
    click_and_wait(&wd, By::Css("#backup-drills button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "A restore drill of town-hall is expected every 14 days."
    );
    // The replication section loads into the page; "Replicate now" copies the backup to the
    // replica store, and the section then shows it complete with no lag.
    let section = wd
        .find(By::Css("#backup-replication-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(section.contains("town-hall"), "{section}");
    click_and_wait(&wd, By::Css("#backup-replication button[type=submit]")).await;
    let flash = flash_text(&wd).await;
    assert!(flash.ends_with("the replica is complete."), "{flash}");
    let section = wd
        .find(By::Css("#backup-replication-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        section.contains("complete") && section.contains("0 s"),
        "{section}"
    );
    shot(&wd, "backup-town").await;
    wd.execute(
        "document.getElementById('backup-replication').scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    shot(&wd, "backup-replication").await;
    wd.goto(format!("{base}/backup")).await.unwrap();
    let regional = text(&wd).await;
    assert!(
        regional.contains("Hartford") && regional.contains("Replication lag"),
        "{regional}"
    );
    shot(&wd, "backup-regional").await;
    // Usage for the chargeback: this month's GB-months, as a chart and a table.
    wd.goto(format!("{base}/backup/usage?month=2026-11"))
        .await
        .unwrap();
    let usage = wd
        .find(By::Id("usage-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        usage.contains("Hartford") && usage.contains("1 of 30"),
        "{usage}"
    );
    wd.find(By::Id("usage-chart")).await.unwrap();
    shot(&wd, "backup-usage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_disposal_on_sqlite() {
    crate::harness::run(Backend::Sqlite, a_records_officer_holds_and_disposes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_disposal_on_postgres() {
    crate::harness::run(Backend::Postgres, a_records_officer_holds_and_disposes).await;
}

/// West Hartford's records officer, in the browser: the records past retention, a legal hold
/// that makes one ineligible, a disposal batch of another, its approval with the RC-075-style
/// authorization, and its destruction to a tombstone. The catalog and the town's types are set up
/// through the API as the retention tests do (their rules: bills 3 years after fiscal year end).
async fn a_records_officer_holds_and_disposes(app: TestApp) {
    use crate::records_retention::{catalog, file, types};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let officer = app.demo_session("townadmin.west-hartford").await;
    catalog(&app).await;
    types(&app, &officer).await;
    let august = file(
        &app,
        &officer,
        "filename=a.txt&title=Bill%20of%20August&type=Bills&document_date=2019-08-15",
        b"august",
    )
    .await;
    let june = file(
        &app,
        &officer,
        "filename=b.txt&title=Bill%20of%20June&type=Bills&document_date=2019-06-10",
        b"june",
    )
    .await;
    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "townadmin.west-hartford", PASSWORD).await;

    // A hold on June's bill, from the holds page's form.
    wd.goto(format!("{base}/t/west-hartford/records/holds"))
        .await
        .unwrap();
    fill(&wd, "h-target", june["id"].as_str().unwrap()).await;
    fill(&wd, "h-matter", "Vendor dispute 2026-7").await;
    fill(&wd, "h-reason", "Town attorney's letter").await;
    click_and_wait(&wd, By::Css("#hold-place button[type=submit]")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Hold 'Vendor dispute 2026-7' placed on Bill of June."
    );
    shot(&wd, "records-holds").await;

    // Past retention: both bills (the first ended 2023-06-30, the second 2022-06-30); only
    // August's can be picked, June's says which hold keeps it.
    wd.goto(format!("{base}/t/west-hartford/records/disposition"))
        .await
        .unwrap();
    let due = wd
        .find(By::Css("#due-batch table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        due.contains("Bill of August") && due.contains("Bill of June"),
        "{due}"
    );
    assert!(due.contains("Vendor dispute 2026-7"), "{due}");
    assert_eq!(
        wd.find_all(By::Css("#due-batch input[type=checkbox]"))
            .await
            .unwrap()
            .len(),
        1
    );
    shot(&wd, "records-disposition").await;
    wd.find(By::Id(format!("pick-{}", august["id"].as_str().unwrap())))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&wd, "b-agency", "Finance Department").await;
    click_and_wait(&wd, By::Css("#due-batch button[type=submit]")).await;
    assert!(
        wd.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/t/west-hartford/records/disposition/")
    );
    click_and_wait(&wd, By::Css("#batch-approve button[type=submit]")).await;
    let page = text(&wd).await;
    assert!(page.contains("Download the authorization"), "{page}");
    shot(&wd, "records-batch").await;
    click_and_wait(&wd, By::Css("#batch-destroy button[type=submit]")).await;
    let page = text(&wd).await;
    assert!(page.contains("destroyed (tombstone)"), "{page}");
    // Gone from the records; June's bill, held, is still there.
    let gone = app
        .api(
            axum::http::Method::GET,
            &format!(
                "/api/v1/towns/west-hartford/records/documents/{}",
                august["id"].as_str().unwrap()
            ),
            &officer,
            None,
        )
        .await;
    assert_eq!(gone.status, axum::http::StatusCode::NOT_FOUND);
    let kept = app
        .api(
            axum::http::Method::GET,
            &format!(
                "/api/v1/towns/west-hartford/records/documents/{}",
                june["id"].as_str().unwrap()
            ),
            &officer,
            None,
        )
        .await;
    assert_eq!(kept.status, axum::http::StatusCode::OK);

    // June's bill belongs with a parcel: from the parcel's page, find it in the records picker
    // and attach it; the parcel lists it.
    crate::records_links::parcel(
        &app,
        &officer,
        "west-hartford",
        "WH-7-1",
        "17 Farmington Ave",
    )
    .await;
    wd.goto(format!("{base}/t/west-hartford/assessment/parcels/WH-7-1"))
        .await
        .unwrap();
    fill(&wd, "related-q", "june").await;
    click_and_wait(&wd, By::Css("#related-attach button[type=submit]")).await;
    assert!(
        text(&wd)
            .await
            .contains("Attach a document to Parcel WH-7-1")
    );
    click_and_wait(&wd, By::Css("button[aria-label='Attach Bill of June']")).await;
    assert_eq!(
        flash_text(&wd).await,
        "Attached to Parcel WH-7-1, 17 Farmington Ave."
    );
    assert_eq!(
        wd.current_url().await.unwrap().path(),
        "/t/west-hartford/assessment/parcels/WH-7-1"
    );
    let listed = wd
        .find(By::Id("related-documents-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("Bill of June"), "{listed}");
    wd.find(By::Id("related-documents"))
        .await
        .unwrap()
        .scroll_into_view()
        .await
        .unwrap();
    shot(&wd, "parcel-related-documents").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_flow_on_sqlite() {
    crate::harness::run(Backend::Sqlite, a_clerk_drops_several_files_into_records).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_flow_on_postgres() {
    crate::harness::run(Backend::Postgres, a_clerk_drops_several_files_into_records).await;
}

/// A records clerk files three files at once through the drop zone's script
/// (one API call per file): two land, the third (not an accepted kind) is
/// refused by name while the others still land; the clerk opens one.
async fn a_clerk_drops_several_files_into_records(app: TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let dir = std::env::temp_dir().join(format!(
        "munishare-records-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        (
            "minutes-2026-11-03.txt",
            &b"Minutes of the Board of Selectmen, November 3, 2026"[..],
        ),
        ("setup.exe", &b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"[..]),
        ("permit-0412.pdf", &b"%PDF-1.4\n%%EOF\n"[..]),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        paths.push(p.display().to_string());
    }
    let (_driver, wd) = browser().await;
    sign_in(&wd, &base, "records.west-hartford", PASSWORD).await;
    wd.goto(format!("{base}/t/west-hartford/records"))
        .await
        .unwrap();
    wd.find(By::Id("records-files"))
        .await
        .unwrap()
        .send_keys(paths.join("\n"))
        .await
        .unwrap();
    wd.find(By::Css(
        "#records-upload select[name=department] option[value=CLK]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wd.find(By::Css("#records-upload button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut results = String::new();
    for _ in 0..200 {
        results = wd
            .find(By::Id("records-upload-results"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if results.lines().count() == 3 && !results.contains("sending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        results.contains("minutes-2026-11-03.txt: filed."),
        "{results}"
    );
    assert!(results.contains("permit-0412.pdf: filed."), "{results}");
    assert!(
        results.contains("setup.exe: file: \"setup.exe\" is not a kind of file"),
        "{results}"
    );
    assert_eq!(
        wd.find_all(By::Css("#records-upload-results li.ok"))
            .await
            .unwrap()
            .len(),
        2
    );
    wd.find(By::Id("records-upload-results"))
        .await
        .unwrap()
        .scroll_into_view()
        .await
        .unwrap();
    shot(&wd, "records-town").await;
    click_and_wait(&wd, By::Css("#records-upload-results li.ok a")).await;
    let page = text(&wd).await;
    assert!(page.contains("Town Clerk"), "{page}");
    assert!(
        page.contains("minutes-2026-11-03.txt") || page.contains("permit-0412.pdf"),
        "{page}"
    );
    shot(&wd, "records-document").await;

    // Search: the words of the title find it; the facet narrows to the Town Clerk's documents;
    // the search is saved under a name and listed.
    // The text jobs read the files (the server's worker does this by itself).
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}
    wd.goto(format!("{base}/t/west-hartford/records/search"))
        .await
        .unwrap();
    fill(&wd, "s-q", "minute").await;
    click_and_wait(&wd, By::Css("#records-search-form button[type=submit]")).await;
    let hits = wd
        .find(By::Id("records-hits"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(hits.starts_with("1 document"), "{hits}");
    assert!(hits.contains("minutes-2026-11-03"), "{hits}");
    let snippet = wd
        .find(By::Css("#records-hits .snippet b"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(snippet, "Minutes");
    let facet = wd
        .find(By::Id("facet-department"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        facet.split_whitespace().collect::<Vec<_>>(),
        ["Town", "Clerk", "1"]
    );
    click_and_wait(&wd, By::Css("#facet-department a")).await;
    let url = wd.current_url().await.unwrap();
    assert!(url.as_str().ends_with("?q=minute&department=CLK"), "{url}");
    fill(&wd, "save-name", "Clerk's minutes").await;
    click_and_wait(&wd, By::Css("#records-save-search button[type=submit]")).await;
    assert!(
        flash_text(&wd)
            .await
            .contains("Saved the search as 'Clerk's minutes'.")
    );
    let saved = wd
        .find(By::Id("records-saved-searches"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(saved.contains("Clerk's minutes"), "{saved}");
    shot(&wd, "records-search").await;

    // The council's scanning bureau files a scan into West Hartford through the same drop zone
    // and sees only what it filed; its pages are metered for the chargeback.
    click_and_wait(&wd, By::Css("form[action='/signout'] button")).await;
    sign_in(&wd, &base, "scan.bureau", PASSWORD).await;
    wd.goto(format!("{base}/t/west-hartford/records"))
        .await
        .unwrap();
    assert!(
        text(&wd)
            .await
            .contains("You file records for West Hartford as the scanning bureau")
    );
    let scan = dir.join("tax-map-12.pdf");
    std::fs::write(
        &scan,
        crate::records_text::text_pdf(&["Tax map sheet 12"], 14),
    )
    .unwrap();
    wd.find(By::Id("records-files"))
        .await
        .unwrap()
        .send_keys(scan.display().to_string())
        .await
        .unwrap();
    wd.find(By::Css("#records-upload button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut filed = String::new();
    for _ in 0..200 {
        filed = wd
            .find(By::Id("records-upload-results"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !filed.contains("sending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(filed.starts_with("tax-map-12.pdf: filed."), "{filed}");
    wd.goto(format!("{base}/t/west-hartford/records"))
        .await
        .unwrap();
    let rows = wd
        .find_all(By::Css("#records-documents tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{}", text(&wd).await);
    let row = rows[0].text().await.unwrap();
    assert!(row.contains("tax-map-12"), "{row}");
    shot(&wd, "records-bureau").await;
    while registry.run_one(&app.jobs).await.unwrap() {}
    // Its preview: the page rendered on the server, 1,200 pixels high, loads as an image.
    click_and_wait(&wd, By::Css("#records-documents tbody a")).await;
    let mut height = serde_json::Value::Null;
    for _ in 0..100 {
        height = wd
            .execute(
                "const i = document.querySelector('#records-preview img'); return i && i.complete ? i.naturalHeight : -1;",
                Vec::new(),
            )
            .await
            .unwrap()
            .json()
            .clone();
        if height != serde_json::json!(-1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(height, serde_json::json!(1200));
    assert!(text(&wd).await.contains("Page 1 of 1"));
    shot(&wd, "records-preview").await;
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    munishare_records::metering::measure(&app.db, now)
        .await
        .unwrap();
    click_and_wait(&wd, By::Css("form[action='/signout'] button")).await;
    sign_in(&wd, &base, "auditor", PASSWORD).await;
    wd.goto(format!("{base}/records/usage?month=2026-11"))
        .await
        .unwrap();
    // The bureau's one page; the clerk's "PDF" above is only a header, with no pages to count.
    let total = wd
        .find(By::Id("pages-total"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bureau = wd
        .find(By::Id("pages-bureau"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!((total.as_str(), bureau.as_str()), ("1", "1"));
    wd.find(By::Id("pages-chart")).await.unwrap();
    shot(&wd, "records-usage").await;
    let _ = std::fs::remove_dir_all(&dir);
}
