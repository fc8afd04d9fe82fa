//! Property assessment for Connecticut towns (docs/design/0006-assessment.md).
//!
//! Built so far: the ratio-study engine (`ratio`, with the numerical pieces in
//! `stats`), pure Rust with no database or web dependency, checked against
//! the values the IAAO standard's worked examples and the Cook County
//! Assessor's packages publish. Parcels, sales validation, valuation models,
//! the grand list, bills and appeals build on it.

pub mod ratio;
pub mod stats;

#[cfg(test)]
mod ratio_tests;
