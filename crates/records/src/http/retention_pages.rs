//! The retention pages: the region's series catalog (everyone signed in browses it; the council
//! administrator adds, edits and imports series), a town's catalog with its local series, the
//! records past retention (filters, CSV, a batch from the ticked rows), disposal batches
//! (approve, the authorization PDF, destroy) and legal holds (place, release).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use munishare_platform::access::{self, ServiceScope};
use munishare_platform::types::Permission;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::auth::{PageUser, ServicePage};
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, csv_response, enc, redirect_flash, render,
};

use super::Records;
use crate::disposition::{self, Batch, BatchDetail, BatchIn, DueQuery, DueRecord};
use crate::holds::{self, Hold, HoldIn, ReleaseIn};
use crate::retention::{self, Schedule, Series, SeriesIn};

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/records/retention-catalog", page_catalog)
        .post("/records/retention-catalog", page_create_region)
        .upload("/records/retention-catalog/import", page_import)
        .get(
            "/admin/records/retention-catalog/{series}",
            page_edit_region,
        )
        .post(
            "/admin/records/retention-catalog/{series}",
            page_update_region,
        )
        .get("/t/{town}/records/retention", page_town_catalog)
        .post("/t/{town}/records/retention", page_create_local)
        .get("/t/{town}/records/retention/{series}", page_edit_local)
        .post("/t/{town}/records/retention/{series}", page_update_local)
        .post(
            "/t/{town}/records/documents/{document}/retention",
            page_set_trigger,
        )
        .get("/t/{town}/records/disposition", page_due)
        .post("/t/{town}/records/disposition", page_create_batch)
        .get("/t/{town}/records/disposition/{batch}", page_batch)
        .post(
            "/t/{town}/records/disposition/{batch}/approve",
            page_approve,
        )
        .post(
            "/t/{town}/records/disposition/{batch}/destroy",
            page_destroy,
        )
        .get(
            "/t/{town}/records/disposition/{batch}/authorization",
            page_authorization,
        )
        .get("/t/{town}/records/holds", page_holds)
        .post("/t/{town}/records/holds", page_place_hold)
        .post("/t/{town}/records/holds/{hold}/release", page_release_hold)
        .post("/t/{town}/records/holds/{hold}/refresh", page_refresh_hold)
}

fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/records", scope.town().slug)
}

/// A series form's fields, as entered.
fn series_in(f: &HashMap<String, String>) -> SeriesIn {
    let get = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    SeriesIn {
        schedule: get("schedule").unwrap_or_default(),
        code: get("code").unwrap_or_default(),
        title: get("title").unwrap_or_default(),
        description: get("description"),
        rule: get("rule").unwrap_or_default(),
        trigger: get("trigger"),
        years: get("years").and_then(|y| y.parse().ok()),
        follow: get("follow"),
        disposition: get("disposition").unwrap_or_default(),
        essential: get("essential").is_some(),
    }
}

#[derive(Template)]
#[template(path = "records_catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    /// Where the form posts.
    action: String,
    /// Town pages: the town's records base; council page: empty.
    town_base: String,
    schedules: Vec<Schedule>,
    series: Vec<Series>,
    schedule: String,
    can_change: bool,
    is_council: bool,
}

/// The query of a catalog page.
#[derive(Debug, Default, serde::Deserialize)]
struct CatalogQuery {
    schedule: Option<String>,
}

async fn page_catalog(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<CatalogQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let all = retention::region_catalog(&mut c).await?;
    drop(c);
    let schedule = q.schedule.unwrap_or_default();
    let series = all
        .into_iter()
        .filter(|s| schedule.is_empty() || s.schedule == schedule)
        .collect();
    let chrome = Chrome::new(&st, &user, "Records retention catalog", "").await?;
    render(
        &CatalogPage {
            chrome,
            action: "/records/retention-catalog".into(),
            town_base: String::new(),
            schedules: retention::schedules(),
            series,
            schedule,
            can_change: user.principal.is_council_admin(),
            is_council: true,
        },
        &user,
    )
}

async fn page_create_region(
    State(st): State<AppState>,
    user: PageUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let admin = access::authorize_council_admin(&user.principal)?;
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = retention::create_region(&admin, &mut tx, st.now(), &series_in(&f)).await?;
        tx.commit().await?;
        Ok(format!("Series {} added.", s.code))
    }
    .await;
    after_form(&st, "/records/retention-catalog", r)
}

