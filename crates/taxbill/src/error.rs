//! The one error of this crate: which bill, which field, and what is wrong with it.

use std::fmt;

/// A bill that cannot be printed as given.
///
/// It names the field as the Rust field path (`owners[0]`, `installments[1].amount_cents`) so
/// the caller can point at its own input, and says in [`Problem`] what is wrong in words a clerk
/// understands. Nothing is printed when any field is wrong: a tax bill is a legal notice, and a
/// half-right one is worse than none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillError {
    bill_index: Option<usize>,
    field: String,
    problem: Problem,
}

impl BillError {
    pub(crate) fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            bill_index: None,
            field: field.into(),
            problem,
        }
    }

    /// The same error, said of the bill at `index` of a batch (see [`crate::render_many`]).
    pub(crate) fn in_batch(mut self, index: usize) -> Self {
        self.bill_index = Some(index);
        self
    }

    /// The position of the bill in the slice given to [`crate::render_many`]; `None` for
    /// [`crate::render`] and for errors about the batch itself.
    pub fn bill_index(&self) -> Option<usize> {
        self.bill_index
    }

    /// The field at fault, as its Rust path: `owners[0]`, `installments[1].amount_cents`,
    /// `property.parcel.lot`, `mill_rate`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with the field.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for BillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(index) = self.bill_index {
            write!(f, "bill {} of the batch: ", index + 1)?;
        }
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for BillError {}

/// What is wrong with a field, in words a clerk understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required text or list is empty (or only spaces).
    #[error("is empty")]
    Empty,
    /// The text holds a line break, tab or other control character; every field is one printed line.
    #[error("contains a line break or other control character (each field prints as one line)")]
    ControlCharacter,
    /// The text is wider than the space the bill has for it.
    #[error("is too long to fit its space on the bill ({width_pt} pt wide, room for {room_pt} pt)")]
    TooWide {
        /// Printed width of the text, in points (1/72 inch), rounded up.
        width_pt: u32,
        /// Room on the bill, in points.
        room_pt: u32,
    },
    /// The text, wrapped to its space, needs more lines than the bill has.
    #[error("needs {lines} printed lines; the bill has room for {max}")]
    TooManyLines {
        /// Lines needed.
        lines: usize,
        /// Lines available.
        max: usize,
    },
    /// A list has more entries than the bill has room for.
    #[error("has {count} entries; the bill has room for {max}")]
    TooMany {
        /// Entries given.
        count: usize,
        /// Entries the layout holds.
        max: usize,
    },
    /// The text is not in the form required; `expected` says which.
    #[error("{given:?} is not {expected}")]
    Malformed {
        /// The text given.
        given: String,
        /// The form required, e.g. "a decimal number such as 35.37".
        expected: &'static str,
    },
    /// A number is outside its allowed range; `allowed` says which.
    #[error("{given} is out of range: it must be {allowed}")]
    OutOfRange {
        /// The value given, as printed.
        given: String,
        /// The range, in words.
        allowed: &'static str,
    },
    /// A total does not agree with its parts or with the computation printed on the bill.
    #[error("{stated} does not agree with {reason}: {computed}")]
    Disagrees {
        /// The value given, formatted as printed.
        stated: String,
        /// The value the bill's other figures give, formatted as printed.
        computed: String,
        /// What was computed, e.g. "the sum of the assessment lines".
        reason: &'static str,
    },
    /// Dates are out of order.
    #[error("{0}")]
    DateOrder(String),
}
