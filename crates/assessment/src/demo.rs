//! Assessment demo data: OPM's published sales of the CRCOG towns (embedded;
//! see `seed/PROVENANCE.md`), imported as the operator would, so the
//! ratio-study dashboard of a fresh demo region shows real figures.

use munishare_platform::access::CouncilAdmin;
use munishare_platform::types::Timestamp;
use munishare_platform::{Db, Result};

use crate::opm::{self, ImportSummary};

const SALES: &str = include_str!("../seed/opm_sales_crcog.csv");

/// Imports the embedded sales into the region.
pub async fn seed(db: &Db, now: Timestamp) -> Result<ImportSummary> {
    let mut tx = db.begin().await?;
    let summary = opm::import(
        &CouncilAdmin::operator_console("demo-seed"),
        &mut tx,
        now,
        "opm_sales_crcog.csv",
        SALES.as_bytes(),
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}
