//! API wire types: what the JSON API accepts and returns, with OpenAPI
//! schemas. Kept apart from platform types so the API can stay stable while
//! the domain changes.

use munishare_platform::access::{Grant, Role, ServiceAccess, TownScope};
use munishare_platform::audit::AuditEvent;
use munishare_platform::identity::{ApiToken, User};
use munishare_platform::jobs::Job;
use munishare_platform::tenancy::{Department, Entity, Municipality, Subscription};
use munishare_platform::types::{Money, format_date};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A service of a town as the caller may use it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    /// Service key, e.g. `finance`.
    pub service: String,
    /// Display name.
    pub title: String,
    /// The caller's permissions: view, edit, approve, administer.
    pub permissions: Vec<String>,
    /// First day of the subscription (YYYY-MM-DD).
    pub subscribed_since: String,
}

impl From<&ServiceAccess> for ServiceOut {
    fn from(s: &ServiceAccess) -> Self {
        Self {
            service: s.service.as_str().to_owned(),
            title: s.service.title().to_owned(),
            permissions: s
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            subscribed_since: format_date(s.subscription.effective_from),
        }
    }
}

/// A town the caller can reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownOut {
    /// Short name used in URLs.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Services the caller may use there.
    pub services: Vec<ServiceOut>,
}

impl TownOut {
    /// From an access scope.
    pub fn from_scope(t: &TownScope) -> Self {
        Self {
            slug: t.town().slug.to_string(),
            name: t.town().name.clone(),
            services: t.services().iter().map(ServiceOut::from).collect(),
        }
    }
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Council administrator (and not acting through a token).
    pub council_admin: bool,
    /// Towns and services.
    pub towns: Vec<TownOut>,
}

/// An entity (set of books) of a town.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntityOut {
    /// Id.
    pub id: String,
    /// `town_government` or `board_of_education`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    /// Id.
    pub id: String,
    /// Entity id.
    pub entity_id: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
}

impl From<Department> for DepartmentOut {
    fn from(d: Department) -> Self {
        Self {
            id: d.id.to_string(),
            entity_id: d.entity_id.to_string(),
            code: d.code,
            name: d.name,
        }
    }
}

/// A town in detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownDetailOut {
    /// Short name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// 10-digit FIPS code.
    pub fips: String,
    /// County.
    pub county: String,
    /// Population.
    pub population: i64,
    /// Net grand list in dollars, exact decimal string.
    pub net_grand_list: String,
    /// Mill rate, exact decimal string.
    pub mill_rate: String,
    /// Entities.
    pub entities: Vec<EntityOut>,
    /// Departments.
    pub departments: Vec<DepartmentOut>,
    /// The caller's services.
    pub services: Vec<ServiceOut>,
}

impl TownDetailOut {
    /// Assembles the detail view.
    pub fn new(scope: &TownScope, entities: Vec<Entity>, departments: Vec<Department>) -> Self {
        let t = scope.town();
        Self {
            slug: t.slug.to_string(),
            name: t.name.clone(),
            fips: t.fips.clone(),
            county: t.county.clone(),
            population: t.population,
            net_grand_list: Money::from_cents(t.net_grand_list_cents)
                .to_decimal()
                .to_string(),
            mill_rate: t.mill_rate.clone(),
            entities: entities
                .into_iter()
                .map(|e| EntityOut {
                    id: e.id.to_string(),
                    kind: e.kind,
                    name: e.name,
                })
                .collect(),
            departments: departments.into_iter().map(DepartmentOut::from).collect(),
            services: scope.services().iter().map(ServiceOut::from).collect(),
        }
    }
}

/// Sign-in for a token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Town short name the token is for.
    pub town: String,
    /// Service key the token is for.
    pub service: String,
    /// What the token is for, e.g. "backup client on fs1".
    pub label: String,
    /// Days until it expires (1–730); none = no expiry.
    pub expires_in_days: Option<u32>,
}

/// A new token for the signed-in user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenRequest {
    /// Town short name.
    pub town: String,
    /// Service key.
    pub service: String,
    /// Label.
    pub label: String,
    /// Days until it expires (1–730); none = no expiry.
    pub expires_in_days: Option<u32>,
}

