//! The daemon's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (a pass has
//! reached Slack), `/metrics` (Prometheus text), `POST /reconcile` (start a pass now).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::DaemonState;

pub async fn serve(listener: tokio::net::TcpListener, state: Arc<DaemonState>) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/reconcile", post(reconcile))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the HTTP endpoint stopped");
    }
}

async fn readyz(State(state): State<Arc<DaemonState>>) -> impl IntoResponse {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no pass has reached Slack yet\n",
        )
    }
}

async fn metrics(State(state): State<Arc<DaemonState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn reconcile(State(state): State<Arc<DaemonState>>) -> impl IntoResponse {
    state.reconcile.notify_one();
    (StatusCode::ACCEPTED, "a pass will start now\n")
}
