//! `#[derive(SecureRouter)]`: registers annotated handlers into one router.
//!
//! [`parse`] reads the `#[secure_router(...)]` attribute, [`validate`] checks what can be told
//! from it alone, [`emit`] writes the router: its functions and one `const` check per handler,
//! which the runtime's `const fn`s evaluate at compile time (conflicting routes, names missing
//! from the registry).

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

mod emit;
mod parse;
mod validate;

pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut cx = Ctxt::default();
    let args = parse::secure_router(&input, &mut cx);
    validate::router(&input, &args, &mut cx);
    if !cx.is_empty() {
        return emit::with_errors(&input.ident, args.state, cx);
    }
    let out = emit::router(&input.ident, args);
    crate::debug_print("SecureRouter", &out);
    out
}
