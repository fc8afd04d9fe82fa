//! Records text extraction and OCR (issue 6): every filed version gets its
//! text by a `records.extract` job, with the real tools (poppler-utils,
//! tesseract-ocr, qpdf to make an encrypted PDF). The files are made here with
//! known words: a text file, a born-digital PDF written by hand, a PNG
//! rasterized from such a PDF by `pdftoppm`, and an image-only PDF (a scan)
//! holding such a raster. OCR is checked on a few distinctive words.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::{Method, StatusCode};
use munishare_platform::dispatch;
use munishare_records::text::{self, ExtractPayload, Tools};
use serde_json::Value;

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(
    text_files_and_born_digital_pdfs_get_their_text_and_the_index_hears_of_it,
    images_and_scans_are_ocrd_into_a_searchable_pdf,
    damaged_and_password_protected_pdfs_are_refused_by_name_and_the_rest_land,
    a_missing_tool_fails_the_job_by_name_and_a_retry_queues_it_again,
    word_and_opendocument_files_get_their_text,
    the_demo_documents_get_their_text,
    pages_show_as_images_for_the_preview_and_thumbnails,
    a_scan_dropped_into_an_intake_folder_is_found_by_a_word_inside_it
);

const WH: &str = "/api/v1/towns/west-hartford/records";

/// A PDF of `objects` (numbered from 1; the first is the catalog) with a correct cross-reference table.
fn build_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    o.extend(data);
    o.extend(b"\nendstream");
    o
}

/// A born-digital one-page PDF (Helvetica, `size` points) with one line per entry of `lines`.
pub(crate) fn text_pdf(lines: &[&str], size: u32) -> Vec<u8> {
    let mut content = String::new();
    for (i, l) in lines.iter().enumerate() {
        let y = 700 - (i as u32) * (size + size / 2);
        content.push_str(&format!("BT /F1 {size} Tf 40 {y} Td ({l}) Tj ET\n"));
    }
    build_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        stream("", content.as_bytes()),
    ])
}

/// A one-page PDF that is only a grey image (a scan: no text layer).
fn image_pdf(width: usize, height: usize, grey: &[u8]) -> Vec<u8> {
    let content = b"q 612 0 0 792 0 0 cm /Im1 Do Q".to_vec();
    build_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        stream(
            &format!("/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray /BitsPerComponent 8"),
            grey,
        ),
        stream("", &content),
    ])
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "munishare-text-test-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tool(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} (install it: scripts/test.sh does): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The words the OCR tests look for, large enough to read at 150 dpi.
const OCR_LINES: [&str; 3] = ["WEST HARTFORD", "DRAINAGE EASEMENT", "QUITCLAIM DEED"];

/// A PNG of a page with [`OCR_LINES`], rasterized by `pdftoppm -r 150`.
fn ocr_png(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("words.pdf"), text_pdf(&OCR_LINES, 40)).unwrap();
    tool(
        "pdftoppm",
        &["-r", "150", "-png", "-singlefile", "words.pdf", "words"],
        dir,
    );
    std::fs::read(dir.join("words.png")).unwrap()
}

/// An image-only PDF of the same page (a raster at 100 dpi, no text layer).
fn scanned_pdf(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("words.pdf"), text_pdf(&OCR_LINES, 40)).unwrap();
    tool(
        "pdftoppm",
        &["-r", "100", "-gray", "-singlefile", "words.pdf", "scan"],
        dir,
    );
    // PGM: "P5\n<w> <h>\n255\n" then one byte per pixel.
    let pgm = std::fs::read(dir.join("scan.pgm")).unwrap();
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..i]).into_owned());
    }
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &pgm[i + 1..];
    assert_eq!(pixels.len(), w * h);
    image_pdf(w, h, pixels)
}

async fn upload(app: &TestApp, auth: &Auth, name: &str, body: &[u8]) -> crate::harness::Resp {
    app.raw(
        Method::POST,
        &format!("{WH}/documents?filename={name}"),
        auth,
        Some("application/octet-stream"),
        body.to_vec(),
    )
    .await
}

async fn filed(app: &TestApp, auth: &Auth, name: &str, body: &[u8]) -> String {
    let r = upload(app, auth, name, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
    r.json()["document"]["id"].as_str().unwrap().to_owned()
}

/// Runs every due job, as the worker would.
async fn run_jobs(app: &TestApp) {
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}
}

