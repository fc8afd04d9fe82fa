//! The one state every handler receives.

use std::sync::Arc;

use munishare_platform::blob::BlobStore;
use munishare_platform::identity::SessionPolicy;
use munishare_platform::jobs::{ProgressBoard, Waker};
use munishare_platform::secrets::SecretKey;
use munishare_platform::types::Timestamp;
use munishare_platform::{Clock, Db};

/// Largest file a page form or the API accepts as an upload (imports), in bytes.
pub const UPLOAD_LIMIT: usize = 256 * 1024 * 1024;

/// Web settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    /// Session timeouts.
    pub session: SessionPolicy,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session: SessionPolicy::default(),
            body_limit: 2 * 1024 * 1024,
        }
    }
}

/// Shared application state: database, blob store, secret key, clock, job waker, settings.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub db: Db,
    /// Blob storage.
    pub blobs: BlobStore,
    /// The backup replica store (`--replica-store`), when one is configured; pages show its
    /// address so nobody mistakes a same-disk replica for an off-site one.
    pub replica: Option<BlobStore>,
    /// Seals the secrets the database keeps (vendors' bank account numbers).
    pub secrets: SecretKey,
    /// The clock (tests control it).
    pub clock: Arc<dyn Clock>,
    /// Wakes the job worker after an enqueue.
    pub jobs: Waker,
    /// Progress of long jobs running in this process (shared with the worker).
    pub progress: ProgressBoard,
    /// Settings.
    pub config: WebConfig,
    /// The region's name, for page headers.
    pub region_name: String,
    /// Sign-in attempts per client address.
    pub signin_throttle: crate::auth::SigninThrottle,
    /// What modules keep for the life of the process, by type (the records module's search
    /// indexes); `munishare::module_state` fills it.
    pub modules: axum::http::Extensions,
}

impl AppState {
    /// Bundles the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Now, as a stored timestamp.
    pub fn now(&self) -> Timestamp {
        Timestamp::new(self.0.clock.now())
    }

    /// Today's date (UTC).
    pub fn today(&self) -> time::Date {
        self.0.clock.now().date()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
