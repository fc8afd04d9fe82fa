//! The records module's full-text index (docs/design/0013, "Search"): one tantivy index per town,
//! rebuildable from the database and the object store, so a town's index can be dropped or
//! rebuilt alone and no query can reach another town's documents.
//!
//! Access is enforced inside the query, not after it: every search carries the caller's
//! [`Visibility`] as filter clauses, so hits, the total and the facet counts never include a
//! document of a department the caller may not read, a confidential document without the right,
//! or (for the scanning bureau) a document someone else added.
//!
//! The crate knows nothing of the database or HTTP; `munishare-records` feeds it documents and
//! turns its results into pages and API answers.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

mod snippet;

use snippet::Snippets;

use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The index on disk could not be opened, read or written.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be created.
    #[error("search index directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A request the index cannot answer (names the field).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// The department value of a town-wide document (one in no department).
const TOWN_WIDE: &str = "~";
/// Memory for one indexing batch (tantivy's arena; the writer flushes a segment when it fills).
const WRITER_MEMORY: usize = 64 << 20;
/// Largest page of hits.
pub const MAX_LIMIT: usize = 200;

/// One version of a document, as the index sees it.
#[derive(Debug, Clone, Default)]
pub struct IndexedDocument {
    /// The document's id (a UUID in text form); indexing it again replaces it.
    pub id: String,
    /// Title.
    pub title: String,
    /// The text of the current version (extracted or OCR'd); may be empty.
    pub body: String,
    /// Department code; `None` for a town-wide document.
    pub department: Option<String>,
    /// Document type name.
    pub doc_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The document's date as days since 1970-01-01 (for range filters and sorting).
    pub date: Option<i64>,
    /// Visible only to those who may read confidential records.
    pub confidential: bool,
    /// Who added it (the scanning bureau sees only its own work unless granted more).
    pub created_by: String,
    /// Custom field values, `(name, value)`, filterable by exact value.
    pub fields: Vec<(String, String)>,
}

/// What the caller may see, decided by the records service from the caller's grants.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    /// `None`: every department; `Some(list)`: town-wide documents and these departments only.
    pub departments: Option<Vec<String>>,
    /// Whether confidential documents are visible.
    pub confidential: bool,
    /// `Some(user)`: only documents this user added (the scanning bureau's default).
    pub created_by: Option<String>,
}

/// How hits are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (BM25; titles count double).
    #[default]
    Relevance,
    /// Newest document date first (documents without a date last).
    DateDesc,
    /// Oldest document date first.
    DateAsc,
}

/// A search: text plus filters. Empty text lists every visible document that passes the filters.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Words (all must match), `"a phrase"`, `-excluded`, `title:word`.
    pub text: String,
    /// Only this document type.
    pub doc_type: Option<String>,
    /// Only this department (`~` for town-wide documents).
    pub department: Option<String>,
    /// Only documents carrying every one of these tags.
    pub tags: Vec<String>,
    /// Document date from (days since 1970-01-01, inclusive).
    pub date_from: Option<i64>,
    /// Document date to (inclusive).
    pub date_to: Option<i64>,
    /// Custom field values that must match exactly, `(name, value)`.
    pub fields: Vec<(String, String)>,
    /// Order.
    pub sort: Sort,
    /// Hits to skip.
    pub offset: usize,
    /// Hits to return (1..=`MAX_LIMIT`).
    pub limit: usize,
}

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document's id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Up to 200 characters of the body around the best-matching words, HTML-escaped, the matched
    /// words in `<b>`; empty when the text query has no words or the body does not contain them.
    pub snippet_html: String,
    /// Document date (days since 1970-01-01).
    pub date: Option<i64>,
}

