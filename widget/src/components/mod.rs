//! The panel's view, one component per file.

pub mod app;
pub mod composer;
pub mod day_separator;
pub mod header;
pub mod message_item;
pub mod message_list;
