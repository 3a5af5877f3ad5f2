//! Entry point of the panel's wasm: mounts [`App`] into the frame's body.
//! Build and serve with Trunk from the repository root (see Trunk.toml).

use messenger_widget::App;

fn main() {
    leptos::mount::mount_to_body(App);
}