/// A token just created: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// Token id (for revoking).
    pub id: String,
    /// The secret; send as `Authorization: Bearer …`.
    pub token: String,
    /// Town.
    pub town: String,
    /// Service.
    pub service: String,
    /// Label.
    pub label: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
}

/// A token as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// Id.
    pub id: String,
    /// Town id.
    pub municipality_id: String,
    /// Service.
    pub service: String,
    /// Label.
    pub label: String,
    /// First characters of the secret.
    pub prefix: String,
    /// Created.
    pub created_at: String,
    /// Expires.
    pub expires_at: Option<String>,
    /// Last used.
    pub last_used_at: Option<String>,
    /// Revoked.
    pub revoked_at: Option<String>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            municipality_id: t.municipality_id.to_string(),
            service: t.service,
            label: t.label,
            prefix: t.token_prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// Current password.
    pub current_password: String,
    /// New password (at least 12 characters).
    pub new_password: String,
    /// The new password again.
    pub confirm_password: String,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Id.
    pub id: String,
    /// Chain (town id or `region`) and position.
    pub chain: String,
    /// Position in the chain.
    pub seq: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Town id.
    pub municipality_id: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Verb.
    pub action: String,
    /// Entity type.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: String,
    /// State before (JSON).
    pub before: Option<serde_json::Value>,
    /// State after (JSON).
    pub after: Option<serde_json::Value>,
    /// Request id.
    pub request_id: Option<String>,
    /// Hash.
    pub hash: String,
}

impl From<AuditEvent> for AuditOut {
    fn from(e: AuditEvent) -> Self {
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Self {
            id: e.id,
            chain: e.chain,
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            municipality_id: e.municipality_id,
            service: e.service,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: json(e.before_json),
            after: json(e.after_json),
            request_id: e.request_id,
            hash: e.hash,
        }
    }
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageOut {
    /// Events, newest first.
    pub events: Vec<AuditOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionOut {
    /// Id.
    pub id: String,
    /// Service key.
    pub service: String,
    /// From (YYYY-MM-DD).
    pub effective_from: String,
    /// Ended on (exclusive), if ended.
    pub ended_on: Option<String>,
    /// Active today.
    pub active: bool,
}

impl SubscriptionOut {
    /// From a subscription, judged on `today`.
    pub fn new(s: &Subscription, today: time::Date) -> Self {
        Self {
            id: s.id.to_string(),
            service: s.service.as_str().to_owned(),
            effective_from: format_date(s.effective_from),
            ended_on: s.ended_on.map(format_date),
            active: s.is_active_on(today),
        }
    }
}

/// A town for council administration.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTownOut {
    /// Id.
    pub id: String,
    /// Short name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// FIPS.
    pub fips: String,
    /// County.
    pub county: String,
    /// Population.
    pub population: i64,
    /// Net grand list, dollars.
    pub net_grand_list: String,
    /// Mill rate.
    pub mill_rate: String,
    /// Subscriptions.
    pub subscriptions: Vec<SubscriptionOut>,
}

impl AdminTownOut {
    /// Assembles the admin view.
    pub fn new(t: &Municipality, subs: &[Subscription], today: time::Date) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            name: t.name.clone(),
            fips: t.fips.clone(),
            county: t.county.clone(),
            population: t.population,
            net_grand_list: Money::from_cents(t.net_grand_list_cents)
                .to_decimal()
                .to_string(),
            mill_rate: t.mill_rate.clone(),
            subscriptions: subs
                .iter()
                .map(|s| SubscriptionOut::new(s, today))
                .collect(),
        }
    }
}

/// A new member town.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTownRequest {
    /// Name.
    pub name: String,
    /// 10-digit FIPS code starting 09.
    pub fips: String,
    /// County.
    pub county: String,
    /// Population.
    pub population: i64,
    /// Net grand list in dollars, e.g. "2611809940" or "2,611,809,940.00".
    pub net_grand_list: String,
    /// Mill rate, e.g. "30.59".
    pub mill_rate: String,
}

