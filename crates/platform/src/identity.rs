//! Who someone is: users with Argon2id passwords, database-backed browser
//! sessions with idle and absolute timeouts, a temporary lock after repeated
//! failed sign-ins, and hashed, revocable API tokens limited to one town and
//! one service.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::access::{CouncilAdmin, Principal, TokenLimit};
use crate::audit::{self, Actor, Change};
use crate::db::{Db, Executor, Tx};
use crate::error::{Error, Result};
use crate::types::{MunicipalityId, Service, Timestamp, TokenId, UserId};
use crate::{dispatch, execute};

/// Failed sign-ins in a row before the account is locked.
pub const MAX_FAILED_SIGNINS: i64 = 5;
/// How long a lock lasts.
pub const LOCK_DURATION: Duration = Duration::minutes(15);
/// Shortest password accepted (NIST SP 800-63B recommends length over composition rules).
pub const MIN_PASSWORD_LEN: usize = 12;

/// Session lifetime rules.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Sign-in name, lowercase.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Contact address.
    pub email: String,
    /// Manages towns, subscriptions, users and grants (but reads no town data without a grant).
    pub council_admin: bool,
    /// Disabled accounts cannot sign in.
    pub active: bool,
    /// Must choose a new password at next sign-in.
    pub must_change_password: bool,
    /// Failed sign-ins since the last success.
    pub failed_signins: i64,
    /// Locked until this time, if locked.
    pub locked_until: Option<String>,
    /// Created.
    pub created_at: String,
}

const USER_COLUMNS: &str = "id, username, display_name, email, council_admin, active, must_change_password, failed_signins, locked_until, created_at";

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// A random URL-safe secret of 32 bytes.
pub fn random_secret() -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// A random password that people can read aloud and type: 20 characters from
/// an alphabet without look-alikes (≈ 110 bits).
pub fn random_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in random_bytes::<32>()? {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - (256 % ALPHABET.len());
            if usize::from(b) < limit && out.len() < 20 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// SHA-256 of a high-entropy secret (session and API tokens). Secrets are
/// random, so a fast hash is enough; only passwords need Argon2id.
pub fn hash_secret(secret: &str) -> String {
    crate::types::hex(&Sha256::digest(secret.as_bytes()))
}

/// Checks the password rules; names the field.
pub fn check_password_rules(field: &str, password: &str) -> Result<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            field,
            format!("use at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > 256 {
        return Err(Error::invalid(field, "use at most 256 characters"));
    }
    Ok(())
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes, OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| Error::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hash: {e}")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Normalises and checks a username: 3–40 of lowercase letters, digits, `.`, `_`, `-`.
pub fn parse_username(field: &str, s: &str) -> Result<String> {
    let u = s.trim().to_lowercase();
    let ok = (3..=40).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(u)
    } else {
        Err(Error::invalid(
            field,
            "use 3–40 letters, digits, dots, hyphens or underscores",
        ))
    }
}

// ---------------------------------------------------------------- users

/// Finds a user by id.
pub async fn user_by_id(ex: &mut impl Executor, id: &UserId) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(c).await)?,
    )
}

/// Finds a user by username.
pub async fn user_by_username(ex: &mut impl Executor, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(username.trim().to_lowercase()).fetch_optional(c).await)?,
    )
}

/// Every user, by username.
pub async fn list_users(_admin: &CouncilAdmin, db: &Db) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
    let mut c = db.read().await?;
    Ok(dispatch!(&mut c, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?)
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Council administrator?
    pub council_admin: bool,
}

fn audit_view(u: &User) -> serde_json::Value {
    serde_json::json!({
        "username": u.username, "display_name": u.display_name, "email": u.email,
        "council_admin": u.council_admin, "active": u.active,
        "must_change_password": u.must_change_password, "locked_until": u.locked_until,
    })
}