/// Counts of the matching, visible documents by value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// By document type.
    pub doc_types: Vec<(String, u64)>,
    /// By department (`~` for town-wide).
    pub departments: Vec<(String, u64)>,
    /// By tag.
    pub tags: Vec<(String, u64)>,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// Visible documents matching, in all.
    pub total: usize,
    /// This page.
    pub hits: Vec<Hit>,
    /// Facet counts over all matching visible documents (not only this page).
    pub facets: Facets,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    /// Title and body together: what the words must match.
    text: Field,
    /// The title alone: a match there ranks higher.
    title: Field,
    /// The body, stored for snippets (matched through `text`).
    body: Field,
    department: Field,
    doc_type: Field,
    tags: Field,
    date: Field,
    confidential: Field,
    created_by: Field,
    fields: Field,
    facets: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // English stemming, positions for phrases. Words are matched in one field holding title and
    // body: over two fields a phrase became a union of two phrase scorers, which checks positions
    // in every document of a window before the department filter can skip it (half of a phrase
    // search's time).
    let text = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        text: b.add_text_field("text", text(false)),
        title: b.add_text_field("title", text(true)),
        body: b.add_text_field("body", STORED),
        department: b.add_text_field("department", STRING),
        doc_type: b.add_text_field("type", STRING),
        tags: b.add_text_field("tag", STRING),
        date: b.add_i64_field("date", INDEXED | FAST | STORED),
        confidential: b.add_bool_field("confidential", INDEXED),
        created_by: b.add_text_field("created_by", STRING),
        fields: b.add_text_field("field", STRING),
        facets: b.add_facet_field("facets", FacetOptions::default()),
    };
    (b.build(), fields)
}

/// One town's index.
pub struct TownIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// tantivy allows one writer per index: batches of this process take turns.
    writing: Mutex<()>,
}

impl std::fmt::Debug for TownIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TownIndex")
    }
}