/// Subscribe a town to a service.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// Service key.
    pub service: String,
    /// First day (YYYY-MM-DD).
    pub effective_from: String,
}

/// End a subscription.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndSubscriptionRequest {
    /// The day it ends (exclusive), YYYY-MM-DD.
    pub ended_on: String,
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDepartmentRequest {
    /// `town_government` or `board_of_education`.
    pub entity: String,
    /// Code, e.g. FIN.
    pub code: String,
    /// Name.
    pub name: String,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Council administrator.
    pub council_admin: bool,
    /// May sign in.
    pub active: bool,
    /// Must change password at next sign-in.
    pub must_change_password: bool,
    /// Locked until, after failed sign-ins.
    pub locked_until: Option<String>,
    /// Created.
    pub created_at: String,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            council_admin: u.council_admin,
            active: u.active,
            must_change_password: u.must_change_password,
            locked_until: u.locked_until,
            created_at: u.created_at,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    /// Username (3–40 of letters, digits, . _ -).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: Option<String>,
    /// Council administrator.
    pub council_admin: Option<bool>,
}

/// A user with a temporary password, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    /// The user.
    pub user: UserOut,
    /// Temporary password; must be changed at first sign-in.
    pub temporary_password: String,
}

/// Enable or disable.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetActiveRequest {
    /// Whether the user may sign in.
    pub active: bool,
}

/// A grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    /// Id.
    pub id: String,
    /// User id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Role id.
    pub role_id: String,
    /// Role name.
    pub role_name: String,
    /// Town short name; absent for region-wide grants.
    pub town: Option<String>,
    /// Service limit.
    pub service: Option<String>,
    /// Granted.
    pub created_at: String,
    /// Revoked.
    pub revoked_at: Option<String>,
}

impl From<Grant> for GrantOut {
    fn from(g: Grant) -> Self {
        Self {
            id: g.id.to_string(),
            user_id: g.user_id.to_string(),
            username: g.username,
            role_id: g.role_id.to_string(),
            role_name: g.role_name,
            town: g.town_slug,
            service: g.service,
            created_at: g.created_at,
            revoked_at: g.revoked_at,
        }
    }
}

/// A user and their grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetailOut {
    /// The user.
    pub user: UserOut,
    /// Their grants.
    pub grants: Vec<GrantOut>,
}

/// A new grant.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewGrantRequest {
    /// Grantee.
    pub user_id: String,
    /// Role id (see /api/v1/admin/roles).
    pub role_id: String,
    /// Town short name; omit for a region-wide grant.
    pub town: Option<String>,
    /// Limit to one service (requires a town).
    pub service: Option<String>,
}

/// A permission of a role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolePermissionOut {
    /// Service key.
    pub service: String,
    /// Permission.
    pub permission: String,
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    /// Id.
    pub id: String,
    /// Stable key.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Permissions.
    pub permissions: Vec<RolePermissionOut>,
}

impl From<Role> for RoleOut {
    fn from(r: Role) -> Self {
        Self {
            id: r.id.to_string(),
            slug: r.slug,
            name: r.name,
            description: r.description,
            permissions: r
                .permissions
                .into_iter()
                .map(|(s, p)| RolePermissionOut {
                    service: s.as_str().to_owned(),
                    permission: p.as_str().to_owned(),
                })
                .collect(),
        }
    }
}

/// A job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Status.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Enqueued.
    pub created_at: String,
    /// Not before.
    pub run_at: String,
    /// Finished.
    pub finished_at: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Result (JSON).
    pub result: Option<serde_json::Value>,
}

impl From<Job> for JobOut {
    fn from(j: Job) -> Self {
        Self {
            id: j.id.to_string(),
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            created_at: j.created_at,
            run_at: j.run_at,
            finished_at: j.finished_at,
            last_error: j.last_error,
            result: j.result.and_then(|r| serde_json::from_str(&r).ok()),
        }
    }
}

/// Start a job.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewJobRequest {
    /// `audit.verify` or `sessions.purge`.
    pub kind: String,
}
