//! The CSV files assessors bring — rolls, sales, permits, OPM's sales file —
//! read one way: the columns named in the header row, in any order, names
//! compared without case and a byte-order mark ignored; every error names
//! the file, the row (the header is row 1) and the column.

use std::io::Read;

use munishare_platform::{Error, Result};

/// A CSV file whose header has been matched to the columns a reader knows.
pub(crate) struct Table<R: Read> {
    file: String,
    names: Vec<&'static str>,
    at: Vec<Option<usize>>,
    reader: csv::Reader<R>,
}

impl<R: Read> Table<R> {
    /// Reads the header of `source` and finds `columns` (name, required) in
    /// it. A missing required column is refused naming it, with what
    /// `what` (e.g. "a parcel file") needs.
    pub(crate) fn open(
        file_name: &str,
        source: R,
        columns: &[(&'static str, bool)],
        what: &str,
    ) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(source);
        let headers = reader
            .headers()
            .map_err(|e| {
                Error::invalid(
                    format!("{file_name}, row 1"),
                    format!("not a CSV file: {e}"),
                )
            })?
            .clone();
        let mut at = Vec::with_capacity(columns.len());
        for (name, required) in columns {
            let found = headers.iter().position(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(name)
            });
            if *required && found.is_none() {
                let needed: Vec<&str> = columns.iter().filter(|c| c.1).map(|c| c.0).collect();
                return Err(Error::invalid(
                    format!("{file_name}, row 1, column {name}"),
                    format!("the column is missing; {what} needs {}", needed.join(", ")),
                ));
            }
            at.push(found);
        }
        Ok(Self {
            file: file_name.to_owned(),
            names: columns.iter().map(|c| c.0).collect(),
            at,
            reader,
        })
    }

    /// Calls `each` with every data row, in order; stops at the first error.
    /// Returns how many rows there were.
    pub(crate) fn rows(mut self, mut each: impl FnMut(&Row<'_>) -> Result<()>) -> Result<u64> {
        let mut record = csv::StringRecord::new();
        let mut number = 1u64;
        loop {
            number += 1;
            let more = self.reader.read_record(&mut record).map_err(|e| {
                Error::invalid(
                    format!("{}, row {number}", self.file),
                    format!("not readable as CSV: {e}"),
                )
            })?;
            if !more {
                return Ok(number - 2);
            }
            each(&Row {
                file: &self.file,
                names: &self.names,
                at: &self.at,
                record: &record,
                number,
            })?;
        }
    }
}

/// One data row of a [`Table`]; columns are named by their index in the
/// reader's column list.
pub(crate) struct Row<'r> {
    file: &'r str,
    names: &'r [&'static str],
    at: &'r [Option<usize>],
    record: &'r csv::StringRecord,
    /// The row's number in the file (the header is row 1).
    pub(crate) number: u64,
}

impl Row<'_> {
    /// The trimmed cell of column `k` (empty when the column is absent).
    pub(crate) fn cell(&self, k: usize) -> &str {
        self.at
            .get(k)
            .copied()
            .flatten()
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
            .trim()
    }

    /// Whether the file has column `k`.
    pub(crate) fn has(&self, k: usize) -> bool {
        self.at.get(k).copied().flatten().is_some()
    }

    /// "file, row n, column c": where an error in column `k` is.
    pub(crate) fn place(&self, k: usize) -> String {
        format!(
            "{}, row {}, column {}",
            self.file,
            self.number,
            self.names.get(k).copied().unwrap_or("?")
        )
    }

    /// The cell of column `k` as text of at most `max` characters.
    pub(crate) fn text(&self, k: usize, max: usize) -> Result<String> {
        let v = self.cell(k);
        if v.chars().count() > max {
            return Err(Error::invalid(
                self.place(k),
                format!("longer than {max} characters"),
            ));
        }
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const COLUMNS: [(&str, bool); 3] = [("parcel_id", true), ("price", true), ("note", false)];

    fn field(r: Result<impl Sized>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            _ => "no error".into(),
        }
    }

    #[test]
    fn columns_in_any_order_and_errors_name_file_row_and_column() {
        let bytes = "\u{feff}Price , PARCEL_ID\n 100 ,1-1-1\n200,1-1-2,extra\n".as_bytes();
        let t = Table::open("roll.csv", bytes, &COLUMNS, "a test file").unwrap();
        let mut seen = Vec::new();
        let n = t
            .rows(|r| {
                seen.push((
                    r.number,
                    r.cell(0).to_owned(),
                    r.cell(1).to_owned(),
                    r.cell(2).to_owned(),
                ));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            seen,
            [
                (2, "1-1-1".into(), "100".into(), String::new()),
                (3, "1-1-2".into(), "200".into(), String::new())
            ]
        );
        let missing = Table::open(
            "roll.csv",
            "parcel_id\n1".as_bytes(),
            &COLUMNS,
            "a test file",
        );
        assert_eq!(field(missing), "roll.csv, row 1, column price");
        let t = Table::open(
            "roll.csv",
            "parcel_id,price\n1-1-1,1\n1-1-2,2".as_bytes(),
            &COLUMNS,
            "x",
        )
        .unwrap();
        let long = t.rows(|r| r.text(0, 3).map(|_| ()));
        assert_eq!(field(long), "roll.csv, row 2, column parcel_id");
    }
}
