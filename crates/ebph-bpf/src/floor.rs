//! The floor: an empty `sys_enter` program, for measuring what ebph adds beyond it.

use std::mem::MaybeUninit;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::OpenObject;

use crate::error::Context;
use crate::floor_skel::{FloorSkel, FloorSkelBuilder};
use crate::EngineError;

/// An empty `tp_btf/sys_enter` program, attached while this value lives.
pub struct Floor {
    _skel: FloorSkel<'static>,
}

impl Floor {
    /// Loads and attaches the empty program.
    pub fn attach() -> Result<Floor, EngineError> {
        crate::engine::check_privileges()?;
        let object: &'static mut MaybeUninit<OpenObject> =
            Box::leak(Box::new(MaybeUninit::uninit()));
        let open = FloorSkelBuilder::default()
            .open(object)
            .context("opening the floor program")?;
        let mut skel = open.load().context("loading the floor program")?;
        skel.attach().context("attaching the floor program")?;
        Ok(Floor { _skel: skel })
    }
}
