//! Tests of the valuation engine against independently computed values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