/// The version's text row as the API shows it.
async fn text_of(app: &TestApp, auth: &Auth, doc: &str, n: i64) -> Value {
    let d = app
        .api(Method::GET, &format!("{WH}/documents/{doc}"), auth, None)
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text());
    d.json()["texts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["number"] == n)
        .cloned()
        .unwrap_or_else(|| panic!("no text row for version {n}: {}", d.text()))
}

async fn body_of(app: &TestApp, doc: &str, n: i64) -> String {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, String>(
        "SELECT body FROM records_version_texts WHERE document_id = $1 AND number = $2")
        .bind(doc).bind(n).fetch_one(c).await)
    .unwrap()
}

async fn retry_audits(app: &TestApp, doc: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'records.text.retry' AND entity_id = $1")
        .bind(doc).fetch_one(c).await)
    .unwrap()
}

async fn log_rows(app: &TestApp, doc: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM records_index_log WHERE document_id = $1")
        .bind(doc).fetch_one(c).await)
    .unwrap()
}

async fn text_files_and_born_digital_pdfs_get_their_text_and_the_index_hears_of_it(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let minutes = "MINUTES OF THE INLAND WETLANDS COMMISSION\nMotion to approve: carried 5-0.\n";
    let doc = filed(&app, &clerk, "wetlands.txt", minutes.as_bytes()).await;
    let t = text_of(&app, &clerk, &doc, 1).await;
    assert_eq!(t["status"], "pending", "queued with the filing: {t}");
    let logged = log_rows(&app, &doc).await;

    run_jobs(&app).await;
    let t = text_of(&app, &clerk, &doc, 1).await;
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["method"], "text");
    assert_eq!(t["attempts"], 1);
    assert_eq!(body_of(&app, &doc, 1).await, minutes);
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{doc}/versions/1/text"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text(), minutes, "the API gives the text as taken");
    assert_eq!(
        log_rows(&app, &doc).await,
        logged + 1,
        "the text's arrival is logged for the search index"
    );

    // A born-digital PDF: its text layer, by pdftotext, one page.
    let pdf = text_pdf(&["Ordinance 2026-14", "Snow emergency parking ban"], 14);
    let pdoc = filed(&app, &clerk, "ordinance.pdf", &pdf).await;
    run_jobs(&app).await;
    let t = text_of(&app, &clerk, &pdoc, 1).await;
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["method"], "pdftotext");
    assert_eq!(t["pages"], 1);
    assert_eq!(t["searchable_pdf"], false);
    let body = body_of(&app, &pdoc, 1).await;
    assert!(body.contains("Ordinance 2026-14"), "{body}");
    assert!(body.contains("Snow emergency parking ban"), "{body}");
    // No searchable PDF for a born-digital one.
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{pdoc}/versions/1/searchable.pdf"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A new version gets its own text; the page shows both, with the text in a <details>.
    let r = app
        .raw(
            Method::POST,
            &format!("{WH}/documents/{doc}/versions?filename=wetlands-v2.txt"),
            &clerk,
            Some("application/octet-stream"),
            b"Corrected: carried 4-1.".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    run_jobs(&app).await;
    assert_eq!(body_of(&app, &doc, 2).await, "Corrected: carried 4-1.");
    let page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{doc}"),
            &clerk,
            None,
        )
        .await
        .text();
    assert!(page.contains("id=\"records-text-body-2\""), "{page}");
    assert!(page.contains("Corrected: carried 4-1."));
    assert!(page.contains("Text taken</span> by text"));
}

