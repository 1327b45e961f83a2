//! Where `OsRandom` gets its bytes in wasm: `crypto.getRandomValues`, writing
//! straight into wasm memory, up to 64 KiB (its limit) per call.
//!
//! getrandom's own `js` backend goes through a 256-byte JS buffer: 16 calls
//! and 16 copies per 4 KiB batch, which was a sixth of the cost of sending a
//! small frame. `crypto` is a global in Node 19+, Deno and browsers.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<(), JsValue>;
}

const MAX_CALL: usize = 65536;

fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    for chunk in buf.chunks_mut(MAX_CALL) {
        get_random_values(chunk).map_err(|_| getrandom::Error::WEB_GET_RANDOM_VALUES)?;
    }
    Ok(())
}

getrandom::register_custom_getrandom!(fill);
