//! Which of a town's documents a caller may see (docs/design/0013, "Access").
//!
//! Platform grants stop at the town and service. Inside the town:
//! - a records officer (approve in records) sees every document;
//! - anyone else sees town-wide documents (no department) and documents of
//!   the departments they are limited to in `records_department_access`, or of
//!   every department when they have no such rows;
//! - confidential documents only the records officer sees;
//! - a contributor — edit without view, as the town grants the council's
//!   scanning bureau — sees only the documents they filed themselves.
//!
//! The rule is applied in SQL (`push_filter`), so lists, counts and pages
//! never include what the caller may not read, and a hidden document answers
//! 404 like another town's.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, SqlBuilder, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::{change, require, require_reader};

/// What the caller may see in the town.
#[derive(Debug, Clone)]
pub struct Visibility {
    /// The records officer: every document, confidential ones too.
    pub officer: bool,
    /// The departments (ids) the caller is limited to; None: every department.
    pub departments: Option<Vec<String>>,
    /// A contributor (edit without view): only the documents this user filed.
    pub filed_by: Option<String>,
}

impl Visibility {
    /// Whether a document of `department` (None: town-wide), confidential or not, is visible.
    pub fn sees(&self, department: Option<&str>, confidential: bool) -> bool {
        if self.officer {
            return true;
        }
        if confidential {
            return false;
        }
        match (department, &self.departments) {
            (None, _) | (_, None) => true,
            (Some(d), Some(list)) => list.iter().any(|x| x == d),
        }
    }

    /// Appends ` AND …` limiting `d` (records_documents) to what is visible.
    pub fn push_filter(&self, q: &mut SqlBuilder) {
        if self.officer {
            return;
        }
        q.push(" AND NOT d.confidential");
        if let Some(user) = &self.filed_by {
            q.push(" AND d.filed_by_user = ");
            q.bind(user.clone());
        }
        if let Some(list) = &self.departments {
            q.push(" AND (d.department_id IS NULL OR d.department_id IN (");
            for (i, id) in list.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id.clone());
            }
            q.push("))");
        }
    }
}

/// The caller's visibility in the scope's town.
pub async fn of(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Visibility> {
    require_reader(scope)?;
    if crate::is_officer(scope) {
        return Ok(Visibility {
            officer: true,
            departments: None,
            filed_by: None,
        });
    }
    if !scope.can(Permission::View) {
        return Ok(Visibility {
            officer: false,
            departments: None,
            filed_by: Some(scope.user_id().to_string()),
        });
    }
    let rows: Vec<(String,)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT department_id FROM records_department_access WHERE municipality_id = $1 AND user_id = $2 ORDER BY department_id")
        .bind(scope.municipality_id()).bind(scope.user_id()).fetch_all(c).await)?;
    Ok(Visibility {
        officer: false,
        departments: (!rows.is_empty()).then(|| rows.into_iter().map(|r| r.0).collect()),
        filed_by: None,
    })
}

/// A department of the town.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Department {
    /// Id.
    pub id: String,
    /// Code, e.g. `CLK`.
    pub code: String,
    /// Name, e.g. `Town Clerk`.
    pub name: String,
}

/// The town's departments, by code.
pub async fn departments(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Department>> {
    require_reader(scope)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, code, name FROM departments WHERE municipality_id = $1 ORDER BY code")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// Finds a department of the town by code or id, naming `field` when there is none.
pub async fn department(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    field: &str,
    code_or_id: &str,
) -> Result<Department> {
    let v = code_or_id.trim();
    departments(scope, ex)
        .await?
        .into_iter()
        .find(|d| d.code.eq_ignore_ascii_case(v) || d.id == v)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "'{}' is not a department of {}",
                    v.chars().take(40).collect::<String>(),
                    scope.town().name
                ),
            )
        })
}

/// One user's department limit in the town.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentLimit {
    /// The user's sign-in name.
    pub username: String,
    /// The department codes they are limited to.
    pub departments: Vec<String>,
}

/// A user's department limit to set; an empty list lifts it (the whole town).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DepartmentLimitIn {
    /// The user's sign-in name.
    pub username: String,
    /// Department codes (e.g. `CLK`); empty: no limit.
    #[serde(default)]
    pub departments: Vec<String>,
}

/// Every department limit in the town (administer).
pub async fn limits(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<DepartmentLimit>> {
    require(scope, Permission::Administer)?;
    let rows: Vec<(String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT u.username, p.code FROM records_department_access a \
         JOIN users u ON u.id = a.user_id \
         JOIN departments p ON p.municipality_id = a.municipality_id AND p.id = a.department_id \
         WHERE a.municipality_id = $1 ORDER BY u.username, p.code")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let mut out: Vec<DepartmentLimit> = Vec::new();
    for (username, code) in rows {
        match out.last_mut() {
            Some(l) if l.username == username => l.departments.push(code),
            _ => out.push(DepartmentLimit {
                username,
                departments: vec![code],
            }),
        }
    }
    Ok(out)
}

/// Limits a user to some departments of the town, or lifts the limit (administer); audited.
pub async fn set_limit(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &DepartmentLimitIn,
) -> Result<DepartmentLimit> {
    require(scope, Permission::Administer)?;
    let username = req.username.trim();
    let user: Option<(String,)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(c).await)?;
    let Some((user_id,)) = user else {
        return Err(Error::invalid(
            "username",
            format!(
                "there is no user '{}'",
                username.chars().take(60).collect::<String>()
            ),
        ));
    };
    let mut codes = Vec::new();
    let mut ids = Vec::new();
    for (i, d) in req.departments.iter().enumerate() {
        let dep = department(scope, tx, &format!("departments[{i}]"), d).await?;
        if !ids.contains(&dep.id) {
            ids.push(dep.id);
            codes.push(dep.code);
        }
    }
    execute!(tx, c => sqlx::query(
        "DELETE FROM records_department_access WHERE municipality_id = $1 AND user_id = $2")
        .bind(scope.municipality_id()).bind(&user_id).execute(c).await)?;
    for id in &ids {
        execute!(tx, c => sqlx::query(
            "INSERT INTO records_department_access (municipality_id, user_id, department_id) VALUES ($1, $2, $3)")
            .bind(scope.municipality_id()).bind(&user_id).bind(id).execute(c).await)?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.department_limit.set",
            "user",
            &user_id,
            None,
            Some(serde_json::json!({"username": username, "departments": codes})),
        ),
    )
    .await?;
    Ok(DepartmentLimit {
        username: username.to_owned(),
        departments: codes,
    })
}
