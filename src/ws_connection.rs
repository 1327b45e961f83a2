//! stub
/// stub
#[derive(Debug)]
pub struct WSConnection;
