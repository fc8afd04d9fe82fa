//! The reader thread: parses a CSV or XLSX file into rows of the import
//! kind's columns and hands them over in small batches through a bounded
//! channel, so a file of any length is read with bounded memory.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsx};
use munishare_platform::jobs::Progress;
use tokio::sync::mpsc;

use super::{Column, RowError};

/// Rows handed over at a time.
const BATCH: usize = 2_000;
/// Batches in flight between the reader and the importer.
const IN_FLIGHT: usize = 4;

/// A file to import: anything readable and seekable that can cross threads.
pub trait ImportRead: Read + Seek + Send {}
impl<T: Read + Seek + Send> ImportRead for T {}

/// One data row: its number in the file (the header is row 1) and its cells
/// in the order of the kind's columns (missing optional columns are empty).
#[derive(Debug)]
pub(crate) struct Row {
    pub no: u64,
    pub cells: Vec<String>,
}

impl Row {
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map_or("", |s| s.as_str())
    }
}

pub(crate) type Batches = mpsc::Receiver<Result<Vec<Row>, RowError>>;

/// Starts the reader thread for `source`, whose columns must be `columns`.
pub(crate) fn spawn(
    columns: &'static [Column],
    mut source: Box<dyn ImportRead>,
    size: u64,
    progress: Arc<Progress>,
) -> Batches {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    std::thread::spawn(move || {
        let mut out = Out {
            tx,
            batch: Vec::with_capacity(BATCH),
        };
        let result = match sniff_xlsx(&mut source) {
            Ok(true) => read_xlsx(columns, source, &progress, &mut out),
            Ok(false) => read_csv(columns, source, size, &progress, &mut out),
            Err(e) => Err(RowError::file(format!("the file cannot be read: {e}"))),
        };
        match result {
            Ok(()) => {
                progress.finish();
                out.flush();
            }
            Err(e) => {
                out.flush();
                let _ = out.tx.blocking_send(Err(e));
            }
        }
    });
    rx
}

struct Out {
    tx: mpsc::Sender<Result<Vec<Row>, RowError>>,
    batch: Vec<Row>,
}

impl Out {
    /// Queues a row; false when the importer has gone away.
    fn push(&mut self, row: Row) -> bool {
        self.batch.push(row);
        if self.batch.len() >= BATCH {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.blocking_send(Ok(batch)).is_ok()
    }
}

/// XLSX files are ZIP archives: they start with `PK\x03\x04`.
fn sniff_xlsx(source: &mut Box<dyn ImportRead>) -> std::io::Result<bool> {
    let mut magic = [0u8; 4];
    let n = source.read(&mut magic)?;
    source.seek(SeekFrom::Start(0))?;
    Ok(n == 4 && magic == *b"PK\x03\x04")
}

/// Maps header cells to the kind's columns: `map[i]` is the column of cell `i`.
fn header(columns: &[Column], cells: &[String]) -> Result<Vec<Option<usize>>, RowError> {
    let mut map = Vec::with_capacity(cells.len());
    let mut seen = vec![false; columns.len()];
    for cell in cells {
        let name = cell
            .trim()
            .trim_start_matches('\u{feff}')
            .to_ascii_lowercase()
            .replace([' ', '-'], "_");
        if name.is_empty() {
            map.push(None);
            continue;
        }
        let Some(i) = columns.iter().position(|c| c.name == name) else {
            return Err(RowError::new(
                1,
                cell.trim(),
                format!(
                    "unknown column; the columns are {}",
                    columns
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if seen[i] {
            return Err(RowError::new(1, cell.trim(), "this column appears twice"));
        }
        seen[i] = true;
        map.push(Some(i));
    }
    if let Some(missing) = columns.iter().zip(&seen).find(|(c, s)| c.required && !**s) {
        return Err(RowError::new(1, missing.0.name, "this column is missing"));
    }
    Ok(map)
}

/// Places a row's cells into column order; None for an empty row.
fn arrange(
    no: u64,
    map: &[Option<usize>],
    columns: &[Column],
    cells: impl Iterator<Item = String>,
) -> Result<Option<Row>, RowError> {
    let mut out = vec![String::new(); columns.len()];
    let mut any = false;
    for (i, cell) in cells.enumerate() {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let Some(Some(col)) = map.get(i) else {
            return Err(RowError::new(
                no,
                format!("cell {}", i + 1),
                "a value beyond the header's columns",
            ));
        };
        if cell.contains('\0') {
            return Err(RowError::new(
                no,
                columns[*col].name,
                "contains a NUL character",
            ));
        }
        out[*col] = cell.to_owned();
        any = true;
    }
    Ok(any.then_some(Row { no, cells: out }))
}

fn read_csv(
    columns: &[Column],
    source: Box<dyn ImportRead>,
    size: u64,
    progress: &Progress,
    out: &mut Out,
) -> Result<(), RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(256 * 1024, source));
    let mut record = csv::StringRecord::new();
    let mut no: u64 = 0;
    let mut map = None;
    loop {
        no += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        "is not UTF-8 text; save the file as \"CSV UTF-8\"".to_owned()
                    }
                    _ => format!("cannot be read as CSV: {e}"),
                };
                return Err(RowError::new(no, "", message));
            }
        }
        let Some(map) = &map else {
            let cells: Vec<String> = record.iter().map(str::to_owned).collect();
            map = Some(header(columns, &cells)?);
            continue;
        };
        if let Some(row) = arrange(no, map, columns, record.iter().map(str::to_owned))?
            && !out.push(row)
        {
            return Ok(());
        }
        if no.is_multiple_of(4096) {
            progress.set(no - 1, reader.position().byte(), size);
        }
    }
    if map.is_none() {
        return Err(RowError::file("the file is empty; it needs a header row"));
    }
    progress.set(no.saturating_sub(2), size, size);
    Ok(())
}

