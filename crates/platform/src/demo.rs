//! The demo region: the Capitol Region Council of Governments and its 38
//! member towns (facts from OPM and the Census, embedded from
//! `seed/crcog_towns.csv`; see `seed/PROVENANCE.md`), built-in roles, and
//! demo users for each kind of person who uses MuniShare.

use serde::Deserialize;
use time::macros::date;

use crate::access::{self, NewGrant, Role};
use crate::audit::Actor;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::identity::{self, NewUser};
use crate::tenancy::{self, EntityKind, Municipality, NewMunicipality};
use crate::types::{Permission, Service, Timestamp};
use crate::{dispatch, execute};

/// The member towns, embedded so the binary needs no files at run time.
pub const CRCOG_TOWNS_CSV: &str = include_str!("../seed/crcog_towns.csv");

/// One row of the embedded town list.
#[derive(Debug, Clone, Deserialize)]
pub struct TownFacts {
    /// Name.
    pub name: String,
    /// URL name.
    pub slug: String,
    /// 10-digit FIPS.
    pub fips: String,
    /// Legacy county.
    pub county: String,
    /// Population, 2018.
    pub population_2018: i64,
    /// Net grand list FY2018, whole dollars.
    pub net_grand_list_2018: i64,
    /// Actual mill rate FY2018, exact text.
    pub mill_rate_2018: String,
    /// Equalized net grand list FY2018, whole dollars.
    pub equalized_net_grand_list_2018: i64,
    /// FY2018 property tax revenue, whole dollars.
    pub tax_revenue_2018: i64,
    /// FY2018 intergovernmental revenue, whole dollars.
    pub intergovernmental_revenue_2018: i64,
    /// FY2018 total revenue, whole dollars.
    pub total_revenue_2018: i64,
    /// FY2018 education expenditure, whole dollars.
    pub education_2018: i64,
    /// FY2018 debt service, whole dollars.
    pub debt_service_2018: i64,
    /// FY2018 total expenditures, whole dollars.
    pub total_expenditures_2018: i64,
}

/// Parses the embedded town list.
pub fn crcog_towns() -> Result<Vec<TownFacts>> {
    csv::Reader::from_reader(CRCOG_TOWNS_CSV.as_bytes())
        .deserialize()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| Error::Internal(format!("seed row {}: {e}", i + 2))))
        .collect()
}

/// A role every installation starts with.
#[derive(Debug, Clone)]
pub struct BuiltinRole {
    /// Stable key.
    pub slug: &'static str,
    /// Name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Its permissions.
    pub permissions: Vec<(Service, Permission)>,
}

/// The built-in roles.
pub fn builtin_roles() -> Vec<BuiltinRole> {
    let all = |services: &[Service], perms: &[Permission]| {
        services
            .iter()
            .flat_map(|s| perms.iter().map(move |p| (*s, *p)))
            .collect::<Vec<_>>()
    };
    use Permission::{Administer, Approve, Edit, View};
    vec![
        BuiltinRole {
            slug: "town-administrator",
            name: "Town administrator",
            description: "Runs every subscribed service for a town.",
            permissions: all(&Service::ALL, &Permission::ALL),
        },
        BuiltinRole {
            slug: "finance-director",
            name: "Finance director",
            description: "Runs the town's and board of education's books.",
            permissions: all(&[Service::Finance], &Permission::ALL),
        },
        BuiltinRole {
            slug: "finance-clerk",
            name: "Finance clerk",
            description: "Enters invoices, receipts and journal drafts.",
            permissions: all(&[Service::Finance], &[View, Edit]),
        },
        BuiltinRole {
            slug: "assessor",
            name: "Assessor",
            description: "The town's assessor: values, grand list, appeals.",
            permissions: all(&[Service::Assessment], &Permission::ALL),
        },
        BuiltinRole {
            slug: "field-assessor",
            name: "Regional field assessor",
            description: "Council staff who inspect and value parcels for towns that grant them.",
            permissions: all(&[Service::Assessment], &[View, Edit]),
        },
        BuiltinRole {
            slug: "records-clerk",
            name: "Records clerk",
            description: "Files, scans and searches town records.",
            permissions: all(&[Service::Records], &[View, Edit]),
        },
        BuiltinRole {
            slug: "scanning-operator",
            name: "Scanning bureau operator",
            description: "Council staff who scan and file records for towns that grant them; they see only what they filed.",
            permissions: all(&[Service::Records], &[Edit]),
        },
        BuiltinRole {
            slug: "backup-operator",
            name: "Backup operator",
            description: "Council data-center staff who run the backup service.",
            permissions: all(&[Service::Backup], &[View, Edit, Administer]),
        },
        BuiltinRole {
            slug: "purchasing-agent",
            name: "Purchasing agent",
            description: "Runs cooperative solicitations and contracts.",
            permissions: all(&[Service::Procurement], &[View, Edit, Approve]),
        },
        BuiltinRole {
            slug: "auditor",
            name: "Auditor (read-only)",
            description: "Reads every service's data and the audit log; changes nothing.",
            permissions: all(&Service::ALL, &[View]),
        },
    ]
}

