//! A records disposition authorization modelled on the State Library's Form RC-075: the town
//! and agency, each schedule and series with its title, date range and volume, who requested
//! and who approved it and when, and signature lines. A pure renderer like the bills: facts in,
//! PDF bytes out. It is MuniShare's record of the request; the signed State form remains the
//! authority for disposal (CGS 1-240).

use time::Date;

use crate::amounts::format_date;
use crate::error::{BillError, Problem};
use crate::layout::{MARGIN, Painter, RIGHT};
use crate::text::{self, Font};

/// One series line of the authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionLine {
    /// The schedule, e.g. `M3` (or `LOCAL`).
    pub schedule: String,
    /// The series code, e.g. `M3-120`.
    pub series_code: String,
    /// The series title.
    pub series_title: String,
    /// The earliest document date of the records (absent: undated).
    pub from: Option<Date>,
    /// The latest document date.
    pub to: Option<Date>,
    /// How many records.
    pub records: u64,
    /// Their size in bytes (every version).
    pub bytes: u64,
}

/// The facts printed on the authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionAuthorization {
    /// The town, e.g. `Town of West Hartford`.
    pub town: String,
    /// The agency (office or department) whose records they are.
    pub agency: String,
    /// The batch's number in the town.
    pub number: i64,
    /// When the batch was requested.
    pub requested_on: Date,
    /// The records officer who requested it.
    pub requested_by: String,
    /// Who approved it in MuniShare.
    pub approved_by: String,
    /// When.
    pub approved_on: Date,
    /// The series, at least one.
    pub lines: Vec<DispositionLine>,
}

/// Series lines on one page.
const ROWS_PER_PAGE: usize = 24;
/// The most series lines one authorization prints.
pub const MAX_LINES: usize = 2_400;

