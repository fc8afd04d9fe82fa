//! Assembles MuniShare: the platform's web edge plus every service module.
//! The binary (`main.rs`) and the integration tests both build the
//! application here, so the tests walk exactly the routes that are served.

use munishare_platform::jobs::Registry;
use munishare_web::{App, AppState};

/// The application with every module plugged in.
pub fn app(state: AppState) -> App {
    munishare_web::app(
        state,
        vec![
            munishare_ledger::http::module(),
            munishare_assessment::http::module(),
            munishare_backup_server::http::module(),
            munishare_records::http::module(),
        ],
    )
}

/// The job handlers of the platform and every module.
pub fn jobs() -> Registry {
    let mut registry = Registry::with_platform_jobs();
    munishare_ledger::import::register_jobs(&mut registry);
    munishare_assessment::bills::register_jobs(&mut registry);
    munishare_assessment::supplemental::register_jobs(&mut registry);
    munishare_assessment::model_runs::register_jobs(&mut registry);
    munishare_backup_server::retention::register_jobs(&mut registry);
    munishare_backup_server::scrub::register_jobs(&mut registry);
    munishare_backup_server::metering::register_jobs(&mut registry);
    munishare_backup_server::replication::register_jobs(&mut registry);
    munishare_records::ingest::register_jobs(&mut registry);
    munishare_records::search::register_jobs(&mut registry);
    munishare_records::text::register_jobs(&mut registry);
    munishare_records::metering::register_jobs(&mut registry);
    registry
}

/// What the modules keep for the life of the process, for `Inner::modules`: the records search
/// indexes under `data_dir/search`, the intake folders' root (`data_dir/intake` unless given),
/// and the "Documents in Records" section other modules' pages show (`munishare_web::related`).
pub fn module_state(
    data_dir: &std::path::Path,
    intake_dir: Option<&std::path::Path>,
) -> axum::http::Extensions {
    let mut m = axum::http::Extensions::new();
    m.insert(munishare_records::search::SearchIndexes::new(
        data_dir.join("search"),
    ));
    m.insert(munishare_records::intake::IntakeRoot(
        intake_dir.map_or_else(|| data_dir.join("intake"), std::path::Path::to_path_buf),
    ));
    m.insert(munishare_web::related::Related(std::sync::Arc::new(
        munishare_records::http::RelatedInRecords,
    )));
    m
}
