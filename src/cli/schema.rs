//! `rollgate schema`

use super::{exit, Io};
use crate::plan::schema::schema_text;

pub fn run(io: &mut Io<'_>) -> std::io::Result<i32> {
    write!(io.out, "{}", schema_text())?;
    Ok(exit::OK)
}
