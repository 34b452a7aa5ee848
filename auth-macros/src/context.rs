//! Where a handler is written, as far as a macro can tell: a macro sees only its item, not the
//! `impl` block around it. An associated function cannot be a handler (its guard's marker type
//! would be an item inside the `impl`), so the attributes look at the source around the
//! function and, when it is plainly inside an `impl` or `trait` block, report that one error
//! instead of the several that rustc would give for the generated items.
//!
//! The test is deliberately conservative: it reads the file the span points to and looks for
//! the nearest line above the function that is indented less; only a line starting with `impl`
//! or `trait` counts. Unformatted code, code from other macros, or any doubt answers "no", and
//! the macros go on as usual.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use proc_macro2::Span;

thread_local! {
    /// Source files already read in this compilation (one read per file, however many handlers).
    static SOURCES: RefCell<HashMap<PathBuf, Option<std::rc::Rc<str>>>> = RefCell::new(HashMap::new());
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Whether the source line at `line` (1-based) of `text` is inside an `impl` or `trait` block.
fn inside_impl(text: &str, line: usize) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let Some(own) = line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return false;
    };
    let indent = indentation(own);
    if indent == 0 {
        return false;
    }
    for above in lines[..line - 1].iter().rev() {
        if above.trim().is_empty() || indentation(above) >= indent {
            continue;
        }
        let head = above.trim_start();
        let head = head.strip_prefix("unsafe ").unwrap_or(head);
        return ["impl ", "impl<", "trait ", "pub trait "]
            .iter()
            .any(|k| head.starts_with(k));
    }
    false
}

/// Whether the item at `span` is written inside an `impl` or `trait` block.
pub(crate) fn in_impl_block(span: Span) -> bool {
    if !proc_macro::is_available() {
        return false;
    }
    let span = span.unwrap();
    let Some(path) = span.local_file() else {
        return false;
    };
    let line = span.line();
    SOURCES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let text = cache
            .entry(path.clone())
            .or_insert_with(|| std::fs::read_to_string(&path).ok().map(Into::into));
        text.as_deref().is_some_and(|t| inside_impl(t, line))
    })
}

#[cfg(test)]
mod tests {
    use super::inside_impl;

    #[test]
    fn impl_blocks_are_recognised_conservatively() {
        let src = "mod a {\n    #[public]\n    async fn free() {}\n}\nimpl X {\n    #[public]\n    async fn method() {}\n}\n#[public]\nasync fn top() {}\nimpl<T> Y<T> {\n\n    // doc\n    #[public]\n    async fn generic_impl() {}\n}\n";
        assert!(!inside_impl(src, 3));
        assert!(inside_impl(src, 7));
        assert!(!inside_impl(src, 10));
        assert!(inside_impl(src, 15));
        assert!(!inside_impl(src, 99));
        assert!(!inside_impl(src, 0));
    }
}
