//! Who may do what, where. Roles are sets of (service, permission); grants
//! give a user a role at a scope: the whole region, one municipality, or one
//! municipality and one service.
//!
//! *Architecture invariant:* the scope types — [`TownScope`], [`ServiceScope`],
//! [`CouncilAdmin`] — have private fields and are only built by the
//! `authorize_*` functions here (and, for the demo seed alone, by
//! [`crate::demo::seed_scope`]). Store functions for tenant-owned data take a
//! scope first, so a query that skipped the access check does not compile.
//!
//! Being a council administrator lets a user manage towns, subscriptions,
//! users and grants; it does not let them read a town's service data, which
//! needs a grant like anyone else's.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::Date;

use crate::audit::{self, Actor, AuditVisibility, Change};
use crate::db::{Db, Executor, Tx};
use crate::error::{Error, Result};
use crate::tenancy::{self, Municipality, Subscription};
use crate::types::{GrantId, MunicipalityId, Permission, RoleId, Service, Timestamp, UserId};
use crate::{dispatch, execute};

/// A token's limit: it acts only in this town and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLimit {
    /// The town.
    pub municipality_id: MunicipalityId,
    /// The service.
    pub service: Service,
}

/// An authenticated caller: a signed-in user, or a user's API token.
#[derive(Debug, Clone)]
pub struct Principal {
    user_id: UserId,
    username: String,
    display_name: String,
    council_admin: bool,
    must_change_password: bool,
    token: Option<TokenLimit>,
    request_id: Option<String>,
}

impl Principal {
    /// Built by identity after checking a session or token.
    pub(crate) fn new(
        user_id: UserId,
        username: String,
        display_name: String,
        council_admin: bool,
        must_change_password: bool,
        token: Option<TokenLimit>,
    ) -> Self {
        Self {
            user_id,
            username,
            display_name,
            council_admin,
            must_change_password,
            token,
            request_id: None,
        }
    }

    /// Tags the principal with the request it is acting in (for the audit log).
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// The user's id.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }
    /// The user's sign-in name.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The user's display name.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    /// Whether the user administers the council (and is not acting through a token).
    pub fn is_council_admin(&self) -> bool {
        self.council_admin && self.token.is_none()
    }
    /// Whether the user must change their password before doing anything else.
    pub fn must_change_password(&self) -> bool {
        self.must_change_password
    }
    /// The token limit, when acting through an API token.
    pub fn token_limit(&self) -> Option<&TokenLimit> {
        self.token.as_ref()
    }
    /// The audit actor for this principal.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id.clone()),
            label: self.username.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// One service of a town as a user sees it: the subscription and what they may do.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccess {
    /// The service.
    pub service: Service,
    /// The caller's permissions (at least one).
    pub permissions: Vec<Permission>,
    /// The town's active subscription.
    pub subscription: Subscription,
}

/// Proof that the caller may see a town: they hold some grant that reaches it.
#[derive(Debug, Clone)]
pub struct TownScope {
    town: Municipality,
    services: Vec<ServiceAccess>,
    actor: Actor,
}