/// Who the demo created and how to sign in.
#[derive(Debug, Clone)]
pub struct DemoCredentials {
    /// The council administrator's username.
    pub admin_username: String,
    /// Its random password, shown once.
    pub admin_password: String,
    /// The demo users' shared password.
    pub demo_password: String,
    /// (username, what they can do).
    pub users: Vec<(String, String)>,
}

/// Which services each demo town subscribes to, by slug; other towns get a
/// common set. Every town subscribes to finance (so each has demo books),
/// except Bloomfield: its finance subscription starts on 2027-07-01, the
/// fixture for "a service is unreachable until its subscription starts"
/// (`munishare` tests `access` and `finance` rely on it).
fn demo_subscriptions(slug: &str) -> Vec<(Service, time::Date)> {
    let since = date!(2024 - 07 - 01);
    let list: &[Service] = match slug {
        "hartford" => &[
            Service::Finance,
            Service::Assessment,
            Service::Records,
            Service::Backup,
            Service::Hr,
            Service::Program,
        ],
        "west-hartford" => &[
            Service::Finance,
            Service::Assessment,
            Service::Records,
            Service::Backup,
            Service::Fleet,
            Service::Procurement,
            Service::Program,
        ],
        "east-hartford" => &[
            Service::Finance,
            Service::Assessment,
            Service::Records,
            Service::Backup,
            Service::Facilities,
            Service::Program,
        ],
        "manchester" | "wethersfield" | "newington" => &[
            Service::Finance,
            Service::Assessment,
            Service::Backup,
            Service::Procurement,
            Service::Program,
        ],
        "bloomfield" => {
            return vec![
                (Service::Backup, since),
                (Service::Program, since),
                (Service::Finance, date!(2027 - 07 - 01)),
            ];
        }
        _ => &[
            Service::Finance,
            Service::Backup,
            Service::Procurement,
            Service::Program,
        ],
    };
    list.iter().map(|s| (*s, since)).collect()
}

/// The account the demo seed acts through. It exists only in a demo region,
/// is created disabled (it cannot sign in) and holds no grants; it is there
/// because rows such as a crosswalk version name the user who made them.
pub const SEED_ACCOUNT: &str = "system.demo-seed";

