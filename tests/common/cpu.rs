//! This thread's CPU time, for the scaling checks of linear-time tests.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// This thread's CPU time: unlike the wall clock it stands still while
/// parallel tests or other processes have the CPU. The wall clock where
/// that clock is not available.
pub fn cpu_time() -> Duration {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut time = Timespec { sec: 0, nsec: 0 };
        // SAFETY: a valid clock id and a pointer to a live timespec.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) } == 0 {
            return Duration::new(time.sec as u64, time.nsec as u32);
        }
    }
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
