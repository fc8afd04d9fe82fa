//! The audit log: who changed what, when, in which town and service, with the
//! before and after state — append-only and hash-chained per municipality.
//!
//! Every event is written by [`record`] inside the transaction of the change it
//! describes, so a change without its audit record cannot commit. Each event's
//! hash covers its fields and the previous event's hash; [`verify`] recomputes
//! every chain and reports the first broken link.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Db, Executor, SqlBuilder, Tx};
use crate::error::{Error, Result};
use crate::types::{AuditEventId, MunicipalityId, Service, Timestamp, UserId};
use crate::{dispatch, execute};

/// The chain of region-level events (users, roles, towns).
pub const REGION_CHAIN: &str = "region";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change, and under which request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user, when a person (or their token) acted.
    pub user_id: Option<UserId>,
    /// A readable name: the username, or `system:<job>` for background work.
    pub label: String,
    /// The HTTP request id, when there was one.
    pub request_id: Option<String>,
}

impl Actor {
    /// Background work done by the platform itself.
    pub fn system(what: &str) -> Self {
        Self {
            user_id: None,
            label: format!("system:{what}"),
            request_id: None,
        }
    }
}

/// What changed.
#[derive(Debug, Clone)]
pub struct Change {
    /// The town whose data changed; `None` for region-level data.
    pub municipality_id: Option<MunicipalityId>,
    /// The service the data belongs to; `None` for platform data.
    pub service: Option<Service>,
    /// A verb, e.g. `user.create`, `grant.revoke`.
    pub action: &'static str,
    /// The kind of thing changed, e.g. `user`.
    pub entity_type: &'static str,
    /// Its id.
    pub entity_id: String,
    /// State before the change (absent for creations).
    pub before: Option<serde_json::Value>,
    /// State after the change (absent for deletions).
    pub after: Option<serde_json::Value>,
}

/// One stored audit event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    /// The chain (municipality id or `region`).
    pub chain: String,
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Event id.
    pub id: String,
    /// When (storage form).
    pub at: String,
    /// Acting user id.
    pub actor_user_id: Option<String>,
    /// Acting user's name or system job.
    pub actor: String,
    /// Town.
    pub municipality_id: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Verb.
    pub action: String,
    /// Kind of thing.
    pub entity_type: String,
    /// Its id.
    pub entity_id: String,
    /// JSON before.
    pub before_json: Option<String>,
    /// JSON after.
    pub after_json: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl AuditEvent {
    /// The hash this event should have, from its fields and `prev_hash`.
    /// Each field is length-prefixed so no two field lists hash alike.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let fields: [Option<&str>; 15] = [
            Some(&self.chain),
            Some(&self.seq.to_string()),
            Some(&self.id),
            Some(&self.at),
            self.actor_user_id.as_deref(),
            Some(&self.actor),
            self.municipality_id.as_deref(),
            self.service.as_deref(),
            Some(&self.action),
            Some(&self.entity_type),
            Some(&self.entity_id),
            self.before_json.as_deref(),
            self.after_json.as_deref(),
            self.request_id.as_deref(),
            Some(&self.prev_hash),
        ];
        for f in fields {
            match f {
                None => h.update(b"-;"),
                Some(s) => {
                    h.update(s.len().to_string().as_bytes());
                    h.update(b":");
                    h.update(s.as_bytes());
                    h.update(b";");
                }
            }
        }
        crate::types::hex(&h.finalize())
    }
}

