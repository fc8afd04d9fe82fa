//! Region → municipalities (tenants) → entities → departments, and the
//! services each municipality subscribes to.
//!
//! Municipality rows are the region's catalog of its members (public facts:
//! name, FIPS, population, grand list). Entities, departments and
//! subscriptions are owned by a municipality and keyed `(municipality_id, id)`;
//! their store functions take the scope that proves the caller may see them.

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::access::{CouncilAdmin, TownScope};
use crate::audit::{self, Change};
use crate::db::{Db, Executor, Tx};
use crate::error::{Error, Result};
use crate::types::{
    DepartmentId, EntityId, MunicipalityId, Service, Slug, SubscriptionId, Timestamp, format_date,
    parse_date,
};
use crate::{dispatch, execute};

/// A member municipality of the region.
#[derive(Debug, Clone, Serialize)]
pub struct Municipality {
    /// Id.
    pub id: MunicipalityId,
    /// URL name, e.g. `west-hartford`.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// 10-digit Census county-subdivision FIPS code.
    pub fips: String,
    /// Legacy county.
    pub county: String,
    /// Population (OPM fiscal indicators).
    pub population: i64,
    /// Net taxable grand list, in cents.
    pub net_grand_list_cents: i64,
    /// Mill rate, exact decimal text.
    pub mill_rate: String,
    /// Whether the town is an active member.
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct MunicipalityRow {
    id: MunicipalityId,
    slug: Slug,
    name: String,
    fips: String,
    county: String,
    population: i64,
    net_grand_list_cents: i64,
    mill_rate: String,
    active: bool,
}

impl From<MunicipalityRow> for Municipality {
    fn from(r: MunicipalityRow) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            name: r.name,
            fips: r.fips,
            county: r.county,
            population: r.population,
            net_grand_list_cents: r.net_grand_list_cents,
            mill_rate: r.mill_rate,
            active: r.active,
        }
    }
}

/// The two sets of books every Connecticut town keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// The town (general) government.
    TownGovernment,
    /// The board of education, which reports separately (CGS 10-10c).
    BoardOfEducation,
}

impl EntityKind {
    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::TownGovernment => "town_government",
            EntityKind::BoardOfEducation => "board_of_education",
        }
    }
}

/// An entity of a municipality.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entity {
    /// Owning town.
    pub municipality_id: MunicipalityId,
    /// Id.
    pub id: EntityId,
    /// `town_government` or `board_of_education`.
    pub kind: String,
    /// Display name.
    pub name: String,
}

/// A department of a municipality.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Department {
    /// Owning town.
    pub municipality_id: MunicipalityId,
    /// Id.
    pub id: DepartmentId,
    /// The entity whose books it belongs to.
    pub entity_id: EntityId,
    /// Short code, unique in the town.
    pub code: String,
    /// Display name.
    pub name: String,
}

/// A municipality's subscription to a service.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    /// Town.
    pub municipality_id: MunicipalityId,
    /// Id.
    pub id: SubscriptionId,
    /// Service.
    pub service: Service,
    /// First day the service is available.
    pub effective_from: Date,
    /// Day the subscription ended (exclusive), if it has.
    pub ended_on: Option<Date>,
}

impl Subscription {
    /// Whether the service is available on `day`.
    pub fn is_active_on(&self, day: Date) -> bool {
        self.effective_from <= day && self.ended_on.is_none_or(|end| day < end)
    }
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    municipality_id: MunicipalityId,
    id: SubscriptionId,
    service: String,
    effective_from: String,
    ended_on: Option<String>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = Error;
    fn try_from(r: SubscriptionRow) -> Result<Self> {
        Ok(Self {
            municipality_id: r.municipality_id,
            id: r.id,
            service: Service::parse("service", &r.service)?,
            effective_from: parse_date("effective_from", &r.effective_from)?,
            ended_on: r
                .ended_on
                .as_deref()
                .map(|d| parse_date("ended_on", d))
                .transpose()?,
        })
    }
}

// ---------------------------------------------------------------- store

/// Looks a municipality up by its URL name (region catalog; not tenant data).
pub async fn find_by_slug(ex: &mut impl Executor, slug: &str) -> Result<Option<Municipality>> {
    let row: Option<MunicipalityRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, slug, name, fips, county, population, net_grand_list_cents, mill_rate, active \
         FROM municipalities WHERE slug = $1").bind(slug).fetch_optional(c).await)?;
    Ok(row.map(Into::into))
}