impl TownScope {
    /// The town.
    pub fn town(&self) -> &Municipality {
        &self.town
    }
    /// Its id.
    pub fn municipality_id(&self) -> &MunicipalityId {
        &self.town.id
    }
    /// The subscribed services the caller has permissions in.
    pub fn services(&self) -> &[ServiceAccess] {
        &self.services
    }
    /// The audit actor.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Proof that the caller holds `permission` on a subscribed service in a town.
#[derive(Debug, Clone)]
pub struct ServiceScope {
    town: Municipality,
    access: ServiceAccess,
    user_id: UserId,
    actor: Actor,
}

impl ServiceScope {
    /// The town.
    pub fn town(&self) -> &Municipality {
        &self.town
    }
    /// Its id.
    pub fn municipality_id(&self) -> &MunicipalityId {
        &self.town.id
    }
    /// The service.
    pub fn service(&self) -> Service {
        self.access.service
    }
    /// The subscription and everything the caller may do in this service and town.
    pub fn access(&self) -> &ServiceAccess {
        &self.access
    }
    /// Whether the caller also holds `p` here.
    pub fn can(&self, p: Permission) -> bool {
        self.access.permissions.contains(&p)
    }
    /// The caller.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }
    /// The audit actor.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// A scope for work the platform does by itself, with every permission of
    /// the town's active subscription. Only [`crate::demo::seed_scope`] builds
    /// one (for the demo seed, which has no person to act for); the checks it
    /// makes are documented there.
    pub(crate) fn for_system(
        town: Municipality,
        subscription: Subscription,
        user_id: UserId,
        actor: Actor,
    ) -> Self {
        Self {
            access: ServiceAccess {
                service: subscription.service,
                permissions: Permission::ALL.to_vec(),
                subscription,
            },
            town,
            user_id,
            actor,
        }
    }
}

/// Proof that the caller is a council administrator (signed in, not via a
/// token), or the server's operator at the command line.
#[derive(Debug, Clone)]
pub struct CouncilAdmin {
    user_id: Option<UserId>,
    actor: Actor,
}

impl CouncilAdmin {
    /// Administration from `munishare admin …` on the server. Whoever runs it
    /// already holds the database credentials; the actions are audited as
    /// `cli:<label>` all the same.
    pub fn operator_console(label: &str) -> Self {
        Self {
            user_id: None,
            actor: Actor {
                user_id: None,
                label: format!("cli:{label}"),
                request_id: None,
            },
        }
    }

    /// The administrator's user id (none at the operator console).
    pub fn user_id(&self) -> Option<&UserId> {
        self.user_id.as_ref()
    }
    /// The audit actor.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Checks the caller is a council administrator.
pub fn authorize_council_admin(principal: &Principal) -> Result<CouncilAdmin> {
    if principal.is_council_admin() {
        Ok(CouncilAdmin {
            user_id: Some(principal.user_id.clone()),
            actor: principal.actor(),
        })
    } else {
        Err(Error::Forbidden(
            "Only council administrators can do that.".into(),
        ))
    }
}

/// A user's permissions: region-wide, and per town.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    region: BTreeSet<(Service, Permission)>,
    towns: BTreeMap<MunicipalityId, BTreeSet<(Service, Permission)>>,
}

impl Effective {
    /// Permissions in `service` in `town`.
    pub fn in_town(&self, town: &MunicipalityId, service: Service) -> Vec<Permission> {
        let mut out: BTreeSet<Permission> = self
            .region
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, p)| *p)
            .collect();
        if let Some(t) = self.towns.get(town) {
            out.extend(t.iter().filter(|(s, _)| *s == service).map(|(_, p)| *p));
        }
        out.into_iter().collect()
    }

    /// Whether any grant reaches `town`.
    pub fn reaches(&self, town: &MunicipalityId) -> bool {
        !self.region.is_empty() || self.towns.get(town).is_some_and(|t| !t.is_empty())
    }
}

/// One (scope, service, permission) a user's active grants give.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct GrantPerm {
    municipality_id: Option<MunicipalityId>,
    grant_service: Option<String>,
    service: String,
    permission: String,
}

/// The (scope, service, permission) rows of a user's active grants, from the
/// cache when it is current.
async fn grant_perms(db: &Db, user: &UserId) -> Result<Vec<GrantPerm>> {
    let epoch = db.cache().epoch();
    if let Some(rows) = db.cache().grants.get(user, epoch) {
        return Ok(rows);
    }
    let mut c = db.read().await?;
    let rows: Vec<GrantPerm> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT g.municipality_id, g.service AS grant_service, rp.service, rp.permission \
         FROM grants g JOIN role_permissions rp ON rp.role_id = g.role_id \
         WHERE g.user_id = $1 AND g.revoked_at IS NULL").bind(user).fetch_all(c).await)?;
    db.cache().grants.put(user.clone(), epoch, rows.clone());
    Ok(rows)
}