async fn page_import(State(st): State<AppState>, user: PageUser, form: Multipart) -> PageResult {
    let admin = access::authorize_council_admin(&user.principal)?;
    let back = "/records/retention-catalog";
    let Some((name, bytes)) = munishare_web::upload::read_form(form).await?.file else {
        return Ok(redirect_flash(
            &st,
            back,
            "error",
            "file: choose a CSV file",
        ));
    };
    let out = retention::import_region(&admin, &st.db, st.now(), &name, &bytes).await?;
    if out.status == "done" {
        Ok(redirect_flash(
            &st,
            back,
            "ok",
            &format!(
                "{name}: {} series read, {} added, {} changed.",
                out.rows, out.added, out.updated
            ),
        ))
    } else {
        let list: Vec<String> = out
            .problems
            .iter()
            .take(20)
            .map(|p| {
                if p.column.is_empty() {
                    format!("row {}: {}", p.row, p.message)
                } else {
                    format!("row {}, column {}: {}", p.row, p.column, p.message)
                }
            })
            .collect();
        Ok(redirect_flash(
            &st,
            back,
            "error",
            &format!(
                "{name} was not imported ({} problems): {}",
                out.problems.len(),
                list.join("; ")
            ),
        ))
    }
}

#[derive(Template)]
#[template(path = "records_series_form.html")]
struct SeriesFormPage {
    chrome: Chrome,
    back: String,
    action: String,
    s: Series,
    schedules: Vec<Schedule>,
    local: bool,
}

impl SeriesFormPage {
    fn years(&self) -> String {
        self.s.years.map(|y| y.to_string()).unwrap_or_default()
    }
    fn trigger(&self) -> &str {
        self.s.trigger.map_or("", retention::Trigger::as_str)
    }
    fn triggers(&self) -> Vec<(&'static str, &'static str)> {
        TRIGGERS.to_vec()
    }
    fn rules(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("years", "Trigger + N years"),
            ("permanent", "Permanent"),
            ("life_of_structure", "Life of structure"),
            ("follow", "Follow another series"),
        ]
        .into_iter()
        .map(|(v, l)| (v, l, self.s.rule == v))
        .collect()
    }
    fn dispositions(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            retention::Disposition::Destroy,
            retention::Disposition::Retain,
            retention::Disposition::ArchivalReview,
        ]
        .into_iter()
        .map(|d| (d.as_str(), d.words(), d == self.s.disposition))
        .collect()
    }
}

const TRIGGERS: [(&str, &str); 8] = [
    ("creation", "Creation date"),
    ("calendar_year_end", "Calendar year end"),
    ("fiscal_year_end", "Fiscal year end (June 30)"),
    ("audit", "After audit (date recorded on the record)"),
    ("issue", "Issue date"),
    ("expiration", "Expiration date (recorded on the record)"),
    (
        "project_completion",
        "Project completion (recorded on the record)",
    ),
    ("event", "Event date (recorded on the record)"),
];

impl CatalogPage {
    fn triggers(&self) -> Vec<(&'static str, &'static str)> {
        TRIGGERS.to_vec()
    }
}

async fn page_edit_region(
    State(st): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    access::authorize_council_admin(&user.principal)?;
    let mut c = st.db.read().await?;
    let s = retention::region_catalog(&mut c)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(Error::NotFound { what: "series" })?;
    drop(c);
    let chrome = Chrome::new(&st, &user, format!("Series {}", s.code), "").await?;
    render(
        &SeriesFormPage {
            chrome,
            back: "/records/retention-catalog".into(),
            action: format!("/admin/records/retention-catalog/{}", enc(&id)),
            s,
            schedules: retention::schedules(),
            local: false,
        },
        &user,
    )
}

async fn page_update_region(
    State(st): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let admin = access::authorize_council_admin(&user.principal)?;
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = retention::update_region(&admin, &mut tx, st.now(), &id, &series_in(&f)).await?;
        tx.commit().await?;
        Ok(format!("Series {} saved.", s.code))
    }
    .await;
    after_form(&st, "/records/retention-catalog", r)
}

