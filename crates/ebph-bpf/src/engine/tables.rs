//! A profile's tables as the maps keep them (`table.h`, `pool.h`): an index block per table,
//! naming a row (lookahead pairs, then the n-gram bitmap) per call.

use ebph_core::{LookaheadTable, Syscall, MAX_SYSCALLS};
use libbpf_rs::{MapCore, MapFlags};

use super::admin::AllocKind;
use super::Engine;
use crate::abi::{expect_len, Bytes};
use crate::error::Context;
use crate::layout::{INDEX_SIZE, ROW_SIZE};
use crate::EngineError;

/// A table written into the maps: its index block (0 = empty) and each call's row.
#[derive(Default)]
pub(super) struct WrittenTable {
    pub(super) index: u32,
    rows: Vec<(usize, u32, Vec<u8>)>,
}

impl Engine {
    /// The `(curr, row)` pairs of an index block.
    pub(super) fn row_ids(&self, index: u32) -> Result<Vec<(usize, u32)>, EngineError> {
        let ix = self
            .skel
            .maps
            .indexes
            .lookup(&index.to_le_bytes(), MapFlags::ANY)
            .context("reading an index block")?
            .ok_or_else(|| EngineError::Layout(format!("index block {index} missing")))?;
        expect_len("an index block", &ix, INDEX_SIZE)?;
        let ix = Bytes(&ix);
        Ok((0..MAX_SYSCALLS)
            .map(|curr| (curr, ix.u32(4 * curr)))
            .filter(|&(_, row)| row != 0)
            .collect())
    }

    pub(super) fn table(&self, index: u32) -> Result<LookaheadTable, EngineError> {
        let mut table = LookaheadTable::new();
        if index == 0 {
            return Ok(table);
        }
        for (curr, row_id) in self.row_ids(index)? {
            let row = self
                .skel
                .maps
                .rows
                .lookup(&row_id.to_le_bytes(), MapFlags::ANY)
                .context("reading a row")?
                .ok_or_else(|| EngineError::Layout(format!("row {row_id} missing")))?;
            expect_len("a row", &row, ROW_SIZE)?;
            let curr = Syscall::new(curr as u16).expect("index is below MAX_SYSCALLS");
            let (pairs, ngrams) = row.split_at(MAX_SYSCALLS);
            for (prev, &flags) in pairs.iter().enumerate() {
                if flags != 0 {
                    let prev = Syscall::new(prev as u16).expect("row is MAX_SYSCALLS long");
                    table.set(curr, prev, flags);
                }
            }
            let ngrams: &ebph_core::NgramBitmap = ngrams
                .try_into()
                .expect("a row is pairs, then one n-gram bitmap");
            table.add_ngram_row(curr, ngrams);
        }
        Ok(table)
    }

    /// Writes a table into newly allocated index and rows; returns the index block (0 for an
    /// empty table) and the row of each call. Rows equal to `share`'s for the same call are
    /// shared, as the engine shares them between a normal profile's tables.
    pub(super) fn write_table(
        &mut self,
        table: &LookaheadTable,
        share: Option<&WrittenTable>,
    ) -> Result<WrittenTable, EngineError> {
        // Every call with a row in the table: its pairs, then its n-gram bitmap.
        let rows: Vec<(usize, Vec<u8>)> = (0..MAX_SYSCALLS as u16)
            .filter_map(|nr| {
                let curr = Syscall::new(nr).expect("below MAX_SYSCALLS");
                let pairs = table.row(curr)?;
                let ngrams = table.ngram_row(curr)?;
                if pairs.iter().chain(ngrams.iter()).all(|&b| b == 0) {
                    return None;
                }
                Some((curr.index(), [&pairs[..], &ngrams[..]].concat()))
            })
            .collect();
        if rows.is_empty() {
            return Ok(WrittenTable::default());
        }
        let index = self.allocate(AllocKind::Index)?;
        let mut ix = vec![0u8; 4 * MAX_SYSCALLS];
        let mut written = Vec::new();
        for (curr, row) in rows {
            let shared =
                share.and_then(|s| s.rows.iter().find(|(c, _, r)| *c == curr && *r == row));
            let id = match shared {
                Some((_, id, _)) => *id,
                None => {
                    let id = self.allocate(AllocKind::Row)?;
                    self.skel
                        .maps
                        .rows
                        .update(&id.to_le_bytes(), &row, MapFlags::ANY)
                        .context("writing a row")?;
                    id
                }
            };
            ix[4 * curr..4 * curr + 4].copy_from_slice(&id.to_le_bytes());
            written.push((curr, id, row));
        }
        self.skel
            .maps
            .indexes
            .update(&index.to_le_bytes(), &ix, MapFlags::ANY)
            .context("writing an index block")?;
        Ok(WrittenTable {
            index,
            rows: written,
        })
    }
}
