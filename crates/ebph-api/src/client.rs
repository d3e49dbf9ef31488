//! The client side of the API, for the `ebph` command line.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Method;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::file::ProfileFile;
use crate::protocol::{
    AdminRequest, Anomaly, Deleted, ErrorReply, ImportRequest, Imported, NameValue, Process,
    ProfileDetail, ProfileSummary, Release, Saved, SetSetting, SettingValue, Status, Target,
};
use crate::routes;

/// Why a request failed, in terms a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("the ebph daemon is not running (nothing at {0}); start it with: sudo ebph daemon")]
    NotRunning(PathBuf),
    /// The socket is root's.
    #[error("permission denied on {0}: the ebph API is for root; run this with sudo")]
    PermissionDenied(PathBuf),
    /// The daemon refused the request.
    #[error("{0}")]
    Api(String),
    /// Anything else.
    #[error("talking to the daemon at {path}: {why}")]
    Other {
        /// The socket.
        path: PathBuf,
        /// What happened.
        why: String,
    },
}

/// A connection-per-request client of the daemon's socket.
pub struct Client {
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// A client of the daemon listening on `socket`.
    pub fn new(socket: &Path) -> Client {
        Client {
            socket: socket.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        }
    }

    fn other(&self, why: impl std::fmt::Display) -> ClientError {
        ClientError::Other {
            path: self.socket.clone(),
            why: why.to_string(),
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ClientError::NotRunning(self.socket.clone())
                }
                std::io::ErrorKind::PermissionDenied => {
                    ClientError::PermissionDenied(self.socket.clone())
                }
                _ => self.other(e),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.other(e))?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "ebph")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.other(e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.other(e))?;
        if response.status() == StatusCode::OK {
            return Ok(response);
        }
        let status = response.status();
        let bytes = self.body(response).await?;
        let message = serde_json::from_slice::<ErrorReply>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("the daemon answered {status}"));
        if status == StatusCode::FORBIDDEN {
            return Err(ClientError::PermissionDenied(self.socket.clone()));
        }
        Err(ClientError::Api(message))
    }

    /// The whole body of `response`.
    async fn body(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
    ) -> Result<Bytes, ClientError> {
        Ok(response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.other(e))?
            .to_bytes())
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        self.runtime.block_on(async {
            let response = self.request(method, path, body).await?;
            let bytes = self.body(response).await?;
            serde_json::from_slice(&bytes)
                .map_err(|e| self.other(format!("unexpected answer: {e}")))
        })
    }

    /// `GET path`.
    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, Vec::new())
    }

    /// `method path` with a JSON body.
    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| self.other(e))?;
        self.call(method, path, body)
    }

    /// `GET path`, handing each line of the answer to `line` as it arrives, until the daemon
    /// ends it or `line` returns false.
    fn stream_lines(
        &self,
        path: &str,
        mut line: impl FnMut(&str) -> bool,
    ) -> Result<(), ClientError> {
        self.runtime.block_on(async {
            let mut body = self
                .request(Method::GET, path, Vec::new())
                .await?
                .into_body();
            let mut buffer = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| self.other(e))?;
                let Some(data) = frame.data_ref() else {
                    continue;
                };
                buffer.extend_from_slice(data);
                while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                    let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    buffer.drain(..=end);
                    if !line(&text) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }

    // ---- one method per endpoint ----------------------------------------------------------

    /// `GET` [`routes::STATUS`].
    pub fn status(&self) -> Result<Status, ClientError> {
        self.get(routes::STATUS)
    }

    /// `GET` [`routes::PROFILES`]: every profile, without tables.
    pub fn profiles(&self) -> Result<Vec<ProfileSummary>, ClientError> {
        self.get(routes::PROFILES)
    }

    /// `GET` [`routes::PROFILE`]: one profile with its pairs.
    pub fn profile(&self, target: &Target) -> Result<ProfileDetail, ClientError> {
        self.get(&format!("{}?{}", routes::PROFILE, self.query(target)?))
    }

    /// `GET` [`routes::PROCESSES`]: tracked processes, or with `threads`, every tracked thread.
    pub fn processes(&self, threads: bool) -> Result<Vec<Process>, ClientError> {
        self.get(&format!("{}?threads={threads}", routes::PROCESSES))
    }

    /// `GET` [`routes::SETTINGS`].
    pub fn settings(&self) -> Result<Vec<SettingValue>, ClientError> {
        self.get(routes::SETTINGS)
    }

    /// `PUT` [`routes::SETTINGS`]: changes settings (name, value), checked together as one set;
    /// answers with all of them.
    pub fn set_settings(
        &self,
        values: &[(&str, &str)],
        force: bool,
    ) -> Result<Vec<SettingValue>, ClientError> {
        let mut pairs = values.iter().map(|(n, v)| NameValue {
            name: (*n).to_owned(),
            value: (*v).to_owned(),
        });
        let first = pairs.next().unwrap_or(NameValue {
            name: String::new(),
            value: String::new(),
        });
        let body = SetSetting {
            name: first.name,
            value: first.value,
            more: pairs.collect(),
            force,
        };
        self.send(Method::PUT, routes::SETTINGS, &body)
    }

    /// `POST` [`routes::ADMIN`]: `normalize`, `sensitize` or `tolerize` a profile.
    pub fn admin(&self, op: &str, target: Target) -> Result<ProfileSummary, ClientError> {
        let request = AdminRequest {
            op: op.to_owned(),
            target,
        };
        self.send(Method::POST, routes::ADMIN, &request)
    }

    /// `POST` [`routes::DELETE`]: deletes a profile no running process uses.
    pub fn delete_profile(&self, target: Target) -> Result<Deleted, ClientError> {
        self.send(Method::POST, routes::DELETE, &target)
    }

    /// `POST` [`routes::SAVE`].
    pub fn save(&self) -> Result<Saved, ClientError> {
        self.send(Method::POST, routes::SAVE, &())
    }

    /// `POST` [`routes::RELEASE`]: continues a held process; answers how many tasks were released.
    pub fn release(&self, pid: u32) -> Result<u32, ClientError> {
        self.send(Method::POST, routes::RELEASE, &Release { pid })
    }

    /// `GET` [`routes::ANOMALIES`]: the last `limit` anomalies recorded, oldest first.
    pub fn anomalies(&self, limit: u32) -> Result<Vec<Anomaly>, ClientError> {
        self.get(&format!("{}?limit={limit}", routes::ANOMALIES))
    }

    /// `POST` [`routes::IMPORT`]: adds a profile file's profiles to the running daemon.
    pub fn import(&self, file: ProfileFile, allow_unsigned: bool) -> Result<Imported, ClientError> {
        self.send(
            Method::POST,
            routes::IMPORT,
            &ImportRequest {
                file,
                allow_unsigned,
            },
        )
    }

    /// `GET` [`routes::EXPORT`]: one profile, or every profile, as a profile file.
    pub fn export(&self, target: Option<&Target>) -> Result<ProfileFile, ClientError> {
        let query = match target {
            Some(t) => self.query(t)?,
            None => String::new(),
        };
        self.get(&format!("{}?{query}", routes::EXPORT))
    }

    /// `GET` [`routes::EVENTS`]: hands each event's JSON line to `line` (the latest ones, then with
    /// `follow` every new one) until the daemon ends or `line` returns false. `types`: only
    /// events of these types.
    pub fn events(
        &self,
        follow: bool,
        types: Option<&[&str]>,
        line: impl FnMut(&str) -> bool,
    ) -> Result<(), ClientError> {
        let mut path = format!("{}?follow={follow}", routes::EVENTS);
        if let Some(types) = types {
            path.push('&');
            path.push_str(&self.query(&[("types", types.join(","))])?);
        }
        self.stream_lines(&path, line)
    }

    /// A query string, encoded as the daemon decodes it.
    fn query(&self, value: &impl Serialize) -> Result<String, ClientError> {
        serde_urlencoded::to_string(value).map_err(|e| self.other(e))
    }
}
