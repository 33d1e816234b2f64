//! A gzip input inflated on a thread of its own: the decoding thread receives blocks
//! of text while the next ones are being inflated, so that a large `.gz` file takes
//! about as long as inflating it alone (on a machine with a core to spare for it).
//!
//! [`Inflating`] reads exactly like the [`Members`] it wraps: a read returns 0 at the
//! end of each gzip member, after its check, and `next_member` says whether another
//! member follows, or why the stream is corrupt.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::Members;

/// Bytes of text per block handed over.
const BLOCK: usize = 1 << 20;

/// Blocks in flight between the two threads (bounded memory: a slow decoder stops the
/// inflater).
const IN_FLIGHT: usize = 4;

enum Piece {
    Text(Vec<u8>),
    /// A member ended (its check passed); what [`Members::next_member`] said next.
    Boundary(io::Result<bool>),
    /// A read failed (corrupt data, truncated file).
    Failed(io::Error),
}

/// See the module documentation.
pub struct Inflating {
    rx: Receiver<Piece>,
    spare: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    /// The boundary a read stopped at, for `next_member`.
    boundary: Option<io::Result<bool>>,
    done: bool,
}

impl Inflating {
    /// Starts inflating `members` on a new thread.
    pub fn start<R: BufRead + Send + 'static>(mut members: Members<R>) -> io::Result<Inflating> {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let (spare, spares) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        std::thread::Builder::new()
            .name("vpcflow-inflate".into())
            .spawn(move || loop {
                let mut block = spares.try_recv().unwrap_or_default();
                block.resize(BLOCK, 0);
                let piece = match members.read(&mut block) {
                    Ok(0) => Piece::Boundary(members.next_member()),
                    Ok(n) => {
                        block.truncate(n);
                        Piece::Text(block)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Piece::Failed(e),
                };
                let last = matches!(piece, Piece::Failed(_) | Piece::Boundary(Ok(false) | Err(_)));
                // A closed channel: the reader was dropped (the scan stopped early).
                if tx.send(piece).is_err() || last {
                    return;
                }
            })?;
        Ok(Inflating {
            rx,
            spare,
            current: Vec::new(),
            at: 0,
            boundary: None,
            done: false,
        })
    }

    /// After a read returned 0: true if another member follows (and was started),
    /// false at the end of the stream, or the error that makes the stream corrupt.
    pub fn next_member(&mut self) -> io::Result<bool> {
        self.boundary.take().unwrap_or(Ok(false))
    }
}

impl Read for Inflating {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.current.len() {
                let n = buf.len().min(self.current.len() - self.at);
                buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.boundary.is_some() || self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Piece::Text(block)) => {
                    let used = std::mem::replace(&mut self.current, block);
                    let _ = self.spare.try_send(used);
                    self.at = 0;
                }
                Ok(Piece::Boundary(next)) => {
                    self.boundary = Some(next);
                    return Ok(0);
                }
                Ok(Piece::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the inflating thread stopped"));
                }
            }
        }
    }
}
