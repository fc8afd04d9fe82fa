//! Fund accounting on Connecticut's Uniform Chart of Accounts: funds,
//! accounts, fiscal periods, the journal and the balances it keeps.
//!
//! `domain` is plain Rust (no SQL, no HTTP): account strings, fund types,
//! the rule that every fund balances, reversal. `service` decides access (it
//! takes a finance [`munishare_platform::access::ServiceScope`]), runs in the
//! caller's transaction, writes the SQL through `store` and audits every change.

pub mod ach;
pub mod benchmarks;
pub mod budget;
pub mod close;
pub mod demo;
pub mod detail;
pub mod domain;
pub mod filing;
pub mod http;
pub mod import;
pub mod nacha;
pub mod payables;
pub mod purchasing;
pub mod receipts;
pub mod recurring;
pub mod reports;
pub mod service;
pub mod statements;
mod store;
pub mod ucoa;

pub use domain::{AccountClass, AccountString, FundType, LineAmount, PeriodStatus};