async fn page_town_catalog(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Query(q): Query<CatalogQuery>,
) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let all = retention::town_catalog(scope, &mut c).await?;
    drop(c);
    let schedule = q.schedule.unwrap_or_default();
    let series = all
        .into_iter()
        .filter(|s| schedule.is_empty() || s.schedule == schedule)
        .collect();
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Retention series — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let mut schedules = retention::schedules();
    schedules.push(Schedule {
        code: retention::LOCAL_SCHEDULE.into(),
        title: format!("{}'s local series", scope.town().name),
        revision: String::new(),
    });
    render(
        &CatalogPage {
            chrome,
            action: format!("{}/retention", base(scope)),
            town_base: base(scope),
            schedules,
            series,
            schedule,
            can_change: scope.can(Permission::Administer),
            is_council: false,
        },
        &page.user,
    )
}

async fn page_create_local(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/retention", base(&scope));
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = retention::create_local(&scope, &mut tx, st.now(), &series_in(&f)).await?;
        tx.commit().await?;
        Ok(format!("Local series {} added.", s.code))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_edit_local(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let s = retention::get_for_town(scope, &mut c, &id).await?;
    drop(c);
    if s.level != "town" || !scope.can(Permission::Administer) {
        return Err(Error::Forbidden(format!(
            "{} is not one of {}'s local series you may change",
            s.code,
            scope.town().name
        ))
        .into());
    }
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Series {}", s.code),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &SeriesFormPage {
            chrome,
            back: format!("{}/retention", base(scope)),
            action: format!("{}/retention/{}", base(scope), enc(&id)),
            s,
            schedules: retention::schedules(),
            local: true,
        },
        &page.user,
    )
}