async fn images_and_scans_are_ocrd_into_a_searchable_pdf(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let dir = scratch();
    for (name, bytes) in [
        ("deed-scan.png", ocr_png(&dir)),
        ("deed-scan.pdf", scanned_pdf(&dir)),
    ] {
        let doc = filed(&app, &clerk, name, &bytes).await;
        run_jobs(&app).await;
        let t = text_of(&app, &clerk, &doc, 1).await;
        assert_eq!(t["status"], "done", "{name}: {t}");
        assert_eq!(t["method"], "ocr", "{name}");
        assert_eq!(t["pages"], 1, "{name}");
        assert_eq!(t["searchable_pdf"], true, "{name}");
        let body = body_of(&app, &doc, 1).await;
        for w in ["HARTFORD", "DRAINAGE", "QUITCLAIM"] {
            assert!(body.contains(w), "{name}: OCR missed {w}: {body}");
        }
        let pdf = app
            .api(
                Method::GET,
                &format!("{WH}/documents/{doc}/versions/1/searchable.pdf"),
                &clerk,
                None,
            )
            .await;
        assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.text());
        assert_eq!(pdf.headers["content-type"], "application/pdf");
        assert!(
            pdf.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("deed-scan.searchable.pdf")
        );
        std::fs::write(dir.join("searchable.pdf"), &pdf.body).unwrap();
        let layer = String::from_utf8(tool("pdftotext", &["searchable.pdf", "-"], &dir)).unwrap();
        for w in ["HARTFORD", "DRAINAGE", "QUITCLAIM"] {
            assert!(
                layer.contains(w),
                "{name}: the searchable PDF lacks {w}: {layer}"
            );
        }
        // The page links it.
        let page = app
            .api(
                Method::GET,
                &format!("/t/west-hartford/records/documents/{doc}"),
                &clerk,
                None,
            )
            .await
            .text();
        assert!(page.contains(&format!(
            "/t/west-hartford/records/documents/{doc}/versions/1/searchable.pdf"
        )));
        // Another town's clerk gets 404, as for the original.
        let other = app.demo_session("townadmin.hartford").await;
        let r = app
            .api(
                Method::GET,
                &format!(
                    "/api/v1/towns/hartford/records/documents/{doc}/versions/1/searchable.pdf"
                ),
                &other,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn damaged_and_password_protected_pdfs_are_refused_by_name_and_the_rest_land(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let dir = scratch();
    let good = text_pdf(&["Tax collector report"], 14);
    std::fs::write(dir.join("in.pdf"), &good).unwrap();
    tool(
        "qpdf",
        &["--encrypt", "u", "o", "256", "--", "in.pdf", "locked.pdf"],
        &dir,
    );
    let locked = std::fs::read(dir.join("locked.pdf")).unwrap();
    let cut = good[..good.len() - 30].to_vec();
    let before = app
        .api(Method::GET, &format!("{WH}/documents"), &clerk, None)
        .await
        .json()["total"]
        .as_i64()
        .unwrap();

    // The API, one file at a time as the drop zone sends them.
    let r = upload(&app, &clerk, "scan-0042.pdf", &locked).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains(
            "\\\"scan-0042.pdf\\\" is password-protected: remove the password and upload it again"
        ),
        "{}",
        r.text()
    );
    let r = upload(&app, &clerk, "scan-0043.pdf", &cut).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text()
            .contains("\\\"scan-0043.pdf\\\" is damaged or cut short"),
        "{}",
        r.text()
    );
    filed(&app, &clerk, "report.pdf", &good).await;

    // The page's form, all three in one batch: each file has its own result.
    let Auth::Session { csrf, .. } = &clerk else {
        panic!()
    };
    let boundary = "XyZ";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .into_bytes();
    for (name, content) in [
        ("scan-0042.pdf", &locked),
        ("scan-0043.pdf", &cut),
        ("report-2.pdf", &good),
    ] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
        body.extend(content.iter());
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let r = app
        .raw(
            Method::POST,
            "/t/west-hartford/records/upload",
            &clerk,
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let page = r.text();
    assert!(
        page.contains(
            "<strong>scan-0042.pdf</strong>: file: &#34;scan-0042.pdf&#34; is password-protected"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<strong>scan-0043.pdf</strong>: file: &#34;scan-0043.pdf&#34; is damaged or cut short"
        ),
        "{page}"
    );
    assert!(
        page.contains("<strong>report-2.pdf</strong>: Filed"),
        "{page}"
    );
    let after = app
        .api(Method::GET, &format!("{WH}/documents"), &clerk, None)
        .await
        .json()["total"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 2, "only the two good files landed");

    // What the cheap check cannot see, the extraction reports by name: a
    // password in a PDF whose end was not looked at (here, given straight to the extraction).
    let work = scratch();
    let e = text::extract_file(
        &Tools::from_env(),
        &dir.join("locked.pdf"),
        "application/pdf",
        "scan-0042.pdf",
        &work,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "\"scan-0042.pdf\" is password-protected: remove the password and upload it again"
    );
    std::fs::write(dir.join("junk.pdf"), b"%PDF-1.4\nnothing here\n%%EOF\n").unwrap();
    let e = text::extract_file(
        &Tools::from_env(),
        &dir.join("junk.pdf"),
        "application/pdf",
        "scan-0044.pdf",
        &work,
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with("\"scan-0044.pdf\" is damaged: pdftotext could not read it ("),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&work);
}

async fn a_missing_tool_fails_the_job_by_name_and_a_retry_queues_it_again(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let dir = scratch();
    let png = ocr_png(&dir);
    let doc = filed(&app, &clerk, "deed.png", &png).await;
    // The queued job, run as the worker would but on a server without the tools.
    let payload: ExtractPayload = {
        let mut c = app.db.read().await.unwrap();
        let p: String = dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT payload FROM jobs WHERE kind = 'records.extract' AND status = 'queued'")
            .fetch_one(c).await)
        .unwrap();
        serde_json::from_str(&p).unwrap()
    };
    assert_eq!(payload.document_id, doc);
    assert_eq!(payload.number, 1);
    let empty = scratch();
    let e = text::extract_version(&app.jobs, &payload, &Tools::on_path(empty.as_os_str()))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "tesseract-ocr is not installed on this server"
    );
    let t = text_of(&app, &clerk, &doc, 1).await;
    assert_eq!(t["status"], "failed");
    assert_eq!(
        t["message"],
        "tesseract-ocr is not installed on this server"
    );
    assert_eq!(t["attempts"], 1);
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{doc}/versions/1/text"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no text while it failed");
    // The page says so, with a Retry button.
    let page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{doc}"),
            &clerk,
            None,
        )
        .await
        .text();
    assert!(page.contains("Text failed</span> tesseract-ocr is not installed on this server"));
    assert!(page.contains(&format!("/documents/{doc}/versions/1/extract")));
    // A view-only user may not retry.
    let auditor = app.demo_session("auditor").await;
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{doc}/versions/1/extract"),
            &auditor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // Retry: back to pending with fresh attempts, audited, and the job queued again.
    let doc2 = doc.clone();
    assert_eq!(retry_audits(&app, &doc2).await, 0);
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{doc2}/versions/1/extract"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(r.json()["attempts"], 0);
    assert_eq!(retry_audits(&app, &doc2).await, 1);
    // Twice is refused while one waits.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{doc2}/versions/1/extract"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    // With the tools, the queued job takes the text (the first job's retry, when due, finds it done).
    run_jobs(&app).await;
    let t = text_of(&app, &clerk, &doc2, 1).await;
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["method"], "ocr");
    assert!(body_of(&app, &doc2, 1).await.contains("QUITCLAIM"));
    // A version that does not exist is 404.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{doc2}/versions/9/extract"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

