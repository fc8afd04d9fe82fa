//! Links from a document to another document of the town, or to a record of another module —
//! an invoice, a parcel, a contract (docs/design/0013, "Links").
//!
//! A link is one row (`records_links`): the document, the kind of what it points to
//! (`records.document`, or `{service}.{record}` such as `finance.invoice`, `assessment.parcel`,
//! `procurement.contract`), the target's id in that module and a label people read. Other
//! modules use the small public API: [`add`] when their user attaches a record to one of theirs,
//! [`documents_for`] to show the documents attached to one of their records — with the caller's
//! records visibility applied, so a module never shows a document its user may not read.
//! Records does not read other modules' tables: the caller vouches for its own record's id
//! and label. Links between documents are checked here (the target must be a document the caller
//! sees) and show on both documents; a link to a document the caller may not see is not shown.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Service, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::documents::{self, Document};
use crate::{change, new_id, opt_text, require, visibility};

/// The kind of a link to another document of the town.
pub const DOCUMENT: &str = "records.document";

/// A link.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Link {
    /// Id.
    pub id: String,
    /// The document the link was made from.
    pub document_id: String,
    /// `records.document`, or `{service}.{record}` (e.g. `finance.invoice`).
    pub kind: String,
    /// The target's id in its module.
    pub target: String,
    /// What people read: the target document's title, or the label its module gave.
    pub label: String,
    /// Made.
    pub created_at: String,
    /// Made by.
    pub created_by: String,
}

/// A link to make.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LinkIn {
    /// `records.document`, or `{service}.{record}` such as `finance.invoice`.
    pub kind: String,
    /// The target's id: another document's id, or the record's id in its module (1 to 100 characters).
    pub target: String,
    /// What people read (1 to 200 characters); for a document, its title is used.
    #[serde(default)]
    pub label: Option<String>,
}

const SELECT: &str =
    "SELECT id, document_id, kind, target, label, created_at, created_by FROM records_links";

/// Checks a kind: `records.document` or `{service}.{record}` of a known service.
fn check_kind(kind: &str) -> Result<&str> {
    let bad = || {
        Error::invalid(
            "kind",
            format!(
                "'{}' is not a kind of record: use records.document or service.record, e.g. finance.invoice",
                kind.chars().take(60).collect::<String>()
            ),
        )
    };
    let (service, record) = kind.split_once('.').ok_or_else(bad)?;
    Service::parse("kind", service).map_err(|_| bad())?;
    if record.is_empty()
        || record.len() > 40
        || !record.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(bad());
    }
    Ok(kind)
}

/// Links `document` to a target (edit; the caller sees the document, and a target document);
/// audited. The same target twice is a conflict.
pub async fn add(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    document: &str,
    req: &LinkIn,
) -> Result<Link> {
    require(scope, Permission::Edit)?;
    let from = documents::get(scope, tx, document).await?;
    let kind = check_kind(req.kind.trim())?;
    let target = opt_text("target", Some(&req.target), 100)?
        .ok_or_else(|| Error::invalid("target", "say what the link points to"))?;
    let label = if kind == DOCUMENT {
        if target == from.id {
            return Err(Error::invalid("target", "a document cannot link to itself"));
        }
        documents::get(scope, tx, &target)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::invalid(
                    "target",
                    format!(
                        "there is no document {} in {}",
                        target.chars().take(40).collect::<String>(),
                        scope.town().name
                    ),
                ),
                e => e,
            })?
            .title
    } else {
        opt_text("label", req.label.as_deref(), 200)?
            .ok_or_else(|| Error::invalid("label", "give the record a label people can read"))?
    };
    // Documents link both ways: a link from the target to this document is the same link.
    let taken: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_links WHERE municipality_id = $1 AND kind = $3 \
         AND ((document_id = $2 AND target = $4) OR (kind = $5 AND document_id = $4 AND target = $2))")
        .bind(scope.municipality_id()).bind(&from.id).bind(kind).bind(&target).bind(DOCUMENT)
        .fetch_one(c).await)?;
    if taken > 0 {
        return Err(Error::conflict(
            "target",
            "the document already links to it",
        ));
    }
    let link = Link {
        id: new_id(),
        document_id: from.id.clone(),
        kind: kind.to_owned(),
        target,
        label,
        created_at: now.to_db(),
        created_by: scope.actor().label.clone(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_links (municipality_id, id, document_id, kind, target, label, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(scope.municipality_id()).bind(&link.id).bind(&link.document_id).bind(&link.kind).bind(&link.target)
        .bind(&link.label).bind(&link.created_at).bind(&link.created_by).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.link.add",
            "records_link",
            &link.id,
            None,
            Some(serde_json::json!(link)),
        ),
    )
    .await?;
    Ok(link)
}