/// Appends an audit event for `change` inside `tx` and returns its id.
///
/// The chain head row is updated first, which takes its row lock on PostgreSQL
/// (SQLite write transactions are already exclusive), so concurrent writers to
/// one town's chain are serialised and never fork it.
pub async fn record(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    change: Change,
) -> Result<AuditEventId> {
    let chain = change
        .municipality_id
        .as_ref()
        .map_or_else(|| REGION_CHAIN.to_owned(), |m| m.as_str().to_owned());
    execute!(tx, c => sqlx::query(
        "INSERT INTO audit_chain_heads (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING")
        .bind(&chain).bind(GENESIS).execute(c).await)?;
    let (seq, prev_hash): (i64, String) = dispatch!(tx, c => sqlx::query_as(
        "UPDATE audit_chain_heads SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash")
        .bind(&chain).fetch_one(c).await)?;
    let id = AuditEventId::generate();
    let event = sealed(
        &chain,
        seq,
        id.to_string(),
        now.to_db(),
        actor,
        change,
        prev_hash,
    );
    let e = &event;
    execute!(tx, c => sqlx::query(
        "INSERT INTO audit_events (chain, seq, id, at, actor_user_id, actor, municipality_id, service, \
         action, entity_type, entity_id, before_json, after_json, request_id, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(&e.chain).bind(e.seq).bind(&e.id).bind(&e.at).bind(&e.actor_user_id).bind(&e.actor)
        .bind(&e.municipality_id).bind(&e.service).bind(&e.action).bind(&e.entity_type)
        .bind(&e.entity_id).bind(&e.before_json).bind(&e.after_json).bind(&e.request_id)
        .bind(&e.prev_hash).bind(&e.hash)
        .execute(c).await)?;
    execute!(tx, c => sqlx::query("UPDATE audit_chain_heads SET hash = $1 WHERE chain = $2")
        .bind(&e.hash).bind(&chain).execute(c).await)?;
    Ok(id)
}

/// The event of `change` at `seq` in `chain` after `prev_hash`, with its hash.
fn sealed(
    chain: &str,
    seq: i64,
    id: String,
    at: String,
    actor: &Actor,
    change: Change,
    prev_hash: String,
) -> AuditEvent {
    let mut event = AuditEvent {
        chain: chain.to_owned(),
        seq,
        id,
        at,
        actor_user_id: actor.user_id.as_ref().map(ToString::to_string),
        actor: actor.label.clone(),
        municipality_id: change.municipality_id.as_ref().map(ToString::to_string),
        service: change.service.map(|s| s.as_str().to_owned()),
        action: change.action.to_owned(),
        entity_type: change.entity_type.to_owned(),
        entity_id: change.entity_id,
        before_json: change.before.map(|v| v.to_string()),
        after_json: change.after.map(|v| v.to_string()),
        request_id: actor.request_id.clone(),
        prev_hash,
        hash: String::new(),
    };
    event.hash = event.compute_hash();
    event
}

/// Records many changes of one town (or all of the region's) at once, in order, inside the
/// caller's transaction: the same chain, hashes and rows as one [`record`] per change, in
/// four statements per batch instead of four per change (a bulk load files thousands).
pub async fn record_all(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    changes: Vec<Change>,
) -> Result<()> {
    let Some(first) = changes.first() else {
        return Ok(());
    };
    let town = first.municipality_id.clone();
    if changes.iter().any(|c| c.municipality_id != town) {
        return Err(Error::Internal(
            "audit::record_all takes the changes of one chain".into(),
        ));
    }
    let chain = town
        .as_ref()
        .map_or_else(|| REGION_CHAIN.to_owned(), |m| m.as_str().to_owned());
    let n = i64::try_from(changes.len()).map_err(|e| Error::Internal(e.to_string()))?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO audit_chain_heads (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING")
        .bind(&chain).bind(GENESIS).execute(c).await)?;
    let (last, mut prev_hash): (i64, String) = dispatch!(tx, c => sqlx::query_as(
        "UPDATE audit_chain_heads SET seq = seq + $2 WHERE chain = $1 RETURNING seq, hash")
        .bind(&chain).bind(n).fetch_one(c).await)?;
    let at = now.to_db();
    let mut events = Vec::with_capacity(changes.len());
    for (seq, change) in (last - n + 1..).zip(changes) {
        let event = sealed(
            &chain,
            seq,
            AuditEventId::generate().to_string(),
            at.clone(),
            actor,
            change,
            prev_hash,
        );
        prev_hash = event.hash.clone();
        events.push(event);
    }
    const COLS: usize = 16;
    for chunk in events.chunks(crate::db::rows_per_statement(COLS)) {
        let sql = format!(
            "INSERT INTO audit_events (chain, seq, id, at, actor_user_id, actor, municipality_id, service, \
             action, entity_type, entity_id, before_json, after_json, request_id, prev_hash, hash) VALUES {}",
            crate::db::value_rows(chunk.len(), COLS, 0)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for e in chunk {
                q = q.bind(&e.chain).bind(e.seq).bind(&e.id).bind(&e.at).bind(&e.actor_user_id).bind(&e.actor)
                    .bind(&e.municipality_id).bind(&e.service).bind(&e.action).bind(&e.entity_type)
                    .bind(&e.entity_id).bind(&e.before_json).bind(&e.after_json).bind(&e.request_id)
                    .bind(&e.prev_hash).bind(&e.hash);
            }
            q.execute(c).await
        })?;
    }
    execute!(tx, c => sqlx::query("UPDATE audit_chain_heads SET hash = $1 WHERE chain = $2")
        .bind(&prev_hash).bind(&chain).execute(c).await)?;
    Ok(())
}