/// A town and its subscriptions by URL name, from the access cache when it is
/// current. Used by the access check on every request.
pub(crate) async fn town_with_subscriptions(
    db: &Db,
    slug: &str,
) -> Result<Option<(Municipality, Vec<Subscription>)>> {
    let epoch = db.cache().epoch();
    if let Some(hit) = db.cache().towns.get(&slug.to_owned(), epoch) {
        return Ok(hit);
    }
    let mut c = db.read().await?;
    let found = match find_by_slug(&mut c, slug).await? {
        None => None,
        Some(town) => {
            let subs = subscriptions_of(&mut c, &town.id).await?;
            Some((town, subs))
        }
    };
    // Only real towns are cached, so probing many names cannot fill the cache.
    if found.is_some() {
        db.cache().towns.put(slug.to_owned(), epoch, found.clone());
    }
    Ok(found)
}

/// Looks a municipality up by id.
pub async fn find_by_id(
    ex: &mut impl Executor,
    id: &MunicipalityId,
) -> Result<Option<Municipality>> {
    let row: Option<MunicipalityRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, slug, name, fips, county, population, net_grand_list_cents, mill_rate, active \
         FROM municipalities WHERE id = $1").bind(id).fetch_optional(c).await)?;
    Ok(row.map(Into::into))
}

/// Every member municipality, by name.
pub async fn list_all(ex: &mut impl Executor) -> Result<Vec<Municipality>> {
    let rows: Vec<MunicipalityRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, slug, name, fips, county, population, net_grand_list_cents, mill_rate, active \
         FROM municipalities ORDER BY name").fetch_all(c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The subscriptions of the municipality in scope, by service.
pub async fn subscriptions(scope: &TownScope, ex: &mut impl Executor) -> Result<Vec<Subscription>> {
    subscriptions_of(ex, scope.municipality_id()).await
}

/// Subscriptions of a municipality; used by the access check itself and by
/// council administration, which manage subscriptions without reading town data.
pub(crate) async fn subscriptions_of(
    ex: &mut impl Executor,
    municipality_id: &MunicipalityId,
) -> Result<Vec<Subscription>> {
    let rows: Vec<SubscriptionRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT municipality_id, id, service, effective_from, ended_on FROM subscriptions \
         WHERE municipality_id = $1 ORDER BY service, effective_from").bind(municipality_id).fetch_all(c).await)?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The entities of the municipality in scope.
pub async fn entities(scope: &TownScope, ex: &mut impl Executor) -> Result<Vec<Entity>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT municipality_id, id, kind, name FROM entities WHERE municipality_id = $1 ORDER BY kind DESC")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// The departments of the municipality in scope.
pub async fn departments(scope: &TownScope, ex: &mut impl Executor) -> Result<Vec<Department>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT municipality_id, id, entity_id, code, name FROM departments WHERE municipality_id = $1 ORDER BY name")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

// ---------------------------------------------------------------- services

/// What is needed to add a member municipality.
#[derive(Debug, Clone)]
pub struct NewMunicipality {
    /// Display name.
    pub name: String,
    /// 10-digit FIPS code.
    pub fips: String,
    /// Legacy county.
    pub county: String,
    /// Population.
    pub population: i64,
    /// Net grand list in cents.
    pub net_grand_list_cents: i64,
    /// Mill rate text.
    pub mill_rate: String,
}

impl NewMunicipality {
    /// Checks every field and names the first bad one.
    pub fn validate(&self) -> Result<Slug> {
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "enter the town's name (at most 100 characters)",
            ));
        }
        if self.fips.len() != 10
            || !self.fips.bytes().all(|b| b.is_ascii_digit())
            || !self.fips.starts_with("09")
        {
            return Err(Error::invalid(
                "fips",
                "a Connecticut town FIPS code has 10 digits and starts with 09",
            ));
        }
        if self.county.trim().is_empty() {
            return Err(Error::invalid("county", "enter the county"));
        }
        if self.population < 0 {
            return Err(Error::invalid(
                "population",
                "population cannot be negative",
            ));
        }
        if self.net_grand_list_cents < 0 {
            return Err(Error::invalid(
                "net_grand_list",
                "the grand list cannot be negative",
            ));
        }
        let rate = Decimal::from_str_exact(self.mill_rate.trim()).map_err(|_| {
            Error::invalid("mill_rate", "enter the mill rate as a decimal, e.g. 32.45")
        })?;
        if rate.is_sign_negative() || rate > Decimal::from(200) {
            return Err(Error::invalid(
                "mill_rate",
                "a mill rate is between 0 and 200",
            ));
        }
        Slug::from_name(&self.name)
    }
}

