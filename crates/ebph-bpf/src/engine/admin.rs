//! The admin program (`ebph_admin` in `ebph.bpf.c`, run on demand with `BPF_PROG_TEST_RUN`):
//! normalize, sensitize, tolerize and delete a profile, and take room from the pools for
//! a profile the loader writes itself.

use super::Engine;
use crate::error::Context;
use crate::layout_skel::types::ebph_admin_op;
use crate::EngineError;

/// An admin operation on one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminOp {
    /// Make the profile normal now.
    Normalize,
    /// Forget the training data.
    Sensitize,
    /// Leave normal, back to training.
    Tolerize,
}

impl AdminOp {
    /// Its number in `enum ebph_admin_op`.
    fn op(self) -> ebph_admin_op {
        match self {
            AdminOp::Normalize => ebph_admin_op::EBPH_ADMIN_NORMALIZE,
            AdminOp::Sensitize => ebph_admin_op::EBPH_ADMIN_SENSITIZE,
            AdminOp::Tolerize => ebph_admin_op::EBPH_ADMIN_TOLERIZE,
        }
    }
}

/// What [`Engine::allocate`] takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AllocKind {
    Index,
    Row,
    Profile,
}

impl Engine {
    /// Takes a free index block, row or profile slot, through the admin program: the engine
    /// may be allocating at the same time.
    pub(super) fn allocate(&mut self, kind: AllocKind) -> Result<u32, EngineError> {
        let (op, what) = match kind {
            AllocKind::Index => (ebph_admin_op::EBPH_ADMIN_TAKE_INDEX, "index blocks"),
            AllocKind::Row => (ebph_admin_op::EBPH_ADMIN_TAKE_ROW, "lookahead rows"),
            AllocKind::Profile => (ebph_admin_op::EBPH_ADMIN_TAKE_PROFILE, "profiles"),
        };
        match self.run_admin(op, 0)? {
            id if id > 0 || (id == 0 && kind == AllocKind::Profile) => Ok(id as u32),
            _ => Err(EngineError::Full(what)),
        }
    }

    /// Runs an admin operation on the profile in `slot`.
    pub fn admin(&self, op: AdminOp, slot: u32) -> Result<(), EngineError> {
        match self.run_admin(op.op(), slot)? {
            0 => Ok(()),
            -2 => Err(EngineError::NoSuchProfile(slot)),
            other => Err(EngineError::Layout(format!(
                "admin operation failed: {other}"
            ))),
        }
    }

    /// Deletes the profile in `slot`: its key is forgotten (the next run of its program
    /// starts a new profile) and its tables and slot are freed. Refused while a task uses it.
    pub fn delete_profile(&self, slot: u32) -> Result<(), EngineError> {
        match self.run_admin(ebph_admin_op::EBPH_ADMIN_DELETE, slot)? {
            0 => Ok(()),
            -2 => Err(EngineError::NoSuchProfile(slot)),
            -16 => Err(EngineError::InUse(slot)),
            other => Err(EngineError::Layout(format!(
                "deleting a profile failed: {other}"
            ))),
        }
    }

    /// Runs the admin program on `op` and `slot` (`enum ebph_admin_op`); its result.
    fn run_admin(&self, op: ebph_admin_op, slot: u32) -> Result<i32, EngineError> {
        // The program's context: two u64 words, the operation and the slot.
        let mut ctx = [0u8; 16];
        ctx[..8].copy_from_slice(&u64::from(op.0).to_ne_bytes());
        ctx[8..].copy_from_slice(&u64::from(slot).to_ne_bytes());
        let input = libbpf_rs::ProgramInput {
            context_in: Some(&mut ctx),
            ..Default::default()
        };
        let output = self
            .skel
            .progs
            .ebph_admin
            .test_run(input)
            .context("running an admin operation")?;
        Ok(output.return_value as i32)
    }
}
