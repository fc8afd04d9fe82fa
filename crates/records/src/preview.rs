//! Page images: the in-browser preview and the thumbnails (docs/design/0013, "Preview").
//!
//! A version shows as images of its pages, rendered on the server by `pdftoppm` (poppler-utils)
//! — as Mayan EDMS shows documents — so the browser never runs anything from a filed file: a
//! PDF from itself; a scan or an image from the searchable PDF its OCR made. Plain text, DOCX
//! and ODT have no page images; the document page shows their text. A page is rendered the
//! first time it is asked for, one render at a time on a node, with the tools' timeout, and kept
//! in the store under `derived/{sha256}/p{page}-{width}.png`: once per town and content, like
//! the searchable PDF, and purged with it when the content is destroyed
//! ([`derived_folder`]).

use std::ffi::OsStr;

use bytes::Bytes;
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::Db;
use munishare_platform::{Error, Result};

use crate::text::{self, Tools};
use crate::{documents, sniff};

/// How large a page image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// A thumbnail: the first page, 200 pixels on its long side.
    Thumbnail,
    /// A page of the preview: 1,200 pixels on its long side (about 110 dpi for US Letter).
    Page,
}

impl Size {
    fn pixels(self) -> u32 {
        match self {
            Size::Thumbnail => 200,
            Size::Page => 1200,
        }
    }
}

/// The folder of everything derived from one content beside its searchable PDF.
pub(crate) fn derived_folder(sha256: &str) -> String {
    format!("derived/{sha256}")
}

/// One render at a time on a node: `pdftoppm` takes a core, and the server has few.
static RENDER: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Whether a version of `media_type` whose text row says `searchable_pdf` has page images.
pub fn has_pages(media_type: &str, searchable_pdf: bool) -> bool {
    media_type == sniff::PDF || searchable_pdf
}

/// The PNG of page `page` (from 1) of a version the caller may see, rendered on first use with
/// the tools on `PATH`. Not found when the version has no page images or no such page.
pub async fn page_png(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    document: &str,
    number: i64,
    page: i64,
    size: Size,
) -> Result<Bytes> {
    let (version, source) = {
        let mut c = db.read().await?;
        let (v, content) =
            documents::version_content(scope, &mut c, document, Some(number)).await?;
        let t = text::statuses(scope, &mut c, document)
            .await?
            .into_iter()
            .find(|t| t.number == number);
        let searchable = t.as_ref().is_some_and(|t| t.searchable_pdf);
        let source = if v.media_type == sniff::PDF {
            content
        } else if has_pages(&v.media_type, searchable) {
            text::searchable_key(scope, &v.sha256)?
        } else {
            return Err(Error::NotFound {
                what: "page image (this version has none: only PDFs, and scans once their text is read)",
            });
        };
        let last = t.and_then(|t| t.pages).unwrap_or(1);
        if page < 1 || page > last {
            return Err(Error::NotFound { what: "page" });
        }
        (v, source)
    };
    let key = BlobKey::in_scope(
        scope,
        &format!(
            "{}/p{page}-{}.png",
            derived_folder(&version.sha256),
            size.pixels()
        ),
    )?;
    match blobs.get(&key).await {
        Ok(png) => return Ok(png),
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let _one = RENDER
        .acquire()
        .await
        .map_err(|e| Error::Internal(format!("the page renderer is closed: {e}")))?;
    // Another request may have rendered it while this one waited.
    if let Ok(png) = blobs.get(&key).await {
        return Ok(png);
    }
    let png = render(
        blobs,
        &Tools::from_env(),
        &source,
        &version.file_name,
        page,
        size,
    )
    .await?;
    blobs.put(&key, png.clone()).await?;
    // Destroyed meanwhile? Then what was just stored must not outlive it.
    let mut c = db.read().await?;
    if documents::version_content(scope, &mut c, document, Some(number))
        .await
        .is_err()
    {
        blobs.delete(&key).await?;
        return Err(Error::NotFound { what: "version" });
    }
    Ok(png)
}

async fn render(
    blobs: &BlobStore,
    tools: &Tools,
    source: &BlobKey,
    file_name: &str,
    page: i64,
    size: Size,
) -> Result<Bytes> {
    let shown = sniff::shown(file_name);
    let work = tempfile::Builder::new()
        .prefix("munishare-preview-")
        .tempdir()
        .map_err(|e| Error::Internal(format!("no room to render {shown}: {e}")))?;
    let input = work.path().join("input.pdf");
    text::fetch(blobs, source, &input).await?;
    let page = page.to_string();
    let pixels = size.pixels().to_string();
    let args: [&OsStr; 10] = [
        OsStr::new("-png"),
        OsStr::new("-singlefile"),
        OsStr::new("-f"),
        OsStr::new(&page),
        OsStr::new("-l"),
        OsStr::new(&page),
        OsStr::new("-scale-to"),
        OsStr::new(&pixels),
        OsStr::new("input.pdf"),
        OsStr::new("page"),
    ];
    text::run_tool(tools, "pdftoppm", &args, work.path())
        .await
        .map_err(|e| Error::Conflict {
            field: None,
            message: format!("the page could not be shown: {}", e.about(&shown)),
        })?;
    let png = tokio::fs::read(work.path().join("page.png"))
        .await
        .map_err(|e| Error::Internal(format!("{shown}: pdftoppm wrote no page image ({e})")))?;
    Ok(Bytes::from(png))
}
