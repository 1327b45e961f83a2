//! lib.rs's loops compiled natively, for bench/lib/wasmcore.mjs, which
//! times this in turn with the wasm build so that both see the same moments
//! of a noisy machine:
//!
//! ```text
//! native-core receive|send SIZE
//! ```
//!
//! builds the workload's input, then for each line `ITERS` on stdin makes
//! one call of that many iterations (as JS makes one call into wasm) and
//! prints `CPU_MS WALL_MS`, timed here: process start and input building
//! stay off the clock. CPU time is user + system from getrusage, what
//! Node's process.cpuUsage reads.

#[path = "lib.rs"]
mod core_loops;

use core_loops::{bench_input, bench_input_len, bench_receive, bench_send};
use std::time::Instant;

const CHUNK: usize = 64 * 1024;

fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(u.ru_utime) + ms(u.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: native-core receive|send SIZE, then ITERS lines on stdin";
    let [kind, size] = &args[..] else { panic!("{usage}") };
    let size: usize = size.parse().expect(usage);
    let count = (CHUNK / size.max(1)).max(1);
    let receive = match kind.as_str() {
        "receive" => true,
        "send" => false,
        _ => panic!("{usage}"),
    };
    let frames = receive as u32;
    let ptr = bench_input(size, count, frames);
    assert!(!ptr.is_null(), "{kind} {size}: no input");
    let len = bench_input_len();
    for line in std::io::stdin().lines() {
        let iters: u32 = line.expect("stdin").trim().parse().expect(usage);
        let (c0, w0) = (cpu_ms(), Instant::now());
        let got = if receive {
            bench_receive(ptr, len, CHUNK, iters)
        } else {
            bench_send(ptr, len, count as u32 * iters)
        };
        let (cpu, wall) = (cpu_ms() - c0, w0.elapsed().as_secs_f64() * 1e3);
        // The checks wasmcore.mjs makes on the wasm side.
        let ok = if receive {
            got == (size * count * iters as usize) as f64
        } else {
            got >= 0.0
        };
        assert!(ok, "{kind} {size}: got {got}");
        println!("{cpu:.3} {wall:.3}");
    }
}
