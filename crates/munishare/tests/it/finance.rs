//! Finance through the API and the pages, on both databases: a finance
//! director sets up the books, a clerk drafts, the director posts, and the
//! trial balance matches sums computed by hand.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(
    a_director_sets_up_books_and_a_clerk_drafts_entries,
    finance_pages_work_end_to_end,
    budgets_are_adopted_amended_and_compared_with_actuals,
);

const BASE: &str = "/api/v1/towns/hartford/finance";

async fn set_up(app: &TestApp, director: &Auth) {
    for (path, body) in [
        (
            "funds",
            json!({"code": "1005", "name": "General Fund", "fund_type": "general"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-10100-000", "name": "Cash"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-41000-000", "name": "Current property taxes"}),
        ),
        (
            "accounts",
            json!({"account": "1005-41-4107-00000-51000-000", "name": "Executive wages"}),
        ),
        ("periods", json!({"fiscal_year": 2027})),
    ] {
        let r = app
            .api(
                Method::POST,
                &format!("{BASE}/{path}"),
                director,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text());
    }
}

async fn a_director_sets_up_books_and_a_clerk_drafts_entries(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    // The clerk cannot set up books.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/funds"),
            &clerk,
            Some(json!({"code": "1005", "name": "General", "fund_type": "general"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    set_up(&app, &director).await;
    // Bad input names the field.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/accounts"),
            &director,
            Some(json!({"account": "1005-41-4107-0000-51000-000", "name": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "account");
    assert_eq!(
        r.json()["detail"],
        "account: the sub-department segment '0000' must be 5 digits"
    );
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/funds"),
            &director,
            Some(json!({"code": "1005", "name": "Again", "fund_type": "general"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/funds"),
            &director,
            Some(json!({"code": "2100", "name": "x", "fund_type": "magic"})),
        )
        .await;
    assert_eq!(r.json()["field"], "fund_type");

    let draft = |date: &str, description: &str, lines: serde_json::Value| json!({"date": date, "description": description, "lines": lines});
    let receipts = app
        .api(
            Method::POST,
            &format!("{BASE}/entries"),
            &clerk,
            Some(draft(
                "2026-09-01",
                "September tax receipts",
                json!([
                    {"account": "1005-00-0000-00000-10100-000", "debit": "2,400,000.00"},
                    {"account": "1005-00-0000-00000-41000-000", "credit": "2,400,000.00"}
                ]),
            )),
        )
        .await;
    assert_eq!(receipts.status, StatusCode::CREATED, "{}", receipts.text());
    assert_eq!(receipts.json()["status"], "draft");
    assert_eq!(receipts.json()["period"], 3);
    let id = receipts.json()["id"].as_str().unwrap().to_owned();
    // Clerks draft; posting needs approval.
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/entries/{id}/post"),
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let posted = app
        .api(
            Method::POST,
            &format!("{BASE}/entries/{id}/post"),
            &director,
            None,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
    assert_eq!(posted.json()["status"], "posted");
    assert_eq!(posted.json()["lines"][0]["debit"], "2400000.00");

    let payroll = app.api(Method::POST, &format!("{BASE}/entries"), &clerk, Some(draft("2026-10-15", "Payroll", json!([
        {"account": "1005-41-4107-00000-51000-000", "debit": "61,233.08", "memo": "Town manager's office"},
        {"account": "1005-00-0000-00000-10100-000", "credit": "61,233.80"}
    ])))).await.json();
    let pid = payroll["id"].as_str().unwrap().to_owned();
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/entries/{pid}/post"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["detail"],
        "lines: fund 1005 is out of balance by $0.72: debits $61,233.08, credits $61,233.80"
    );

    let tb = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=2026-11-26"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(tb.status, StatusCode::OK);
    let tb = tb.json();
    assert_eq!(tb["total_debits"], "2400000.00");
    assert_eq!(tb["total_credits"], "2400000.00");
    assert_eq!(
        tb["rows"].as_array().unwrap().len(),
        2,
        "the unposted payroll is not in it"
    );
    let early = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=2026-08-31"),
            &clerk,
            None,
        )
        .await
        .json();
    assert!(early["rows"].as_array().unwrap().is_empty());
    let bad = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=yesterday"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(bad.json()["field"], "as_of");

    // Reversal through the API.
    let rev = app
        .api(
            Method::POST,
            &format!("{BASE}/entries/{id}/reverse"),
            &director,
            Some(json!({"date": "2026-11-26"})),
        )
        .await;
    assert_eq!(rev.status, StatusCode::CREATED, "{}", rev.text());
    assert_eq!(rev.json()["lines"][0]["credit"], "2400000.00");
    let tb = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=2026-11-26"),
            &clerk,
            None,
        )
        .await
        .json();
    assert!(
        tb["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["balance"] == "0.00")
    );

    // The board of education keeps separate books.
    let boe = app
        .api(
            Method::GET,
            &format!("{BASE}/funds?entity=board_of_education"),
            &director,
            None,
        )
        .await
        .json();
    assert!(boe.as_array().unwrap().is_empty());
    let bad = app
        .api(
            Method::GET,
            &format!("{BASE}/funds?entity=school"),
            &director,
            None,
        )
        .await;
    assert_eq!(bad.json()["field"], "entity");
    // A town without the finance subscription has no finance at all, even
    // for the region's auditor, who may view finance everywhere: Bloomfield's
    // subscription starts only on 2027-07-01 (every other demo town subscribes).
    let auditor = app.demo_session("auditor").await;
    assert_eq!(
        app.api(
            Method::GET,
            "/api/v1/towns/bloomfield/finance/funds",
            &auditor,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::GET, "/t/bloomfield/finance", &auditor, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // …while East Hartford, which subscribes, answers its administrator.
    let east = app.demo_session("townadmin.east-hartford").await;
    assert_eq!(
        app.api(
            Method::GET,
            "/api/v1/towns/east-hartford/finance/funds",
            &east,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
}

async fn finance_pages_work_end_to_end(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let r = app
        .form(
            "/t/hartford/finance/funds",
            &director,
            &[
                ("entity", "town_government"),
                ("code", "1005"),
                ("name", "General Fund"),
                ("fund_type", "general"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    for (account, name) in [
        ("1005-00-0000-00000-10100-000", "Cash"),
        ("1005-00-0000-00000-43000-000", "Intergovernmental revenues"),
    ] {
        let r = app
            .form(
                "/t/hartford/finance/accounts",
                &director,
                &[
                    ("entity", "town_government"),
                    ("account", account),
                    ("name", name),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    app.form(
        "/t/hartford/finance/periods",
        &director,
        &[("entity", "town_government"), ("fiscal_year", "2027")],
    )
    .await;
    let overview = app
        .api(Method::GET, "/t/hartford/finance", &director, None)
        .await
        .text();
    assert!(
        overview.contains("General Fund")
            && overview.contains("1005-00-0000-00000-43000-000")
            && overview.contains("(adjustments)")
    );

    let r = app
        .form(
            "/t/hartford/finance/entries",
            &director,
            &[
                ("entity", "town_government"),
                ("date", "2026-11-02"),
                ("description", "ECS grant"),
                ("account_1", "1005-00-0000-00000-10100-000"),
                ("debit_1", "1,000,000.00"),
                ("credit_1", ""),
                ("account_2", "1005-00-0000-00000-43000-000"),
                ("debit_2", ""),
                ("credit_2", "1000000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let entry_page = r.location();
    assert!(
        entry_page.starts_with("/t/hartford/finance/entries/"),
        "{entry_page}"
    );
    let page = app
        .api(Method::GET, &entry_page, &director, None)
        .await
        .text();
    assert!(
        page.contains("ECS grant") && page.contains("$1,000,000.00") && page.contains("Post entry")
    );
    let r = app
        .form(&format!("{entry_page}/post"), &director, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app
        .api(Method::GET, &entry_page, &director, None)
        .await
        .text();
    assert!(page.contains(">posted<") && page.contains("Reverse"));

    // A bad line is refused with the line named, and nothing is saved.
    let r = app
        .form(
            "/t/hartford/finance/entries",
            &director,
            &[
                ("entity", "town_government"),
                ("date", "2026-11-02"),
                ("description", "Bad"),
                ("account_1", "1005-00-0000-00000-10100-000"),
                ("debit_1", "12.345"),
                ("account_2", "1005-00-0000-00000-43000-000"),
                ("credit_2", "12.35"),
            ],
        )
        .await;
    let flash = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flash.contains("lines%5B1%5D.debit") || flash.contains("lines[1].debit"),
        "{flash}"
    );

    let tb = app
        .api(
            Method::GET,
            "/t/hartford/finance/trial-balance?as_of=2026-11-26",
            &director,
            None,
        )
        .await
        .text();
    assert!(tb.contains("in balance") && tb.contains("$1,000,000.00"));
    let csv = app
        .api(
            Method::GET,
            "/t/hartford/finance/trial-balance?as_of=2026-11-26&format=csv",
            &director,
            None,
        )
        .await
        .text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "account,name,class,fund,debits,credits,balance");
    assert_eq!(
        lines[1],
        "1005-00-0000-00000-10100-000,Cash,asset,1005,1000000.00,0.00,1000000.00"
    );
    assert_eq!(
        lines[2],
        "1005-00-0000-00000-43000-000,Intergovernmental revenues,revenue,1005,0.00,1000000.00,-1000000.00"
    );
    assert_eq!(lines[3], "TOTAL,,,,1000000.00,1000000.00,");
    // The same report as a spreadsheet: read back, amounts are numbers.
    let xlsx = app
        .api(
            Method::GET,
            "/t/hartford/finance/trial-balance?as_of=2026-11-26&format=xlsx",
            &director,
            None,
        )
        .await;
    assert_eq!(
        xlsx.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut book: calamine::Xlsx<_> =
        calamine::Reader::new(std::io::Cursor::new(xlsx.body.clone())).unwrap();
    let range = calamine::Reader::worksheet_range(&mut book, "Sheet1").unwrap();
    let rows: Vec<Vec<calamine::Data>> = range.rows().map(<[calamine::Data]>::to_vec).collect();
    assert_eq!(rows[0][0], calamine::Data::String("account".into()));
    assert_eq!(
        rows[1][0],
        calamine::Data::String("1005-00-0000-00000-10100-000".into())
    );
    assert_eq!(rows[1][4], calamine::Data::Float(1_000_000.0));
    assert_eq!(rows[2][6], calamine::Data::Float(-1_000_000.0));
    let statements = app
        .api(
            Method::GET,
            "/t/hartford/finance/statements?as_of=2026-11-26",
            &director,
            None,
        )
        .await
        .text();
    assert!(
        statements.contains("Fund 1005 General Fund")
            && statements.contains(">balances<")
            && statements.contains("$1,000,000.00")
    );
    let api = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/statements?as_of=2026-11-26",
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            api[0]["assets"].as_str(),
            api[0]["revenues"].as_str(),
            api[0]["balances"].as_bool()
        ),
        (Some("1000000.00"), Some("1000000.00"), Some(true))
    );
    // The clerk sees the pages but not the set-up forms.
    let clerk = app.demo_session("clerk.hartford").await;
    let overview = app
        .api(Method::GET, "/t/hartford/finance", &clerk, None)
        .await
        .text();
    assert!(!overview.contains("Add fund"));
    let journal = app
        .api(Method::GET, "/t/hartford/finance/entries", &clerk, None)
        .await
        .text();
    assert!(journal.contains("Save draft"));
}

async fn budgets_are_adopted_amended_and_compared_with_actuals(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    set_up(&app, &director).await;
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/accounts"),
            &director,
            Some(json!({"account": "1005-42-4201-00000-51000-000", "name": "Police wages"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    const POLICE: &str = "1005-42-4201-00000-51000-000";
    const TAXES: &str = "1005-00-0000-00000-41000-000";
    // Only revenue and expenditure accounts carry a budget.
    let r = app.api(Method::POST, &format!("{BASE}/budgets"), &director, Some(json!({"fiscal_year": 2027, "lines": [{"account": "1005-00-0000-00000-10100-000", "amount": "1.00"}]}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "lines[1].account");
    let r = app.api(Method::POST, &format!("{BASE}/budgets"), &director, Some(json!({"fiscal_year": 2027, "lines": [
        {"account": EXEC, "amount": "450,000.00"}, {"account": POLICE, "amount": "1,200,000.00"}, {"account": TAXES, "amount": "1,650,000.00"}
    ]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["accounts"], 3);
    let again = app
        .api(
            Method::POST,
            &format!("{BASE}/budgets"),
            &director,
            Some(json!({"fiscal_year": 2027, "lines": [{"account": EXEC, "amount": "1.00"}]})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["field"], "lines[1].account");

    // A transfer must net to zero, and the message says by how much it does not.
    let bad = app.api(Method::POST, &format!("{BASE}/budget-changes"), &clerk, Some(json!({"fiscal_year": 2027, "kind": "transfer", "description": "Overtime",
        "lines": [{"account": EXEC, "amount": "-20,000.00"}, {"account": POLICE, "amount": "20,100.00"}]}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.json()["detail"],
        "lines: a transfer must net to zero; these lines net to $100.00"
    );
    let t = app.api(Method::POST, &format!("{BASE}/budget-changes"), &clerk, Some(json!({"fiscal_year": 2027, "kind": "transfer", "description": "Police overtime, BOF resolution 2026-14",
        "lines": [{"account": EXEC, "amount": "-20,000.00"}, {"account": POLICE, "amount": "20,000.00"}]}))).await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text());
    let tid = t.json()["id"].as_str().unwrap().to_owned();
    let a = app
        .api(
            Method::POST,
            &format!("{BASE}/budget-changes"),
            &clerk,
            Some(
                json!({"fiscal_year": 2027, "kind": "amendment", "description": "Rejected request",
        "lines": [{"account": POLICE, "amount": "99,999.00"}]}),
            ),
        )
        .await
        .json();
    let aid = a["id"].as_str().unwrap().to_owned();
    // Clerks propose; approvers decide.
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/budget-changes/{tid}/approve"),
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/budget-changes/{tid}/approve"),
            &director,
            None
        )
        .await
        .json()["status"],
        "approved"
    );
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/budget-changes/{aid}/reject"),
            &director,
            None
        )
        .await
        .json()["status"],
        "rejected"
    );
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/budget-changes/{tid}/reject"),
            &director,
            None
        )
        .await
        .status,
        StatusCode::CONFLICT
    );

    // Actuals: police payroll and tax receipts, posted.
    for (date, lines) in [
        (
            "2026-10-15",
            json!([{"account": POLICE, "debit": "1,205,000.00"}, {"account": "1005-00-0000-00000-10100-000", "credit": "1,205,000.00"}]),
        ),
        (
            "2026-09-01",
            json!([{"account": "1005-00-0000-00000-10100-000", "debit": "900,000.00"}, {"account": TAXES, "credit": "900,000.00"}]),
        ),
    ] {
        let e = app
            .api(
                Method::POST,
                &format!("{BASE}/entries"),
                &clerk,
                Some(json!({"date": date, "description": "activity", "lines": lines})),
            )
            .await
            .json();
        let id = e["id"].as_str().unwrap();
        assert_eq!(
            app.api(
                Method::POST,
                &format!("{BASE}/entries/{id}/post"),
                &director,
                None
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let bva = app
        .api(
            Method::GET,
            &format!("{BASE}/budget-vs-actual?as_of=2026-11-26"),
            &clerk,
            None,
        )
        .await
        .json();
    let row = |a: &str| {
        bva.as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == a)
            .unwrap()
            .clone()
    };
    // Hand-computed: police 1,200,000 + 20,000 = 1,220,000 revised; 1,205,000 spent; 15,000 left.
    let p = row(POLICE);
    assert_eq!(
        (
            p["adopted"].as_str(),
            p["changes"].as_str(),
            p["revised"].as_str()
        ),
        (Some("1200000.00"), Some("20000.00"), Some("1220000.00"))
    );
    assert_eq!(
        (p["actual"].as_str(), p["available"].as_str()),
        (Some("1205000.00"), Some("15000.00"))
    );
    let e = row(EXEC);
    assert_eq!(
        (
            e["revised"].as_str(),
            e["actual"].as_str(),
            e["available"].as_str()
        ),
        (Some("430000.00"), Some("0.00"), Some("430000.00"))
    );
    let t = row(TAXES);
    assert_eq!(
        (
            t["revised"].as_str(),
            t["actual"].as_str(),
            t["available"].as_str()
        ),
        (Some("1650000.00"), Some("900000.00"), Some("750000.00"))
    );

    let page = app
        .api(
            Method::GET,
            "/t/hartford/finance/budget?as_of=2026-11-26",
            &director,
            None,
        )
        .await
        .text();
    assert!(
        page.contains("$1,220,000.00")
            && page.contains("Police overtime, BOF resolution 2026-14")
            && page.contains(">rejected<")
    );
    // Adopting through the page's text area names the bad line.
    let r = app
        .form(
            "/t/hartford/finance/budget",
            &director,
            &[
                ("entity", "town_government"),
                ("fiscal_year", "2028"),
                ("lines", "1005-41-4107-00000-51000-000, 1.00\nnot a line"),
            ],
        )
        .await;
    let flash = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flash.contains("line+2") || flash.contains("line%202") || flash.contains("line 2"),
        "{flash}"
    );
}

crate::both_dbs!(appropriation_control_warns_or_blocks_overspending);

async fn appropriation_control_warns_or_blocks_overspending(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    set_up(&app, &director).await;
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    const CASH: &str = "1005-00-0000-00000-10100-000";
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/budgets"),
            &director,
            Some(json!({"fiscal_year": 2027, "lines": [{"account": EXEC, "amount": "10,000.00"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let draft = |amount: &str| json!({"date": "2026-11-02", "description": "Executive payroll", "lines": [{"account": EXEC, "debit": amount}, {"account": CASH, "credit": amount}]});
    let post = |id: String| {
        let app = app.clone();
        let director = director.clone();
        async move {
            app.api(
                Method::POST,
                &format!("{BASE}/entries/{id}/post"),
                &director,
                None,
            )
            .await
        }
    };
    // Default: warn. $9,000 fits; the next $1,500 is posted with a warning naming the figures.
    assert_eq!(
        app.api(Method::GET, &format!("{BASE}/settings"), &director, None)
            .await
            .json()["appropriation_control"],
        "warn"
    );
    let first = app
        .api(
            Method::POST,
            &format!("{BASE}/entries"),
            &director,
            Some(draft("9,000.00")),
        )
        .await
        .json();
    let r = post(first["id"].as_str().unwrap().to_owned()).await.json();
    assert_eq!(r["warnings"], json!([]));
    let second = app
        .api(
            Method::POST,
            &format!("{BASE}/entries"),
            &director,
            Some(draft("1,500.00")),
        )
        .await
        .json();
    let r = post(second["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["warnings"],
        json!([format!(
            "{EXEC} would be over budget by $500.00: revised budget $10,000.00, spent $9,000.00, this entry $1,500.00"
        )])
    );
    // Block: the next expenditure is refused, with the same figures.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/settings"),
            &director,
            Some(json!({"appropriation_control": "block"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let third = app
        .api(
            Method::POST,
            &format!("{BASE}/entries"),
            &director,
            Some(draft("0.01")),
        )
        .await
        .json();
    let r = post(third["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["detail"],
        format!(
            "lines: {EXEC} would be over budget by $500.01: revised budget $10,000.00, spent $10,500.00, this entry $0.01"
        )
    );
    // A reversal is never held back, and brings the account back within budget.
    let rev = app
        .api(
            Method::POST,
            &format!("{BASE}/entries/{}/reverse", second["id"].as_str().unwrap()),
            &director,
            Some(json!({"date": "2026-11-03"})),
        )
        .await;
    assert_eq!(rev.status, StatusCode::CREATED, "{}", rev.text());
    assert_eq!(
        post(third["id"].as_str().unwrap().to_owned()).await.status,
        StatusCode::OK
    );
    // Only administrators change the setting; bad values name the field.
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/settings"),
            &clerk,
            Some(json!({"appropriation_control": "off"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let bad = app
        .api(
            Method::POST,
            &format!("{BASE}/settings"),
            &director,
            Some(json!({"appropriation_control": "maybe"})),
        )
        .await;
    assert_eq!(bad.json()["field"], "appropriation_control");
    let page = app
        .api(Method::GET, "/t/hartford/finance", &director, None)
        .await
        .text();
    assert!(page.contains("is refused"));
}

crate::both_dbs!(the_ucoa_filing_uses_opm_layout_with_credits_negative);

async fn the_ucoa_filing_uses_opm_layout_with_credits_negative(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    set_up(&app, &director).await;
    for (date, lines) in [
        (
            "2026-09-01",
            json!([{"account": "1005-00-0000-00000-10100-000", "debit": "2,400,000.00"}, {"account": "1005-00-0000-00000-41000-000", "credit": "2,400,000.00"}]),
        ),
        (
            "2026-10-15",
            json!([{"account": "1005-41-4107-00000-51000-000", "debit": "61,233.08"}, {"account": "1005-00-0000-00000-10100-000", "credit": "61,233.08"}]),
        ),
    ] {
        let e = app
            .api(
                Method::POST,
                &format!("{BASE}/entries"),
                &director,
                Some(json!({"date": date, "description": "activity", "lines": lines})),
            )
            .await
            .json();
        let id = e["id"].as_str().unwrap();
        assert_eq!(
            app.api(
                Method::POST,
                &format!("{BASE}/entries/{id}/post"),
                &director,
                None
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/years/2027/ucoa-filing"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "FiscalYear,Municipality,LocalAccount,LocalFund,LocalFunction,LocalDepartment,LocalSubDepartment,LocalObject,LocalProject,UniformAccount,UniformFund,UniformFunction,UniformDepartment,UniformObject,UniformProjectName,Debit,Credit"
    );
    // Hand-computed year-end balances: cash 2,400,000.00 − 61,233.08; taxes a credit, shown negative.
    assert_eq!(
        lines[1],
        "2027,Hartford,1005-00-0000-00000-10100-000,1005,00,0000,00000,10100,000,1005-00-0000-00000-10100-000,1005,00,0000,10100,Undefined Project,2338766.92,0.00"
    );
    assert_eq!(
        lines[2],
        "2027,Hartford,1005-00-0000-00000-41000-000,1005,00,0000,00000,41000,000,1005-00-0000-00000-41000-000,1005,00,0000,41000,Undefined Project,0.00,-2400000.00"
    );
    assert_eq!(
        lines[3],
        "2027,Hartford,1005-41-4107-00000-51000-000,1005,41,4107,00000,51000,000,1005-41-4107-00000-51000-000,1005,41,4107,51000,Undefined Project,61233.08,0.00"
    );
    assert_eq!(lines.len(), 4);
    let page = app
        .api(
            Method::GET,
            "/t/hartford/finance/ucoa-filing?fiscal_year=2027",
            &director,
            None,
        )
        .await
        .text();
    assert!(page.contains("$2,338,766.92") && page.contains("Download the filing"));
    let bad = app
        .api(
            Method::GET,
            &format!("{BASE}/years/abc/ucoa-filing"),
            &director,
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
}

crate::both_dbs!(general_ledger_detail_runs_a_balance_from_the_brought_forward);

async fn general_ledger_detail_runs_a_balance_from_the_brought_forward(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    set_up(&app, &director).await;
    const CASH: &str = "1005-00-0000-00000-10100-000";
    for (date, lines) in [
        (
            "2026-09-01",
            json!([{"account": CASH, "debit": "2,400,000.00"}, {"account": "1005-00-0000-00000-41000-000", "credit": "2,400,000.00"}]),
        ),
        (
            "2026-10-15",
            json!([{"account": "1005-41-4107-00000-51000-000", "debit": "61,233.08"}, {"account": CASH, "credit": "61,233.08", "memo": "payroll"}]),
        ),
        (
            "2026-11-20",
            json!([{"account": "1005-41-4107-00000-51000-000", "debit": "1,000.00"}, {"account": CASH, "credit": "1,000.00"}]),
        ),
    ] {
        let e = app
            .api(
                Method::POST,
                &format!("{BASE}/entries"),
                &director,
                Some(json!({"date": date, "description": "activity", "lines": lines})),
            )
            .await
            .json();
        let id = e["id"].as_str().unwrap();
        assert_eq!(
            app.api(
                Method::POST,
                &format!("{BASE}/entries/{id}/post"),
                &director,
                None
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let d = app
        .api(
            Method::GET,
            &format!("{BASE}/ledger?account={CASH}&from=2026-10-01&to=2026-11-30"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(d["brought_forward"], "2400000.00");
    let lines = d["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0]["date"].as_str(),
            lines[0]["credit"].as_str(),
            lines[0]["balance"].as_str()
        ),
        (Some("2026-10-15"), Some("61233.08"), Some("2338766.92"))
    );
    assert_eq!(lines[1]["balance"], "2337766.92");
    // From the first day of the year: nothing brought forward (no earlier year was closed).
    let whole = app
        .api(
            Method::GET,
            &format!("{BASE}/ledger?account={CASH}&to=2026-11-30"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(whole["brought_forward"], "0.00");
    assert_eq!(whole["lines"].as_array().unwrap().len(), 3);
    for (query, field) in [
        ("from=2026-11-30&to=2026-10-01", "from"),
        ("from=2026-06-01&to=2026-07-01", "to"),
    ] {
        let r = app
            .api(
                Method::GET,
                &format!("{BASE}/ledger?account={CASH}&{query}"),
                &director,
                None,
            )
            .await;
        assert_eq!(r.json()["field"], field, "{query}");
    }
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/ledger?account=1005-00-0000-00000-19999-000"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.json()["field"], "account");
    let csv = app
        .api(
            Method::GET,
            &format!(
                "/t/hartford/finance/ledger?account={CASH}&from=2026-10-01&to=2026-11-30&format=csv"
            ),
            &director,
            None,
        )
        .await
        .text();
    assert_eq!(
        csv.lines().nth(1),
        Some("2026-10-01,,Balance brought forward,,,2400000.00")
    );
    let page = app
        .api(
            Method::GET,
            &format!("/t/hartford/finance/ledger?account={CASH}"),
            &director,
            None,
        )
        .await
        .text();
    assert!(page.contains("payroll") && page.contains("$2,337,766.92"));
}

crate::both_dbs!(purchase_orders_encumber_the_budget_until_closed);

async fn purchase_orders_encumber_the_budget_until_closed(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    set_up(&app, &director).await;
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/budgets"),
            &director,
            Some(json!({"fiscal_year": 2027, "lines": [{"account": EXEC, "amount": "10,000.00"}]}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let vendor = app.api(Method::POST, &format!("{BASE}/vendors"), &clerk, Some(json!({"name": "Acme Uniforms", "remit_to": "12 Main St, Hartford CT 06103", "is_1099": true}))).await;
    assert_eq!(vendor.status, StatusCode::CREATED, "{}", vendor.text());
    let vid = vendor.json()["id"].as_str().unwrap().to_owned();
    let dup = app
        .api(
            Method::POST,
            &format!("{BASE}/vendors"),
            &clerk,
            Some(json!({"name": "Acme Uniforms", "remit_to": "x"})),
        )
        .await;
    assert_eq!(
        (dup.status, dup.json()["field"].as_str()),
        (StatusCode::CONFLICT, Some("name"))
    );
    let po = |amount: &str| json!({"vendor_id": vid, "date": "2026-11-02", "description": "Uniforms", "lines": [{"account": EXEC, "amount": amount}]});
    let bad = app.api(Method::POST, &format!("{BASE}/purchase-orders"), &clerk, Some(json!({"vendor_id": vid, "date": "2026-11-02", "description": "x", "lines": [{"account": "1005-00-0000-00000-10100-000", "amount": "1.00"}]}))).await;
    assert_eq!(
        bad.json()["detail"],
        "lines[1].account: 1005-00-0000-00000-10100-000 is not an expenditure account"
    );
    let first = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders"),
            &clerk,
            Some(po("6,000.00")),
        )
        .await
        .json();
    assert_eq!(first["status"], "draft");
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/purchase-orders/{first_id}/approve"),
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let approved = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders/{first_id}/approve"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(
        (approved["status"].as_str(), approved["warnings"].clone()),
        (Some("open"), json!([]))
    );
    let bva = |app: TestApp| async move {
        let rows = app
            .api(
                Method::GET,
                &format!("{BASE}/budget-vs-actual?as_of=2026-11-26"),
                &app.token("clerk.hartford", "hartford", "finance").await,
                None,
            )
            .await
            .json();
        let r = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == EXEC)
            .unwrap()
            .clone();
        (
            r["encumbered"].as_str().unwrap().to_owned(),
            r["available"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        bva(app.clone()).await,
        ("6000.00".to_owned(), "4000.00".to_owned())
    );
    // Warn (the default): a second order past what is available is approved with the figures.
    let second = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders"),
            &clerk,
            Some(po("5,000.00")),
        )
        .await
        .json();
    let second_id = second["id"].as_str().unwrap().to_owned();
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders/{second_id}/approve"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(
        r["warnings"],
        json!([format!(
            "{EXEC} would be over budget by $1,000.00: revised budget $10,000.00, spent $0.00, encumbered $6,000.00, this order $5,000.00"
        )])
    );
    assert_eq!(
        bva(app.clone()).await,
        ("11000.00".to_owned(), "-1000.00".to_owned())
    );
    // Block: refused.
    app.api(
        Method::POST,
        &format!("{BASE}/settings"),
        &director,
        Some(json!({"appropriation_control": "block"})),
    )
    .await;
    let third = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders"),
            &clerk,
            Some(po("1.00")),
        )
        .await
        .json();
    let r = app
        .api(
            Method::POST,
            &format!(
                "{BASE}/purchase-orders/{}/approve",
                third["id"].as_str().unwrap()
            ),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Closing the second order releases its encumbrance.
    let closed = app
        .api(
            Method::POST,
            &format!("{BASE}/purchase-orders/{second_id}/close"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(closed["status"], "closed");
    assert_eq!(
        bva(app.clone()).await,
        ("6000.00".to_owned(), "4000.00".to_owned())
    );
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/purchase-orders/{second_id}/close"),
            &director,
            None
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let page = app
        .api(
            Method::GET,
            "/t/hartford/finance/purchasing",
            &director,
            None,
        )
        .await
        .text();
    assert!(page.contains("Acme Uniforms") && page.contains(">open<") && page.contains(">closed<"));
    let budget_page = app
        .api(
            Method::GET,
            "/t/hartford/finance/budget?as_of=2026-11-26",
            &director,
            None,
        )
        .await
        .text();
    assert!(budget_page.contains("$6,000.00") && budget_page.contains("$4,000.00"));
}

crate::both_dbs!(a_purchase_order_is_invoiced_approved_and_paid_by_check);

async fn a_purchase_order_is_invoiced_approved_and_paid_by_check(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    set_up(&app, &director).await;
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    const AP: &str = "1005-00-0000-00000-20100-000";
    const CASH: &str = "1005-00-0000-00000-10100-000";
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/accounts"),
            &director,
            Some(json!({"account": AP, "name": "Accounts payable"}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    app.api(
        Method::POST,
        &format!("{BASE}/budgets"),
        &director,
        Some(json!({"fiscal_year": 2027, "lines": [{"account": EXEC, "amount": "10,000.00"}]})),
    )
    .await;
    let vendor = app
        .api(
            Method::POST,
            &format!("{BASE}/vendors"),
            &clerk,
            Some(json!({"name": "Acme Uniforms", "remit_to": "12 Main St, Hartford CT 06103"})),
        )
        .await
        .json();
    let vid = vendor["id"].as_str().unwrap().to_owned();
    let po = app.api(Method::POST, &format!("{BASE}/purchase-orders"), &clerk, Some(json!({"vendor_id": vid, "date": "2026-11-02", "description": "Uniforms", "lines": [{"account": EXEC, "amount": "6,000.00"}]}))).await.json();
    let po_id = po["id"].as_str().unwrap().to_owned();
    app.api(
        Method::POST,
        &format!("{BASE}/purchase-orders/{po_id}/approve"),
        &director,
        None,
    )
    .await;

    let invoice = |number: &str, amount: &str| json!({"vendor_id": vid, "po_id": po_id, "number": number, "date": "2026-11-20", "description": "Uniform delivery", "lines": [{"account": EXEC, "amount": amount}]});
    let first = app
        .api(
            Method::POST,
            &format!("{BASE}/invoices"),
            &clerk,
            Some(invoice("INV-77", "4,500.00")),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let dup = app
        .api(
            Method::POST,
            &format!("{BASE}/invoices"),
            &clerk,
            Some(invoice("INV-77", "1.00")),
        )
        .await;
    assert_eq!(
        (dup.status, dup.json()["field"].as_str()),
        (StatusCode::CONFLICT, Some("number"))
    );
    assert_eq!(
        dup.json()["detail"],
        "invoice INV-77 from Acme Uniforms is already entered"
    );
    let first_id = first.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/invoices/{first_id}/approve"),
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let approved = app
        .api(
            Method::POST,
            &format!("{BASE}/invoices/{first_id}/approve"),
            &director,
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    let bva = |app: TestApp, director: Auth| async move {
        let rows = app
            .api(
                Method::GET,
                &format!("{BASE}/budget-vs-actual?as_of=2026-11-26"),
                &director,
                None,
            )
            .await
            .json();
        let r = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == EXEC)
            .unwrap()
            .clone();
        (
            r["actual"].as_str().unwrap().to_owned(),
            r["encumbered"].as_str().unwrap().to_owned(),
            r["available"].as_str().unwrap().to_owned(),
        )
    };
    // Hand-computed: 10,000 budget; 4,500 spent; 1,500 still encumbered; 4,000 available.
    assert_eq!(
        bva(app.clone(), director.clone()).await,
        ("4500.00".into(), "1500.00".into(), "4000.00".into())
    );
    let second = app
        .api(
            Method::POST,
            &format!("{BASE}/invoices"),
            &clerk,
            Some(invoice("INV-78", "2,000.00")),
        )
        .await
        .json();
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api(
            Method::POST,
            &format!("{BASE}/invoices/{second_id}/approve"),
            &director,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // The order is fully liquidated and closed: 6,500 spent, nothing encumbered.
    assert_eq!(
        bva(app.clone(), director.clone()).await,
        ("6500.00".into(), "0.00".into(), "3500.00".into())
    );
    let orders = app
        .api(
            Method::GET,
            &format!("{BASE}/purchase-orders"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(orders[0]["status"], "closed");

    let run = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-25"})),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.text());
    let run = run.json();
    assert_eq!(
        (run["first_check"].as_i64(), run["total"].as_str()),
        (Some(1001), Some("6500.00"))
    );
    let tb = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=2026-11-26"),
            &director,
            None,
        )
        .await
        .json();
    let tb_row = |a: &str| {
        tb["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == a)
            .unwrap()["balance"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(tb_row(AP), "0.00");
    assert_eq!(tb_row(CASH), "-6500.00");
    assert_eq!(tb_row(EXEC), "6500.00");
    let register = app
        .api(
            Method::GET,
            &format!(
                "{BASE}/payment-runs/{}/check-register",
                run["id"].as_str().unwrap()
            ),
            &director,
            None,
        )
        .await
        .text();
    let lines: Vec<&str> = register.lines().collect();
    assert_eq!(lines[0], "method,number,date,vendor,pay_to,invoice,amount");
    assert_eq!(
        lines[1],
        "check,1001,2026-11-25,Acme Uniforms,\"12 Main St, Hartford CT 06103\",INV-77,4500.00"
    );
    assert_eq!(
        lines[2],
        "check,1002,2026-11-25,Acme Uniforms,\"12 Main St, Hartford CT 06103\",INV-78,2000.00"
    );
    assert_eq!(lines[3], ",,,TOTAL,,,6500.00");
    let again = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-25"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let page = app
        .api(
            Method::GET,
            "/t/hartford/finance/purchasing",
            &director,
            None,
        )
        .await
        .text();
    assert!(
        page.contains("INV-78") && page.contains("check 1002") && page.contains("check register")
    );

    // Vendor activity is by calendar year of the check date: $4,500.00 + $2,000.00 in 2026, nothing in 2025.
    let report = app
        .api(
            Method::GET,
            &format!("{BASE}/reports/vendors?year=2026"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(report[0]["name"], "Acme Uniforms");
    assert_eq!(
        (
            report[0]["invoices_paid"].as_i64(),
            report[0]["paid_cents"].as_i64()
        ),
        (Some(2), Some(650_000))
    );
    let report = app
        .api(
            Method::GET,
            &format!("{BASE}/reports/vendors?year=2025"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(report[0]["paid_cents"], 0);
    // A new approved order encumbers until invoiced: the encumbrance report lists it.
    let po = app.api(Method::POST, &format!("{BASE}/purchase-orders"), &clerk, Some(json!({"vendor_id": vid, "date": "2026-11-24", "description": "Boots", "lines": [{"account": EXEC, "amount": "1,200.00"}]}))).await.json();
    let po2 = po["id"].as_str().unwrap().to_owned();
    app.api(
        Method::POST,
        &format!("{BASE}/purchase-orders/{po2}/approve"),
        &director,
        None,
    )
    .await;
    let open = app
        .api(
            Method::GET,
            &format!("{BASE}/reports/encumbrances"),
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(
        (
            open[0]["description"].as_str(),
            open[0]["open_cents"].as_i64()
        ),
        (Some("Boots"), Some(120_000))
    );
    let csv = app
        .raw(
            Method::GET,
            "/t/hartford/finance/reports/payables?table=encumbrances&format=csv",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        csv.contains(
            "Acme Uniforms,Boots,1005-41-4107-00000-51000-000,\"$1,200.00\",$0.00,\"$1,200.00\""
        ),
        "{csv}"
    );
    // Budget vs actual exports: $10,000.00 adopted, $6,500.00 spent, $1,200.00 encumbered, $2,300.00 available.
    let xlsx = app
        .raw(
            Method::GET,
            "/t/hartford/finance/budget?as_of=2026-11-30&format=xlsx",
            &director,
            None,
            Vec::new(),
        )
        .await;
    let mut book: calamine::Xlsx<_> =
        calamine::Reader::new(std::io::Cursor::new(xlsx.body.clone())).unwrap();
    let range = calamine::Reader::worksheet_range(&mut book, "Sheet1").unwrap();
    let rows: Vec<Vec<calamine::Data>> = range.rows().map(<[calamine::Data]>::to_vec).collect();
    let exec = rows
        .iter()
        .find(|r| r[0] == calamine::Data::String(EXEC.into()))
        .unwrap();
    assert_eq!(
        (&exec[3], &exec[6], &exec[7], &exec[8]),
        (
            &calamine::Data::Float(10_000.0),
            &calamine::Data::Float(6_500.0),
            &calamine::Data::Float(1_200.0),
            &calamine::Data::Float(2_300.0)
        )
    );
    // Statements export: cash out $6,500.00, so the general fund's assets are -$6,500.00.
    let csv = app
        .raw(
            Method::GET,
            "/t/hartford/finance/statements?as_of=2026-11-30&format=csv",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        csv.contains("1005,General Fund,balance sheet,assets,-6500.00"),
        "{csv}"
    );
    assert!(
        csv.contains("1005,General Fund,activity,\"expenditures, function 41\",6500.00"),
        "{csv}"
    );
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/reports/payables?year=2026",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("$6,500.00") && html.contains("$1,200.00 still held"),
        "{html}"
    );
}

crate::both_dbs!(vendors_with_a_bank_account_are_paid_by_ach_in_a_nacha_file);

/// The flash message a page form left in its redirect.
fn flash(r: &crate::harness::Resp) -> String {
    let raw = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    url::form_urlencoded::parse(raw.replace(' ', "&").as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn vendors_with_a_bank_account_are_paid_by_ach_in_a_nacha_file(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    set_up(&app, &director).await;
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    const AP: &str = "1005-00-0000-00000-20100-000";
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/accounts"),
            &director,
            Some(json!({"account": AP, "name": "Accounts payable"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut vendor = std::collections::HashMap::new();
    for name in ["Acme Paving LLC", "Jane Doe", "Paper Co"] {
        let v = app
            .api(
                Method::POST,
                &format!("{BASE}/vendors"),
                &clerk,
                Some(json!({"name": name, "remit_to": "1 Main St, Hartford CT 06103"})),
            )
            .await
            .json();
        vendor.insert(name, v["id"].as_str().unwrap().to_owned());
    }
    let bank = |name: &str| format!("{BASE}/vendors/{}/bank-account", vendor[name]);
    let acme = json!({"routing": "021000021", "account": "123456789", "account_type": "checking", "sec_code": "CCD"});

    // Bad input names its field; clerks may not change where a vendor is paid.
    for (change, field) in [
        (json!({"routing": "021000022"}), "routing"),
        (json!({"account": "12"}), "account"),
        (json!({"account_type": "brokerage"}), "account_type"),
        (json!({"sec_code": "WEB"}), "sec_code"),
    ] {
        let mut body = acme.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .api(Method::PUT, &bank("Acme Paving LLC"), &director, Some(body))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.text()
        );
        assert!(r.text().contains(field), "{field}: {}", r.text());
    }
    let r = app
        .api(
            Method::PUT,
            &bank("Acme Paving LLC"),
            &clerk,
            Some(acme.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(Method::PUT, &bank("Acme Paving LLC"), &director, Some(acme))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["account_last4"], "6789");
    assert!(!r.text().contains("123456789"));
    // The page form asks for the account number twice.
    let r = app
        .form(
            "/t/hartford/finance/vendor-bank-accounts",
            &director,
            &[
                ("vendor_id", &vendor["Jane Doe"]),
                ("routing", "026009593"),
                ("account", "98765"),
                ("confirm_account", "98756"),
                ("account_type", "savings"),
                ("sec_code", "PPD"),
            ],
        )
        .await;
    assert!(flash(&r).contains("confirm_account"), "{}", flash(&r));
    let r = app
        .form(
            "/t/hartford/finance/vendor-bank-accounts",
            &director,
            &[
                ("vendor_id", &vendor["Jane Doe"]),
                ("routing", "026009593"),
                ("account", "98765"),
                ("confirm_account", "98-765"),
                ("account_type", "savings"),
                ("sec_code", "PPD"),
            ],
        )
        .await;
    assert!(
        flash(&r).contains("savings ••••8765 at 026009593"),
        "{}",
        flash(&r)
    );
    let listed = app
        .api(
            Method::GET,
            &format!("{BASE}/vendor-bank-accounts"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(listed.json().as_array().unwrap().len(), 2);
    assert!(!listed.text().contains("123456789") && !listed.text().contains("98765"));
    // Stored sealed: neither the table nor the audit trail holds an account number.
    {
        let mut c = app.db.read().await.unwrap();
        let stored: Vec<String> = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT account_sealed FROM ledger_vendor_bank_accounts").fetch_all(c).await)
        .unwrap();
        assert_eq!(stored.len(), 2);
        assert!(
            stored
                .iter()
                .all(|s| s.starts_with("v1:") && !s.contains("123456789") && !s.contains("98765"))
        );
        let leaked: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE after_json LIKE '%123456789%' OR after_json LIKE '%98765%' OR before_json LIKE '%98765%'")
            .fetch_one(c).await).unwrap();
        assert_eq!(leaked, 0);
        let audited: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'vendor.bank_account.set'")
            .fetch_one(c).await)
        .unwrap();
        assert_eq!(audited, 2);
    }

    // Four invoices: two for Acme, one each for Jane Doe and Paper Co.
    for (name, number, amount) in [
        ("Acme Paving LLC", "1001", "1,000.00"),
        ("Acme Paving LLC", "1002", "250.50"),
        ("Jane Doe", "7", "300.00"),
        ("Paper Co", "P-1", "75.25"),
    ] {
        let inv = app.api(Method::POST, &format!("{BASE}/invoices"), &clerk, Some(json!({"vendor_id": vendor[name], "number": number, "date": "2026-11-20", "description": "Work", "lines": [{"account": EXEC, "amount": amount}]}))).await;
        assert_eq!(inv.status, StatusCode::CREATED, "{}", inv.text());
        let id = inv.json()["id"].as_str().unwrap().to_owned();
        let r = app
            .api(
                Method::POST,
                &format!("{BASE}/invoices/{id}/approve"),
                &director,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // ACH settles on banking days, and needs the books' origination.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-28"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("Saturday"), "{}", r.text());
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-27"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text()
            .contains("Acme Paving LLC, Jane Doe are paid by ACH"),
        "{}",
        r.text()
    );
    let origin = json!({"odfi_routing": "011000016", "bank_name": "Federal Reserve Bank", "company_name": "Town of Hartford", "company_id": "1066001234"});
    let r = app
        .api(
            Method::PUT,
            &format!("{BASE}/ach-originator"),
            &director,
            Some(origin.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("odfi_routing"), "{}", r.text());
    let mut origin = origin;
    origin["odfi_routing"] = json!("011000015");
    let r = app
        .api(
            Method::PUT,
            &format!("{BASE}/ach-originator"),
            &clerk,
            Some(origin.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::PUT,
            &format!("{BASE}/ach-originator"),
            &director,
            Some(origin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let run = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-27"})),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.text());
    let run = run.json();
    // 1,000.00 + 250.50 + 300.00 + 75.25
    assert_eq!(run["total"], "1625.75");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let register = app
        .api(
            Method::GET,
            &format!("{BASE}/payment-runs/{run_id}/check-register"),
            &director,
            None,
        )
        .await
        .text();
    let lines: Vec<&str> = register.lines().collect();
    assert_eq!(
        lines,
        [
            "method,number,date,vendor,pay_to,invoice,amount",
            "check,1001,2026-11-27,Paper Co,\"1 Main St, Hartford CT 06103\",P-1,75.25",
            "ACH,1,2026-11-27,Acme Paving LLC,checking ••••6789 at 021000021,1001,1000.00",
            "ACH,1,2026-11-27,Acme Paving LLC,checking ••••6789 at 021000021,1002,250.50",
            "ACH,2,2026-11-27,Jane Doe,savings ••••8765 at 026009593,7,300.00",
            ",,,TOTAL,,,1625.75",
        ]
    );

    let invoices = app
        .api(Method::GET, &format!("{BASE}/invoices"), &clerk, None)
        .await
        .json();
    let paid = |number: &str| {
        let i = invoices
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["number"] == number)
            .unwrap();
        (i["check_number"].as_i64(), i["ach_trace"].as_i64())
    };
    assert_eq!(
        (paid("1002"), paid("7"), paid("P-1")),
        ((None, Some(1)), (None, Some(2)), (Some(1001), None))
    );
    // The NACHA file, written out field by field from the record layouts:
    // Acme 1,000.00 + 250.50 = 1,250.50 by CCD to checking; Jane Doe 300.00 by
    // PPD to savings; entry hash 02100002 + 02600959 = 04700961; ten records.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs/{run_id}/ach-file"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let file = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs/{run_id}/ach-file"),
            &director,
            None,
        )
        .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    assert!(
        file.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("ach-hartford-2026-11-27-A.txt")
    );
    let id15 = |name: &str| vendor[name].replace('-', "")[..15].to_uppercase();
    let sp = |n: usize| " ".repeat(n);
    let expected = [
        format!(
            "101 01100001510660012342611261400A094101FEDERAL RESERVE BANK{}TOWN OF HARTFORD{}{}",
            sp(3),
            sp(7),
            sp(8)
        ),
        format!(
            "5220TOWN OF HARTFORD{}1066001234CCDVENDOR PAY{}261127   1011000010000001",
            sp(20),
            sp(6)
        ),
        format!(
            "622021000021123456789{}0000125050{}ACME PAVING LLC{}  1011000010000001",
            sp(8),
            id15("Acme Paving LLC"),
            sp(7)
        ),
        format!("705INV 1001 1002{}00010000001", sp(67)),
        format!(
            "822000000200021000020000000000000000001250501066001234{}011000010000001",
            sp(25)
        ),
        format!(
            "5220TOWN OF HARTFORD{}1066001234PPDVENDOR PAY{}261127   1011000010000002",
            sp(20),
            sp(6)
        ),
        format!(
            "63202600959398765{}0000030000{}JANE DOE{}  1011000010000002",
            sp(12),
            id15("Jane Doe"),
            sp(14)
        ),
        format!("705INV 7{}00010000002", sp(75)),
        format!(
            "822000000200026009590000000000000000000300001066001234{}011000010000002",
            sp(25)
        ),
        format!(
            "9000002000001000000040004700961000000000000000000155050{}",
            sp(39)
        ),
    ];
    assert_eq!(
        file.text().lines().collect::<Vec<_>>(),
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // A second file the same day gets modifier B; both are recorded and audited.
    let again = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs/{run_id}/ach-file"),
            &director,
            None,
        )
        .await;
    assert!(
        again
            .text()
            .starts_with("101 01100001510660012342611261400B"),
        "{}",
        again.text()
    );
    let runs = app
        .api(Method::GET, &format!("{BASE}/payment-runs"), &clerk, None)
        .await
        .json();
    assert_eq!(
        (
            runs[0]["checks"].as_i64(),
            runs[0]["ach_invoices"].as_i64(),
            runs[0]["ach_files"].as_i64()
        ),
        (Some(1), Some(3), Some(2))
    );
    {
        let mut c = app.db.read().await.unwrap();
        let files: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'payment_run.ach_file' AND after_json NOT LIKE '%123456789%'")
            .fetch_one(c).await).unwrap();
        assert_eq!(files, 2);
    }
    let page = app
        .api(
            Method::GET,
            "/t/hartford/finance/purchasing",
            &director,
            None,
        )
        .await
        .text();
    assert!(
        page.contains("ACH (CCD) to checking ••••6789 at 021000021")
            && page.contains("Make the ACH file again (2 made)")
            && page.contains("ACH trace 2")
            && !page.contains("123456789"),
        "{page}"
    );
    // A run with no ACH payment has no ACH file; a vendor taken off file is paid by check again.
    let r = app
        .api(Method::DELETE, &bank("Jane Doe"), &director, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let inv = app.api(Method::POST, &format!("{BASE}/invoices"), &clerk, Some(json!({"vendor_id": vendor["Jane Doe"], "number": "8", "date": "2026-11-23", "description": "Work", "lines": [{"account": EXEC, "amount": "10.00"}]}))).await.json();
    app.api(
        Method::POST,
        &format!("{BASE}/invoices/{}/approve", inv["id"].as_str().unwrap()),
        &director,
        None,
    )
    .await;
    let run2 = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs"),
            &director,
            Some(json!({"date": "2026-11-28"})),
        )
        .await;
    assert_eq!(run2.status, StatusCode::CREATED, "{}", run2.text());
    let r = app
        .api(
            Method::POST,
            &format!(
                "{BASE}/payment-runs/{}/ach-file",
                run2.json()["id"].as_str().unwrap()
            ),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("paid no invoice by ACH"), "{}", r.text());
    // The first run's file still names Jane Doe's account — which is now off file.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/payment-runs/{run_id}/ach-file"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text()
            .contains("Jane Doe no longer has a bank account on file"),
        "{}",
        r.text()
    );
}

crate::both_dbs!(a_clerk_records_cash_receipts_an_approver_posts_them);

async fn a_clerk_records_cash_receipts_an_approver_posts_them(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let clerk = app.demo_session("clerk.hartford").await;
    set_up(&app, &director).await;
    const CASH: &str = "1005-00-0000-00000-10100-000";
    const TAXES: &str = "1005-00-0000-00000-41000-000";
    // From the form: a tax payment of $1,234.56 deposited to cash.
    let r = app
        .form(
            "/t/hartford/finance/receipts",
            &clerk,
            &[
                ("date", "2026-11-02"),
                ("payer", "J. Smith"),
                ("description", "2025 grand list, 1st installment"),
                ("deposit_account", CASH),
                ("lines", &format!("{TAXES}, 1,234.56")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Bad input names the field: an expenditure account is not a revenue.
    let bad = app
        .api(
            Method::POST,
            &format!("{BASE}/receipts"),
            &clerk,
            Some(json!({
                "date": "2026-11-03", "payer": "X", "deposit_account": CASH,
                "lines": [{"account": "1005-41-4107-00000-51000-000", "amount": "5.00"}]
            })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "lines[1].account");
    let list = app
        .api(Method::GET, &format!("{BASE}/receipts"), &clerk, None)
        .await
        .json();
    assert_eq!(
        (list[0]["number"].as_i64(), list[0]["total_cents"].as_i64()),
        (Some(1), Some(123_456))
    );
    assert_eq!(list[0]["entry_status"], "draft");
    // The approver posts the receipt's entry; cash and taxes move by the amount.
    let entry = list[0]["entry_id"].as_str().unwrap();
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/entries/{entry}/post"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tb = app
        .api(
            Method::GET,
            &format!("{BASE}/trial-balance?as_of=2026-11-30"),
            &director,
            None,
        )
        .await
        .json();
    let bal = |a: &str| {
        tb["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == a)
            .unwrap()["balance"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (bal(CASH), bal(TAXES)),
        ("1234.56".to_owned(), "-1234.56".to_owned())
    );
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/receipts",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("J. Smith") && html.contains("$1,234.56") && html.contains(">posted<"),
        "{html}"
    );
}

crate::both_dbs!(recurring_entries_are_drafted_once_a_month);

async fn recurring_entries_are_drafted_once_a_month(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    set_up(&app, &director).await;
    const EXEC: &str = "1005-41-4107-00000-51000-000";
    const CASH: &str = "1005-00-0000-00000-10100-000";
    // Monthly from August 15 until October 15; today is November 26, 2026.
    let r = app
        .form(
            "/t/hartford/finance/recurring",
            &director,
            &[
                ("description", "Copier lease"),
                ("starts_on", "2026-08-15"),
                ("ends_on", "2026-10-15"),
                ("lines", &format!("{EXEC}, 250.00\n{CASH}, -250.00")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // An unbalanced template is refused, naming the fund.
    let bad = app
        .api(
            Method::POST,
            &format!("{BASE}/recurring"),
            &director,
            Some(json!({
                "description": "Off", "starts_on": "2026-12-01",
                "lines": [{"account": EXEC, "debit": "10.00"}, {"account": CASH, "credit": "9.00"}]
            })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text().contains("fund 1005 is out of balance by $1.00"),
        "{}",
        bad.text()
    );
    // A day past the 28th is refused.
    let late = app
        .api(
            Method::POST,
            &format!("{BASE}/recurring"),
            &director,
            Some(json!({
                "description": "Late", "starts_on": "2026-12-31",
                "lines": [{"account": EXEC, "debit": "10.00"}, {"account": CASH, "credit": "10.00"}]
            })),
        )
        .await;
    assert_eq!(late.json()["field"], "starts_on");

    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/recurring/draft"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.json()["drafted"], 3, "{}", r.text());
    // Running it again drafts nothing more, and the finished template has stopped.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/recurring/draft"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.json()["drafted"], 0);
    let list = app
        .api(Method::GET, &format!("{BASE}/recurring"), &director, None)
        .await
        .json();
    assert_eq!(
        (list[0]["active"].as_bool(), list[0]["next_date"].as_str()),
        (Some(false), Some("2026-11-15"))
    );
    let entries = app
        .api(Method::GET, &format!("{BASE}/entries"), &director, None)
        .await
        .json();
    let dates: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, vec!["2026-10-15", "2026-09-15", "2026-08-15"]);
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "draft" && e["description"] == "Copier lease")
    );
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/recurring",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("Copier lease") && html.contains("$250.00") && html.contains("stopped"),
        "{html}"
    );
}