fn read_xlsx(
    columns: &[Column],
    source: Box<dyn ImportRead>,
    progress: &Progress,
    out: &mut Out,
) -> Result<(), RowError> {
    let bad = |e: calamine::XlsxError| RowError::file(format!("cannot be read as XLSX: {e}"));
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(BufReader::new(source)).map_err(bad)?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        return Err(RowError::file("the workbook has no sheet"));
    };
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(bad)?;
    let last_row = u64::from(cells.dimensions().end.0) + 1;
    let mut map: Option<Vec<Option<usize>>> = None;
    let mut current: Vec<String> = Vec::new();
    let mut current_row: Option<u32> = None;
    let mut rows = 0u64;
    let mut emit = |row: u32, cells: Vec<String>, map: &mut Option<Vec<Option<usize>>>| {
        let no = u64::from(row) + 1;
        match map {
            None => {
                *map = Some(header(columns, &cells)?);
                Ok(true)
            }
            Some(m) => {
                rows += 1;
                if rows.is_multiple_of(4096) {
                    progress.set(rows, no, last_row);
                }
                match arrange(no, m, columns, cells.into_iter())? {
                    Some(r) => Ok(out.push(r)),
                    None => Ok(true),
                }
            }
        }
    };
    while let Some(cell) = cells.next_cell().map_err(bad)? {
        let (r, c) = cell.get_position();
        if current_row != Some(r) {
            if let Some(prev) = current_row
                && !emit(prev, std::mem::take(&mut current), &mut map)?
            {
                return Ok(());
            }
            current_row = Some(r);
        }
        let c = usize::try_from(c).unwrap_or(usize::MAX);
        if c >= 1024 {
            return Err(RowError::new(
                u64::from(r) + 1,
                "",
                "more than 1,024 columns",
            ));
        }
        if current.len() <= c {
            current.resize(c + 1, String::new());
        }
        current[c] = text_of(cell.get_value());
    }
    if let Some(prev) = current_row {
        emit(prev, current, &mut map)?;
    }
    progress.set(rows, last_row, last_row);
    if map.is_none() {
        return Err(RowError::file(
            "the first sheet is empty; it needs a header row",
        ));
    }
    Ok(())
}

/// A cell as the text a person sees: numbers in their shortest exact decimal
/// form (so 1234.5 stays "1234.5"), dates as ISO dates.
fn text_of(v: &DataRef<'_>) -> String {
    match v {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => format!("{f}"),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => excel_date(d),
        DataRef::Error(e) => format!("#{e:?}"),
        DataRef::Empty => String::new(),
    }
}

/// An Excel date cell as an ISO date, in whichever date system the workbook
/// uses (1900, with Excel's phantom 1900-02-29, or 1904, as Excel for the Mac
/// wrote by default); serials outside Excel's range stay numbers, which the
/// date check then refuses with the row and column.
fn excel_date(d: &calamine::ExcelDateTime) -> String {
    let serial = d.as_f64();
    if !(1.0..2_958_466.0).contains(&serial) {
        return format!("{serial}");
    }
    let (year, month, day, ..) = d.to_ymd_hms_milli();
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::excel_date;
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    fn date(serial: f64, is_1904: bool) -> String {
        excel_date(&ExcelDateTime::new(
            serial,
            ExcelDateTimeType::DateTime,
            is_1904,
        ))
    }

    #[test]
    fn excel_serials_are_read_as_the_dates_excel_shows() {
        // Known values: Excel shows 45474 as 2024-07-01, 1 as 1900-01-01, 61 as 1900-03-01.
        assert_eq!(date(45474.0, false), "2024-07-01");
        assert_eq!(date(45838.75, false), "2025-06-30");
        assert_eq!(date(1.0, false), "1900-01-01");
        assert_eq!(date(61.0, false), "1900-03-01");
        // The 1904 system counts from 1904-01-01 and is 1,462 days behind (Microsoft,
        // "Differences between the 1900 and the 1904 date system in Excel").
        assert_eq!(date(45474.0 - 1462.0, true), "2024-07-01");
        assert_eq!(date(1.0, true), "1904-01-02");
        assert_eq!(date(-5.0, false), "-5");
    }
}
