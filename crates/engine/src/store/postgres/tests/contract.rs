//! The `QueueStore` contract (`store/contract_tests.rs`) against PgStore.

use std::sync::Arc;

use crate::store::QueueStore;

async fn fresh() -> Option<(Arc<dyn QueueStore>, ())> {
    let url = super::server::database().await?;
    let store: Arc<dyn QueueStore> = Arc::new(super::open(&url).await);
    Some((store, ()))
}

crate::store::contract_tests::store_contract_tests!(fresh);
