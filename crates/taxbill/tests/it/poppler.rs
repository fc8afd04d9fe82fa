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
