//! Property assessment for Connecticut towns (docs/design/0006-assessment.md).
//!
//! Built so far: the ratio-study engine (`ratio`, with the numerical pieces in
//! `stats`), pure Rust, checked against the values the IAAO standard's worked
//! examples and the Cook County Assessor's packages publish; and the regional
//! dashboard on OPM's published sales (`opm`, routes in `http`). Parcels,
//! sales validation, valuation models, the grand list, bills and appeals
//! build on them.

pub mod appeals;
pub mod attachments;
pub mod bills;
pub mod cost_schedule;
mod csv_table;
pub mod demo;
pub mod field;
pub mod grand_list;
pub mod http;
pub mod imports;
mod job_user;
pub mod model_runs;
pub mod motor_vehicles;
pub mod notices;
pub mod opm;
pub mod outbuildings;
pub mod parcels;
pub mod personal_property;
pub mod ratio;
pub mod revaluation;
pub mod sales;
pub mod stats;
pub mod supplemental;
pub mod valuation;

#[cfg(test)]
mod ratio_tests;
