//! The HTTP/JSON API on the daemon's Unix socket. Only root may use it: the socket is mode
//! 0600, and every request's peer credentials are checked too.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use ebph_bpf::AdminOp;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::BroadcastStream;

use crate::mailbox::{ApiError, Command, Handle};
use ebph_api::event::{Event, EventKind};
use ebph_api::protocol::{AdminRequest, ErrorReply, ImportRequest, Release, SetSetting, Target};
use ebph_api::routes;

/// Who is on the other end of a connection.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Their user id, if the kernel told.
    pub uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Peer {
        Peer {
            uid: stream.io().peer_cred().ok().map(|c| c.uid()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(ErrorReply {
                error: self.message,
            }),
        )
            .into_response()
    }
}

async fn root_only(ConnectInfo(peer): ConnectInfo<Peer>, request: Request, next: Next) -> Response {
    if peer.uid != Some(0) {
        return ApiError {
            status: 403,
            message: "permission denied: the ebph API is for root only".into(),
        }
        .into_response();
    }
    next.run(request).await
}

/// Sends a command to the engine's thread and waits for its answer.
async fn ask<T>(
    handle: &Handle,
    make: impl FnOnce(oneshot::Sender<Result<T, ApiError>>) -> Command,
) -> Result<Json<T>, ApiError> {
    let (tx, rx) = oneshot::channel();
    handle.commands.send(make(tx)).map_err(|_| ApiError {
        status: 503,
        message: "the daemon is shutting down".into(),
    })?;
    let answer = rx.await.map_err(|_| ApiError {
        status: 503,
        message: "the daemon is shutting down".into(),
    })?;
    answer.map(Json)
}

#[derive(Deserialize)]
struct ThreadsQuery {
    #[serde(default)]
    threads: bool,
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    follow: bool,
    /// Only events of these types, comma-separated (`anomaly,delay`); all when absent.
    types: Option<String>,
}

/// Which event types a request wants: `None` for all of them.
fn wanted_types(types: Option<&str>) -> Result<Option<Vec<&'static str>>, ApiError> {
    let Some(types) = types else {
        return Ok(None);
    };
    let mut wanted = Vec::new();
    for name in types.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let Some(known) = EventKind::NAMES.iter().find(|k| **k == name) else {
            return Err(ApiError::bad_request(format!(
                "unknown event type {name:?} (known types: {})",
                EventKind::NAMES.join(", ")
            )));
        };
        wanted.push(*known);
    }
    Ok(Some(wanted))
}

fn admin_op(name: &str) -> Result<AdminOp, ApiError> {
    match name {
        "normalize" => Ok(AdminOp::Normalize),
        "sensitize" => Ok(AdminOp::Sensitize),
        "tolerize" => Ok(AdminOp::Tolerize),
        other => Err(ApiError {
            status: 400,
            message: format!("unknown operation {other:?} (normalize, sensitize or tolerize)"),
        }),
    }
}

/// The API's routes.
pub fn router(handle: Handle) -> Router {
    Router::new()
        .route(
            routes::STATUS,
            get(|State(h): State<Handle>| async move { ask(&h, Command::Status).await }),
        )
        .route(
            routes::PROFILES,
            get(|State(h): State<Handle>| async move { ask(&h, Command::Profiles).await }),
        )
        .route(
            routes::PROFILE,
            get(
                |State(h): State<Handle>, Query(t): Query<Target>| async move {
                    ask(&h, |tx| Command::Profile(t, tx)).await
                },
            ),
        )
        .route(
            routes::PROCESSES,
            get(
                |State(h): State<Handle>, Query(q): Query<ThreadsQuery>| async move {
                    ask(&h, |tx| Command::Processes(q.threads, tx)).await
                },
            ),
        )
        .route(
            routes::SETTINGS,
            get(|State(h): State<Handle>| async move { ask(&h, Command::GetSettings).await }).put(
                |State(h): State<Handle>, Json(s): Json<SetSetting>| async move {
                    {
                        let mut values = vec![(s.name, s.value)];
                        values.extend(s.more.into_iter().map(|p| (p.name, p.value)));
                        ask(&h, |tx| Command::SetSettings(values, s.force, tx)).await
                    }
                },
            ),
        )
        .route(
            routes::ADMIN,
            post(
                |State(h): State<Handle>, Json(r): Json<AdminRequest>| async move {
                    let op = admin_op(&r.op)?;
                    ask(&h, |tx| Command::Admin(op, r.target, tx)).await
                },
            ),
        )
        .route(
            routes::DELETE,
            post(
                |State(h): State<Handle>, Json(t): Json<Target>| async move {
                    ask(&h, |tx| Command::Delete(t, tx)).await
                },
            ),
        )
        .route(
            routes::SAVE,
            post(|State(h): State<Handle>| async move { ask(&h, Command::Save).await }),
        )
        .route(
            routes::RELEASE,
            post(
                |State(h): State<Handle>, Json(r): Json<Release>| async move {
                    ask(&h, |tx| Command::Release(r.pid, tx)).await
                },
            ),
        )
        .route(
            routes::IMPORT,
            post(
                |State(h): State<Handle>, Json(r): Json<ImportRequest>| async move {
                    ask(&h, |tx| Command::Import(Box::new(r), tx)).await
                },
            ),
        )
        .route(
            routes::EXPORT,
            get(
                |State(h): State<Handle>, Query(t): Query<Target>| async move {
                    ask(&h, |tx| Command::Export(t, tx)).await
                },
            ),
        )
        .route(
            routes::ANOMALIES,
            get(
                |State(h): State<Handle>, Query(q): Query<LimitQuery>| async move {
                    ask(&h, |tx| Command::Anomalies(q.limit.unwrap_or(1000), tx)).await
                },
            ),
        )
        .route(routes::EVENTS, get(events))
        .layer(middleware::from_fn(root_only))
        .with_state(handle)
}

/// The latest events as JSON lines; with `follow`, then every new one as it happens; with
/// `types`, only events of those types.
async fn events(State(h): State<Handle>, Query(q): Query<EventsQuery>) -> Response {
    let wanted = match wanted_types(q.types.as_deref()) {
        Ok(wanted) => wanted,
        Err(e) => return e.into_response(),
    };
    let keep = move |e: &Event| wanted.as_ref().is_none_or(|w| w.contains(&e.kind.name()));
    let live = q.follow.then(|| h.outputs.events.subscribe());
    let recent: Vec<String> = h
        .outputs
        .recent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|e| keep(e))
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect();
    let head = futures_util::stream::iter(
        recent
            .into_iter()
            .map(|l| Ok::<_, Infallible>(Bytes::from(l + "\n"))),
    );
    match live {
        None => Body::from_stream(head).into_response(),
        Some(rx) => {
            let mut stopping = h.outputs.stopping.clone();
            let stopped = async move {
                let _ = stopping.wait_for(|&s| s).await;
            };
            let tail = BroadcastStream::new(rx)
                .take_until(stopped)
                .filter_map(move |e| {
                    let line = e
                        .ok()
                        .filter(|e| keep(e))
                        .and_then(|e| serde_json::to_string(&e).ok())
                        .map(|l| Ok::<_, Infallible>(Bytes::from(l + "\n")));
                    async move { line }
                });
            Body::from_stream(head.chain(tail)).into_response()
        }
    }
}