/// A zip of `entries` (name, content, stored rather than deflated).
fn zip_of(entries: &[(&str, &str, bool)]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, stored) in entries {
        let o = SimpleFileOptions::default().compression_method(if *stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        });
        w.start_file(*name, o).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn word_and_opendocument_files_get_their_text(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let docx = zip_of(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#,
            false,
        ),
        (
            "word/document.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Zoning Board of Appeals</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">Variance granted &amp; </w:t></w:r><w:r><w:t>recorded</w:t></w:r></w:p></w:body></w:document>"#,
            false,
        ),
    ]);
    let odt = zip_of(&[
        ("mimetype", "application/vnd.oasis.opendocument.text", true),
        (
            "content.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text><text:h text:outline-level="1">Harbor Commission</text:h><text:p>Mooring fees<text:tab/>unchanged</text:p></office:text></office:body></office:document-content>"#,
            false,
        ),
    ]);
    let d = filed(&app, &clerk, "zba.docx", &docx).await;
    let o = filed(&app, &clerk, "harbor.odt", &odt).await;
    run_jobs(&app).await;
    let t = text_of(&app, &clerk, &d, 1).await;
    assert_eq!(
        (t["status"].as_str(), t["method"].as_str()),
        (Some("done"), Some("docx")),
        "{t}"
    );
    assert_eq!(
        body_of(&app, &d, 1).await,
        "Zoning Board of Appeals\nVariance granted & recorded\n"
    );
    let t = text_of(&app, &clerk, &o, 1).await;
    assert_eq!(
        (t["status"].as_str(), t["method"].as_str()),
        (Some("done"), Some("odt")),
        "{t}"
    );
    assert_eq!(
        body_of(&app, &o, 1).await,
        "Harbor Commission\nMooring fees\tunchanged\n"
    );
    // A Word file without its document part fails by name; the job will retry it.
    let broken = zip_of(&[
        ("[Content_Types].xml", "<Types/>", false),
        ("word/styles.xml", "<w:styles/>", false),
    ]);
    let b = filed(&app, &clerk, "broken.docx", &broken).await;
    run_jobs(&app).await;
    let t = text_of(&app, &clerk, &b, 1).await;
    assert_eq!(t["status"], "failed", "{t}");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .starts_with("\"broken.docx\" is damaged: it has no word/document.xml"),
        "{t}"
    );
}

