pub mod app;
pub mod shell;
pub mod sign_in;
