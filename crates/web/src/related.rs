//! Documents filed in Records beside another module's record (docs/design/0014).
//!
//! A parcel, an appeal or a journal entry shows the deeds, letters and scans attached to it
//! without its module depending on the records module: the page asks [`related_documents`],
//! which calls the [`RelatedSource`] the records module put in [`Inner::modules`]
//! (`munishare::module_state` wires it). The source applies the caller's records access in the
//! town — a user without it gets `None` and the page shows no section — and renders the
//! section the page includes as it is: the documents, a way to attach another (the records
//! picker) and to detach one, for those who may edit records.
//!
//! [`Inner::modules`]: crate::state::Inner::modules

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use askama::Template;
use munishare_platform::Result;
use munishare_platform::access::Principal;

use crate::auth::PageUser;
use crate::state::AppState;

/// The record a page shows: what the link from a document to it names.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// `{service}.{record}`, e.g. `assessment.parcel`.
    pub kind: &'a str,
    /// The record's id in its module.
    pub target: &'a str,
    /// What people read, e.g. "Parcel 123-45, 12 Main St".
    pub label: &'a str,
    /// The page to come back to after attaching or detaching (a path in the same town).
    pub back: &'a str,
}

/// A document attached to the record.
#[derive(Debug, Clone)]
pub struct RelatedDocument {
    /// Title.
    pub title: String,
    /// The document's page.
    pub href: String,
    /// The document type's name, if any.
    pub type_name: Option<String>,
    /// The document's date, if any.
    pub date: Option<String>,
    /// Where to post to detach it, for a caller who may edit records.
    pub detach: Option<String>,
}

/// The section a record's page includes (rendered by `related_documents.html`).
#[derive(Debug, Clone, Template)]
#[template(path = "related_documents.html")]
pub struct RelatedDocuments {
    /// The documents, as the caller sees the town's records.
    pub documents: Vec<RelatedDocument>,
    /// The records picker (a GET form's action), for a caller who may attach documents.
    pub attach: Option<String>,
    /// The record, for the picker's hidden fields.
    pub kind: String,
    /// The record's id.
    pub target: String,
    /// The record's label.
    pub label: String,
    /// The page to come back to.
    pub back: String,
    /// The session's CSRF token, for the detach forms.
    pub csrf: String,
}

/// What the records module provides: the section for a record, or `None` when the caller
/// has no records access in the town (or the town does not subscribe).
pub trait RelatedSource: Send + Sync + 'static {
    /// The section for `record` in `town`, as `who` sees it.
    fn related<'a>(
        &'a self,
        st: &'a AppState,
        who: &'a Principal,
        csrf: &'a str,
        town: &'a str,
        record: RecordRef<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<RelatedDocuments>>> + Send + 'a>>;
}

/// The source, as kept in [`crate::state::Inner::modules`].
#[derive(Clone)]
pub struct Related(pub Arc<dyn RelatedSource>);

impl std::fmt::Debug for Related {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Related")
    }
}

/// The documents section for a record's page; `None` when no records module is installed or
/// the user has no records access in the town.
pub async fn related_documents(
    st: &AppState,
    user: &PageUser,
    town: &str,
    record: RecordRef<'_>,
) -> Result<Option<RelatedDocuments>> {
    match st.modules.get::<Related>() {
        Some(r) => {
            r.0.related(st, &user.principal, &user.csrf, town, record)
                .await
        }
        None => Ok(None),
    }
}

/// `back` when it is a page of `town` (`/t/{town}/…`, no scheme, `//` or `..`), else `None`: where a
/// form may send the user after it, without becoming an open redirect.
pub fn local_back(town: &str, back: Option<&str>) -> Option<String> {
    let back = back?.trim();
    let ok = back
        .strip_prefix("/t/")
        .and_then(|rest| rest.strip_prefix(town))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
        && !back.contains("//")
        && !back.contains("/..")
        && !back.contains('\\')
        && back.chars().all(|c| !c.is_control())
        && back.len() <= 500;
    ok.then(|| back.to_owned())
}

#[cfg(test)]
mod tests {
    use super::local_back;

    #[test]
    fn only_pages_of_the_town_are_places_to_come_back_to() {
        for ok in [
            "/t/hartford/assessment/parcels/p1",
            "/t/hartford/finance/entries/e1#related-documents",
            "/t/hartford",
        ] {
            assert_eq!(local_back("hartford", Some(ok)).as_deref(), Some(ok));
        }
        for bad in [
            "https://evil.example/t/hartford/x",
            "//evil.example/t/hartford/",
            "/t/hartford-east/x",
            "/t/west-hartford/x",
            "/t/hartford//evil.example",
            "/t/hartford/../west-hartford/x",
            "/t/hartford/\\evil",
            "/t/hartford/x\ny",
            "t/hartford/x",
            "",
        ] {
            assert_eq!(local_back("hartford", Some(bad)), None, "{bad:?}");
        }
        assert_eq!(local_back("hartford", None), None);
    }
}
