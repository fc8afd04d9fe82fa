//! Assembles MuniShare: the platform's web edge plus every service module.
//! The binary (`main.rs`) and the integration tests both build the
//! application here, so the tests walk exactly the routes that are served.

use munishare_web::{App, AppState};

/// The application with every module plugged in.
pub fn app(state: AppState) -> App {
    munishare_web::app(state, vec![munishare_ledger::http::module()])
}