async fn page_update_local(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/retention", base(&scope));
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = retention::update_local(&scope, &mut tx, st.now(), &id, &series_in(&f)).await?;
        tx.commit().await?;
        Ok(format!("Local series {} saved.", s.code))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_set_trigger(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    let r = async {
        let mut tx = st.db.begin().await?;
        let r = retention::set_trigger(
            &scope,
            &mut tx,
            st.now(),
            &id,
            &retention::TriggerIn {
                trigger_date: f.get("trigger_date").cloned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(match r.retention_due {
            Some(d) => format!("Trigger date saved; retained until {d}."),
            None => "Trigger date saved.".to_owned(),
        })
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "records_disposition.html")]
struct DuePage {
    chrome: Chrome,
    base: String,
    rows: Vec<DueRecord>,
    batches: Vec<Batch>,
    q: DueQuery,
    filters: String,
    schedules: Vec<Schedule>,
}

impl DuePage {
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
    fn hold_names(&self, r: &DueRecord) -> String {
        r.holds
            .iter()
            .map(|h| h.matter.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn page_due(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let scope = &page.scope;
    let get = |k: &str| p.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let q = DueQuery {
        schedule: get("schedule"),
        series: get("series"),
        department: get("department"),
        due_before: get("due_before"),
        include_blocked: get("include_blocked").map(|v| v != "false"),
    };
    let filters = {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("schedule", &q.schedule),
            ("series", &q.series),
            ("department", &q.department),
            ("due_before", &q.due_before),
        ] {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        s.finish()
    };
    let mut c = st.db.read().await?;
    let today = st.now().datetime().date();
    let (rows, error) = match disposition::due(scope, &mut c, today, &q).await {
        Ok(r) => (r, None),
        Err(e @ Error::Invalid { .. }) => (Vec::new(), Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if get("format").as_deref() == Some("csv") {
        let mut out = vec![
            [
                "document_id",
                "title",
                "type",
                "department",
                "document_date",
                "retention_due",
                "schedule",
                "series",
                "series_title",
                "bytes",
                "batch",
                "holds",
                "eligible",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for r in rows {
            let holds = r
                .holds
                .iter()
                .map(|h| h.matter.clone())
                .collect::<Vec<_>>()
                .join("; ");
            out.push(vec![
                r.document_id,
                r.title,
                r.type_name.unwrap_or_default(),
                r.department.unwrap_or_default(),
                r.document_date.unwrap_or_default(),
                r.retention_due,
                r.schedule,
                r.series_code,
                r.series_title,
                r.bytes.to_string(),
                r.batch.map(|b| b.to_string()).unwrap_or_default(),
                holds,
                r.eligible.to_string(),
            ]);
        }
        return csv_response(
            &format!("records-past-retention-{}.csv", scope.town().slug),
            out,
        );
    }
    let batches = disposition::batches(scope, &mut c).await?;
    drop(c);
    let mut chrome = Chrome::new(
        &st,
        &page.user,
        format!("Records past retention — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    if let Some(e) = error {
        chrome.flash = Some(("error".into(), e));
    }
    render(
        &DuePage {
            chrome,
            base: base(scope),
            rows,
            batches,
            q,
            filters,
            schedules: retention::schedules(),
        },
        &page.user,
    )
}

async fn page_create_batch(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let back = format!("{}/disposition", base(&scope));
    let one = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let req = BatchIn {
        agency: one("agency"),
        note: one("note"),
        documents: f
            .iter()
            .filter(|(n, _)| n == "documents")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let r: Result<BatchDetail> = async {
        let mut tx = st.db.begin().await?;
        let b = disposition::create(&scope, &mut tx, st.now(), &req).await?;
        tx.commit().await?;
        Ok(b)
    }
    .await;
    match r {
        Ok(b) => Ok(redirect_flash(
            &st,
            &format!("{back}/{}", enc(&b.batch.id)),
            "ok",
            &format!(
                "Disposal batch {} made with {} records; review it, then approve.",
                b.batch.number,
                b.items.len()
            ),
        )),
        Err(e) => after_form(&st, &back, Err(e)),
    }
}

#[derive(Template)]
#[template(path = "records_batch.html")]
struct BatchPage {
    chrome: Chrome,
    base: String,
    d: BatchDetail,
}

async fn page_batch(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let d = disposition::batch(scope, &mut c, &id).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Disposal batch {} — {}", d.batch.number, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &BatchPage {
            chrome,
            base: base(scope),
            d,
        },
        &page.user,
    )
}

async fn page_approve(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let back = format!("{}/disposition/{}", base(&scope), enc(&id));
    let r = disposition::approve(&scope, &st.db, &st.blobs, st.now(), &id)
        .await
        .map(|b| {
            format!(
                "Batch {} approved; its authorization is ready to download and sign.",
                b.batch.number
            )
        });
    after_form(&st, &back, r)
}

async fn page_destroy(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let back = format!("{}/disposition/{}", base(&scope), enc(&id));
    let r = disposition::destroy(&scope, &st.db, &st.blobs, st.now(), &id)
        .await
        .map(|d| {
            format!(
                "Batch {}: {} records destroyed; their tombstones remain. {} content objects deleted, {} kept because other records share them.",
                d.batch.number, d.documents, d.content_deleted, d.content_shared
            )
        });
    after_form(&st, &back, r)
}

async fn page_authorization(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let (number, bytes) = disposition::authorization(&scope, &st.db, &st.blobs, &id).await?;
    Ok(super::retention_api::pdf(
        &format!("disposition-{}-{number}.pdf", scope.town().slug),
        bytes,
    ))
}

#[derive(Template)]
#[template(path = "records_holds.html")]
struct HoldsPage {
    chrome: Chrome,
    base: String,
    holds: Vec<Hold>,
}

async fn page_holds(State(st): State<AppState>, page: ServicePage<Records>) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let holds = holds::list(scope, &mut c, false).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Legal holds — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &HoldsPage {
            chrome,
            base: base(scope),
            holds,
        },
        &page.user,
    )
}

async fn page_place_hold(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/holds", base(&scope));
    let r = async {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let h = holds::place(
            &scope,
            &st.db,
            super::search_api::indexes(&st)?,
            st.now(),
            &HoldIn {
                kind: get("kind"),
                target: get("target"),
                matter: get("matter"),
                reason: get("reason"),
            },
        )
        .await?;
        Ok(format!("Hold '{}' placed on {}.", h.matter, h.target))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_refresh_hold(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let back = format!("{}/holds", base(&scope));
    let r = async {
        let added = holds::refresh(
            &scope,
            &st.db,
            super::search_api::indexes(&st)?,
            st.now(),
            &id,
        )
        .await?;
        Ok(match added {
            0 => "The search finds nothing the hold does not hold already.".to_owned(),
            1 => "The hold now holds 1 more document the search finds.".to_owned(),
            n => format!("The hold now holds {n} more documents the search finds."),
        })
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_release_hold(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/holds", base(&scope));
    let r = async {
        let mut tx = st.db.begin().await?;
        let h = holds::release(
            &scope,
            &mut tx,
            st.now(),
            &id,
            &ReleaseIn {
                reason: f.get("reason").cloned().unwrap_or_default(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Hold '{}' released.", h.matter))
    }
    .await;
    after_form(&st, &back, r)
}