/// Computes a principal's permissions from their active grants, narrowed to
/// their token's town and service when acting through a token.
pub async fn effective(db: &Db, principal: &Principal) -> Result<Effective> {
    let grants = grant_perms(db, &principal.user_id)
        .await?
        .into_iter()
        .map(|r| {
            Ok(GrantReach {
                municipality_id: r.municipality_id,
                service_limit: r
                    .grant_service
                    .as_deref()
                    .map(|s| Service::parse("service", s))
                    .transpose()?,
                gives: (
                    Service::parse("service", &r.service)?,
                    Permission::parse("permission", &r.permission)?,
                ),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Effective::compute(&grants, principal.token.as_ref()))
}

/// One (service, permission) an active grant gives, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantReach {
    /// The town, or `None` for a region-wide grant.
    pub municipality_id: Option<MunicipalityId>,
    /// The grant's service limit, if any.
    pub service_limit: Option<Service>,
    /// A (service, permission) of the granted role.
    pub gives: (Service, Permission),
}

impl Effective {
    /// The access rule, as a pure function: each grant gives its role's
    /// (service, permission) pairs in its town — in every town when it is
    /// region-wide — except pairs outside its service limit; acting through a
    /// token narrows everything to the token's town and service.
    pub fn compute(grants: &[GrantReach], token: Option<&TokenLimit>) -> Effective {
        let mut eff = Effective::default();
        for g in grants {
            if g.service_limit.is_some_and(|limit| limit != g.gives.0) {
                continue;
            }
            match &g.municipality_id {
                None => eff.region.insert(g.gives),
                Some(m) => eff.towns.entry(m.clone()).or_default().insert(g.gives),
            };
        }
        let Some(limit) = token else { return eff };
        let mut in_town: BTreeSet<(Service, Permission)> = eff
            .region
            .iter()
            .copied()
            .filter(|(s, _)| *s == limit.service)
            .collect();
        if let Some(t) = eff.towns.get(&limit.municipality_id) {
            in_town.extend(t.iter().copied().filter(|(s, _)| *s == limit.service));
        }
        let mut narrowed = Effective::default();
        narrowed
            .towns
            .insert(limit.municipality_id.clone(), in_town);
        narrowed
    }
}

fn services_in(
    eff: &Effective,
    town: &MunicipalityId,
    subs: Vec<Subscription>,
    today: Date,
) -> Vec<ServiceAccess> {
    subs.into_iter()
        .filter(|s| s.is_active_on(today))
        .filter_map(|s| {
            let permissions = eff.in_town(town, s.service);
            (!permissions.is_empty()).then_some(ServiceAccess {
                service: s.service,
                permissions,
                subscription: s,
            })
        })
        .collect()
}

/// Checks the caller may see the town named `slug` at all. An unknown town
/// and a town the caller has no grant in both answer "not found".
pub async fn authorize_town(
    db: &Db,
    principal: &Principal,
    today: Date,
    slug: &str,
) -> Result<TownScope> {
    let (town, subs) = tenancy::town_with_subscriptions(db, slug)
        .await?
        .filter(|(t, _)| t.active)
        .ok_or(Error::NotFound { what: "town" })?;
    let eff = effective(db, principal).await?;
    if !eff.reaches(&town.id) {
        return Err(Error::NotFound { what: "town" });
    }
    let services = services_in(&eff, &town.id, subs, today);
    Ok(TownScope {
        town,
        services,
        actor: principal.actor(),
    })
}

/// Checks the caller holds `permission` on `service` in the town named `slug`.
///
/// Not found when the town is unknown, the caller has no permission at all in
/// that service there, or the town does not subscribe to it — so neither a
/// town's existence nor its subscriptions leak. Forbidden when the caller can
/// see the service but lacks this particular permission.
pub async fn authorize_service(
    db: &Db,
    principal: &Principal,
    today: Date,
    slug: &str,
    service: Service,
    permission: Permission,
) -> Result<ServiceScope> {
    authorize(db, principal, today, slug, service, Some(permission)).await
}

/// Checks the caller holds some permission — whichever — on `service` in the
/// town named `slug`: for a module that decides itself what each permission
/// lets a caller see (records lets a caller who may edit but not view see
/// only what they filed). Not found as [`authorize_service`] answers.
pub async fn authorize_member(
    db: &Db,
    principal: &Principal,
    today: Date,
    slug: &str,
    service: Service,
) -> Result<ServiceScope> {
    authorize(db, principal, today, slug, service, None).await
}

async fn authorize(
    db: &Db,
    principal: &Principal,
    today: Date,
    slug: &str,
    service: Service,
    permission: Option<Permission>,
) -> Result<ServiceScope> {
    let town = authorize_town(db, principal, today, slug).await?;
    let Some(access) = town.services.iter().find(|s| s.service == service) else {
        return Err(Error::NotFound { what: "service" });
    };
    if let Some(permission) = permission
        && !access.permissions.contains(&permission)
    {
        return Err(Error::Forbidden(format!(
            "You may {} {} in {} but not {} it.",
            access
                .permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            service.title(),
            town.town.name,
            permission.as_str()
        )));
    }
    Ok(ServiceScope {
        access: access.clone(),
        town: town.town,
        user_id: principal.user_id.clone(),
        actor: principal.actor(),
    })
}

/// Authorizes a machine credential that a service module issued and checked
/// itself — the backup service's append-only tokens, whose secret only that
/// module can verify. The credential acts for the user who issued it, limited
/// to one town and service, and only as far as that user's own grants reach
/// today: a disabled issuer, or one who lost `permission` there, leaves the
/// credential powerless (not found or forbidden, as [`authorize_service`]
/// answers). `label` names the credential in the audit log
/// (`username via label`).
///
/// The caller must have verified the credential's secret against its stored
/// hash before calling; this function decides access, not authenticity.
pub async fn authorize_issued_credential(
    db: &Db,
    today: Date,
    issuer: &UserId,
    municipality_id: &MunicipalityId,
    service: Service,
    permission: Permission,
    label: &str,
) -> Result<ServiceScope> {
    let (user, town) = {
        let mut c = db.read().await?;
        let user = crate::identity::user_by_id(&mut c, issuer).await?;
        let town = tenancy::find_by_id(&mut c, municipality_id).await?;
        (user, town)
    };
    let (Some(user), Some(town)) = (user, town) else {
        return Err(Error::NotFound { what: "town" });
    };
    if !user.active {
        return Err(Error::Unauthenticated(format!(
            "{} who issued this credential is disabled.",
            user.display_name
        )));
    }
    let principal = Principal::new(
        user.id.clone(),
        user.username.clone(),
        user.display_name.clone(),
        // Like an API token, a credential never carries council-administrator rights.
        false,
        false,
        Some(TokenLimit {
            municipality_id: municipality_id.clone(),
            service,
        }),
    );
    let mut scope = authorize_service(
        db,
        &principal,
        today,
        town.slug.as_str(),
        service,
        permission,
    )
    .await?;
    scope.actor.label = format!("{} via {label}", user.username);
    Ok(scope)
}

/// The towns the caller can reach, each with the services they may use there.
pub async fn my_towns(db: &Db, principal: &Principal, today: Date) -> Result<Vec<TownScope>> {
    let eff = effective(db, principal).await?;
    let mut c = db.read().await?;
    let mut out = Vec::new();
    for (town, subs) in tenancy::all_with_subscriptions(&mut c).await? {
        if !town.active || !eff.reaches(&town.id) {
            continue;
        }
        let services = services_in(&eff, &town.id, subs, today);
        out.push(TownScope {
            town,
            services,
            actor: principal.actor(),
        });
    }
    Ok(out)
}

/// The scopes the caller holds `permission` in for `service`: one per
/// reachable town that subscribes to it today, built by the same rule as
/// [`authorize_service`] (a token narrows it to its one town). Regional views
/// over several towns — the field assessors' queue — start here, so a town
/// that did not grant the caller never appears.
pub async fn service_scopes(
    db: &Db,
    principal: &Principal,
    today: Date,
    service: Service,
    permission: Permission,
) -> Result<Vec<ServiceScope>> {
    Ok(my_towns(db, principal, today)
        .await?
        .into_iter()
        .filter_map(|t| {
            let access = t
                .services
                .iter()
                .find(|s| s.service == service && s.permissions.contains(&permission))?
                .clone();
            Some(ServiceScope {
                access,
                town: t.town,
                user_id: principal.user_id.clone(),
                actor: principal.actor(),
            })
        })
        .collect())
}

/// A user who holds a permission in a town's service.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PermissionHolder {
    /// The user.
    pub user_id: UserId,
    /// Sign-in name.
    pub username: String,
    /// Name shown.
    pub display_name: String,
}

/// The active users whose active grants give `permission` on the scope's
/// service in the scope's town (town grants and region-wide grants, within
/// any service limit), by name. Modules ask this instead of reading the
/// grant tables — e.g. who may be assigned an inspection.
pub async fn users_with_permission(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    permission: Permission,
) -> Result<Vec<PermissionHolder>> {
    let service = scope.service().as_str();
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT DISTINCT u.id AS user_id, u.username, u.display_name \
         FROM grants g JOIN role_permissions rp ON rp.role_id = g.role_id JOIN users u ON u.id = g.user_id \
         WHERE g.revoked_at IS NULL AND u.active = $1 \
         AND (g.municipality_id = $2 OR g.municipality_id IS NULL) \
         AND (g.service IS NULL OR g.service = $3) AND rp.service = $3 AND rp.permission = $4 \
         ORDER BY u.display_name, u.username")
        .bind(true).bind(scope.municipality_id()).bind(service).bind(permission.as_str())
        .fetch_all(c).await)?)
}

