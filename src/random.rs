//! The one source of randomness (mask keys and Sec-WebSocket-Key), injectable
//! so that tests can expect exact bytes.

use crate::error::LocalProtocolError;
use std::cell::RefCell;
use std::fmt;

/// Fills buffers with random bytes.
pub trait RandomSource: fmt::Debug + Send {
    /// Fills `buf` entirely, or fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError>;
}

/// The operating system's CSPRNG (in wasm: `crypto.getRandomValues`),
/// drawn in batches so that masking a frame rarely leaves the engine.
///
/// The batch is one 16 KiB pool per thread, shared by every `OsRandom` on it
/// (so a connection costs no memory for it): one refill per 4096 mask keys.
/// Each byte is handed out once and zeroed as it goes.
#[derive(Default)]
pub struct OsRandom {
    _private: (),
}

const POOL_SIZE: usize = 16384;

struct Pool {
    bytes: [u8; POOL_SIZE],
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL_SIZE], used: POOL_SIZE }) };
}

impl fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OsRandom")
    }
}

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError> {
        if buf.len() > POOL_SIZE / 4 {
            return getrandom::getrandom(buf).map_err(no_entropy);
        }
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let pool = &mut *pool;
            if POOL_SIZE - pool.used < buf.len() {
                getrandom::getrandom(&mut pool.bytes).map_err(no_entropy)?;
                pool.used = 0;
            }
            let end = pool.used + buf.len();
            let given = &mut pool.bytes[pool.used..end];
            // Never hand out the same bytes twice: zeroed as they go. A
            // mask key (nearly every call) is one 4-byte move, where the
            // general copy and fill are two library calls.
            match (<&mut [u8; 4]>::try_from(&mut *buf), <&mut [u8; 4]>::try_from(&mut *given)) {
                (Ok(key), Ok(bytes)) => *key = std::mem::take(bytes),
                _ => {
                    buf.copy_from_slice(given);
                    given.fill(0);
                }
            }
            pool.used = end;
            Ok(())
        })
    }
}

fn no_entropy(e: getrandom::Error) -> LocalProtocolError {
    LocalProtocolError::new(format!("no source of randomness: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_never_repeats_a_batch() {
        let mut a = OsRandom::default();
        let mut b = OsRandom::default();
        let mut seen = std::collections::HashSet::new();
        // Several refills of the shared pool, from two sources, small and
        // large requests.
        for i in 0..3000 {
            let mut key = [0u8; 4];
            if i % 2 == 0 { a.fill(&mut key) } else { b.fill(&mut key) }.unwrap();
            seen.insert(key);
        }
        // 3000 random 32-bit keys: a repeat is a 1-in-1000 event, not 10.
        assert!(seen.len() > 2990, "{} distinct keys", seen.len());
        let mut big = vec![0u8; 5000];
        a.fill(&mut big).unwrap();
        assert!(big.iter().filter(|&&x| x == 0).count() < 100);
    }
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
