//! Text extraction and OCR (docs/design/0013, "Text extraction and OCR").
//!
//! Every version filed gets a `records_version_texts` row, `pending`, and a
//! `records.extract` job, both in the filing transaction ([`queue`]). The job
//! acts for the person who filed the version (or asked for the retry) with
//! their rights today, like the sweep: a job holds no rights nobody granted.
//! It reads the stored content into a temporary directory and takes its text
//! by the stored media type: plain text as is; DOCX and ODT from their XML;
//! PDF with `pdftotext`, or, when the PDF has no text layer, page by page with
//! `pdftoppm` and `tesseract`, joined into a searchable PDF with `pdfunite`;
//! images with `tesseract` (text plus a searchable PDF). The searchable PDF is
//! stored once per town and content (`derived/{sha256}.searchable.pdf`).
//! Success writes the text and logs the document for the search index in one
//! transaction; failure writes a message naming the file and fails the job,
//! which the queue retries until its attempts are used up.
//!
//! The product installs nothing at run time: the tools are looked up on
//! `PATH` ([`Tools::on_path`]) and a missing one fails the job with
//! "tesseract-ocr is not installed on this server" (or poppler-utils). Every
//! tool runs with a timeout; its standard error is kept for the message.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::jobs::{self, JobContext, Registry};
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp, UserId};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::documents::{self, Version};
use crate::{change, require, sniff};

/// The extraction job.
pub const EXTRACT_JOB: &str = "records.extract";
/// How long one run of one tool may take before it is stopped.
pub const TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Attempts of the job before the text stays failed.
pub const MAX_ATTEMPTS: u8 = 3;
/// A PDF with fewer non-space characters than this per page has no usable
/// text layer (a scan): it is OCR'd.
pub const MIN_CHARS_PER_PAGE: usize = 20;
/// The most of a DOCX/ODT's XML read (uncompressed), against zip bombs.
const MAX_XML: u64 = 256 * 1024 * 1024;

/// What the extraction job works on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtractPayload {
    /// The town.
    pub municipality_id: MunicipalityId,
    /// The document.
    pub document_id: String,
    /// The version's number.
    pub number: i64,
    /// Who filed the version (or asked for the retry): the job acts for them.
    pub filed_by: UserId,
}

/// A version's text, as the API shows it (the text itself is apart: [`body`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionText {
    /// The version's number.
    pub number: i64,
    /// `pending`, `done`, `failed` or `skipped`.
    pub status: String,
    /// How the text was taken: `text`, `docx`, `odt`, `pdftotext` or `ocr`.
    pub method: Option<String>,
    /// Pages extracted or OCR'd (PDFs and images).
    pub pages: Option<i64>,
    /// Why it failed or was skipped, naming the file.
    pub message: Option<String>,
    /// Attempts made.
    pub attempts: i64,
    /// Last changed.
    pub updated_at: String,
    /// Characters of text taken.
    pub characters: i64,
    /// A searchable PDF (the scan with its OCR'd text) can be downloaded.
    pub searchable_pdf: bool,
}

type TextRow = (
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    String,
    i64,
);

fn from_row(r: TextRow) -> VersionText {
    let searchable_pdf = r.1 == "done" && r.2.as_deref() == Some("ocr");
    VersionText {
        number: r.0,
        status: r.1,
        method: r.2,
        pages: r.3,
        message: r.4,
        attempts: r.5,
        updated_at: r.6,
        characters: r.7,
        searchable_pdf,
    }
}

const TEXT_SELECT: &str = "SELECT number, status, method, pages, message, attempts, updated_at, \
    CAST(LENGTH(body) AS BIGINT) FROM records_version_texts WHERE municipality_id = $1 AND document_id = $2";

/// The text status of every version of a document, newest first. The caller
/// has checked that the document is visible.
pub(crate) async fn statuses(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    document: &str,
) -> Result<Vec<VersionText>> {
    let sql = format!("{TEXT_SELECT} ORDER BY number DESC");
    let rows: Vec<TextRow> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(document).fetch_all(c).await)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The text taken from a version the caller may see; 404 while it is not taken (pending or failed).
