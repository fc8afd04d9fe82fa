//! A small read cache for the data every request needs to decide access: the
//! principal behind an API token, a user's grants, and a town with its
//! subscriptions.
//!
//! Correctness rests on two rules. Every committed write transaction
//! advances the cache's epoch ([`crate::db::Tx::commit`]), and an entry is used
//! only while the epoch it was read under is still current — so a change made
//! on this node (a revoked grant, a disabled user, an ended subscription) is
//! seen by the very next request. Entries also expire after [`TTL`], which
//! bounds how long a change made on another node behind the same database can
//! go unseen here.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::access::GrantPerm;
use crate::tenancy::{Municipality, Subscription};
use crate::types::UserId;

/// How long an entry may be used at most, whatever the epoch.
pub const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

/// One kind of cached value.
#[derive(Debug)]
pub(crate) struct Slot<K, V> {
    map: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K, V> Default for Slot<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Slot<K, V> {
    /// The value for `key`, if it was read under `epoch` and is younger than [`TTL`].
    pub(crate) fn get(&self, key: &K, epoch: u64) -> Option<V> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key)
            .filter(|(e, at, _)| *e == epoch && at.elapsed() < TTL)
            .map(|(_, _, v)| v.clone())
    }

    /// Stores `value`, read under `epoch`.
    pub(crate) fn put(&self, key: K, epoch: u64, value: V) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (epoch, Instant::now(), value));
    }
}

/// The principal data behind an API token.
#[derive(Debug, Clone)]
pub(crate) struct TokenEntry {
    pub token_id: crate::types::TokenId,
    pub municipality_id: crate::types::MunicipalityId,
    pub service: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub active: bool,
}

/// The caches of one database.
#[derive(Debug, Default)]
pub struct Caches {
    epoch: AtomicU64,
    pub(crate) tokens: Slot<String, TokenEntry>,
    pub(crate) grants: Slot<UserId, Vec<GrantPerm>>,
    pub(crate) towns: Slot<String, Option<(Municipality, Vec<Subscription>)>>,
}

impl Caches {
    /// The current epoch; read it before reading the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Makes every entry stale.
    pub(crate) fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}