/// Inserts a user with an already-hashed password and audits it.
pub async fn insert_user(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    new: &NewUser,
    password_hash: &str,
    must_change_password: bool,
) -> Result<User> {
    let username = parse_username("username", &new.username)?;
    let display_name = new.display_name.trim();
    if display_name.is_empty() || display_name.len() > 100 {
        return Err(Error::invalid(
            "display_name",
            "enter the person's name (at most 100 characters)",
        ));
    }
    let email = new.email.trim();
    if email.len() > 200 || (!email.is_empty() && !email.contains('@')) {
        return Err(Error::invalid(
            "email",
            "enter an email address like name@town.gov, or leave it empty",
        ));
    }
    let user = User {
        id: UserId::generate(),
        username,
        display_name: display_name.to_owned(),
        email: email.to_owned(),
        council_admin: new.council_admin,
        active: true,
        must_change_password,
        failed_signins: 0,
        locked_until: None,
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO users (id, username, display_name, email, password_hash, council_admin, active, \
         must_change_password, failed_signins, locked_until, created_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL, $9, $9)")
        .bind(&user.id).bind(&user.username).bind(&user.display_name).bind(&user.email).bind(password_hash)
        .bind(user.council_admin).bind(true).bind(must_change_password).bind(&user.created_at)
        .execute(c).await)
        .map_err(|e| Error::from(e).on_conflict("username", format!("the username {} is taken", user.username)))?;
    audit::record(
        tx,
        now,
        actor,
        Change {
            municipality_id: None,
            service: None,
            action: "user.create",
            entity_type: "user",
            entity_id: user.id.to_string(),
            before: None,
            after: Some(audit_view(&user)),
        },
    )
    .await?;
    Ok(user)
}

/// Creates a user with a random temporary password, which is returned once
/// and must be changed at first sign-in.
pub async fn create_user(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    new: &NewUser,
) -> Result<(User, String)> {
    let password = random_password()?;
    let hash = hash_password(&password)?;
    let mut tx = db.begin().await?;
    let user = insert_user(&mut tx, now, admin.actor(), new, &hash, true).await?;
    tx.commit().await?;
    Ok((user, password))
}

async fn load_user_for_update(tx: &mut Tx, id: &UserId) -> Result<User> {
    user_by_id(tx, id)
        .await?
        .ok_or(Error::NotFound { what: "user" })
}

/// Sets a new random temporary password, unlocks the account, ends its sessions.
pub async fn reset_password(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    id: &UserId,
) -> Result<(User, String)> {
    let password = random_password()?;
    let hash = hash_password(&password)?;
    let mut tx = db.begin().await?;
    let before = load_user_for_update(&mut tx, id).await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, failed_signins = 0, locked_until = NULL, \
         password_changed_at = $3 WHERE id = $4")
        .bind(&hash).bind(true).bind(now.to_db()).bind(id).execute(c).await)?;
    execute!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(c).await)?;
    let after = load_user_for_update(&mut tx, id).await?;
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: "user.reset_password",
            entity_type: "user",
            entity_id: id.to_string(),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((after, password))
}

/// Enables or disables an account; disabling ends its sessions.
pub async fn set_active(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    id: &UserId,
    active: bool,
) -> Result<User> {
    let mut tx = db.begin().await?;
    let before = load_user_for_update(&mut tx, id).await?;
    if !active && Some(&before.id) == admin.user_id() {
        return Err(Error::conflict(
            "active",
            "you cannot disable your own account",
        ));
    }
    execute!(&mut tx, c => sqlx::query("UPDATE users SET active = $1, failed_signins = 0, locked_until = NULL WHERE id = $2")
        .bind(active).bind(id).execute(c).await)?;
    if !active {
        execute!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(c).await)?;
    }
    let after = load_user_for_update(&mut tx, id).await?;
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: if active {
                "user.enable"
            } else {
                "user.disable"
            },
            entity_type: "user",
            entity_id: id.to_string(),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Changes the signed-in user's own password after checking the current one.
pub async fn change_password(
    principal: &Principal,
    db: &Db,
    now: Timestamp,
    current: &str,
    new_password: &str,
    confirm: &str,
) -> Result<()> {
    check_password_rules("new_password", new_password)?;
    if new_password != confirm {
        return Err(Error::invalid(
            "confirm_password",
            "the two new passwords differ",
        ));
    }
    if new_password == current {
        return Err(Error::invalid(
            "new_password",
            "choose a password different from the current one",
        ));
    }
    let mut c = db.read().await?;
    let stored: String = dispatch!(&mut c, c => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(principal.user_id()).fetch_one(c).await)?;
    drop(c);
    if !verify_password(&stored, current) {
        return Err(Error::invalid(
            "current_password",
            "the current password is not right",
        ));
    }
    let hash = hash_password(new_password)?;
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3 WHERE id = $4")
        .bind(&hash).bind(false).bind(now.to_db()).bind(principal.user_id()).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        &principal.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: "user.change_password",
            entity_type: "user",
            entity_id: principal.user_id().to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await
}

// ---------------------------------------------------------------- sign-in