pub async fn body(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    document: &str,
    number: i64,
) -> Result<String> {
    documents::version_content(scope, ex, document, Some(number)).await?;
    let b: Option<String> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT body FROM records_version_texts WHERE municipality_id = $1 AND document_id = $2 AND number = $3 \
         AND status = 'done'")
        .bind(scope.municipality_id()).bind(document).bind(number).fetch_optional(c).await)?;
    b.ok_or(Error::NotFound { what: "text" })
}

/// Marks a version's text pending and enqueues its extraction, inside the
/// filing (or retry) transaction; the job acts for the scope's user.
pub(crate) async fn queue(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    document: &str,
    number: i64,
) -> Result<()> {
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_version_texts (municipality_id, document_id, number, status, method, body, message, pages, attempts, updated_at) \
         VALUES ($1, $2, $3, 'pending', NULL, '', NULL, NULL, 0, $4) \
         ON CONFLICT (municipality_id, document_id, number) DO UPDATE SET status = 'pending', method = NULL, body = '', \
         message = NULL, pages = NULL, attempts = 0, updated_at = $4")
        .bind(scope.municipality_id()).bind(document).bind(number).bind(now.to_db()).execute(c).await)?;
    let payload = ExtractPayload {
        municipality_id: scope.municipality_id().clone(),
        document_id: document.to_owned(),
        number,
        filed_by: scope.user_id().clone(),
    };
    let payload =
        serde_json::to_value(&payload).map_err(|e| Error::Internal(format!("payload: {e}")))?;
    jobs::enqueue(
        tx,
        now,
        EXTRACT_JOB,
        Some(scope.municipality_id()),
        &payload,
        MAX_ATTEMPTS,
    )
    .await?;
    Ok(())
}

/// Takes a version's text again (edit): the row goes back to pending and a
/// job is queued that acts for the caller; audited. Refused while one waits.
pub async fn retry(
    scope: &ServiceScope,
    db: &Db,
    now: Timestamp,
    document: &str,
    number: i64,
) -> Result<VersionText> {
    let mut tx = db.begin().await?;
    let (v, _) = documents::version_content(scope, &mut tx, document, Some(number)).await?;
    require(scope, Permission::Edit)?;
    let before = statuses(scope, &mut tx, document)
        .await?
        .into_iter()
        .find(|t| t.number == v.number);
    if before.as_ref().is_some_and(|t| t.status == "pending") {
        return Err(Error::conflict(
            "version",
            format!(
                "the text of version {} is already waiting to be taken",
                v.number
            ),
        ));
    }
    queue(scope, &mut tx, now, document, v.number).await?;
    if before.as_ref().is_some_and(|t| t.status == "done") {
        // The index drops the old text until the new one is taken.
        crate::index::touch(scope, &mut tx, now, &[document]).await?;
    }
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.text.retry",
            "records_document",
            document,
            Some(serde_json::json!({
                "version": v.number,
                "status": before.as_ref().map(|t| t.status.clone()),
                "message": before.as_ref().and_then(|t| t.message.clone()),
            })),
            Some(serde_json::json!({"version": v.number, "status": "pending"})),
        ),
    )
    .await?;
    let after = statuses(scope, &mut tx, document)
        .await?
        .into_iter()
        .find(|t| t.number == v.number)
        .ok_or_else(|| Error::Internal("the text row just written is missing".into()))?;
    tx.commit().await?;
    Ok(after)
}

/// Where the searchable PDF made from a town's content lives.
pub fn searchable_key(scope: &ServiceScope, sha256: &str) -> Result<BlobKey> {
    // Checks the digest the same way as the content key.
    crate::ingest::content_key(scope, sha256)?;
    BlobKey::in_scope(scope, &format!("derived/{sha256}.searchable.pdf"))
}

