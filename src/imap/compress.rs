//! The COMPRESS=DEFLATE layer (RFC 4978) of one connection: raw DEFLATE
//! (RFC 1951, no zlib header) both ways, between the socket (or TLS) and
//! the session, which never sees compressed bytes.
//!
//! Output is compressed batch by batch, each batch ending in a sync flush
//! (an empty stored block), so the client can inflate everything sent so
//! far at once: an idling client sees an EXISTS as soon as it is written.
//!
//! Input is inflated in pieces of at most `CHUNK` bytes, only as fast as
//! the session takes them: a few compressed bytes can stand for gigabytes
//! (a decompression bomb), so what is held inflated at any time is one
//! piece, and the framer's limits apply to the inflated bytes as usual.
//!
//! Memory: the miniz_oxide backend allocates about 230 KiB for a
//! compressor (its 32 KiB window, hash chains and a 64 KiB code buffer,
//! whatever the level; some 150 KiB of it touched) and about 43 KiB for a
//! decompressor. Connections without COMPRESS pay nothing. A compressed
//! connection that goes quiet (an IDLE client) frees its compressor
//! (`rest`): every batch ends in a sync flush, so the stream is at a block
//! boundary and a new compressor can carry on from there, its blocks
//! referring only to its own data. Until a large batch needs one again,
//! small batches (an EXISTS for an idler) go out as stored blocks
//! (RFC 1951 §3.2.4), which need no state at all. The decompressor stays:
//! the client's next command may refer back into its 32 KiB window.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Largest piece of inflated input handed to the session at once.
pub const CHUNK: usize = 16 * 1024;

/// Level 1: RFC 4978 §4 notes that zlib's least CPU-intensive setting
/// already shrinks typical responses to 25-40%; higher levels cost CPU on
/// every FETCH for a few percent.
const LEVEL: u32 = 1;