impl DispositionAuthorization {
    /// Checks the facts before anything is drawn; the error names the field.
    pub fn validate(&self) -> Result<(), BillError> {
        for (field, v) in [
            ("town", &self.town),
            ("agency", &self.agency),
            ("requested_by", &self.requested_by),
            ("approved_by", &self.approved_by),
        ] {
            if v.trim().is_empty() {
                return Err(BillError::new(field, Problem::Empty));
            }
            if v.chars().any(char::is_control) {
                return Err(BillError::new(field, Problem::ControlCharacter));
            }
        }
        if self.lines.is_empty() {
            return Err(BillError::new("lines", Problem::Empty));
        }
        if self.lines.len() > MAX_LINES {
            return Err(BillError::new(
                "lines",
                Problem::TooMany {
                    count: self.lines.len(),
                    max: MAX_LINES,
                },
            ));
        }
        for (i, l) in self.lines.iter().enumerate() {
            if let (Some(a), Some(b)) = (l.from, l.to)
                && a > b
            {
                return Err(BillError::new(
                    format!("lines[{i}].to"),
                    Problem::DateOrder("the range ends before it starts".into()),
                ));
            }
            for (f, v) in [
                ("series_code", &l.series_code),
                ("series_title", &l.series_title),
                ("schedule", &l.schedule),
            ] {
                if v.chars().any(char::is_control) {
                    return Err(BillError::new(
                        format!("lines[{i}].{f}"),
                        Problem::ControlCharacter,
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Renders the authorization as a US Letter PDF (24 series lines a page), after validation.
pub fn render_disposition(a: &DispositionAuthorization) -> Result<Vec<u8>, BillError> {
    a.validate()?;
    let pages = a.lines.len().div_ceil(ROWS_PER_PAGE);
    let title = format!(
        "{} records disposition authorization no. {} (modelled on Form RC-075)",
        a.town, a.number
    );
    Ok(crate::write_pdf(&title, pages, |i, p| draw(a, i, pages, p)))
}

/// Cuts `s` to fit `room` points, ending in an ellipsis when cut.
fn fit(s: &str, font: Font, size: f32, room: f32) -> String {
    if text::width(s, font, size) <= room {
        return s.to_owned();
    }
    let mut out: String = s.to_owned();
    while !out.is_empty() && text::width(&format!("{out}\u{2026}"), font, size) > room {
        out.pop();
    }
    format!("{}\u{2026}", out.trim_end())
}

/// Bytes for people, in decimal units (1 kB = 1,000 bytes).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut unit = 0;
    let mut whole = n;
    let mut tenth = 0;
    while whole >= 1000 && unit < UNITS.len() - 1 {
        tenth = (whole % 1000) / 100;
        whole /= 1000;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{whole}.{tenth} {}", UNITS[unit])
    }
}

const COL_SCHEDULE: f32 = MARGIN;
const COL_CODE: f32 = MARGIN + 44.0;
const COL_TITLE: f32 = MARGIN + 124.0;
const COL_DATES: f32 = MARGIN + 330.0;
const COL_RECORDS_RIGHT: f32 = MARGIN + 470.0;
const COL_BYTES_RIGHT: f32 = RIGHT;

fn draw(a: &DispositionAuthorization, page: usize, pages: usize, p: &mut Painter) {
    p.text(
        Font::Bold,
        15.0,
        MARGIN,
        50.0,
        &fit(&a.town, Font::Bold, 15.0, 380.0),
    );
    p.text(
        Font::Bold,
        11.0,
        MARGIN,
        68.0,
        "Records Disposition Authorization (modelled on Form RC-075)",
    );
    p.text_right(
        Font::Regular,
        9.0,
        RIGHT,
        50.0,
        &format!("Authorization no. {}", a.number),
    );
    p.text_right(
        Font::Regular,
        9.0,
        RIGHT,
        62.0,
        &format!("Page {} of {pages}", page + 1),
    );
    let mut top = 92.0;
    for (label, value) in [
        ("Town", a.town.clone()),
        ("Agency", a.agency.clone()),
        (
            "Requested",
            format!("{} by {}", format_date(a.requested_on), a.requested_by),
        ),
        (
            "Approved",
            format!("{} by {}", format_date(a.approved_on), a.approved_by),
        ),
    ] {
        p.text(Font::Bold, 9.0, MARGIN, top, label);
        p.text(
            Font::Regular,
            9.0,
            MARGIN + 70.0,
            top,
            &fit(&value, Font::Regular, 9.0, RIGHT - MARGIN - 70.0),
        );
        top += 13.0;
    }
    let total_records: u64 = a.lines.iter().map(|l| l.records).sum();
    let total_bytes: u64 = a.lines.iter().map(|l| l.bytes).sum();
    p.text(Font::Bold, 9.0, MARGIN, top, "Volume");
    p.text(
        Font::Regular,
        9.0,
        MARGIN + 70.0,
        top,
        &format!(
            "{total_records} records in {} series, {} (electronic)",
            a.lines.len(),
            human_bytes(total_bytes)
        ),
    );
    p.rule(MARGIN, RIGHT, 168.0, 0.8);
    let head = 184.0;
    p.text(Font::Bold, 8.0, COL_SCHEDULE, head, "Schedule");
    p.text(Font::Bold, 8.0, COL_CODE, head, "Series no.");
    p.text(Font::Bold, 8.0, COL_TITLE, head, "Series title");
    p.text(Font::Bold, 8.0, COL_DATES, head, "Dates (from - to)");
    p.text_right(Font::Bold, 8.0, COL_RECORDS_RIGHT, head, "Records");
    p.text_right(Font::Bold, 8.0, COL_BYTES_RIGHT, head, "Volume");
    p.rule(MARGIN, RIGHT, head + 4.0, 0.4);
    let mut top = head + 18.0;
    for l in a
        .lines
        .iter()
        .skip(page * ROWS_PER_PAGE)
        .take(ROWS_PER_PAGE)
    {
        p.text(
            Font::Regular,
            8.0,
            COL_SCHEDULE,
            top,
            &fit(&l.schedule, Font::Regular, 8.0, 40.0),
        );
        p.text(
            Font::Regular,
            8.0,
            COL_CODE,
            top,
            &fit(&l.series_code, Font::Regular, 8.0, 76.0),
        );
        p.text(
            Font::Regular,
            8.0,
            COL_TITLE,
            top,
            &fit(&l.series_title, Font::Regular, 8.0, 200.0),
        );
        let dates = match (l.from, l.to) {
            (Some(a), Some(b)) => format!("{a} - {b}"),
            _ => "undated".to_owned(),
        };
        p.text(Font::Regular, 8.0, COL_DATES, top, &dates);
        p.text_right(
            Font::Regular,
            8.0,
            COL_RECORDS_RIGHT,
            top,
            &l.records.to_string(),
        );
        p.text_right(
            Font::Regular,
            8.0,
            COL_BYTES_RIGHT,
            top,
            &human_bytes(l.bytes),
        );
        top += 14.0;
    }
    if page + 1 < pages {
        p.text(
            Font::Regular,
            8.0,
            MARGIN,
            540.0,
            "Continued on the next page.",
        );
        return;
    }
    let mut top = 560.0;
    for line in text::wrap(
        "The records listed have met their retention under the schedules named, are not under a legal hold, \
         and may be destroyed only after this authorization is approved and signed. Destroying a public record \
         without the Public Records Administrator's approval is a class A misdemeanor (CGS 1-240(a)).",
        Font::Regular,
        8.0,
        RIGHT - MARGIN,
    ) {
        p.text(Font::Regular, 8.0, MARGIN, top, &line);
        top += 10.0;
    }
    let sig = [
        ("Records officer (requested)", a.requested_by.as_str()),
        ("Approved in MuniShare", a.approved_by.as_str()),
        (
            "Public Records Administrator, Connecticut State Library",
            "",
        ),
    ];
    let mut top = top + 26.0;
    for (label, name) in sig {
        p.rule(MARGIN, MARGIN + 300.0, top, 0.6);
        p.rule(MARGIN + 360.0, RIGHT, top, 0.6);
        p.text(
            Font::Regular,
            8.0,
            MARGIN,
            top + 10.0,
            &format!("Signature: {label}"),
        );
        if !name.is_empty() {
            p.text(
                Font::Regular,
                8.0,
                MARGIN,
                top - 4.0,
                &fit(name, Font::Regular, 8.0, 290.0),
            );
        }
        p.text(Font::Regular, 8.0, MARGIN + 360.0, top + 10.0, "Date");
        top += 40.0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    fn auth() -> DispositionAuthorization {
        DispositionAuthorization {
            town: "Town of West Hartford".into(),
            agency: "Town Clerk".into(),
            number: 1,
            requested_on: date!(2026 - 11 - 26),
            requested_by: "Records Officer".into(),
            approved_by: "Town Manager".into(),
            approved_on: date!(2026 - 11 - 27),
            lines: vec![DispositionLine {
                schedule: "M3".into(),
                series_code: "M3-120".into(),
                series_title: "Bills paid".into(),
                from: Some(date!(2019 - 08 - 15)),
                to: Some(date!(2019 - 09 - 01)),
                records: 2,
                bytes: 1500,
            }],
        }
    }

    #[test]
    fn renders_and_names_bad_fields() {
        let pdf = render_disposition(&auth()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let mut a = auth();
        a.lines.clear();
        assert_eq!(render_disposition(&a).unwrap_err().field(), "lines");
        let mut a = auth();
        a.lines[0].to = Some(date!(2018 - 01 - 01));
        assert_eq!(render_disposition(&a).unwrap_err().field(), "lines[0].to");
    }

    #[test]
    fn a_long_authorization_takes_several_pages() {
        let mut a = auth();
        a.lines = (0..30)
            .map(|i| DispositionLine {
                series_code: format!("M3-{}", 100 + i),
                series_title:
                    "A series title long enough that it has to be cut to fit its column on the page"
                        .into(),
                ..a.lines[0].clone()
            })
            .collect();
        let pdf = render_disposition(&a).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 2"), "two pages of 24 lines");
    }

    #[test]
    fn volumes_read_in_decimal_units() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(2_345_678), "2.3 MB");
    }
}
