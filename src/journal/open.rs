//! Choosing a store from what `--state` says.

use super::dir::Dir;
use super::postgres::Postgres;
use super::store::{OpenError, Store, Terms};
use std::sync::Arc;

/// The store `state` names: a PostgreSQL database (`postgres://…`), or a directory (the
/// default `.rollgate`).
/// `terms`: the leases of runs it keeps, where it has leases.
pub fn open(state: &str, terms: Terms) -> Result<Arc<dyn Store>, OpenError> {
    if state.starts_with("postgres://") || state.starts_with("postgresql://") {
        return Ok(Arc::new(Postgres::connect(state, terms)?));
    }
    Ok(Arc::new(Dir::new(state)))
}
