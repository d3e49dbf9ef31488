//! `ebph daemon`: start-up checks, the engine's thread, the API, and an orderly shutdown.

use std::fs;
use std::future::IntoFuture;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use tokio::sync::broadcast;

use crate::api::{self, Peer};
use crate::config::Config;
use crate::mailbox::{Handle, Outputs};
use crate::store::Store;
use crate::worker;

/// Takes the lock of `state_dir`: one daemon, or one offline import, at a time. `None` when
/// someone else holds it. The lock lasts as long as the returned file is open.
fn lock_state_dir(state_dir: &std::path::Path) -> Result<Option<fs::File>> {
    let lock_path = state_dir.join("ebph.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(None);
    }
    Ok(Some(lock))
}

/// Writes `profiles` into the database of `state_dir` while no daemon runs there, holding
/// the directory's lock meanwhile (so a daemon cannot start halfway); returns the database's
/// path. They are loaded when the daemon next starts.
pub fn import_offline(
    state_dir: &std::path::Path,
    profiles: &[crate::store::StoredProfile],
) -> Result<std::path::PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let Some(_lock) = lock_state_dir(state_dir)? else {
        bail!(
            "the ebph daemon is running on {}: stop it first (imported profiles are loaded when it starts)",
            state_dir.display()
        );
    };
    let db = state_dir.join(ebph_api::paths::DATABASE_FILE);
    crate::store::Store::open(&db)?.put_profiles(profiles)?;
    Ok(db)
}

/// Runs the daemon in the foreground until SIGTERM or SIGINT; saves before it returns.
pub fn run(config: Config) -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!("ebph daemon must run as root: it loads eBPF programs (try: sudo ebph daemon)");
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .with_context(|| format!("creating {}", config.state_dir.display()))?;

    // One daemon per state directory...
    let Some(_lock) = lock_state_dir(&config.state_dir)? else {
        bail!(
            "another ebph daemon is using {}",
            config.state_dir.display()
        );
    };
    // ...and per socket.
    claim_socket_path(&config.socket)?;
    if let Some(dir) = config.socket.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }

    let store = Store::open(&config.database())?;
    let (commands, inbox) = crate::mailbox::mailbox()?;
    let (events, _) = broadcast::channel(4096);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let outputs = Outputs {
        events,
        recent: Arc::new(Mutex::new(crate::recent::RecentEvents::default())),
        stopping,
    };
    let handle = Handle {
        commands,
        outputs: outputs.clone(),
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let worker = {
        let config = config.clone();
        std::thread::Builder::new()
            .name("ebph-engine".into())
            .spawn(move || worker::run(config, store, inbox, outputs, ready_tx))?
    };
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = worker.join();
            bail!("{e}");
        }
        Err(_) => bail!("the engine's thread stopped while starting"),
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let served = runtime.block_on(serve(&config, handle, stop));
    // The worker saves and stops once every sender is gone.
    drop(runtime);
    let finished = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the engine's thread panicked"))?;
    let _ = fs::remove_file(&config.socket);
    served?;
    finished
}

/// Makes sure the socket can be created at `path`: nothing is there, or a socket nobody
/// listens on (left by a daemon that died), which is removed. A live daemon there, or
/// anything that is not a socket, is refused and left as it is.
fn claim_socket_path(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("checking {}", path.display())),
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{} exists and is not a socket: refusing to replace it (choose another --socket, or remove it)",
            path.display()
        );
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!(
            "another ebph daemon is already running on {}",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
            tracing::info!("removed the stale socket {}", path.display());
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("checking the socket {}", path.display())),
    }
}

/// How long clients still connected may hold up a stop.
const CLIENTS_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

async fn serve(
    config: &Config,
    handle: Handle,
    stop: tokio::sync::watch::Sender<bool>,
) -> Result<()> {
    let listener = tokio::net::UnixListener::bind(&config.socket)
        .with_context(|| format!("listening on {}", config.socket.display()))?;
    fs::set_permissions(&config.socket, fs::Permissions::from_mode(0o600))?;
    tracing::info!("listening on {}", config.socket.display());

    // SIGTERM or SIGINT stops every server; SIGHUP reloads the configuration file.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let commands = handle.commands.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: saving and stopping");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: saving and stopping");
                    break;
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = commands.send(crate::mailbox::Command::Reload);
                }
            }
        }
        let _ = stop.send(true);
    });
    let stopped = handle.outputs.stopping.clone();
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|&s| s).await;
    };

    let metrics = config.metrics_listen.map(|addr| {
        tokio::spawn(crate::metrics::serve(
            addr,
            handle.clone(),
            until_stopped(stopped.clone()),
        ))
    });
    let app = api::router(handle).into_make_service_with_connect_info::<Peer>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(until_stopped(stopped.clone()))
        .into_future();
    // Streams end when the daemon stops; a client that holds on to a request anyway does not
    // hold up the stop for long.
    let deadline = async {
        until_stopped(stopped.clone()).await;
        tokio::time::sleep(CLIENTS_GRACE).await;
    };
    tokio::select! {
        served = server => served?,
        _ = deadline => tracing::warn!("clients still connected: closing their connections"),
    }
    if let Some(metrics) = metrics {
        match tokio::time::timeout(CLIENTS_GRACE, metrics).await {
            Ok(served) => served??,
            Err(_) => tracing::warn!("metrics clients still connected: closing"),
        }
    }
    Ok(())
}
