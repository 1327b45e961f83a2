//! The one source of randomness (mask keys and Sec-WebSocket-Key), injectable
//! so that tests can expect exact bytes.

use crate::error::LocalProtocolError;
use std::fmt;

/// Fills buffers with random bytes.
pub trait RandomSource: fmt::Debug + Send {
    /// Fills `buf` entirely, or fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError>;
}

/// The operating system's CSPRNG (in wasm: `crypto.getRandomValues`),
/// drawn in batches so that masking a frame rarely leaves the engine.
pub struct OsRandom {
    pool: [u8; 256],
    used: usize,
}

impl Default for OsRandom {
    fn default() -> Self {
        OsRandom { pool: [0; 256], used: 256 }
    }
}

impl fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OsRandom")
    }
}

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError> {
        if buf.len() > self.pool.len() {
            return getrandom::getrandom(buf).map_err(no_entropy);
        }
        if self.pool.len() - self.used < buf.len() {
            getrandom::getrandom(&mut self.pool).map_err(no_entropy)?;
            self.used = 0;
        }
        let end = self.used + buf.len();
        buf.copy_from_slice(&self.pool[self.used..end]);
        // Never hand out the same bytes twice.
        self.pool[self.used..end].fill(0);
        self.used = end;
        Ok(())
    }
}

fn no_entropy(e: getrandom::Error) -> LocalProtocolError {
    LocalProtocolError::new(format!("no source of randomness: {e}"))
}

/// A deterministic source (splitmix64) for tests and reproducible examples.
/// Never use it for real connections: mask keys must be unpredictable.
#[derive(Clone, Debug)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A source that always yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        SeededRandom { state: seed }
    }
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError> {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}