/// A version's searchable PDF, for a caller who may see the version; 404 when
/// it has none (not OCR'd, or not yet).
pub async fn searchable_pdf(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    document: &str,
    number: i64,
) -> Result<(Version, BlobKey)> {
    let (v, _) = documents::version_content(scope, ex, document, Some(number)).await?;
    let has = statuses(scope, ex, document)
        .await?
        .into_iter()
        .any(|t| t.number == v.number && t.searchable_pdf);
    if !has {
        return Err(Error::NotFound {
            what: "searchable PDF",
        });
    }
    let key = searchable_key(scope, &v.sha256)?;
    let stem = match v.file_name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s.to_owned(),
        _ => v.file_name.clone(),
    };
    let v = Version {
        media_type: sniff::PDF.to_owned(),
        file_name: format!("{stem}.searchable.pdf"),
        ..v
    };
    Ok((v, key))
}

// ---------------------------------------------------------------------------
// Tools

/// The external tools, as found on `PATH` (none is installed at run time).
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pdftotext: Option<PathBuf>,
    pdftoppm: Option<PathBuf>,
    pdfunite: Option<PathBuf>,
    tesseract: Option<PathBuf>,
}

/// The Debian package that brings a tool.
fn package_of(tool: &str) -> &'static str {
    if tool == "tesseract" {
        "tesseract-ocr"
    } else {
        "poppler-utils"
    }
}

/// The message when a tool's package is missing.
pub fn not_installed(package: &str) -> String {
    format!("{package} is not installed on this server")
}

/// The executable `name` in one of `path`'s directories (a `PATH` value).
pub fn find_tool(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

impl Tools {
    /// The tools found in `path` (a `PATH` value; empty finds none).
    pub fn on_path(path: &OsStr) -> Self {
        Self {
            pdftotext: find_tool(path, "pdftotext"),
            pdftoppm: find_tool(path, "pdftoppm"),
            pdfunite: find_tool(path, "pdfunite"),
            tesseract: find_tool(path, "tesseract"),
        }
    }

    /// The tools on this process's `PATH`.
    pub fn from_env() -> Self {
        Self::on_path(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// A tool's path, or the message that its package is not installed.
    pub fn require(&self, tool: &str) -> std::result::Result<&Path, String> {
        let found = match tool {
            "pdftotext" => &self.pdftotext,
            "pdftoppm" => &self.pdftoppm,
            "pdfunite" => &self.pdfunite,
            _ => &self.tesseract,
        };
        found
            .as_deref()
            .ok_or_else(|| not_installed(package_of(tool)))
    }

    /// One message per missing package (for the pages' banner).
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.pdftotext.is_none() || self.pdftoppm.is_none() || self.pdfunite.is_none() {
            out.push(not_installed("poppler-utils"));
        }
        if self.tesseract.is_none() {
            out.push(not_installed("tesseract-ocr"));
        }
        out
    }
}

/// A tool's run that did not succeed.
fn tool_failure(tool: &str, status: Option<i32>, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // The last lines say what went wrong; earlier ones are mostly warnings.
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    let tail: String = tail.chars().take(500).collect();
    let code = status.map_or_else(
        || "was stopped by a signal".to_owned(),
        |c| format!("exited with status {c}"),
    );
    if tail.is_empty() {
        format!("{tool} {code}")
    } else {
        format!("{tool} {code}: {tail}")
    }
}

/// Runs a tool with a timeout, one core; returns its standard output, or why it failed.
pub(crate) async fn run_tool(
    tools: &Tools,
    tool: &str,
    args: &[&OsStr],
    work: &Path,
) -> std::result::Result<Vec<u8>, ToolError> {
    let program = tools.require(tool).map_err(ToolError::Missing)?;
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(work)
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ToolError::Failed(format!("{tool} could not be started: {e}")))?;
    match tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(ToolError::Failed(format!(
            "{tool} took longer than {} minutes and was stopped",
            TOOL_TIMEOUT.as_secs() / 60
        ))),
        Ok(Err(e)) => Err(ToolError::Failed(format!("{tool} failed: {e}"))),
        Ok(Ok(out)) if out.status.success() => Ok(out.stdout),
        Ok(Ok(out)) => Err(ToolError::Exit {
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            message: tool_failure(tool, out.status.code(), &out.stderr),
        }),
    }
}