/// The first place a chain stops being consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The chain.
    pub chain: String,
    /// The sequence number of the first bad event.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Chains checked.
    pub chains: usize,
    /// Events checked.
    pub events: usize,
    /// The first broken link of each damaged chain; empty when all is intact.
    pub broken: Vec<BrokenLink>,
}

/// Recomputes every chain and reports the first broken link of each.
pub async fn verify(db: &Db) -> Result<VerifyReport> {
    let mut conn = db.read().await?;
    let heads: Vec<(String, i64, String)> = dispatch!(&mut conn, c => sqlx::query_as(
        "SELECT chain, seq, hash FROM audit_chain_heads ORDER BY chain").fetch_all(c).await)?;
    let mut report = VerifyReport {
        chains: heads.len(),
        ..VerifyReport::default()
    };
    for (chain, head_seq, head_hash) in heads {
        let events: Vec<AuditEvent> = dispatch!(&mut conn, c => sqlx::query_as(
            "SELECT * FROM audit_events WHERE chain = $1 ORDER BY seq").bind(&chain).fetch_all(c).await)?;
        report.events += events.len();
        if let Some(broken) = check_chain(&chain, &events, head_seq, &head_hash) {
            report.broken.push(broken);
        }
    }
    Ok(report)
}

fn check_chain(
    chain: &str,
    events: &[AuditEvent],
    head_seq: i64,
    head_hash: &str,
) -> Option<BrokenLink> {
    let broken = |seq: i64, reason: String| {
        Some(BrokenLink {
            chain: chain.to_owned(),
            seq,
            reason,
        })
    };
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    for e in events {
        if e.seq != expected_seq {
            return broken(
                expected_seq,
                format!("event {expected_seq} is missing (next found is {})", e.seq),
            );
        }
        if e.prev_hash != prev {
            return broken(
                e.seq,
                "its previous-hash does not match the event before it".into(),
            );
        }
        if e.compute_hash() != e.hash {
            return broken(
                e.seq,
                "its contents do not match its hash (the row was altered)".into(),
            );
        }
        prev = e.hash.clone();
        expected_seq += 1;
    }
    if head_seq != expected_seq - 1 || head_hash != prev {
        return broken(
            expected_seq,
            format!(
                "the chain head says {head_seq} events but {} are present (events were removed from the end)",
                expected_seq - 1
            ),
        );
    }
    None
}