impl TownIndex {
    /// Opens the index in `dir`, creating it (and the directory) when absent.
    pub fn open(dir: &Path) -> Result<TownIndex> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| Error::Index(tantivy::TantivyError::from(e)))?;
        let index = Index::open_or_create(directory, schema)?;
        TownIndex::with_index(index, fields)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<TownIndex> {
        let (schema, fields) = schema();
        TownIndex::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<TownIndex> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TownIndex {
            index,
            reader,
            fields,
            writing: Mutex::new(()),
        })
    }

    /// Documents in the index.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Adds or replaces `docs` and removes `removed` (ids), in one commit: readers see all of it
    /// or none of it.
    pub fn apply(&self, docs: &[IndexedDocument], removed: &[String]) -> Result<()> {
        self.apply_marked(docs, removed, None)
    }

    /// [`apply`](Self::apply), recording `mark` with the commit (what the caller has applied
    /// up to; [`mark`](Self::mark) reads it back, also after a restart).
    pub fn apply_marked(
        &self,
        docs: &[IndexedDocument],
        removed: &[String],
        mark: Option<&str>,
    ) -> Result<()> {
        let _turn = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let writer: IndexWriter = self.index.writer_with_num_threads(1, WRITER_MEMORY)?;
        for id in removed {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        for doc in docs {
            writer.delete_term(Term::from_field_text(self.fields.id, &doc.id));
            writer.add_document(self.document(doc))?;
        }
        self.commit(writer, mark)
    }

    /// Replaces the whole index with the documents `batches` yields, in one commit marked
    /// `mark`: until it commits, readers keep seeing the old index. Memory is bounded by the
    /// writer's arena (it flushes segments as it fills), not by the number of documents, so
    /// `batches` can stream a town of any size. Returns the documents indexed.
    pub fn rebuild<I>(&self, batches: I, mark: &str) -> Result<u64>
    where
        I: IntoIterator<Item = Result<Vec<IndexedDocument>>>,
    {
        let _turn = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let writer: IndexWriter = self.index.writer_with_num_threads(1, WRITER_MEMORY)?;
        writer.delete_all_documents()?;
        let mut n = 0;
        for batch in batches {
            for doc in &batch? {
                writer.add_document(self.document(doc))?;
                n += 1;
            }
        }
        self.commit(writer, Some(mark))?;
        Ok(n)
    }

    fn commit(&self, mut writer: IndexWriter, mark: Option<&str>) -> Result<()> {
        let mut prepared = writer.prepare_commit()?;
        if let Some(mark) = mark {
            prepared.set_payload(mark);
        }
        prepared.commit()?;
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The mark of the last commit that recorded one.
    pub fn mark(&self) -> Result<Option<String>> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> Result<()> {
        self.rebuild(std::iter::empty(), "").map(|_| ())
    }

    fn document(&self, d: &IndexedDocument) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        doc.add_text(f.text, &d.title);
        doc.add_text(f.text, &d.body);
        doc.add_text(f.title, &d.title);
        doc.add_text(f.body, &d.body);
        let department = d.department.as_deref().unwrap_or(TOWN_WIDE);
        doc.add_text(f.department, department);
        doc.add_facet(f.facets, Facet::from_path(["department", department]));
        if let Some(t) = &d.doc_type {
            doc.add_text(f.doc_type, t);
            doc.add_facet(f.facets, Facet::from_path(["type", t.as_str()]));
        }
        for tag in &d.tags {
            doc.add_text(f.tags, tag);
            doc.add_facet(f.facets, Facet::from_path(["tag", tag.as_str()]));
        }
        if let Some(date) = d.date {
            doc.add_i64(f.date, date);
        }
        doc.add_bool(f.confidential, d.confidential);
        doc.add_text(f.created_by, &d.created_by);
        for (name, value) in &d.fields {
            doc.add_text(f.fields, field_term(name, value));
        }
        doc
    }

    /// Searches the documents `visibility` allows.
    pub fn search(
        &self,
        request: &SearchRequest,
        visibility: &Visibility,
    ) -> Result<SearchResults> {
        if request.limit == 0 || request.limit > MAX_LIMIT {
            return Err(Error::Invalid {
                field: "limit",
                message: format!("give 1 to {MAX_LIMIT} hits per page"),
            });
        }
        if let (Some(from), Some(to)) = (request.date_from, request.date_to)
            && from > to
        {
            return Err(Error::Invalid {
                field: "date_from",
                message: "the date range starts after it ends".into(),
            });
        }
        let searcher = self.reader.searcher();
        let (text_query, title_query) = self.text_query(&request.text);
        let query = BooleanQuery::new(
            std::iter::once((Occur::Must, text_query.box_clone()))
                .chain(title_query.map(|q| (Occur::Should, q)))
                .chain(self.filters(request, visibility))
                .collect(),
        );

        let mut facets = FacetCollector::for_field("facets");
        for root in ["/type", "/department", "/tag"] {
            facets.add_facet(root);
        }
        let page = TopDocs::with_limit(request.limit).and_offset(request.offset);
        let (total, addresses, facet_counts) = match request.sort {
            Sort::Relevance => {
                let (total, top, facet_counts) =
                    searcher.search(&query, &(Count, page.order_by_score(), facets))?;
                (
                    total,
                    top.into_iter().map(|(_, a)| a).collect::<Vec<_>>(),
                    facet_counts,
                )
            }
            Sort::DateDesc | Sort::DateAsc => {
                let order = if request.sort == Sort::DateDesc {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let (total, top, facet_counts) = searcher.search(
                    &query,
                    &(
                        Count,
                        page.order_by_fast_field::<i64>("date", order),
                        facets,
                    ),
                )?;
                (
                    total,
                    top.into_iter().map(|(_, a)| a).collect(),
                    facet_counts,
                )
            }
        };

        let snippets = Snippets::new(&searcher, &*text_query, self.fields.text)?;
        let hits = addresses
            .into_iter()
            .map(|address: DocAddress| {
                let doc: TantivyDocument = searcher.doc(address)?;
                let text = |field| {
                    doc.get_first(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                Ok(Hit {
                    id: text(self.fields.id),
                    title: text(self.fields.title),
                    snippet_html: snippets.html(&text(self.fields.body)),
                    date: doc.get_first(self.fields.date).and_then(|v| v.as_i64()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let counts = |root: &str| -> Vec<(String, u64)> {
            facet_counts
                .get(root)
                .map(|(facet, n)| {
                    let name = facet
                        .to_path()
                        .last()
                        .map_or_else(String::new, |s| (*s).to_owned());
                    (name, n)
                })
                .collect()
        };
        Ok(SearchResults {
            total,
            hits,
            facets: Facets {
                doc_types: counts("/type"),
                departments: counts("/department"),
                tags: counts("/tag"),
            },
        })
    }

    /// The user's words over title and body, all required, and the same words over the title
    /// alone, optional, so a title match ranks higher. Syntax errors do not fail the search: the
    /// parser keeps what it understood.
    fn text_query(&self, text: &str) -> (Box<dyn Query>, Option<Box<dyn Query>>) {
        if text.trim().is_empty() {
            return (Box::new(AllQuery), None);
        }
        let parse = |field| {
            let mut parser = QueryParser::for_index(&self.index, vec![field]);
            parser.set_conjunction_by_default();
            parser.parse_query_lenient(text).0
        };
        (parse(self.fields.text), Some(parse(self.fields.title)))
    }

    /// The caller's visibility, then the request's filters, as required clauses.
    fn filters(
        &self,
        request: &SearchRequest,
        visibility: &Visibility,
    ) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(departments) = &visibility.departments {
            let allowed = std::iter::once(TOWN_WIDE)
                .chain(departments.iter().map(String::as_str))
                .map(|d| (Occur::Should, term(f.department, d)))
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(allowed))));
        }
        if !visibility.confidential {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_bool(f.confidential, true),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(user) = &visibility.created_by {
            clauses.push((Occur::Must, term(f.created_by, user)));
        }
        if let Some(t) = &request.doc_type {
            clauses.push((Occur::Must, term(f.doc_type, t)));
        }
        if let Some(d) = &request.department {
            clauses.push((Occur::Must, term(f.department, d)));
        }
        for tag in &request.tags {
            clauses.push((Occur::Must, term(f.tags, tag)));
        }
        for (name, value) in &request.fields {
            clauses.push((Occur::Must, term(f.fields, &field_term(name, value))));
        }
        if request.date_from.is_some() || request.date_to.is_some() {
            let bound = |d: Option<i64>| {
                d.map_or(Bound::Unbounded, |d| {
                    Bound::Included(Term::from_field_i64(f.date, d))
                })
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(request.date_from),
                    bound(request.date_to),
                )),
            ));
        }
        clauses
    }
}

/// Every town's index, each in its own directory under one root (`ROOT/{town id}`), opened on
/// first use and kept open.
#[derive(Debug)]
pub struct Indexes {
    root: PathBuf,
    open: Mutex<HashMap<String, Arc<TownIndex>>>,
}

impl Indexes {
    /// The indexes under `root` (created when first needed).
    pub fn new(root: impl Into<PathBuf>) -> Indexes {
        Indexes {
            root: root.into(),
            open: Mutex::default(),
        }
    }

    /// The index of `town` (its id: letters, digits and `-` only, so it names one directory
    /// under the root and nothing else).
    pub fn town(&self, town: &str) -> Result<Arc<TownIndex>> {
        let dir = self.dir(town)?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = open.get(town) {
            return Ok(Arc::clone(index));
        }
        let index = Arc::new(TownIndex::open(&dir)?);
        open.insert(town.to_owned(), Arc::clone(&index));
        Ok(index)
    }

    /// Deletes `town`'s index from disk (a rebuild starts from nothing).
    pub fn remove(&self, town: &str) -> Result<()> {
        let dir = self.dir(town)?;
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(town);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Dir {
                path: dir.display().to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn dir(&self, town: &str) -> Result<PathBuf> {
        let plain = !town.is_empty()
            && town.len() <= 64
            && town.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if plain {
            Ok(self.root.join(town))
        } else {
            Err(Error::Invalid {
                field: "town",
                message: format!("{town:?} is not a town id (letters, digits and '-')"),
            })
        }
    }
}

/// A custom field value as one exact term (`name=value`).
fn field_term(name: &str, value: &str) -> String {
    format!("{name}={value}")
}
