//! wasm binding (being written)