/// A new browser session: the cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Secret for the cookie; only its hash is stored.
    pub token: String,
    /// Synchroniser token for forms.
    pub csrf_token: String,
    /// Who signed in.
    pub user: User,
}

/// The principal for a user who just proved who they are.
pub fn principal_for_user(user: &User) -> Principal {
    Principal::new(
        user.id.clone(),
        user.username.clone(),
        user.display_name.clone(),
        user.council_admin,
        user.must_change_password,
        None,
    )
}

/// Checks a username and password, applying the failed-sign-in lock: after
/// [`MAX_FAILED_SIGNINS`] failures in a row the account is locked for
/// [`LOCK_DURATION`], and the error says until when.
pub async fn authenticate(db: &Db, now: Timestamp, username: &str, password: &str) -> Result<User> {
    let wrong = || Error::Unauthenticated("The username or password is not right.".into());
    let mut c = db.read().await?;
    let found = user_by_username(&mut c, username).await?;
    let hash: Option<String> = match &found {
        Some(u) => {
            dispatch!(&mut c, c => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(&u.id).fetch_optional(c).await)?
        }
        None => None,
    };
    drop(c);
    let (Some(user), Some(hash)) = (found, hash) else {
        // Spend the same time as a real check so response time does not reveal which usernames exist.
        let _ = verify_password(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            password,
        );
        return Err(wrong());
    };
    if let Some(until) = &user.locked_until {
        let until = Timestamp::parse("locked_until", until)?;
        if until > now {
            return Err(Error::Locked {
                until: until.datetime(),
            });
        }
    }
    if !user.active {
        return Err(Error::Unauthenticated(
            "This account is disabled. Ask your council administrator to enable it.".into(),
        ));
    }
    let actor = Actor {
        user_id: Some(user.id.clone()),
        label: user.username.clone(),
        request_id: None,
    };
    if !verify_password(&hash, password) {
        let failures = user.failed_signins + 1;
        let mut tx = db.begin().await?;
        if failures >= MAX_FAILED_SIGNINS {
            let until = Timestamp::new(now.datetime() + LOCK_DURATION);
            execute!(&mut tx, c => sqlx::query("UPDATE users SET failed_signins = 0, locked_until = $1 WHERE id = $2")
                .bind(until.to_db()).bind(&user.id).execute(c).await)?;
            audit::record(&mut tx, now, &actor, Change {
                municipality_id: None, service: None, action: "user.lock", entity_type: "user",
                entity_id: user.id.to_string(), before: None,
                after: Some(serde_json::json!({"locked_until": until.to_db(), "reason": "repeated failed sign-ins"})),
            }).await?;
            tx.commit().await?;
            return Err(Error::Locked {
                until: until.datetime(),
            });
        }
        execute!(&mut tx, c => sqlx::query("UPDATE users SET failed_signins = $1 WHERE id = $2")
            .bind(failures).bind(&user.id).execute(c).await)?;
        tx.commit().await?;
        let left = MAX_FAILED_SIGNINS - failures;
        return Err(Error::Unauthenticated(format!(
            "The username or password is not right. After {left} more failed attempt{} the account will be locked for {} minutes.",
            if left == 1 { "" } else { "s" },
            LOCK_DURATION.whole_minutes()
        )));
    }
    if user.failed_signins > 0 || user.locked_until.is_some() {
        let mut tx = db.begin().await?;
        execute!(&mut tx, c => sqlx::query("UPDATE users SET failed_signins = 0, locked_until = NULL WHERE id = $1")
            .bind(&user.id).execute(c).await)?;
        tx.commit().await?;
    }
    Ok(user)
}

/// Checks a username and password (see [`authenticate`]) and opens a browser session.
pub async fn sign_in(
    db: &Db,
    now: Timestamp,
    username: &str,
    password: &str,
    user_agent: &str,
) -> Result<NewSession> {
    let user = authenticate(db, now, username, password).await?;
    let token = random_secret()?;
    let csrf_token = random_secret()?;
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, user_agent) VALUES ($1, $2, $3, $4, $4, $5)")
        .bind(hash_secret(&token)).bind(&user.id).bind(&csrf_token).bind(now.to_db())
        .bind(user_agent.chars().take(200).collect::<String>()).execute(c).await)?;
    tx.commit().await?;
    Ok(NewSession {
        token,
        csrf_token,
        user,
    })
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    csrf_token: String,
    created_at: String,
    last_seen_at: String,
    id: UserId,
    username: String,
    display_name: String,
    council_admin: bool,
    active: bool,
    must_change_password: bool,
}