/// What of the audit log the caller may read: region events if they are a
/// council administrator; per reachable town, events of the services they can view.
pub async fn audit_visibility(
    db: &Db,
    principal: &Principal,
    today: Date,
) -> Result<AuditVisibility> {
    let towns = my_towns(db, principal, today).await?;
    Ok(AuditVisibility {
        region: principal.is_council_admin(),
        towns: towns
            .into_iter()
            .map(|t| {
                let viewable = t
                    .services
                    .iter()
                    .filter(|s| s.permissions.contains(&Permission::View))
                    .map(|s| s.service)
                    .collect();
                (t.town.id, viewable)
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- roles and grants

/// A role: a named set of (service, permission).
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Id.
    pub id: RoleId,
    /// Stable key, e.g. `town-administrator`.
    pub slug: String,
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its permissions.
    pub permissions: Vec<(Service, Permission)>,
}

/// Every role with its permissions.
pub async fn list_roles(ex: &mut impl Executor) -> Result<Vec<Role>> {
    let roles: Vec<(RoleId, String, String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, slug, name, description FROM roles ORDER BY name").fetch_all(c).await)?;
    let perms: Vec<(RoleId, String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT role_id, service, permission FROM role_permissions").fetch_all(c).await)?;
    roles
        .into_iter()
        .map(|(id, slug, name, description)| {
            let mut permissions = perms
                .iter()
                .filter(|(r, _, _)| *r == id)
                .map(|(_, s, p)| {
                    Ok((
                        Service::parse("service", s)?,
                        Permission::parse("permission", p)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            permissions.sort();
            Ok(Role {
                id,
                slug,
                name,
                description,
                permissions,
            })
        })
        .collect()
}

/// Inserts a role (used by the seed and by administration) and audits it.
pub async fn insert_role(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    slug: &str,
    name: &str,
    description: &str,
    permissions: &[(Service, Permission)],
) -> Result<Role> {
    let id = RoleId::generate();
    execute!(tx, c => sqlx::query("INSERT INTO roles (id, slug, name, description) VALUES ($1, $2, $3, $4)")
        .bind(&id).bind(slug).bind(name).bind(description).execute(c).await)
        .map_err(|e| Error::from(e).on_conflict("slug", format!("a role named {slug} exists")))?;
    for (s, p) in permissions {
        execute!(tx, c => sqlx::query("INSERT INTO role_permissions (role_id, service, permission) VALUES ($1, $2, $3)")
            .bind(&id).bind(s.as_str()).bind(p.as_str()).execute(c).await)?;
    }
    let role = Role {
        id: id.clone(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        permissions: permissions.to_vec(),
    };
    audit::record(
        tx,
        now,
        actor,
        Change {
            municipality_id: None,
            service: None,
            action: "role.create",
            entity_type: "role",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&role).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    Ok(role)
}

/// A grant as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Grant {
    /// Id.
    pub id: GrantId,
    /// Grantee.
    pub user_id: UserId,
    /// Grantee's username.
    pub username: String,
    /// Role.
    pub role_id: RoleId,
    /// Role name.
    pub role_name: String,
    /// Town, or none for region-wide.
    pub municipality_id: Option<MunicipalityId>,
    /// Town name, or none for region-wide.
    pub town_name: Option<String>,
    /// Town slug.
    pub town_slug: Option<String>,
    /// Service the grant is limited to, if any.
    pub service: Option<String>,
    /// Granted.
    pub created_at: String,
    /// Revoked, if it was.
    pub revoked_at: Option<String>,
}

const GRANT_SELECT: &str = "SELECT g.id, g.user_id, u.username, g.role_id, r.name AS role_name, g.municipality_id, \
     m.name AS town_name, m.slug AS town_slug, g.service, g.created_at, g.revoked_at \
     FROM grants g JOIN users u ON u.id = g.user_id JOIN roles r ON r.id = g.role_id \
     LEFT JOIN municipalities m ON m.id = g.municipality_id";

/// Grants of one user (active and revoked), newest first.
pub async fn grants_of_user(_admin: &CouncilAdmin, db: &Db, user: &UserId) -> Result<Vec<Grant>> {
    let mut c = db.read().await?;
    let sql = format!(
        "{GRANT_SELECT} WHERE g.user_id = $1 ORDER BY g.revoked_at IS NOT NULL, g.created_at DESC"
    );
    Ok(
        dispatch!(&mut c, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user).fetch_all(c).await)?,
    )
}

/// Active grants that reach one town (including region-wide grants).
pub async fn grants_in_town(
    _admin: &CouncilAdmin,
    db: &Db,
    town: &MunicipalityId,
) -> Result<Vec<Grant>> {
    let mut c = db.read().await?;
    let sql = format!(
        "{GRANT_SELECT} WHERE g.revoked_at IS NULL AND (g.municipality_id = $1 OR g.municipality_id IS NULL) \
         ORDER BY u.username"
    );
    Ok(
        dispatch!(&mut c, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(town).fetch_all(c).await)?,
    )
}

async fn grant_by_id(ex: &mut impl Executor, id: &GrantId) -> Result<Grant> {
    let sql = format!("{GRANT_SELECT} WHERE g.id = $1");
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "grant" })
}

/// What a new grant gives.
#[derive(Debug, Clone)]
pub struct NewGrant {
    /// Grantee.
    pub user_id: UserId,
    /// Role.
    pub role_id: RoleId,
    /// Town (none = region-wide).
    pub municipality_id: Option<MunicipalityId>,
    /// Limit to one service.
    pub service: Option<Service>,
}

/// Grants a role to a user at a scope; refuses grants that would give nothing
/// (a service limit the role has no permission in) and exact duplicates.
pub async fn create_grant(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    new: &NewGrant,
) -> Result<Grant> {
    let mut tx = db.begin().await?;
    let roles = list_roles(&mut tx).await?;
    let role = roles
        .iter()
        .find(|r| r.id == new.role_id)
        .ok_or_else(|| Error::invalid("role_id", "no such role"))?;
    if crate::identity::user_by_id(&mut tx, &new.user_id)
        .await?
        .is_none()
    {
        return Err(Error::invalid("user_id", "no such user"));
    }
    if let Some(m) = &new.municipality_id
        && tenancy::find_by_id(&mut tx, m).await?.is_none()
    {
        return Err(Error::invalid("municipality", "no such town"));
    }
    if let Some(s) = new.service
        && !role.permissions.iter().any(|(rs, _)| *rs == s)
    {
        return Err(Error::invalid(
            "service",
            format!(
                "the role {} has no permissions in {}; choose another service or role",
                role.name,
                s.title()
            ),
        ));
    }
    let dup: Option<String> = dispatch!(&mut tx, c => sqlx::query_scalar(
        "SELECT id FROM grants WHERE user_id = $1 AND role_id = $2 AND revoked_at IS NULL \
         AND COALESCE(municipality_id, '') = $3 AND COALESCE(service, '') = $4")
        .bind(&new.user_id).bind(&new.role_id)
        .bind(new.municipality_id.as_ref().map_or("", |m| m.as_str()))
        .bind(new.service.map_or("", Service::as_str))
        .fetch_optional(c).await)?;
    if dup.is_some() {
        return Err(Error::conflict(
            "role_id",
            "the user already has this role at this scope",
        ));
    }
    let id = GrantId::generate();
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO grants (id, user_id, role_id, municipality_id, service, created_at, created_by, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)")
        .bind(&id).bind(&new.user_id).bind(&new.role_id).bind(&new.municipality_id)
        .bind(new.service.map(Service::as_str)).bind(now.to_db()).bind(admin.user_id()).execute(c).await)?;
    let grant = grant_by_id(&mut tx, &id).await?;
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: new.municipality_id.clone(),
            service: new.service,
            action: "grant.create",
            entity_type: "grant",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&grant).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(grant)
}

/// Revokes a grant (kept for the record, marked revoked).
pub async fn revoke_grant(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    id: &GrantId,
) -> Result<Grant> {
    let mut tx = db.begin().await?;
    let before = grant_by_id(&mut tx, id).await?;
    if before.revoked_at.is_some() {
        return Err(Error::conflict("id", "that grant is already revoked"));
    }
    execute!(&mut tx, c => sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2")
        .bind(now.to_db()).bind(id).execute(c).await)?;
    let after = grant_by_id(&mut tx, id).await?;
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: before.municipality_id.clone(),
            service: before
                .service
                .as_deref()
                .and_then(|s| Service::parse("service", s).ok()),
            action: "grant.revoke",
            entity_type: "grant",
            entity_id: id.to_string(),
            before: Some(
                serde_json::to_value(&before).map_err(|e| Error::Internal(e.to_string()))?,
            ),
            after: Some(serde_json::to_value(&after).map_err(|e| Error::Internal(e.to_string()))?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn towns() -> Vec<MunicipalityId> {
        (0..3).map(|_| MunicipalityId::generate()).collect()
    }

    /// Grants over three towns (index 3 = region-wide) with optional service limits.
    fn grants_strategy() -> impl Strategy<Value = Vec<(usize, Option<usize>, usize, usize)>> {
        proptest::collection::vec(
            (
                0usize..4,
                proptest::option::of(0usize..9),
                0usize..9,
                0usize..4,
            ),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn effective_permissions_match_the_written_rule(raw in grants_strategy(), token in proptest::option::of((0usize..3, 0usize..9))) {
            let towns = towns();
            let grants: Vec<GrantReach> = raw.iter().map(|(t, limit, s, p)| GrantReach {
                municipality_id: (*t < 3).then(|| towns[*t].clone()),
                service_limit: limit.map(|l| Service::ALL[l]),
                gives: (Service::ALL[*s], Permission::ALL[*p]),
            }).collect();
            let token = token.map(|(t, s)| TokenLimit { municipality_id: towns[t].clone(), service: Service::ALL[s] });
            let eff = Effective::compute(&grants, token.as_ref());
            for town in &towns {
                for service in Service::ALL {
                    // The naive reading of the rule, grant by grant.
                    let mut expected: Vec<Permission> = grants.iter()
                        .filter(|g| g.municipality_id.as_ref().is_none_or(|m| m == town))
                        .filter(|g| g.service_limit.is_none_or(|l| l == service))
                        .filter(|g| g.gives.0 == service)
                        .filter(|_| token.as_ref().is_none_or(|t| &t.municipality_id == town && t.service == service))
                        .map(|g| g.gives.1)
                        .collect();
                    expected.sort();
                    expected.dedup();
                    prop_assert_eq!(eff.in_town(town, service), expected);
                }
                // A town is reached exactly when some service there has a permission.
                let any = Service::ALL.iter().any(|s| !eff.in_town(town, *s).is_empty());
                prop_assert_eq!(eff.reaches(town), any);
            }
        }
    }

    #[test]
    fn a_service_limited_grant_gives_nothing_in_other_services() {
        let hartford = MunicipalityId::generate();
        let grants = [
            GrantReach {
                municipality_id: Some(hartford.clone()),
                service_limit: Some(Service::Assessment),
                gives: (Service::Finance, Permission::Edit),
            },
            GrantReach {
                municipality_id: Some(hartford.clone()),
                service_limit: Some(Service::Assessment),
                gives: (Service::Assessment, Permission::View),
            },
        ];
        let eff = Effective::compute(&grants, None);
        assert!(eff.in_town(&hartford, Service::Finance).is_empty());
        assert_eq!(
            eff.in_town(&hartford, Service::Assessment),
            [Permission::View]
        );
        assert!(!eff.reaches(&MunicipalityId::generate()));
    }
}
