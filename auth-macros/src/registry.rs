//! `registry!`: declares the names an application may use in its attributes.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Visibility, braced, bracketed};

use crate::ctxt::Ctxt;

const KEYS: [&str; 5] = ["login_types", "scopes", "actions", "resources", "roles"];

/// Per key (same order as `KEYS`): what its names are called in messages, whether an empty
/// name gets its own message, and the grammar check shared with the runtime.
/// A grammar check: `Some(reason)` when the name is invalid.
type Check = fn(&str) -> Option<String>;

const LISTS: [(&str, bool, Check); 5] = [
    ("login type", true, |v| {
        auth_grammar::validate_login_type(v)
            .err()
            .map(|e| e.to_string())
    }),
    ("scope", false, |v| {
        auth_grammar::validate_required_scope(v)
            .err()
            .map(|e| e.to_string())
    }),
    ("policy action", false, |v| {
        auth_grammar::validate_action(v)
            .err()
            .map(|e| e.to_string())
    }),
    ("policy resource", false, |v| {
        auth_grammar::validate_resource(v)
            .err()
            .map(|e| e.to_string())
    }),
    ("role", true, |v| {
        auth_grammar::validate_login_type(v)
            .err()
            .map(|e| e.to_string())
    }),
];

struct Input {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    lists: Vec<(Ident, Vec<LitStr>)>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let content;
        braced!(content in input);
        let mut lists = Vec::new();
        while !content.is_empty() {
            let key: Ident = content.parse()?;
            content.parse::<Token![:]>()?;
            let items;
            bracketed!(items in content);
            let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&items)?;
            lists.push((key, names.into_iter().collect()));
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        Ok(Input {
            attrs,
            vis,
            name,
            lists,
        })
    }
}

pub(crate) fn expand(tokens: TokenStream) -> TokenStream {
    let input: Input = match syn::parse2(tokens) {
        Ok(i) => i,
        Err(e) => {
            let mut e2 = e.clone();
            e2.combine(syn::Error::new(
                Span::call_site(),
                "expected `pub struct Name { login_types: [\"user\"], scopes: [\"reports:read\"], actions: [...], resources: [...] }`",
            ));
            return e.to_compile_error();
        }
    };
    let mut cx = Ctxt::default();
    let mut found: [Vec<LitStr>; 5] = Default::default();
    let mut seen = [false; 5];
    for (key, names) in &input.lists {
        let k = key.to_string();
        let Some(index) = KEYS.iter().position(|x| *x == k) else {
            let msg = format!("unknown key `{k}` in `registry!`");
            match auth_grammar::closest(&k, KEYS) {
                Some(s) => cx.error_help(key.span(), msg, format!("did you mean `{s}`?")),
                None => cx.error_help(
                    key.span(),
                    msg,
                    "the keys are `login_types`, `scopes`, `roles`, `actions` and `resources`",
                ),
            }
            continue;
        };
        if seen[index] {
            cx.error(key.span(), format!("duplicate key `{k}` in `registry!`"));
            continue;
        }
        seen[index] = true;
        for (i, lit) in names.iter().enumerate() {
            let value = lit.value();
            let (what, empty_message, check) = LISTS[index];
            let problem = if empty_message && value.is_empty() {
                Some(format!("a {what} cannot be empty"))
            } else {
                check(&value).map(|e| format!("invalid {what} `{value}`: {e}"))
            };
            if let Some(problem) = problem {
                cx.error(lit.span(), problem);
            } else if names[..i].iter().any(|p| p.value() == value) {
                cx.error(lit.span(), format!("`{value}` is declared twice"));
            } else {
                found[index].push(lit.clone());
            }
        }
    }
    let errors = cx.into_compile_errors();
    let Input {
        attrs, vis, name, ..
    } = input;
    let [login_types, scopes, actions, resources, roles] = &found;
    let p = quote!(::auth_runtime::__private);
    let out = quote! {
        #errors
        #(#attrs)*
        #[derive(Debug, Clone, Copy)]
        #vis struct #name;
        impl #p::Registry for #name {
            const LOGIN_TYPES: &'static [&'static str] = &[#(#login_types),*];
            const SCOPES: &'static [&'static str] = &[#(#scopes),*];
            const ACTIONS: &'static [&'static str] = &[#(#actions),*];
            const RESOURCES: &'static [&'static str] = &[#(#resources),*];
            const ROLES: &'static [&'static str] = &[#(#roles),*];
        }
    };
    crate::debug_print("registry", &out);
    out
}