/// A scope for the demo seed to set up `service` in the town named `slug`,
/// with every permission in that service, audited as `system:demo-seed`.
///
/// This is the one way to act in a town without a person's grant, and it is
/// narrow on purpose: the town must subscribe to the service today (not
/// found otherwise, as for anyone), and the region must hold the seed's own
/// account, still disabled — which only [`seed`] creates. Nothing on the web
/// or API side calls it; `ledger::demo::seed` does, right after [`seed`].
pub async fn seed_scope(
    db: &Db,
    today: time::Date,
    slug: &str,
    service: Service,
) -> Result<crate::access::ServiceScope> {
    let (town, subs) = tenancy::town_with_subscriptions(db, slug)
        .await?
        .filter(|(t, _)| t.active)
        .ok_or(Error::NotFound { what: "town" })?;
    let subscription = subs
        .into_iter()
        .find(|s| s.service == service && s.is_active_on(today))
        .ok_or(Error::NotFound { what: "service" })?;
    let mut c = db.read().await?;
    let account = identity::user_by_username(&mut c, SEED_ACCOUNT).await?;
    drop(c);
    let account = account
        .filter(|u| !u.active && !u.council_admin)
        .ok_or_else(|| {
            Error::Forbidden(
                "only the demo seed, in a demo region, acts without a person's grant".into(),
            )
        })?;
    Ok(crate::access::ServiceScope::for_system(
        town,
        subscription,
        account.id,
        Actor::system("demo-seed"),
    ))
}

const DEPARTMENTS: [(EntityKind, &str, &str); 7] = [
    (EntityKind::TownGovernment, "FIN", "Finance"),
    (EntityKind::TownGovernment, "ASR", "Assessor"),
    (EntityKind::TownGovernment, "CLK", "Town Clerk"),
    (EntityKind::TownGovernment, "DPW", "Public Works"),
    (EntityKind::TownGovernment, "IT", "Information Technology"),
    (EntityKind::TownGovernment, "HR", "Human Resources"),
    (
        EntityKind::BoardOfEducation,
        "BOE-BUS",
        "Board of Education Business Office",
    ),
];

/// Whether the database has no region yet (a fresh install).
pub async fn is_empty(db: &Db) -> Result<bool> {
    let mut c = db.read().await?;
    let n: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT COUNT(*) FROM region").fetch_one(c).await)?;
    Ok(n == 0)
}

async fn seed_town(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    facts: &TownFacts,
) -> Result<Municipality> {
    let town = tenancy::insert_municipality(
        tx,
        now,
        actor,
        &NewMunicipality {
            name: facts.name.clone(),
            fips: facts.fips.clone(),
            county: facts.county.clone(),
            population: facts.population_2018,
            net_grand_list_cents: facts
                .net_grand_list_2018
                .checked_mul(100)
                .ok_or_else(|| Error::Internal("grand list overflow".into()))?,
            mill_rate: facts.mill_rate_2018.clone(),
        },
    )
    .await?;
    if town.slug.as_str() != facts.slug {
        return Err(Error::Internal(format!(
            "seed slug {} differs from derived {}",
            facts.slug, town.slug
        )));
    }
    Ok(town)
}