#[derive(Debug)]
pub(crate) enum ToolError {
    /// Its package is not installed: the exact message.
    Missing(String),
    /// It exited with an error.
    Exit { stderr: String, message: String },
    /// It could not run or timed out.
    Failed(String),
}

impl ToolError {
    /// The message for the text row: a missing package as is, anything else naming the file.
    pub(crate) fn about(self, file: &str) -> String {
        match self {
            Self::Missing(m) => m,
            Self::Exit { message, .. } | Self::Failed(message) => format!("{file}: {message}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Extraction

/// The text taken from a file.
#[derive(Debug)]
pub struct Extracted {
    /// `text`, `docx`, `odt`, `pdftotext` or `ocr`.
    pub method: &'static str,
    /// The text.
    pub body: String,
    /// Pages extracted or OCR'd (PDFs and images).
    pub pages: Option<i64>,
    /// The searchable PDF made by OCR, in the work directory.
    pub searchable_pdf: Option<PathBuf>,
}

/// Pages in tool output where pages end with form feeds (`pdftotext`) or are
/// separated by them (`tesseract`).
fn page_count(text: &str) -> i64 {
    let n = text.split('\x0c').count();
    let n = if text.ends_with('\x0c') { n - 1 } else { n };
    i64::try_from(n.max(1)).unwrap_or(i64::MAX)
}

/// Tool output as stored text: pages joined by blank lines.
fn tidy(text: &str) -> String {
    text.split('\x0c')
        .map(str::trim_end)
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Takes the text of the file at `input` (stored as `media_type`, filed as
/// `file_name`), working in `work`; on failure, the message for the text row
/// (naming the file, or the missing package exactly).
pub async fn extract_file(
    tools: &Tools,
    input: &Path,
    media_type: &str,
    file_name: &str,
    work: &Path,
) -> std::result::Result<Extracted, String> {
    let shown = sniff::shown(file_name);
    match media_type {
        sniff::TEXT => {
            let bytes = tokio::fs::read(input)
                .await
                .map_err(|e| format!("{shown} could not be read: {e}"))?;
            let body = String::from_utf8(bytes).map_err(|e| {
                format!(
                    "{shown} is not UTF-8 text (byte {} does not read)",
                    e.utf8_error().valid_up_to()
                )
            })?;
            Ok(Extracted {
                method: "text",
                body,
                pages: None,
                searchable_pdf: None,
            })
        }
        sniff::DOCX | sniff::ODT => {
            let docx = media_type == sniff::DOCX;
            let path = input.to_owned();
            let body = tokio::task::spawn_blocking(move || office_text(&path, docx))
                .await
                .map_err(|e| format!("{shown} could not be read: {e}"))?
                .map_err(|e| format!("{shown} is damaged: {e}"))?;
            Ok(Extracted {
                method: if docx { "docx" } else { "odt" },
                body,
                pages: None,
                searchable_pdf: None,
            })
        }
        sniff::PDF => pdf_text(tools, input, &shown, work).await,
        sniff::PNG | sniff::JPEG | sniff::TIFF => {
            let out = work.join("ocr");
            run_tool(
                tools,
                "tesseract",
                &[
                    input.as_os_str(),
                    out.as_os_str(),
                    OsStr::new("-l"),
                    OsStr::new("eng"),
                    OsStr::new("txt"),
                    OsStr::new("pdf"),
                ],
                work,
            )
            .await
            .map_err(|e| e.about(&shown))?;
            let text = tokio::fs::read_to_string(work.join("ocr.txt"))
                .await
                .map_err(|e| format!("{shown}: tesseract wrote no text ({e})"))?;
            Ok(Extracted {
                method: "ocr",
                pages: Some(page_count(&text)),
                body: tidy(&text),
                searchable_pdf: Some(work.join("ocr.pdf")),
            })
        }
        other => Err(format!("{shown}: text cannot be taken from {other} files")),
    }
}

/// A PDF's text layer with `pdftotext`; a scan (no text layer) OCR'd page by page.
async fn pdf_text(
    tools: &Tools,
    input: &Path,
    shown: &str,
    work: &Path,
) -> std::result::Result<Extracted, String> {
    let out = run_tool(
        tools,
        "pdftotext",
        &[
            OsStr::new("-enc"),
            OsStr::new("UTF-8"),
            OsStr::new("-layout"),
            input.as_os_str(),
            OsStr::new("-"),
        ],
        work,
    )
    .await
    .map_err(|e| match e {
        ToolError::Missing(m) => m,
        ToolError::Exit { stderr, message } => {
            if stderr.to_ascii_lowercase().contains("password") {
                format!("{shown} is password-protected: remove the password and upload it again")
            } else {
                format!(
                    "{shown} is damaged: pdftotext could not read it ({})",
                    message.trim_start_matches("pdftotext ")
                )
            }
        }
        ToolError::Failed(m) => format!("{shown}: {m}"),
    })?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let pages = page_count(&text);
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    if i64::try_from(chars).unwrap_or(i64::MAX)
        >= pages.saturating_mul(i64::try_from(MIN_CHARS_PER_PAGE).unwrap_or(i64::MAX))
    {
        return Ok(Extracted {
            method: "pdftotext",
            body: tidy(&text),
            pages: Some(pages),
            searchable_pdf: None,
        });
    }
    // No text layer: render each page at 300 dpi (one at a time, so a long scan
    // never has all its pages on disk), OCR it, then join the pages' PDFs.
    let mut texts = Vec::new();
    let mut pdfs: Vec<OsString> = Vec::new();
    for page in 1..=pages {
        let n = page.to_string();
        let png_base = work.join(format!("page-{page:05}"));
        run_tool(
            tools,
            "pdftoppm",
            &[
                OsStr::new("-r"),
                OsStr::new("300"),
                OsStr::new("-png"),
                OsStr::new("-singlefile"),
                OsStr::new("-f"),
                OsStr::new(&n),
                OsStr::new("-l"),
                OsStr::new(&n),
                input.as_os_str(),
                png_base.as_os_str(),
            ],
            work,
        )
        .await
        .map_err(|e| e.about(shown))?;
        let png = png_base.with_extension("png");
        let ocr_base = work.join(format!("ocr-{page:05}"));
        run_tool(
            tools,
            "tesseract",
            &[
                png.as_os_str(),
                ocr_base.as_os_str(),
                OsStr::new("-l"),
                OsStr::new("eng"),
                OsStr::new("txt"),
                OsStr::new("pdf"),
            ],
            work,
        )
        .await
        .map_err(|e| e.about(&format!("{shown}, page {page}")))?;
        let _ = tokio::fs::remove_file(&png).await;
        texts.push(
            tokio::fs::read_to_string(ocr_base.with_extension("txt"))
                .await
                .map_err(|e| format!("{shown}, page {page}: tesseract wrote no text ({e})"))?,
        );
        pdfs.push(ocr_base.with_extension("pdf").into_os_string());
    }
    let joined = work.join("searchable.pdf");
    let mut args: Vec<&OsStr> = pdfs.iter().map(OsString::as_os_str).collect();
    args.push(joined.as_os_str());
    run_tool(tools, "pdfunite", &args, work)
        .await
        .map_err(|e| e.about(shown))?;
    Ok(Extracted {
        method: "ocr",
        body: tidy(&texts.join("\x0c")),
        pages: Some(pages),
        searchable_pdf: Some(joined),
    })
}

/// The text of a DOCX (`word/document.xml`: `w:t` runs, paragraphs as lines)
/// or an ODT (`content.xml`: `text:p` and `text:h` as lines).
fn office_text(path: &Path, docx: bool) -> std::result::Result<String, String> {
    let part = if docx {
        "word/document.xml"
    } else {
        "content.xml"
    };
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("it is not a whole ZIP ({e})"))?;
    let mut xml = String::new();
    zip.by_name(part)
        .map_err(|e| format!("it has no {part} ({e})"))?
        .take(MAX_XML)
        .read_to_string(&mut xml)
        .map_err(|e| format!("its {part} could not be read ({e})"))?;
    xml_text(&xml, docx).map_err(|e| format!("its {part} is not well-formed XML ({e})"))
}

/// Reads the text out of a word-processing document's XML.
pub fn xml_text(xml: &str, docx: bool) -> std::result::Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = String::new();
    // DOCX text is only inside w:t (w:instrText and others are field codes);
    // ODT text is anywhere inside a paragraph or heading.
    let mut inside = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| e.to_string())?;
        match ev {
            Event::Start(e) => {
                let name = e.name();
                match (docx, name.as_ref()) {
                    (true, "w:t") | (false, "text:p" | "text:h") => inside += 1,
                    _ => {}
                }
            }
            Event::End(e) => match (docx, e.name().as_ref()) {
                (true, "w:t") => inside = inside.saturating_sub(1),
                (true, "w:p") => out.push('\n'),
                (false, "text:p" | "text:h") => {
                    inside = inside.saturating_sub(1);
                    if inside == 0 {
                        out.push('\n');
                    }
                }
                _ => {}
            },
            Event::Empty(e) => match (docx, e.name().as_ref()) {
                (true, "w:tab") | (false, "text:tab") => out.push('\t'),
                (true, "w:br" | "w:cr") | (false, "text:line-break") => out.push('\n'),
                (true, "w:p") | (false, "text:p" | "text:h") => out.push('\n'),
                (false, "text:s") => {
                    let n = e
                        .try_get_attribute("text:c")
                        .ok()
                        .flatten()
                        .and_then(|a| a.value.trim().parse::<usize>().ok())
                        .unwrap_or(1);
                    out.extend(std::iter::repeat_n(' ', n.min(1000)));
                }
                _ => {}
            },
            Event::Text(t) if inside > 0 => out.push_str(&t.xml10_content()),
            Event::CData(t) if inside > 0 => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside > 0 => {
                if let Ok(Some(ch)) = r.resolve_char_ref() {
                    out.push(ch);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    out.push_str(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The job

/// Registers `records.extract`.
pub fn register_jobs(registry: &mut Registry) {
    registry.register(
        EXTRACT_JOB,
        |ctx: JobContext, p: serde_json::Value| async move {
            let payload: ExtractPayload = serde_json::from_value(p)
                .map_err(|e| Error::Internal(format!("records.extract payload: {e}")))?;
            extract_version(&ctx, &payload, &Tools::from_env()).await
        },
    );
}

/// The scope the job acts in: the filer's rights today (edit in the town's
/// records). The demo seed, which files the demo's documents with no
/// person's grant, is the one exception, and only in a demo region
/// (`platform::demo::seed_scope` checks).
async fn acting_scope(ctx: &JobContext, p: &ExtractPayload) -> Result<ServiceScope> {
    let today = ctx.clock.now().date();
    let granted = munishare_platform::access::authorize_issued_credential(
        &ctx.db,
        today,
        &p.filed_by,
        &p.municipality_id,
        Service::Records,
        Permission::Edit,
        EXTRACT_JOB,
    )
    .await;
    let e = match granted {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let (user, town) = {
        let mut c = ctx.db.read().await?;
        (
            munishare_platform::identity::user_by_id(&mut c, &p.filed_by).await?,
            munishare_platform::tenancy::find_by_id(&mut c, &p.municipality_id).await?,
        )
    };
    match (user, town) {
        (Some(u), Some(t)) if u.username == munishare_platform::demo::SEED_ACCOUNT => {
            munishare_platform::demo::seed_scope(&ctx.db, today, t.slug.as_str(), Service::Records)
                .await
        }
        _ => Err(e),
    }
}

async fn write_failure(ctx: &JobContext, p: &ExtractPayload, message: &str) -> Result<()> {
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE records_version_texts SET status = 'failed', message = $4, updated_at = $5 \
         WHERE municipality_id = $1 AND document_id = $2 AND number = $3")
        .bind(&p.municipality_id).bind(&p.document_id).bind(p.number).bind(message).bind(now.to_db())
        .execute(c).await)?;
    tx.commit().await
}

/// Runs one extraction with `tools` (the job passes those on `PATH`; tests
/// pass others): writes the text or the failure, and fails when it failed.
pub async fn extract_version(
    ctx: &JobContext,
    p: &ExtractPayload,
    tools: &Tools,
) -> Result<serde_json::Value> {
    let fail = |message: String| async move {
        write_failure(ctx, p, &message).await?;
        Err::<serde_json::Value, _>(Error::Conflict {
            field: None,
            message,
        })
    };
    let scope = match acting_scope(ctx, p).await {
        Ok(s) => s,
        Err(e) => {
            return fail(format!(
                "the person who filed this version may no longer file records here ({e}); someone who may can retry it"
            ))
            .await;
        }
    };
    let found = {
        let mut c = ctx.db.read().await?;
        documents::version_content(&scope, &mut c, &p.document_id, Some(p.number)).await
    };
    let (version, key) = match found {
        Ok(v) => v,
        Err(Error::NotFound { .. }) => {
            return fail(
                "the person who filed this version may no longer see the document; someone who may can retry it"
                    .into(),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    {
        let mut tx = ctx.db.begin().await?;
        let n = execute!(&mut tx, c => sqlx::query(
            "UPDATE records_version_texts SET attempts = attempts + 1 \
             WHERE municipality_id = $1 AND document_id = $2 AND number = $3 AND status <> 'done'")
            .bind(scope.municipality_id()).bind(&p.document_id).bind(p.number).execute(c).await)?;
        tx.commit().await?;
        if n == 0 {
            // Already taken (a job queued twice): nothing to do.
            return Ok(
                serde_json::json!({"document": p.document_id, "version": p.number, "already": "done"}),
            );
        }
    }
    // From here on every failure is written on the text row, so a job that
    // runs out of attempts never leaves it pending.
    let shown = sniff::shown(&version.file_name);
    let work = match tempfile::Builder::new()
        .prefix("munishare-extract-")
        .tempdir()
    {
        Ok(w) => w,
        Err(e) => return fail(format!("{shown}: this server has no room to work in ({e})")).await,
    };
    let input = work.path().join("input");
    if let Err(e) = fetch(&ctx.blobs, &key, &input).await {
        return fail(format!("{shown}: the stored file could not be read ({e})")).await;
    }
    let outcome = extract_file(
        tools,
        &input,
        &version.media_type,
        &version.file_name,
        work.path(),
    )
    .await;
    let x = match outcome {
        Ok(x) => x,
        Err(message) => return fail(message).await,
    };
    if let Some(pdf) = &x.searchable_pdf
        && let Err(e) = store(&ctx.blobs, pdf, &searchable_key(&scope, &version.sha256)?).await
    {
        return fail(format!(
            "{shown}: its searchable PDF could not be stored ({e})"
        ))
        .await;
    }
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE records_version_texts SET status = 'done', method = $4, body = $5, pages = $6, message = NULL, updated_at = $7 \
         WHERE municipality_id = $1 AND document_id = $2 AND number = $3")
        .bind(scope.municipality_id()).bind(&p.document_id).bind(p.number).bind(x.method).bind(&x.body)
        .bind(x.pages).bind(now.to_db()).execute(c).await)?;
    crate::index::touch(&scope, &mut tx, now, &[&p.document_id]).await?;
    tx.commit().await?;
    drop(work);
    // The list's thumbnail, now rather than on its first view, while the document is new. The
    // text is done whatever happens here: a thumbnail that fails is rendered on first view.
    let thumbnail = if crate::preview::has_pages(&version.media_type, x.searchable_pdf.is_some()) {
        match crate::preview::page_png(
            &scope,
            &ctx.db,
            &ctx.blobs,
            &p.document_id,
            p.number,
            1,
            crate::preview::Size::Thumbnail,
        )
        .await
        {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(document = %p.document_id, version = p.number, error = %e, "thumbnail not rendered");
                false
            }
        }
    } else {
        false
    };
    Ok(serde_json::json!({
        "document": p.document_id, "version": p.number, "method": x.method, "pages": x.pages,
        "characters": x.body.chars().count(), "thumbnail": thumbnail,
    }))
}

/// Streams a local file into the store (a long scan's searchable PDF can be large).
async fn store(blobs: &BlobStore, from: &Path, key: &BlobKey) -> Result<()> {
    use tokio::io::AsyncReadExt;
    let io =
        |e: std::io::Error| Error::Internal(format!("the searchable PDF could not be read: {e}"));
    let mut file = tokio::fs::File::open(from).await.map_err(io)?;
    let mut writer = blobs.writer(key).await?;
    loop {
        let mut buf = vec![0u8; 1 << 20];
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                writer.abort().await?;
                return Err(io(e));
            }
        };
        if n == 0 {
            break;
        }
        buf.truncate(n);
        writer.write(Bytes::from(buf)).await?;
    }
    writer.finish().await
}

/// Copies a stored object to a local file.
pub(crate) async fn fetch(blobs: &BlobStore, key: &BlobKey, to: &Path) -> Result<()> {
    let (_, mut stream) = blobs.get_stream(key).await?;
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| Error::Internal(format!("temporary file: {e}")))?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?)
            .await
            .map_err(|e| Error::Internal(format!("temporary file: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::Internal(format!("temporary file: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn an_empty_path_finds_no_tool_and_says_which_package_is_missing() {
        let none = Tools::on_path(OsStr::new(""));
        assert_eq!(
            none.require("tesseract").unwrap_err(),
            "tesseract-ocr is not installed on this server"
        );
        assert_eq!(
            none.require("pdftotext").unwrap_err(),
            "poppler-utils is not installed on this server"
        );
        assert_eq!(
            none.missing(),
            vec![
                "poppler-utils is not installed on this server",
                "tesseract-ocr is not installed on this server"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(find_tool(dir.path().as_os_str(), "tesseract").is_none());
    }

    #[test]
    fn pages_are_counted_from_form_feeds() {
        assert_eq!(page_count("one\x0c"), 1);
        assert_eq!(page_count("one\x0ctwo\x0c"), 2);
        assert_eq!(page_count("one\x0ctwo"), 2);
        assert_eq!(page_count(""), 1);
        assert_eq!(tidy("one \x0ctwo\x0c"), "one\n\ntwo");
    }

    #[test]
    fn word_and_opendocument_xml_give_their_paragraphs() {
        let docx = r#"<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>Budget &amp; </w:t></w:r><w:r><w:t xml:space="preserve">transfer</w:t></w:r></w:p><w:p><w:r><w:instrText>PAGE</w:instrText><w:t>Salt</w:t><w:tab/><w:t>&#36;9,420</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            xml_text(docx, true).unwrap(),
            "Budget & transfer\nSalt\t$9,420\n"
        );
        let odt = r#"<office:document-content><office:body><office:text><text:h>Minutes</text:h><text:p>Call<text:s text:c="2"/>to <text:span>order</text:span></text:p><text:p/></office:text></office:body></office:document-content>"#;
        assert_eq!(xml_text(odt, false).unwrap(), "Minutes\nCall  to order\n\n");
    }
}
