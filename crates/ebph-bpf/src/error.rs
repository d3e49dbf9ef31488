//! What can go wrong loading or talking to the engine.

/// An error of the kernel engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Not running as root (or without CAP_BPF and CAP_PERFMON).
    #[error("loading the eBPF engine needs root (CAP_BPF and CAP_PERFMON); run ebph as root")]
    NotRoot,
    /// The kernel has no BTF, which CO-RE and tp_btf programs need.
    #[error("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); ebph needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    /// libbpf or the kernel refused something.
    #[error("{what}: {cause}")]
    Bpf {
        /// What was being done.
        what: String,
        /// libbpf's error (the verifier log goes to stderr).
        cause: libbpf_rs::Error,
    },
    /// The kernel lacks something the engine needs.
    #[error("Linux {release} is too old for ebph: it lacks {}. ebph needs Linux {minimum} or newer (the oldest kernel it is tested on is Debian 12's 6.1: see \"Supported kernels\" in the README)", missing.join(", "))]
    KernelTooOld {
        /// The kernel's release.
        release: String,
        /// What it lacks, each with the release that brought it.
        missing: Vec<String>,
        /// The oldest Linux release ebph can run on.
        minimum: &'static str,
    },
    /// A profile slot that does not exist.
    #[error("no profile in slot {0}")]
    NoSuchProfile(u32),
    /// A profile that running tasks use.
    #[error("the profile in slot {0} is in use by running processes")]
    InUse(u32),
    /// A map has no room for what is being loaded.
    #[error("the engine has no room for more {0} (raise its capacity)")]
    Full(&'static str),
    /// A profile of that key is already in the engine.
    #[error("the engine already has a profile for {0}")]
    Duplicate(ebph_core::ProfileKey),
    /// A value read from the kernel did not have the expected layout.
    #[error("unexpected data from the kernel: {0}")]
    Layout(String),
}

pub(crate) trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, EngineError>;
}

impl<T> Context<T> for Result<T, libbpf_rs::Error> {
    fn context(self, what: impl Into<String>) -> Result<T, EngineError> {
        self.map_err(|cause| EngineError::Bpf {
            what: what.into(),
            cause,
        })
    }
}
