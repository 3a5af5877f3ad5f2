//! [`effect`]: Leptos' `Effect::new` with the closure type erased.
//!
//! `Effect::new` compiles its whole machinery (the task that waits for a
//! change, reruns the closure and keeps its value) once per closure type:
//! about 700 bytes of wasm for every effect of the panel. Boxed behind
//! `dyn FnMut()`, every effect shares one copy.

use leptos::prelude::Effect;

/// Runs `f` now and again whenever a signal it read changes, for as long as
/// the current reactive owner lives (like `Effect::new(move |_| f())`).
pub fn effect(f: impl FnMut() + 'static) {
    let mut f: Box<dyn FnMut()> = Box::new(f);
    Effect::new(move |_: Option<()>| f());
}
