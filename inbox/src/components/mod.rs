pub mod app;
pub mod list;
pub mod settings;
pub mod shell;
pub mod sign_in;
pub mod sites;
pub mod time;
pub mod view;