/// The user behind a session cookie and the session's CSRF token, if the
/// session exists and has timed out neither idle nor absolutely.
pub async fn session_principal(
    db: &Db,
    now: Timestamp,
    policy: SessionPolicy,
    token: &str,
) -> Result<Option<(Principal, String)>> {
    let token_hash = hash_secret(token);
    let mut c = db.read().await?;
    let row: Option<SessionRow> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT s.csrf_token, s.created_at, s.last_seen_at, u.id, u.username, u.display_name, u.council_admin, \
         u.active, u.must_change_password FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1")
        .bind(&token_hash).fetch_optional(c).await)?;
    drop(c);
    let Some(row) = row else { return Ok(None) };
    let created = Timestamp::parse("created_at", &row.created_at)?.datetime();
    let seen = Timestamp::parse("last_seen_at", &row.last_seen_at)?.datetime();
    let t = now.datetime();
    if !row.active || t - seen > policy.idle || t - created > policy.absolute {
        let mut tx = db.begin().await?;
        execute!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&token_hash).execute(c).await)?;
        tx.commit().await?;
        return Ok(None);
    }
    // Touch at most once a minute so reads do not each become a write.
    if t - seen > Duration::minutes(1) {
        let mut tx = db.begin().await?;
        execute!(&mut tx, c => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now.to_db()).bind(&token_hash).execute(c).await)?;
        tx.commit().await?;
    }
    let principal = Principal::new(
        row.id,
        row.username,
        row.display_name,
        row.council_admin,
        row.must_change_password,
        None,
    );
    Ok(Some((principal, row.csrf_token)))
}

/// Ends a session.
pub async fn sign_out(db: &Db, token: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash_secret(token)).execute(c).await)?;
    tx.commit().await
}

/// Deletes sessions past their absolute lifetime or idle too long; returns how many.
pub async fn purge_expired_sessions(db: &Db, now: Timestamp, policy: SessionPolicy) -> Result<u64> {
    let idle_cutoff = Timestamp::new(now.datetime() - policy.idle).to_db();
    let abs_cutoff = Timestamp::new(now.datetime() - policy.absolute).to_db();
    let mut tx = db.begin().await?;
    let n = execute!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(idle_cutoff).bind(abs_cutoff).execute(c).await)?;
    tx.commit().await?;
    Ok(n)
}

// ---------------------------------------------------------------- API tokens

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// Town it is limited to.
    pub municipality_id: MunicipalityId,
    /// Service it is limited to.
    pub service: String,
    /// Owner's label, e.g. "backup client on town-hall-fs1".
    pub label: String,
    /// First characters of the secret, to recognise it.
    pub token_prefix: String,
    /// Created.
    pub created_at: String,
    /// Expires, if set.
    pub expires_at: Option<String>,
    /// Last used (to the minute).
    pub last_used_at: Option<String>,
    /// Revoked, if it was.
    pub revoked_at: Option<String>,
}

/// Prefix that marks MuniShare API tokens (helps secret scanners).
pub const TOKEN_PREFIX: &str = "mst_";