/// Filters for the audit viewer; every field optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor name contains this text.
    pub actor: Option<String>,
    /// Only this service.
    pub service: Option<Service>,
    /// Only this kind of entity.
    pub entity_type: Option<String>,
    /// Only this entity id.
    pub entity_id: Option<String>,
    /// Only this town.
    pub municipality_id: Option<MunicipalityId>,
    /// At or after this date (YYYY-MM-DD).
    pub from: Option<time::Date>,
    /// On or before this date.
    pub to: Option<time::Date>,
    /// Continue after this cursor (`at|id` of the last row seen).
    pub after: Option<(String, String)>,
}

/// Kinds of record that council administration manages in every town; their
/// events are visible to council administrators without a grant in the town.
pub const ADMINISTRATION_ENTITIES: [&str; 5] = [
    "municipality",
    "subscription",
    "department",
    "grant",
    "api_token",
];

/// Which events a reader may see: region events and the administration events
/// of every town if they administer the council, and per town the services
/// they can view (town-level platform events with no service are visible to
/// anyone with a grant in the town).
#[derive(Debug, Clone, Default)]
pub struct AuditVisibility {
    /// May see region-level events and every town's administration events.
    pub region: bool,
    /// Per town, the services the reader can view.
    pub towns: Vec<(MunicipalityId, Vec<Service>)>,
}

/// Lists events newest first, at most `limit`, within what `visibility` allows.
pub async fn list(
    db: &Db,
    visibility: &AuditVisibility,
    filter: &AuditFilter,
    limit: u32,
) -> Result<Vec<AuditEvent>> {
    let mut q = SqlBuilder::new("SELECT * FROM audit_events WHERE (1 = 0");
    if visibility.region {
        q.push(" OR municipality_id IS NULL OR entity_type IN (");
        for (i, e) in ADMINISTRATION_ENTITIES.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*e);
        }
        q.push(")");
    }
    for (town, services) in &visibility.towns {
        q.push(" OR (municipality_id = ")
            .bind(town.as_str())
            .push(" AND (service IS NULL");
        for s in services {
            q.push(" OR service = ").bind(s.as_str());
        }
        q.push("))");
    }
    q.push(")");
    if let Some(a) = &filter.actor {
        q.push(" AND LOWER(actor) LIKE ")
            .bind(format!("%{}%", a.to_lowercase()));
    }
    if let Some(s) = filter.service {
        q.push(" AND service = ").bind(s.as_str());
    }
    if let Some(t) = &filter.entity_type {
        q.push(" AND entity_type = ").bind(t.clone());
    }
    if let Some(id) = &filter.entity_id {
        q.push(" AND entity_id = ").bind(id.clone());
    }
    if let Some(m) = &filter.municipality_id {
        q.push(" AND municipality_id = ").bind(m.as_str());
    }
    if let Some(d) = filter.from {
        q.push(" AND at >= ").bind(crate::types::format_date(d));
    }
    if let Some(d) = filter.to {
        // Every stored time on that day sorts before the next day's date.
        q.push(" AND at < ")
            .bind(crate::types::format_date(d.next_day().unwrap_or(d)));
    }
    if let Some((at, id)) = &filter.after {
        q.push(" AND (at < ")
            .bind(at.clone())
            .push(" OR (at = ")
            .bind(at.clone());
        q.push(" AND id < ").bind(id.clone()).push("))");
    }
    q.push(" ORDER BY at DESC, id DESC LIMIT ")
        .push_number(limit);
    let (sql, args) = q.build();
    let mut conn = db.read().await?;
    let rows = dispatch!(&mut conn, c => {
        let mut query = sqlx::query_as::<_, AuditEvent>(sqlx::AssertSqlSafe(sql));
        for a in args {
            query = query.bind(a.clone());
        }
        query.fetch_all(c).await
    })?;
    Ok(rows)
}

/// Reads one event by id (for tests and the detail view).
pub async fn get(ex: &mut impl Executor, id: &str) -> Result<AuditEvent> {
    dispatch!(ex, c => sqlx::query_as("SELECT * FROM audit_events WHERE id = $1").bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "audit event" })
}
