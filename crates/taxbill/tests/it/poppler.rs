//! Reading PDFs back with Debian's poppler-utils.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

/// Writes `pdf` to a fresh temporary file.
fn temp_pdf(pdf: &[u8]) -> anyhow::Result<PathBuf> {
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("taxbill-test-{}-{n}.pdf", std::process::id()));
    std::fs::write(&path, pdf)?;
    Ok(path)
}

fn run(tool: &str, args: &[&str], pdf: &[u8]) -> anyhow::Result<String> {
    let path = temp_pdf(pdf)?;
    let path_text = path.to_string_lossy().into_owned();
    let mut all_args: Vec<&str> = args.to_vec();
    all_args.push(&path_text);
    if tool == "pdftotext" {
        all_args.push("-");
    }
    let output = Command::new(format!("/usr/bin/{tool}"))
        .args(&all_args)
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run /usr/bin/{tool} ({e}): apt-get install poppler-utils")
        })?;
    std::fs::remove_file(&path)?;
    anyhow::ensure!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // poppler reports syntax problems on stderr even when it succeeds.
    anyhow::ensure!(
        output.stderr.is_empty(),
        "{tool} complained: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// `pdftotext -layout` of `pdf`, each line with its runs of spaces squeezed to one, so a
/// table row reads "Land 98,560". Pages are separated by form feeds, kept as such.
pub fn text_lines(pdf: &[u8]) -> anyhow::Result<Vec<String>> {
    let text = run("pdftotext", &["-layout", "-enc", "UTF-8"], pdf)?;
    Ok(text
        .lines()
        .map(|line| {
            line.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

/// The `Pages:` count `pdfinfo` reports.
pub fn page_count(pdf: &[u8]) -> anyhow::Result<usize> {
    let info = run("pdfinfo", &[], pdf)?;
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .ok_or_else(|| anyhow::anyhow!("no Pages: line in pdfinfo output:\n{info}"))?;
    Ok(line.trim().parse()?)
}

/// `pdfinfo`'s value for `key` (e.g. "Page size", "Title").
pub fn info_value(pdf: &[u8], key: &str) -> anyhow::Result<String> {
    let info = run("pdfinfo", &[], pdf)?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| anyhow::anyhow!("no {key}: line in pdfinfo output:\n{info}"))
}

/// Fails listing the text when some `expected` line fragment is not within one line.
pub fn assert_lines_contain(lines: &[String], expected: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&&str> = expected
        .iter()
        .filter(|e| !lines.iter().any(|l| l.contains(**e)))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "missing {missing:?} in the text:\n{}",
        lines.join("\n")
    );
    Ok(())
}

/// A word as `pdftotext -bbox` places it: points from the page's top-left corner.
#[derive(Debug)]
pub struct WordBox {
    pub text: String,
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
}

/// Every word of the first page with its box, from `pdftotext -bbox`.
pub fn word_boxes(pdf: &[u8]) -> anyhow::Result<Vec<WordBox>> {
    let html = run(
        "pdftotext",
        &["-bbox", "-f", "1", "-l", "1", "-enc", "UTF-8"],
        pdf,
    )?;
    let attribute = |line: &str, name: &str| -> anyhow::Result<f64> {
        let start = line
            .find(&format!("{name}=\""))
            .ok_or_else(|| anyhow::anyhow!("no {name} in {line}"))?
            + name.len()
            + 2;
        let end = line[start..]
            .find('"')
            .ok_or_else(|| anyhow::anyhow!("unterminated {name} in {line}"))?;
        Ok(line[start..start + end].parse()?)
    };
    let mut words = Vec::new();
    for line in html
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("<word "))
    {
        let text_start = line.find('>').map_or(0, |i| i + 1);
        let text_end = line.rfind("</word>").unwrap_or(line.len());
        words.push(WordBox {
            text: line[text_start..text_end]
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
            x_min: attribute(line, "xMin")?,
            y_min: attribute(line, "yMin")?,
            x_max: attribute(line, "xMax")?,
            y_max: attribute(line, "yMax")?,
        });
    }
    Ok(words)
}
