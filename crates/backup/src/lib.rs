//! The regional backup engine, which is also the client (docs/design/0012).
//!
//! A repository is a set of write-once objects (`config`, `keys/`, `data/`, `index/`, `snapshots/`,
//! `meta/`) behind a [`backend::Backend`]: a local directory here, the council's server through the
//! client in the `munishare` binary. Everything the server may read (the repository's `config` and
//! each snapshot's signed [`meta::SnapshotMeta`]) is plaintext and authenticated; everything else is
//! sealed with the repository's master key.
//!
//! This crate has no database or web dependency: the server module uses only [`config`] and
//! [`meta`] to check what clients send.

pub mod backend;
pub mod backup;
pub mod check;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod error;
pub mod exclude;
pub mod hex;
pub mod index;
pub mod meta;
pub mod pack;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod tree;

pub use error::{Error, Result};
