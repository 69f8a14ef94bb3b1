//! What every request handler and background job shares.

use crate::clock::SharedClock;
use crate::config::SettingsHandle;
use crate::db::Db;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub settings: SettingsHandle,
    pub db: Db,
    pub clock: SharedClock,
    pub metrics: Metrics,
}
