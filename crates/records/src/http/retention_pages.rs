//! The retention pages (catalog, eligible list, batches, holds).

use munishare_web::pages::PageRoutes;

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r
}
