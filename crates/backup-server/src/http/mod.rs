//! The backup module's routes: the client REST API behind backup tokens
//! (`client`), the town's and region's session API and pages (`town`), and
//! replication's (`replication`).

use munishare_platform::types::Service;
use munishare_web::Module;
use munishare_web::auth::ServiceKey;
use munishare_web::pages::PageRoutes;
use utoipa_axum::router::OpenApiRouter;

mod client;
mod evidence;
pub mod replication;
mod town;

pub use client::BackupClient;

/// The backup service, for the access-checking extractors.
#[derive(Debug)]
pub struct Backup;

impl ServiceKey for Backup {
    const SERVICE: Service = Service::Backup;
}

/// The module, for `munishare::app`.
pub fn module() -> Module {
    Module {
        api: replication::api(evidence::api(town::api(client::api(OpenApiRouter::new())))),
        pages,
    }
}

fn pages(r: PageRoutes) -> PageRoutes {
    replication::pages(evidence::pages(town::pages(r)))
}

/// Bytes for people (templates call it as `crate::http::fmt_bytes`).
pub use munishare_web::pages::fmt_bytes;

/// A ratio for people: `3.2×`, or `—` when there is none.
pub fn fmt_ratio(r: &Option<f64>) -> String {
    r.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_for_people() {
        assert_eq!(fmt_ratio(&Some(2.0)), "2.00×");
        assert_eq!(fmt_ratio(&None), "—");
    }
}
