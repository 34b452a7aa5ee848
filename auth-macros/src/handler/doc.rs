//! A handler's doc comment, as the route table shows it (`RouteInfo::summary`).

/// The first paragraph of a doc comment (`///` lines or `#[doc = "..."]`), its lines trimmed
/// and joined by spaces.
pub(super) fn summary(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        let syn::Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        if !nv.path.is_ident("doc") {
            continue;
        }
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &nv.value
        else {
            continue;
        };
        // `split`, not `lines`: an empty `///` line is a paragraph break.
        lines.extend(text.value().split('\n').map(|l| l.trim().to_owned()));
    }
    lines
        .into_iter()
        .skip_while(String::is_empty)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn summary_is_the_first_paragraph() {
        let f: syn::ItemFn = syn::parse_quote! {
            ///
            /// Reads one report
            ///   by its id.
            ///
            /// Details that are not the summary.
            #[doc = "More."]
            async fn get_report() {}
        };
        assert_eq!(summary(&f.attrs), "Reads one report by its id.");
        let none: syn::ItemFn = syn::parse_quote! { async fn health() {} };
        assert_eq!(summary(&none.attrs), "");
        let block: syn::ItemFn = syn::parse_quote! {
            /** Block
                comment. */
            async fn b() {}
        };
        assert_eq!(summary(&block.attrs), "Block comment.");
    }
}
