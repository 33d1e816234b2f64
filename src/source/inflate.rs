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
                let last = matches!(
                    piece,
                    Piece::Failed(_) | Piece::Boundary(Ok(false) | Err(_))
                );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    trait MemberRead: Read {
        fn next(&mut self) -> io::Result<bool>;
    }
    impl<R: BufRead> MemberRead for Members<R> {
        fn next(&mut self) -> io::Result<bool> {
            self.next_member()
        }
    }
    impl MemberRead for Inflating {
        fn next(&mut self) -> io::Result<bool> {
            self.next_member()
        }
    }

    /// Everything a reader of members yields: text per member, then how it ended.
    fn drain(r: &mut dyn MemberRead) -> Vec<String> {
        let mut out = Vec::new();
        let mut text = Vec::new();
        let mut buf = vec![0u8; 777];
        loop {
            match r.read(&mut buf) {
                Ok(0) => {
                    out.push(format!(
                        "member of {} bytes, sum {}",
                        text.len(),
                        sum(&text)
                    ));
                    text.clear();
                    match r.next() {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            out.push(format!("next: {e}"));
                            break;
                        }
                    }
                }
                Ok(n) => text.extend_from_slice(&buf[..n]),
                Err(e) => {
                    out.push(format!("error after {} bytes: {e}", text.len()));
                    break;
                }
            }
        }
        out
    }

    fn sum(b: &[u8]) -> u64 {
        b.iter()
            .enumerate()
            .map(|(i, &x)| (i as u64 + 1) * x as u64)
            .sum()
    }

    #[test]
    fn inflating_on_a_thread_reads_like_members() {
        let big: Vec<u8> = (0..400_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut corrupt = gz(b"second member\n");
        let at = corrupt.len() - 6;
        corrupt[at] ^= 0xff; // the CRC
        let cases: Vec<Vec<u8>> = vec![
            gz(&big),
            [gz(&big), gz(b"x\n"), gz(&big[..5000])].concat(),
            [gz(&big), corrupt.clone()].concat(),
            [gz(b"a\n"), b"garbage after the member".to_vec()].concat(),
            gz(&big)[..20_000].to_vec(),
        ];
        for (i, data) in cases.into_iter().enumerate() {
            let reader = |d: Vec<u8>| Members::new(io::BufReader::new(io::Cursor::new(d)));
            let want = drain(&mut reader(data.clone()));
            let got = drain(&mut Inflating::start(reader(data)).unwrap());
            assert_eq!(got, want, "case {i}");
            assert!(want.len() > 1 || i == 0 || i == 4, "case {i}: {want:?}");
        }
    }
}
