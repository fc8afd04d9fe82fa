//! The records module (issue 6; docs/design/0013-records.md), first slice.
//!
//! `sniff` is the pure part: which files are accepted (told from their first
//! bytes, never from the name or the browser's content type) and which file
//! names. `types` holds each town's document types and their typed custom
//! fields. `ingest` takes an upload as a stream of chunks: it hashes it with
//! SHA-256 while writing it to the object store, stores each town's content
//! once (`deduplicated`), and makes ingestion crash-safe with an intent log
//! (`records_staged_uploads`) and the `records.sweep` job. `documents` lists,
//! reads and changes documents, versions, tags and notes; `visibility` decides
//! which documents a caller may see inside the town (departments,
//! confidential). `text` takes each version's text (extraction and OCR, the
//! `records.extract` job) for search. `http` is the API and the pages; `demo`
//! seeds the demo towns.

pub mod bulk;
pub mod demo;
pub mod disposition;
pub mod documents;
pub mod holds;
pub mod http;
pub mod index;
pub mod ingest;
pub mod intake;
pub mod links;
pub mod metering;
pub mod preview;
pub mod retention;
pub mod search;
pub mod sniff;
pub mod text;
pub mod types;
pub mod visibility;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::Change;
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};

/// Whether the scope is the town's records officer: approve, with view. The officer approves
/// what they can read; a role that grants approve without view is no officer (the module lets
/// edit-only contributors in, not approve-only callers).
pub(crate) fn is_officer(scope: &ServiceScope) -> bool {
    scope.service() == Service::Records
        && scope.can(Permission::Approve)
        && scope.can(Permission::View)
}

/// Refuses unless the scope holds `p` in the records service (approve: [`is_officer`]).
pub(crate) fn require(scope: &ServiceScope, p: Permission) -> Result<()> {
    let held = match p {
        Permission::Approve => is_officer(scope),
        p => scope.service() == Service::Records && scope.can(p),
    };
    if held {
        Ok(())
    } else {
        let what = match p {
            Permission::View => "read records",
            Permission::Edit => "file or change records",
            Permission::Approve => "do that (it is the records officer's)",
            Permission::Administer => "configure records",
        };
        Err(Error::Forbidden(format!(
            "You may not {what} in {}.",
            scope.town().name
        )))
    }
}

/// Refuses unless the scope may read records at all: view, or edit without view — a
/// contributor such as the council's scanning bureau, who then sees only what they filed
/// ([`visibility::of`]).
pub(crate) fn require_reader(scope: &ServiceScope) -> Result<()> {
    if scope.service() == Service::Records && scope.can(Permission::Edit) {
        Ok(())
    } else {
        require(scope, Permission::View)
    }
}

/// An audit change of the scope's town in the records service.
pub(crate) fn change(
    scope: &ServiceScope,
    action: &'static str,
    entity_type: &'static str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change {
    Change {
        municipality_id: Some(scope.municipality_id().clone()),
        service: Some(Service::Records),
        action,
        entity_type,
        entity_id: id.to_owned(),
        before,
        after,
    }
}

/// A new id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Trims optional text; empty becomes none; refuses text over `max` characters.
pub(crate) fn opt_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => {
            Err(Error::invalid(field, format!("at most {max} characters")))
        }
        Some(t) if t.chars().any(char::is_control) => {
            Err(Error::invalid(field, "may not contain control characters"))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// Parses an ISO date (`2026-11-27`), naming the field when it does not read.
pub(crate) fn parse_date(field: &str, v: &str) -> Result<time::Date> {
    time::Date::parse(
        v.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        Error::invalid(
            field,
            format!(
                "'{}' is not a date (YYYY-MM-DD)",
                v.chars().take(40).collect::<String>()
            ),
        )
    })
}
