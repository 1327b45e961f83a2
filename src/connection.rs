//! stub
/// stub
#[derive(Debug)]
pub struct Connection;