/// Seeds the demo region into an empty database. `demo_password` is the
/// shared password of the demo users (random when `None`); the council
/// administrator always gets a fresh random password.
pub async fn seed(
    db: &Db,
    now: Timestamp,
    demo_password: Option<String>,
) -> Result<DemoCredentials> {
    let actor = Actor::system("demo-seed");
    let admin_password = identity::random_password()?;
    let demo_password = match demo_password {
        Some(p) => {
            identity::check_password_rules("MUNISHARE_DEMO_PASSWORD", &p)?;
            p
        }
        None => identity::random_password()?,
    };
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query("INSERT INTO region (id, slug, name, created_at) VALUES ($1, 'crcog', $2, $3)")
        .bind(uuid::Uuid::now_v7().to_string()).bind("Capitol Region Council of Governments").bind(now.to_db())
        .execute(c).await)?;
    let mut roles: Vec<Role> = Vec::new();
    for r in builtin_roles() {
        roles.push(
            access::insert_role(
                &mut tx,
                now,
                &actor,
                r.slug,
                r.name,
                r.description,
                &r.permissions,
            )
            .await?,
        );
    }
    let mut towns = Vec::new();
    for facts in crcog_towns()? {
        let town = seed_town(&mut tx, now, &actor, &facts).await?;
        for (kind, code, name) in DEPARTMENTS {
            let entity_id: String = dispatch!(&mut tx, c => sqlx::query_scalar(
                "SELECT id FROM entities WHERE municipality_id = $1 AND kind = $2")
                .bind(&town.id).bind(kind.as_str()).fetch_one(c).await)?;
            execute!(&mut tx, c => sqlx::query(
                "INSERT INTO departments (municipality_id, id, entity_id, code, name) VALUES ($1, $2, $3, $4, $5)")
                .bind(&town.id).bind(crate::types::DepartmentId::generate()).bind(&entity_id).bind(code).bind(name)
                .execute(c).await)?;
        }
        for (service, from) in demo_subscriptions(town.slug.as_str()) {
            execute!(&mut tx, c => sqlx::query(
                "INSERT INTO subscriptions (municipality_id, id, service, effective_from, ended_on, created_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5)")
                .bind(&town.id).bind(crate::types::SubscriptionId::generate()).bind(service.as_str())
                .bind(crate::types::format_date(from)).bind(now.to_db()).execute(c).await)?;
        }
        towns.push(town);
    }

    let admin = identity::insert_user(
        &mut tx,
        now,
        &actor,
        &NewUser {
            username: "admin".into(),
            display_name: "Council Administrator".into(),
            email: "admin@crcog.example".into(),
            council_admin: true,
        },
        &identity::hash_password(&admin_password)?,
        false,
    )
    .await?;

    // The seed's own account (see `seed_scope`), disabled from the start.
    let seed_account = identity::insert_user(
        &mut tx,
        now,
        &actor,
        &NewUser {
            username: SEED_ACCOUNT.into(),
            display_name: "Demo seed (system account; cannot sign in)".into(),
            email: String::new(),
            council_admin: false,
        },
        &identity::hash_password(&identity::random_password()?)?,
        false,
    )
    .await?;
    execute!(&mut tx, c => sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
        .bind(false).bind(&seed_account.id).execute(c).await)?;
    crate::audit::record(
        &mut tx,
        now,
        &actor,
        crate::audit::Change {
            municipality_id: None,
            service: None,
            action: "user.disable",
            entity_type: "user",
            entity_id: seed_account.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"username": SEED_ACCOUNT, "active": false})),
        },
    )
    .await?;

    // (username, name, role, town slug or region, service limit, description)
    type Person = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<Service>,
        &'static str,
    );
    let people: [Person; 10] = [
        (
            "townadmin.hartford",
            "Hartford Town Administrator",
            "town-administrator",
            Some("hartford"),
            None,
            "town administrator, Hartford",
        ),
        (
            "clerk.hartford",
            "Hartford Finance Clerk",
            "finance-clerk",
            Some("hartford"),
            None,
            "finance clerk, Hartford",
        ),
        (
            "assessor.hartford",
            "Hartford Assessor",
            "assessor",
            Some("hartford"),
            None,
            "assessor, Hartford",
        ),
        (
            "townadmin.west-hartford",
            "West Hartford Town Manager",
            "town-administrator",
            Some("west-hartford"),
            None,
            "town administrator, West Hartford",
        ),
        (
            "records.west-hartford",
            "West Hartford Records Clerk",
            "records-clerk",
            Some("west-hartford"),
            None,
            "records clerk, West Hartford",
        ),
        (
            "townadmin.east-hartford",
            "East Hartford Town Administrator",
            "town-administrator",
            Some("east-hartford"),
            None,
            "town administrator, East Hartford",
        ),
        (
            "field.assessor",
            "Regional Field Assessor",
            "field-assessor",
            Some("hartford"),
            Some(Service::Assessment),
            "council field assessor in Hartford, East Hartford, Manchester and Wethersfield",
        ),
        (
            "scan.bureau",
            "Council Scanning Bureau",
            "scanning-operator",
            Some("hartford"),
            Some(Service::Records),
            "council scanning bureau in Hartford, West Hartford and East Hartford: files records, sees only what it filed",
        ),
        (
            "auditor",
            "Regional Auditor",
            "auditor",
            None,
            None,
            "auditor, read-only in every town",
        ),
        (
            "backup.operator",
            "Council Backup Operator",
            "backup-operator",
            None,
            None,
            "council backup operator, every town",
        ),
    ];
    let demo_hash = identity::hash_password(&demo_password)?;
    let mut users = Vec::new();
    let town_id = |slug: &str| {
        towns
            .iter()
            .find(|t| t.slug.as_str() == slug)
            .map(|t| t.id.clone())
    };
    for (username, name, role_slug, town, service, description) in people {
        let user = identity::insert_user(
            &mut tx,
            now,
            &actor,
            &NewUser {
                username: username.into(),
                display_name: name.into(),
                email: format!("{username}@example.gov"),
                council_admin: false,
            },
            &demo_hash,
            false,
        )
        .await?;
        let role = roles
            .iter()
            .find(|r| r.slug == role_slug)
            .ok_or_else(|| Error::Internal(format!("no role {role_slug}")))?;
        let mut scopes = vec![town.and_then(town_id)];
        if username == "field.assessor" {
            scopes.extend(["east-hartford", "manchester", "wethersfield"].map(&town_id));
        }
        if username == "scan.bureau" {
            scopes.extend(["west-hartford", "east-hartford"].map(&town_id));
        }
        for municipality_id in scopes {
            insert_grant_raw(
                &mut tx,
                now,
                &actor,
                &admin.id,
                &NewGrant {
                    user_id: user.id.clone(),
                    role_id: role.id.clone(),
                    municipality_id,
                    service,
                },
            )
            .await?;
        }
        users.push((username.to_owned(), description.to_owned()));
    }
    tx.commit().await?;
    Ok(DemoCredentials {
        admin_username: admin.username,
        admin_password,
        demo_password,
        users,
    })
}

