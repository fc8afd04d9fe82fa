//! The integration tests of the assembled application (platform, web edge and
//! every module), in one test binary (one binary per crate keeps link time
//! down). Every test that touches the database runs twice: on a fresh SQLite
//! file and on a fresh PostgreSQL database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

mod harness;

mod access;
mod appeals;
mod assessment;
mod audit;
mod auth;
mod backup_client;
mod backup_server;
mod binary;
mod blob;
mod browser;
mod field;
mod finance;
mod garbage;
mod imports;
mod isolation;
mod jobs;
mod ops;
mod other_property;
mod parcel_record;
mod records;
mod records_bureau;
mod records_links;
mod records_retention;
mod records_search;
mod records_text;
mod supplemental;
mod ucoa;
mod valuation;
