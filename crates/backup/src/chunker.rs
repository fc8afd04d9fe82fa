//! Content-defined chunking of a stream: FastCDC 2020 with normalization level 1 and the
//! standard gear table — the cut points of `fastcdc::v2020::StreamCDC` — reading only as far
//! ahead as a chunk needs. Each chunk is read into its own buffer, which becomes the blob handed
//! to the pipeline; only the bytes read past the cut are copied, into the next chunk's buffer.
//! (`StreamCDC` keeps a buffer of the largest chunk size, moves all of it forward after every
//! chunk and copies every chunk out: with 1 MiB chunks in an 8 MiB buffer, about eight bytes
//! moved for each byte backed up.)
//!
//! The cut of a chunk depends on the bytes from its start up to the cut, and on how many bytes the
//! scan may see only when that is less than the average size (the point where the mask eases) or
//! more than the largest size. So the chunker reads at least twice the average before cutting;
//! when the scan finds no cut in what was read (before end of file and the largest size), it reads
//! twice as far and scans again — the same cut as a scan of everything.

use std::io::Read;
use std::path::Path;

use fastcdc::v2020::{MASKS, cut, logarithm2};

use crate::config::Chunker as Sizes;
use crate::{Error, Result};

/// A chunker for one repository's sizes.
#[derive(Debug, Clone, Copy)]
pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
}

impl Chunker {
    /// A chunker for the repository's sizes.
    pub fn new(sizes: Sizes) -> Chunker {
        let bits = logarithm2(sizes.avg) as usize;
        Chunker {
            min: sizes.min as usize,
            avg: sizes.avg as usize,
            max: sizes.max as usize,
            mask_s: MASKS[bits + 1],
            mask_l: MASKS[bits - 1],
        }
    }

    /// Calls `each` with every chunk of `reader` in order, each in a buffer of its own (`path`
    /// names read errors).
    pub fn chunks(
        &self,
        path: &Path,
        reader: &mut impl Read,
        mut each: impl FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let first = (2 * self.avg).min(self.max);
        let mut pending: Vec<u8> = Vec::with_capacity(first);
        let (mut want, mut eof) = (first, false);
        loop {
            if !eof && pending.len() < want {
                let need = want - pending.len();
                pending.reserve(need);
                let got = reader
                    .by_ref()
                    .take(need as u64)
                    .read_to_end(&mut pending)
                    .map_err(|e| Error::io(path, e))?;
                eof = got < need;
            }
            if pending.is_empty() {
                return Ok(());
            }
            let (_, len) = cut(
                &pending,
                self.min,
                self.avg,
                self.max,
                self.mask_s,
                self.mask_l,
                self.mask_s << 1,
                self.mask_l << 1,
            );
            if len == pending.len() && !eof && pending.len() < self.max {
                want = (want * 2).min(self.max);
                continue;
            }
            let mut next = Vec::with_capacity(first.max(pending.len() - len));
            next.extend_from_slice(&pending[len..]);
            pending.truncate(len);
            // Give back what was read past the cut (the chunk waits in the pipeline's queues).
            pending.shrink_to_fit();
            each(std::mem::replace(&mut pending, next))?;
            want = first;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The same cut points as the crate's own stream chunker, over inputs of many sizes, read in
    /// small and odd pieces.
    #[test]
    fn cuts_where_streamcdc_cuts() {
        let sizes = Sizes {
            min: 4096,
            avg: 16384,
            max: 65536,
        };
        let chunker = Chunker::new(sizes);
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let data: Vec<u8> = (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        /// A reader that hands out at most 777 bytes at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(self.0.len()).min(777);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for len in [0, 1, 4095, 4096, 65536, 65537, 300_000, 1_000_000] {
            let input = &data[..len];
            let expected: Vec<Vec<u8>> =
                fastcdc::v2020::StreamCDC::new(input, sizes.min, sizes.avg, sizes.max)
                    .map(|c| c.unwrap().data)
                    .collect();
            for reader in [&mut Trickle(input) as &mut dyn Read, &mut &input[..]] {
                let mut got = Vec::new();
                chunker
                    .chunks(Path::new("x"), &mut ReadRef(reader), |c| {
                        got.push(c);
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(got, expected, "{len} bytes");
            }
        }
    }

    struct ReadRef<'a>(&'a mut dyn Read);
    impl Read for ReadRef<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(out)
        }
    }
}