/// Removes a link of `document` (edit; the caller sees the document); audited.
pub async fn remove(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    document: &str,
    id: &str,
) -> Result<()> {
    require(scope, Permission::Edit)?;
    let doc = documents::get(scope, tx, document).await?;
    let sql = format!("{SELECT} WHERE municipality_id = $1 AND document_id = $2 AND id = $3");
    let link: Option<Link> = dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(&doc.id).bind(id).fetch_optional(c).await)?;
    let link = link.ok_or(Error::NotFound { what: "link" })?;
    execute!(tx, c => sqlx::query("DELETE FROM records_links WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.link.remove",
            "records_link",
            id,
            Some(serde_json::json!(link)),
            None,
        ),
    )
    .await?;
    Ok(())
}

/// A document's links: those made from it, and links to it from other documents — only where
/// the caller sees the other document.
pub async fn of_document(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    document: &str,
) -> Result<Vec<Link>> {
    let doc = documents::get(scope, ex, document).await?;
    let sql = format!(
        "{SELECT} WHERE municipality_id = $1 AND (document_id = $2 OR (kind = $3 AND target = $2)) \
         ORDER BY created_at, id"
    );
    let links: Vec<Link> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(&doc.id).bind(DOCUMENT).fetch_all(c).await)?;
    let others: Vec<String> = links
        .iter()
        .filter(|l| l.kind == DOCUMENT)
        .map(|l| {
            if l.document_id == doc.id {
                l.target.clone()
            } else {
                l.document_id.clone()
            }
        })
        .collect();
    let vis = visibility::of(scope, ex).await?;
    let seen: Vec<String> = documents::get_many(scope, ex, &vis, &others)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    Ok(links
        .into_iter()
        .filter(|l| {
            l.kind != DOCUMENT
                || seen.contains(if l.document_id == doc.id {
                    &l.target
                } else {
                    &l.document_id
                })
        })
        .collect())
}

/// The documents linked to a record of another module (or to a document), as the caller sees the
/// town — for the module that shows its record's documents.
pub async fn documents_for(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    kind: &str,
    target: &str,
) -> Result<Vec<Document>> {
    Ok(attached_to(scope, ex, kind, target)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// The links to a record and their documents, as the caller sees the town, by title: what a
/// record's page lists, with each link to detach.
pub async fn attached_to(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    kind: &str,
    target: &str,
) -> Result<Vec<(Link, Document)>> {
    let kind = check_kind(kind.trim())?;
    let vis = visibility::of(scope, ex).await?;
    let sql = format!("{SELECT} WHERE municipality_id = $1 AND kind = $2 AND target = $3");
    let links: Vec<Link> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(kind).bind(target.trim()).fetch_all(c).await)?;
    let ids: Vec<String> = links.iter().map(|l| l.document_id.clone()).collect();
    let docs = documents::get_many(scope, ex, &vis, &ids).await?;
    let mut out: Vec<(Link, Document)> = links
        .into_iter()
        .filter_map(|l| {
            let d = docs.iter().find(|d| d.id == l.document_id)?.clone();
            Some((l, d))
        })
        .collect();
    out.sort_by(|(_, a), (_, b)| a.title.cmp(&b.title).then(a.id.cmp(&b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::check_kind;

    #[test]
    fn kinds_are_a_known_service_and_a_record_name() {
        for ok in [
            "records.document",
            "finance.invoice",
            "assessment.parcel",
            "procurement.contract",
        ] {
            assert_eq!(check_kind(ok).unwrap(), ok);
        }
        for bad in [
            "invoice",
            "finance.",
            "payroll.slip",
            "finance.Invoice",
            "finance.in-voice",
            ".x",
            "",
        ] {
            let e = check_kind(bad).unwrap_err().to_string();
            assert!(e.starts_with("kind: "), "{bad}: {e}");
        }
    }
}