async fn insert_grant_raw(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    by: &crate::types::UserId,
    g: &NewGrant,
) -> Result<()> {
    let id = crate::types::GrantId::generate();
    execute!(tx, c => sqlx::query(
        "INSERT INTO grants (id, user_id, role_id, municipality_id, service, created_at, created_by, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)")
        .bind(&id).bind(&g.user_id).bind(&g.role_id).bind(&g.municipality_id)
        .bind(g.service.map(Service::as_str)).bind(now.to_db()).bind(by).execute(c).await)?;
    crate::audit::record(
        tx,
        now,
        actor,
        crate::audit::Change {
            municipality_id: g.municipality_id.clone(),
            service: g.service,
            action: "grant.create",
            entity_type: "grant",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({"user_id": g.user_id, "role_id": g.role_id})),
        },
    )
    .await?;
    Ok(())
}

/// Creates the first council administrator on an install without the demo
/// (`--no-demo`): the region row and the built-in roles, and a random password shown once.
pub async fn bootstrap(db: &Db, now: Timestamp, region_name: &str) -> Result<(String, String)> {
    let actor = Actor::system("bootstrap");
    let password = identity::random_password()?;
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query("INSERT INTO region (id, slug, name, created_at) VALUES ($1, 'region', $2, $3)")
        .bind(uuid::Uuid::now_v7().to_string()).bind(region_name).bind(now.to_db()).execute(c).await)?;
    for r in builtin_roles() {
        access::insert_role(
            &mut tx,
            now,
            &actor,
            r.slug,
            r.name,
            r.description,
            &r.permissions,
        )
        .await?;
    }
    let admin = identity::insert_user(
        &mut tx,
        now,
        &actor,
        &NewUser {
            username: "admin".into(),
            display_name: "Council Administrator".into(),
            email: String::new(),
            council_admin: true,
        },
        &identity::hash_password(&password)?,
        true,
    )
    .await?;
    tx.commit().await?;
    Ok((admin.username, password))
}

/// Name of the region (for page headers).
pub async fn region_name(db: &Db) -> Result<String> {
    let mut c = db.read().await?;
    let name: Option<String> = dispatch!(&mut c, c => sqlx::query_scalar("SELECT name FROM region LIMIT 1").fetch_optional(c).await)?;
    Ok(name.unwrap_or_else(|| "MuniShare".into()))
}
