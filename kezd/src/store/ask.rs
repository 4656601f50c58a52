//! Handing a request to one of a store's own tasks (SQLite's writer; PostgreSQL's group writer
//! and conversation look-ups) and waiting for its answer: one way for both backends, so that
//! a task that is gone reads the same everywhere, as the store closing.

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Sends the request `request` builds around its reply channel, then waits for the answer.
pub(super) async fn ask<R, T>(
    queue: &mpsc::Sender<R>,
    request: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> R,
) -> Result<T, StoreError> {
    let (reply, answer) = oneshot::channel();
    queue
        .send(request(reply))
        .await
        .map_err(|_| StoreError::Closed)?;
    answer.await.map_err(|_| StoreError::Closed)?
}
