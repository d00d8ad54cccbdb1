//! Choosing a store from what `--state` says.

use super::dir::Dir;
use super::store::Store;
use std::sync::Arc;

/// The store `state` names: a directory (the default `.rollgate`).
pub fn open(state: &str) -> Result<Arc<dyn Store>, String> {
    if state.starts_with("postgres://") || state.starts_with("postgresql://") {
        return Err("`--state postgres://…`: a PostgreSQL store is not built yet; runs are kept in a directory (`--state .rollgate`, the default)".into());
    }
    Ok(Arc::new(Dir::new(state)))
}