async fn the_demo_documents_get_their_text(app: TestApp) {
    use munishare_platform::Clock;
    let now = munishare_platform::types::Timestamp::new(app.clock.now());
    let n = munishare_records::demo::seed(&app.db, &app.jobs.blobs, now)
        .await
        .unwrap();
    assert!(n > 0);
    run_jobs(&app).await;
    let mut c = app.db.read().await.unwrap();
    let rows: Vec<(String, String, Option<String>)> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT status, COALESCE(method, ''), message FROM records_version_texts")
        .fetch_all(c).await)
    .unwrap();
    assert_eq!(rows.len(), n);
    for r in rows {
        assert_eq!((r.0.as_str(), r.1.as_str()), ("done", "text"), "{r:?}");
    }
    // In each of the three towns, the library's copy of the October minutes links to them.
    let links: Vec<(String, String)> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT d.title, t.title FROM records_links l \
         JOIN records_documents d ON d.municipality_id = l.municipality_id AND d.id = l.document_id \
         JOIN records_documents t ON t.municipality_id = l.municipality_id AND t.id = l.target \
         WHERE l.kind = 'records.document'")
        .fetch_all(c).await)
    .unwrap();
    let want = (
        "Board of Selectmen minutes, October 6, 2026 (copy sent to the library)".to_owned(),
        "Board of Selectmen minutes, October 6, 2026".to_owned(),
    );
    assert_eq!(links, vec![want.clone(), want.clone(), want]);
}

/// `(width, height)` from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

async fn image(app: &TestApp, auth: &Auth, path: &str) -> crate::harness::Resp {
    app.api(Method::GET, &format!("{WH}/documents/{path}"), auth, None)
        .await
}

