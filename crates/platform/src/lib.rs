//! The platform every MuniShare module stands on: tenancy (region →
//! municipalities → entities → departments, service subscriptions), identity
//! (users, sessions, API tokens), access (roles, grants and the scope types
//! only the access check can produce), the hash-chained audit log, the job
//! queue, the database (`Db` over SQLite or PostgreSQL), blob storage and
//! the sealing of the few secrets stored in the database.
//!
//! Layout per area: plain domain types and rules, then `store` functions (the
//! only place SQL is written), then service functions that authorize, open a
//! transaction, change data and write the audit record in that transaction.

pub mod access;
pub mod audit;
pub mod blob;
pub mod cache;
pub mod clock;
pub mod db;
pub mod demo;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod metering;
pub mod secrets;
pub mod tenancy;
pub mod types;

pub use clock::{Clock, SystemClock, TestClock};
pub use db::Db;
pub use error::{Error, Result};
