//! The panel's view, one component per file.

pub mod app;
pub mod claim_card;
pub mod composer;
pub mod conversation_list;
pub mod day_separator;
pub mod email_form;
pub mod email_invitation;
pub mod header;
pub mod message_item;
pub mod message_list;
pub mod resume_notice;