async fn pages_show_as_images_for_the_preview_and_thumbnails(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let dir = scratch();
    // A born-digital PDF of OCR_LINES (US Letter, 612 × 792 points), a photographed page
    // (PNG) and plain text.
    let pdf = filed(&app, &clerk, "easement.pdf", &text_pdf(&OCR_LINES, 40)).await;
    let png = filed(&app, &clerk, "easement-photo.png", &ocr_png(&dir)).await;
    let txt = filed(&app, &clerk, "memo.txt", b"No pages here").await;

    // A PDF has its first page before its text is read; a photo only once OCR made its PDF.
    let thumb = image(&app, &clerk, &format!("{pdf}/versions/1/thumbnail")).await;
    assert_eq!(thumb.status, StatusCode::OK, "{}", thumb.text());
    assert_eq!(thumb.headers["content-type"], "image/png");
    assert_eq!(thumb.headers["x-content-type-options"], "nosniff");
    // The long side is 200 pixels; the short side keeps the page's 612:792 proportion.
    let (w, h) = png_size(&thumb.body);
    assert_eq!(h, 200);
    assert!((154..=155).contains(&w), "{w}");
    assert_eq!(
        image(&app, &clerk, &format!("{png}/versions/1/thumbnail"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    run_jobs(&app).await;
    // Reading the photo's text also rendered its thumbnail, before anyone asked for it.
    let photo_sha = app
        .api(Method::GET, &format!("{WH}/documents/{png}"), &clerk, None)
        .await
        .json()["document"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let scope = munishare_platform::demo::seed_scope(
        &app.db,
        app.jobs.clock.now().date(),
        "west-hartford",
        munishare_platform::types::Service::Records,
    )
    .await
    .unwrap();
    let stored = app.jobs.blobs.list(&scope).await.unwrap();
    assert!(
        stored
            .iter()
            .any(|(k, _)| k.ends_with(&format!("/derived/{photo_sha}/p1-200.png"))),
        "{stored:?}"
    );

    // The preview page: 1,200 pixels high, and it reads: OCR of the image finds the words.
    let page = image(&app, &clerk, &format!("{pdf}/versions/1/pages/1")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let (w, h) = png_size(&page.body);
    assert_eq!(h, 1200);
    assert!((927..=928).contains(&w), "{w}");
    std::fs::write(dir.join("preview.png"), &page.body).unwrap();
    let read = String::from_utf8(tool("tesseract", &["preview.png", "-"], &dir)).unwrap();
    for words in OCR_LINES {
        assert!(read.contains(words), "{words} not in the preview: {read}");
    }
    // Stored on first use: the same bytes again.
    let again = image(&app, &clerk, &format!("{pdf}/versions/1/pages/1")).await;
    assert_eq!(again.body, page.body);

    // The photo, through its searchable PDF.
    let photo = image(&app, &clerk, &format!("{png}/versions/1/thumbnail")).await;
    assert_eq!(photo.status, StatusCode::OK, "{}", photo.text());
    assert_eq!(png_size(&photo.body).1.max(png_size(&photo.body).0), 200);

    // No pages: plain text, a page past the end, a page that is not a number.
    for path in [
        format!("{txt}/versions/1/thumbnail"),
        format!("{pdf}/versions/1/pages/2"),
        format!("{pdf}/versions/1/pages/0"),
        format!("{pdf}/versions/1/pages/one"),
        format!("{pdf}/versions/2/pages/1"),
    ] {
        let r = image(&app, &clerk, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
    }
    // The bureau did not file it: not there for them.
    let bureau = app.demo_session("scan.bureau").await;
    assert_eq!(
        image(&app, &bureau, &format!("{pdf}/versions/1/thumbnail"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The document page shows the page image; the list shows thumbnails.
    let html = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{pdf}"),
            &clerk,
            None,
        )
        .await
        .text();
    assert!(html.contains("id=\"records-preview\""), "{html}");
    assert!(html.contains(&format!("{WH}/documents/{pdf}/versions/1/pages/1")));
    assert!(html.contains("Page 1 of 1"));
    let list = app
        .api(Method::GET, "/t/west-hartford/records", &clerk, None)
        .await
        .text();
    assert!(list.contains(&format!("{WH}/documents/{pdf}/versions/1/thumbnail")));
    assert!(!list.contains(&format!("{WH}/documents/{txt}/versions/1/thumbnail")));
}

/// The issue's "done when": a clerk drops a scan (an image-only PDF) into the intake folder and
/// finds it by a word that exists only in the scan's pixels.
async fn a_scan_dropped_into_an_intake_folder_is_found_by_a_word_inside_it(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/intake-folders"),
            &officer,
            Some(serde_json::json!({"name": "scanner", "department": "CLK"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let dir = scratch();
    let root = dir.join("intake");
    let folder = munishare_records::intake::folder_path(&root, "west-hartford", "scanner");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("scan-0001.pdf"), scanned_pdf(&dir)).unwrap();
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let pass = munishare_records::intake::run_once(
        &app.db,
        &app.jobs.blobs,
        &root,
        now,
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(pass.filed, 1);
    // The worker OCRs it; then the word is found.
    run_jobs(&app).await;
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/search?q=easement"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let hits = r.json();
    assert_eq!(hits["total"], 1, "{hits}");
    assert_eq!(hits["hits"][0]["document"]["title"], "scan-0001");
    assert_eq!(hits["hits"][0]["document"]["department"], "CLK");
    let snippet = hits["hits"][0]["snippet_html"].as_str().unwrap();
    assert!(
        snippet.to_lowercase().contains("<b>easement</b>"),
        "{snippet}"
    );
}