/// Issues a token for the principal, limited to a town and service where the
/// principal already has access (checked by the caller through
/// [`crate::access::authorize_service`]). Returns the listing and the secret, shown once.
pub async fn create_api_token(
    scope: &crate::access::ServiceScope,
    db: &Db,
    now: Timestamp,
    label: &str,
    expires_in_days: Option<u32>,
) -> Result<(ApiToken, String)> {
    let label = label.trim();
    if label.is_empty() || label.len() > 100 {
        return Err(Error::invalid(
            "label",
            "name the token (at most 100 characters), e.g. 'backup client'",
        ));
    }
    if let Some(d) = expires_in_days
        && !(1..=730).contains(&d)
    {
        return Err(Error::invalid(
            "expires_in_days",
            "choose between 1 and 730 days, or no expiry",
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret()?);
    let token = ApiToken {
        id: TokenId::generate(),
        municipality_id: scope.municipality_id().clone(),
        service: scope.service().as_str().to_owned(),
        label: label.to_owned(),
        token_prefix: secret.chars().take(10).collect(),
        created_at: now.to_db(),
        expires_at: expires_in_days
            .map(|d| Timestamp::new(now.datetime() + Duration::days(i64::from(d))).to_db()),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO api_tokens (id, user_id, municipality_id, service, label, token_hash, token_prefix, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&token.id).bind(scope.user_id()).bind(&token.municipality_id).bind(&token.service).bind(&token.label)
        .bind(hash_secret(&secret)).bind(&token.token_prefix).bind(&token.created_at).bind(&token.expires_at)
        .execute(c).await)?;
    audit::record(&mut tx, now, scope.actor(), Change {
        municipality_id: Some(token.municipality_id.clone()),
        service: Some(scope.service()),
        action: "api_token.create",
        entity_type: "api_token",
        entity_id: token.id.to_string(),
        before: None,
        after: Some(serde_json::json!({"label": token.label, "prefix": token.token_prefix, "expires_at": token.expires_at})),
    }).await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// The principal's own tokens, newest first.
pub async fn list_api_tokens(principal: &Principal, db: &Db) -> Result<Vec<ApiToken>> {
    let mut c = db.read().await?;
    Ok(dispatch!(&mut c, c => sqlx::query_as(
        "SELECT id, municipality_id, service, label, token_prefix, created_at, expires_at, last_used_at, revoked_at \
         FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC").bind(principal.user_id()).fetch_all(c).await)?)
}

/// Revokes one of the principal's own tokens.
pub async fn revoke_api_token(
    principal: &Principal,
    db: &Db,
    now: Timestamp,
    id: &TokenId,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let token: Option<ApiToken> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT id, municipality_id, service, label, token_prefix, created_at, expires_at, last_used_at, revoked_at \
         FROM api_tokens WHERE id = $1 AND user_id = $2").bind(id).bind(principal.user_id()).fetch_optional(c).await)?;
    let token = token.ok_or(Error::NotFound { what: "API token" })?;
    if token.revoked_at.is_some() {
        return Err(Error::conflict("id", "that token is already revoked"));
    }
    execute!(&mut tx, c => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(now.to_db()).bind(id).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        &principal.actor(),
        Change {
            municipality_id: Some(token.municipality_id.clone()),
            service: Service::parse("service", &token.service).ok(),
            action: "api_token.revoke",
            entity_type: "api_token",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({"revoked_at": now.to_db()})),
        },
    )
    .await?;
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct TokenPrincipalRow {
    token_id: TokenId,
    municipality_id: MunicipalityId,
    service: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    id: UserId,
    username: String,
    display_name: String,
    active: bool,
}

/// The principal behind a bearer token, limited to the token's town and
/// service; `None` for unknown, revoked or expired tokens and disabled users.
pub async fn token_principal(db: &Db, now: Timestamp, secret: &str) -> Result<Option<Principal>> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let hash = hash_secret(secret);
    let epoch = db.cache().epoch();
    let row = match db.cache().tokens.get(&hash, epoch) {
        Some(hit) => hit,
        None => {
            let mut c = db.read().await?;
            let row: Option<TokenPrincipalRow> = dispatch!(&mut c, c => sqlx::query_as(
                "SELECT t.id AS token_id, t.municipality_id, t.service, t.expires_at, t.last_used_at, \
                 u.id, u.username, u.display_name, u.active \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL")
                .bind(&hash).fetch_optional(c).await)?;
            drop(c);
            // Unknown tokens are not cached, so guessing cannot fill the cache.
            let Some(r) = row else { return Ok(None) };
            let entry = crate::cache::TokenEntry {
                token_id: r.token_id,
                municipality_id: r.municipality_id,
                service: r.service,
                expires_at: r.expires_at,
                last_used_at: r.last_used_at,
                user_id: r.id,
                username: r.username,
                display_name: r.display_name,
                active: r.active,
            };
            db.cache().tokens.put(hash, epoch, entry.clone());
            entry
        }
    };
    if !row.active {
        return Ok(None);
    }
    if let Some(exp) = &row.expires_at
        && Timestamp::parse("expires_at", exp)? <= now
    {
        return Ok(None);
    }
    let stale = match &row.last_used_at {
        None => true,
        Some(t) => {
            now.datetime() - Timestamp::parse("last_used_at", t)?.datetime() > Duration::minutes(1)
        }
    };
    if stale {
        let mut tx = db.begin().await?;
        execute!(&mut tx, c => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now.to_db()).bind(&row.token_id).execute(c).await)?;
        tx.commit().await?;
    }
    let limit = TokenLimit {
        municipality_id: row.municipality_id,
        service: Service::parse("service", &row.service)?,
    };
    // A token acts for its owner but never with council-administrator rights.
    Ok(Some(Principal::new(
        row.user_id,
        row.username,
        row.display_name,
        false,
        false,
        Some(limit),
    )))
}