/// Inserts a municipality with its town-government and board-of-education
/// entities, and audits it. Used by council administration and the demo seed.
pub async fn insert_municipality(
    tx: &mut Tx,
    now: Timestamp,
    actor: &audit::Actor,
    new: &NewMunicipality,
) -> Result<Municipality> {
    let slug = new.validate()?;
    let id = MunicipalityId::generate();
    execute!(tx, c => sqlx::query(
        "INSERT INTO municipalities (id, slug, name, fips, county, population, net_grand_list_cents, mill_rate, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&id).bind(&slug).bind(new.name.trim()).bind(&new.fips).bind(new.county.trim())
        .bind(new.population).bind(new.net_grand_list_cents).bind(new.mill_rate.trim()).bind(true)
        .bind(now.to_db()).execute(c).await)
        .map_err(|e| Error::from(e).on_conflict("name", "a town with that name or FIPS code already exists"))?;
    for (kind, name) in [
        (
            EntityKind::TownGovernment,
            format!("Town of {}", new.name.trim()),
        ),
        (
            EntityKind::BoardOfEducation,
            format!("{} Board of Education", new.name.trim()),
        ),
    ] {
        execute!(tx, c => sqlx::query("INSERT INTO entities (municipality_id, id, kind, name) VALUES ($1, $2, $3, $4)")
            .bind(&id).bind(EntityId::generate()).bind(kind.as_str()).bind(&name).execute(c).await)?;
    }
    let town = Municipality {
        id: id.clone(),
        slug,
        name: new.name.trim().to_owned(),
        fips: new.fips.clone(),
        county: new.county.trim().to_owned(),
        population: new.population,
        net_grand_list_cents: new.net_grand_list_cents,
        mill_rate: new.mill_rate.trim().to_owned(),
        active: true,
    };
    audit::record(
        tx,
        now,
        actor,
        Change {
            municipality_id: Some(id.clone()),
            service: None,
            action: "municipality.create",
            entity_type: "municipality",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&town).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    Ok(town)
}

/// Adds a department to a town (council administration).
pub async fn add_department(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    town: &Municipality,
    entity_kind: EntityKind,
    code: &str,
    name: &str,
) -> Result<Department> {
    let code = code.trim().to_uppercase();
    if code.is_empty()
        || code.len() > 12
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::invalid(
            "code",
            "use 1–12 letters, digits or hyphens, e.g. FIN",
        ));
    }
    if name.trim().is_empty() || name.len() > 100 {
        return Err(Error::invalid(
            "name",
            "enter the department's name (at most 100 characters)",
        ));
    }
    let entity_id: EntityId = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT id FROM entities WHERE municipality_id = $1 AND kind = $2")
        .bind(&town.id).bind(entity_kind.as_str()).fetch_optional(c).await)?
    .ok_or(Error::NotFound { what: "entity" })?;
    let dept = Department {
        municipality_id: town.id.clone(),
        id: DepartmentId::generate(),
        entity_id,
        code,
        name: name.trim().to_owned(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO departments (municipality_id, id, entity_id, code, name) VALUES ($1, $2, $3, $4, $5)")
        .bind(&dept.municipality_id).bind(&dept.id).bind(&dept.entity_id).bind(&dept.code).bind(&dept.name)
        .execute(c).await)
        .map_err(|e| Error::from(e).on_conflict("code", format!("{} already has a department with code {}", town.name, dept.code)))?;
    audit::record(
        tx,
        now,
        admin.actor(),
        Change {
            municipality_id: Some(town.id.clone()),
            service: None,
            action: "department.create",
            entity_type: "department",
            entity_id: dept.id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&dept).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    Ok(dept)
}

/// Subscribes a town to a service from `effective_from`. Refuses a second open
/// subscription to the same service.
pub async fn subscribe(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    town: &Municipality,
    service: Service,
    effective_from: Date,
) -> Result<Subscription> {
    let existing = subscriptions_of(tx, &town.id).await?;
    if existing
        .iter()
        .any(|s| s.service == service && s.ended_on.is_none())
    {
        return Err(Error::conflict(
            "service",
            format!("{} already subscribes to {}", town.name, service.title()),
        ));
    }
    let sub = Subscription {
        municipality_id: town.id.clone(),
        id: SubscriptionId::generate(),
        service,
        effective_from,
        ended_on: None,
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO subscriptions (municipality_id, id, service, effective_from, ended_on, created_at) \
         VALUES ($1, $2, $3, $4, NULL, $5)")
        .bind(&sub.municipality_id).bind(&sub.id).bind(service.as_str()).bind(format_date(effective_from))
        .bind(now.to_db()).execute(c).await)?;
    audit::record(
        tx,
        now,
        admin.actor(),
        Change {
            municipality_id: Some(town.id.clone()),
            service: Some(service),
            action: "subscription.create",
            entity_type: "subscription",
            entity_id: sub.id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&sub).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    Ok(sub)
}

/// Ends a town's open subscription to a service as of `ended_on` (exclusive).
pub async fn end_subscription(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    town: &Municipality,
    service: Service,
    ended_on: Date,
) -> Result<Subscription> {
    let existing = subscriptions_of(tx, &town.id).await?;
    let Some(open) = existing
        .into_iter()
        .find(|s| s.service == service && s.ended_on.is_none())
    else {
        return Err(Error::NotFound {
            what: "subscription",
        });
    };
    if ended_on < open.effective_from {
        return Err(Error::invalid(
            "ended_on",
            "the end date is before the subscription started",
        ));
    }
    execute!(tx, c => sqlx::query("UPDATE subscriptions SET ended_on = $1 WHERE municipality_id = $2 AND id = $3")
        .bind(format_date(ended_on)).bind(&town.id).bind(&open.id).execute(c).await)?;
    let after = Subscription {
        ended_on: Some(ended_on),
        ..open.clone()
    };
    audit::record(
        tx,
        now,
        admin.actor(),
        Change {
            municipality_id: Some(town.id.clone()),
            service: Some(service),
            action: "subscription.end",
            entity_type: "subscription",
            entity_id: open.id.to_string(),
            before: Some(serde_json::to_value(&open).map_err(|e| Error::Internal(e.to_string()))?),
            after: Some(serde_json::to_value(&after).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    Ok(after)
}

/// Looks up a town by slug for council administration.
pub async fn admin_town(_admin: &CouncilAdmin, db: &Db, slug: &str) -> Result<Municipality> {
    let mut c = db.read().await?;
    find_by_slug(&mut c, slug)
        .await?
        .ok_or(Error::NotFound { what: "town" })
}

/// Adds a member town in its own transaction (council administration).
pub async fn create_municipality(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    new: &NewMunicipality,
) -> Result<Municipality> {
    let mut tx = db.begin().await?;
    let town = insert_municipality(&mut tx, now, admin.actor(), new).await?;
    tx.commit().await?;
    Ok(town)
}

/// Every town with its subscriptions (council administration).
pub async fn admin_list_with_subscriptions(
    _admin: &CouncilAdmin,
    db: &Db,
) -> Result<Vec<(Municipality, Vec<Subscription>)>> {
    let mut c = db.read().await?;
    all_with_subscriptions(&mut c).await
}

/// Every municipality with its subscriptions, in two queries whatever the
/// number of towns (the access check lists a user's towns on every page).
pub(crate) async fn all_with_subscriptions(
    ex: &mut impl Executor,
) -> Result<Vec<(Municipality, Vec<Subscription>)>> {
    let towns = list_all(ex).await?;
    let rows: Vec<SubscriptionRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT municipality_id, id, service, effective_from, ended_on FROM subscriptions ORDER BY service, effective_from")
        .fetch_all(c).await)?;
    let mut by_town: std::collections::HashMap<MunicipalityId, Vec<Subscription>> =
        std::collections::HashMap::new();
    for row in rows {
        let sub: Subscription = row.try_into()?;
        by_town
            .entry(sub.municipality_id.clone())
            .or_default()
            .push(sub);
    }
    Ok(towns
        .into_iter()
        .map(|t| {
            let mine = by_town.remove(&t.id).unwrap_or_default();
            (t, mine)
        })
        .collect())
}

/// A town's subscriptions (council administration).
pub async fn admin_subscriptions(
    _admin: &CouncilAdmin,
    db: &Db,
    town: &Municipality,
) -> Result<Vec<Subscription>> {
    let mut c = db.read().await?;
    subscriptions_of(&mut c, &town.id).await
}

/// A town's departments (council administration manages them).
pub async fn admin_departments(
    _admin: &CouncilAdmin,
    db: &Db,
    town: &Municipality,
) -> Result<Vec<Department>> {
    let mut c = db.read().await?;
    Ok(dispatch!(&mut c, c => sqlx::query_as(
        "SELECT municipality_id, id, entity_id, code, name FROM departments WHERE municipality_id = $1 ORDER BY name")
        .bind(&town.id).fetch_all(c).await)?)
}