/// Without a compressor, batches up to this size are sent stored rather
/// than allocating one; a fresh dictionary would gain little on them.
const STORED_MAX: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("invalid compressed input: {0}")]
    Inflate(#[from] flate2::DecompressError),
    #[error("compressed input after the end of the DEFLATE stream")]
    AfterEnd,
    #[error("the decompressor makes no progress")]
    Stalled,
    #[error("compressing output failed: {0}")]
    Deflate(#[from] flate2::CompressError),
}

pub struct Deflate {
    /// None at rest (see the module doc).
    deflater: Option<Box<Compress>>,
    inflater: Decompress,
    /// Compressed input not yet inflated: `input[pos..]`.
    input: Vec<u8>,
    pos: usize,
    /// The last inflate filled its piece: the decompressor may hold more
    /// output even with no input left.
    more: bool,
    /// The client ended the stream (a final block); nothing may follow.
    ended: bool,
}

impl Default for Deflate {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflate {
    pub fn new() -> Deflate {
        Deflate {
            deflater: None,
            inflater: Decompress::new(false),
            input: Vec::new(),
            pos: 0,
            more: false,
            ended: false,
        }
    }

    /// Compresses one batch of output, ending it with a sync flush so the
    /// client can read all of it now.
    pub fn deflate(&mut self, data: &[u8]) -> Result<Vec<u8>, CompressError> {
        let deflater = match &mut self.deflater {
            Some(d) => d,
            None if data.len() <= STORED_MAX => return Ok(stored_block(data)),
            None => self
                .deflater
                .insert(Box::new(Compress::new(Compression::new(LEVEL), false))),
        };
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut used = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before = deflater.total_in();
            deflater.compress_vec(&data[used..], &mut out, FlushCompress::Sync)?;
            used += (deflater.total_in() - before) as usize;
            // The flush is complete once all input is taken and the
            // compressor stopped with room to spare.
            if used == data.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Frees the compressor of a quiet connection (see the module doc).
    pub fn rest(&mut self) {
        self.deflater = None;
    }

    /// Whether no compressor is allocated now.
    pub fn is_resting(&self) -> bool {
        self.deflater.is_none()
    }

    /// Adds compressed bytes read from the client.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        } else if self.pos > self.input.len() / 2 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// Whether `inflate` may have more for the session.
    pub fn has_input(&self) -> bool {
        self.more || self.pos < self.input.len()
    }

    /// Compressed bytes waiting to be inflated.
    pub fn backlog(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Inflates the next piece (at most `CHUNK` bytes) of what was pushed;
    /// empty when the pushed bytes hold no more complete output yet.
    pub fn inflate(&mut self) -> Result<Vec<u8>, CompressError> {
        let rest = &self.input[self.pos..];
        if self.ended {
            self.more = false;
            if rest.is_empty() {
                return Ok(Vec::new());
            }
            return Err(CompressError::AfterEnd);
        }
        let mut out = Vec::with_capacity(CHUNK);
        let before = self.inflater.total_in();
        let status = self
            .inflater
            .decompress_vec(rest, &mut out, FlushDecompress::None)?;
        let used = (self.inflater.total_in() - before) as usize;
        self.pos += used;
        self.more = out.len() == out.capacity();
        match status {
            Status::StreamEnd => self.ended = true,
            // No progress with input left and room for output: never
            // expected (the decompressor takes all it is given), but
            // looping on it would spin, so the connection ends.
            Status::BufError if used == 0 && out.is_empty() => {
                self.more = false;
                if self.pos < self.input.len() {
                    return Err(CompressError::Stalled);
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

/// `data` (at most 65,535 bytes) as one non-final stored block, starting
/// at a byte boundary: a 0 byte (BFINAL 0, BTYPE 00, padding), LEN and
/// its one's complement NLEN, little-endian, then the bytes.
fn stored_block(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(data.len() + 5);
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(&data[..usize::from(len)]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, Decompress};

    /// A client's compressor: raw deflate, sync flush after each write.
    fn client_deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync)
            .expect("test compressor");
        assert_eq!(c.total_in() as usize, data.len(), "test buffer too small");
        out
    }

    fn inflate_all(d: &mut Deflate) -> Vec<u8> {
        let mut all = Vec::new();
        while d.has_input() {
            let piece = d.inflate().expect("valid input");
            assert!(piece.len() <= CHUNK);
            if piece.is_empty() && !d.has_input() {
                break;
            }
            all.extend_from_slice(&piece);
        }
        all
    }

    #[test]
    fn output_batches_are_readable_as_they_come() {
        let mut d = Deflate::new();
        let mut client = Decompress::new(false);
        for batch in [&b"* 3 EXISTS\r\n"[..], b"a OK NOOP completed\r\n", b""] {
            let wire = d.deflate(batch).expect("compress");
            // Each batch inflates completely on its own: the sync flush.
            let mut out = Vec::with_capacity(4096);
            client
                .decompress_vec(&wire, &mut out, FlushDecompress::Sync)
                .expect("client inflates");
            assert_eq!(out, batch);
        }
    }

    #[test]
    fn resting_frees_the_compressor_and_the_stream_goes_on() {
        let mut d = Deflate::new();
        let mut client = Decompress::new(false);
        let mut read = |wire: &[u8]| {
            let mut out = Vec::with_capacity(1 << 16);
            client
                .decompress_vec(wire, &mut out, FlushDecompress::Sync)
                .expect("client inflates");
            out
        };
        let big = b"* 1 FETCH (FLAGS (\\Seen))\r\n".repeat(100);
        let small = b"* 2 EXISTS\r\n";
        // Small batches before any compressor exists go out stored.
        assert!(d.is_resting());
        assert_eq!(read(&d.deflate(small).expect("stored")), small);
        assert!(d.is_resting());
        let wire = d.deflate(&big).expect("compress");
        assert!(!d.is_resting() && wire.len() < big.len() / 4);
        assert_eq!(read(&wire), big);
        assert_eq!(read(&d.deflate(small).expect("compress")), small);
        d.rest();
        assert_eq!(read(&d.deflate(small).expect("stored")), small);
        assert_eq!(read(&d.deflate(&big).expect("new compressor")), big);
        assert_eq!(read(&d.deflate(b"").expect("empty")), b"");
    }

    #[test]
    fn large_output_round_trips() {
        let mut d = Deflate::new();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let wire = d.deflate(&data).expect("compress");
        let mut client = Decompress::new(false);
        let mut out = Vec::with_capacity(data.len() + 16);
        client
            .decompress_vec(&wire, &mut out, FlushDecompress::Sync)
            .expect("client inflates");
        assert_eq!(out, data);
    }

    #[test]
    fn input_arrives_in_any_split() {
        let mut c = Compress::new(Compression::default(), false);
        let text = b"a1 NOOP\r\na2 SELECT INBOX\r\na3 FETCH 1:* (FLAGS)\r\n".repeat(20);
        let wire = client_deflate(&mut c, &text);
        for split in [1, 2, 7, wire.len() - 1] {
            let mut d = Deflate::new();
            let mut got = Vec::new();
            for piece in wire.chunks(split) {
                d.push(piece);
                got.extend(inflate_all(&mut d));
            }
            assert_eq!(got, text, "split {split}");
        }
    }

    #[test]
    fn a_bomb_is_inflated_one_piece_at_a_time() {
        let mut c = Compress::new(Compression::best(), false);
        let zeros = vec![b'a'; 8 * 1024 * 1024];
        let wire = client_deflate(&mut c, &zeros);
        assert!(wire.len() < 64 * 1024);
        let mut d = Deflate::new();
        d.push(&wire);
        let mut total = 0;
        while d.has_input() {
            let piece = d.inflate().expect("valid input");
            assert!(piece.len() <= CHUNK);
            if piece.is_empty() {
                break;
            }
            total += piece.len();
        }
        assert_eq!(total, zeros.len());
    }

    #[test]
    fn garbage_is_an_error() {
        let mut d = Deflate::new();
        // BTYPE 11 is reserved (RFC 1951 §3.2.3).
        d.push(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.inflate(), Err(CompressError::Inflate(_))));
    }

    #[test]
    fn bytes_after_the_final_block_are_an_error() {
        let mut c = Compress::new(Compression::default(), false);
        let mut wire = Vec::with_capacity(256);
        c.compress_vec(b"a NOOP\r\n", &mut wire, FlushCompress::Finish)
            .expect("compress");
        wire.extend_from_slice(b"more");
        let mut d = Deflate::new();
        d.push(&wire);
        assert_eq!(d.inflate().expect("first piece"), b"a NOOP\r\n");
        assert!(matches!(d.inflate(), Err(CompressError::AfterEnd)));
    }
}
