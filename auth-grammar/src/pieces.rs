//! The one scanner of route paths: literal text, captures `{name}` and wildcards `{*name}`,
//! doubled braces `{{` and `}}` for literal ones. The path checks ([`validate_route_path`]),
//! the route comparison ([`route_conflict`]), the runtime's route screen and the macros'
//! signature checks all read paths through it, so they cannot disagree about where a capture
//! is.
//!
//! [`validate_route_path`]: crate::validate_route_path
//! [`route_conflict`]: crate::route_conflict

/// One piece of a route path, as [`path_pieces`] yields them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPiece<'a> {
    /// Literal text, matched as written. A doubled brace (`{{` or `}}`) is yielded on its own,
    /// as the one brace it stands for: the literal pieces joined are the text axum matches.
    Literal(&'a str),
    /// A capture `{name}` or a wildcard `{*name}`.
    Capture(Capture<'a>),
    /// A `{` or `}` that is neither doubled nor part of a capture: a `}` on its own, or a `{`
    /// without a `}` before the next `{`, `/` or the end. Never in a path that
    /// [`validate_route_path`](crate::validate_route_path) accepts.
    Unbalanced(char),
}

/// A capture of a route path: `{name}`, or the wildcard `{*name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture<'a> {
    /// The text between the braces, without a wildcard's `*`. It is an identifier in a path
    /// that [`validate_route_path`](crate::validate_route_path) accepts, and may be anything
    /// else (empty, say) in one it refuses.
    pub name: &'a str,
    /// Whether it is a wildcard (`{*rest}`), which takes the rest of the path.
    pub wildcard: bool,
}

/// The pieces of a route path, in order: see [`path_pieces`].
///
/// An [`Iterator`]; in a `const fn`, where iterators cannot be used, call
/// [`next_piece`](PathPieces::next_piece) instead.
#[derive(Debug, Clone)]
pub struct PathPieces<'a> {
    rest: &'a str,
}

/// Splits a route path into literal text and captures.
///
/// Any string can be scanned: a malformed brace is a [`PathPiece::Unbalanced`] piece, never a
/// panic. A capture ends at the first `}`; a `{` or `/` before it makes the opening `{`
/// unbalanced. Usable in `const` items.
///
/// ```
/// use auth_grammar::{path_pieces, Capture, PathPiece};
///
/// let pieces: Vec<PathPiece> = path_pieces("/files/{id}/{*rest}").collect();
/// assert_eq!(
///     pieces,
///     [
///         PathPiece::Literal("/files/"),
///         PathPiece::Capture(Capture { name: "id", wildcard: false }),
///         PathPiece::Literal("/"),
///         PathPiece::Capture(Capture { name: "rest", wildcard: true }),
///     ]
/// );
///
/// // `{{` and `}}` are literal braces, each its own piece.
/// let pieces: Vec<PathPiece> = path_pieces("/{{id}}").collect();
/// assert_eq!(
///     pieces,
///     [
///         PathPiece::Literal("/"),
///         PathPiece::Literal("{"),
///         PathPiece::Literal("id"),
///         PathPiece::Literal("}"),
///     ]
/// );
///
/// // A brace that closes nothing.
/// assert!(path_pieces("/a}").any(|p| p == PathPiece::Unbalanced('}')));
/// ```
///
/// In a `const fn`:
///
/// ```
/// use auth_grammar::{path_pieces, PathPiece};
///
/// const fn capture_count(path: &str) -> usize {
///     let mut pieces = path_pieces(path);
///     let mut count = 0;
///     while let Some(piece) = pieces.next_piece() {
///         if let PathPiece::Capture(_) = piece {
///             count += 1;
///         }
///     }
///     count
/// }
///
/// const COUNT: usize = capture_count("/users/{user_id}/files/{*rest}");
/// assert_eq!(COUNT, 2);
/// ```
pub const fn path_pieces(path: &str) -> PathPieces<'_> {
    PathPieces { rest: path }
}

impl<'a> PathPieces<'a> {
    /// The next piece, as [`Iterator::next`] gives it; usable in a `const fn`.
    pub const fn next_piece(&mut self) -> Option<PathPiece<'a>> {
        let bytes = self.rest.as_bytes();
        let Some(&first) = bytes.first() else {
            return None;
        };
        // Every split below is next to an ASCII brace or slash: always a character boundary.
        if matches!(first, b'{' | b'}') && bytes.len() > 1 && bytes[1] == first {
            let (brace, _) = self.rest.split_at(1);
            let (_, rest) = self.rest.split_at(2);
            self.rest = rest;
            return Some(PathPiece::Literal(brace));
        }
        match first {
            b'}' => {
                self.rest = self.rest.split_at(1).1;
                Some(PathPiece::Unbalanced('}'))
            }
            b'{' => {
                let mut end = 1;
                while end < bytes.len() && !matches!(bytes[end], b'{' | b'}' | b'/') {
                    end += 1;
                }
                if end == bytes.len() || bytes[end] != b'}' {
                    self.rest = self.rest.split_at(1).1;
                    return Some(PathPiece::Unbalanced('{'));
                }
                let (braced, rest) = self.rest.split_at(end + 1);
                self.rest = rest;
                // `braced` is `{...}`: the inside without its braces.
                let (inner, _) = braced.split_at(end);
                let (_, inner) = inner.split_at(1);
                let (name, wildcard) = match inner.as_bytes().first() {
                    Some(b'*') => (inner.split_at(1).1, true),
                    _ => (inner, false),
                };
                Some(PathPiece::Capture(Capture { name, wildcard }))
            }
            _ => {
                let mut end = 1;
                while end < bytes.len() && !matches!(bytes[end], b'{' | b'}') {
                    end += 1;
                }
                let (text, rest) = self.rest.split_at(end);
                self.rest = rest;
                Some(PathPiece::Literal(text))
            }
        }
    }
}

impl<'a> Iterator for PathPieces<'a> {
    type Item = PathPiece<'a>;

    fn next(&mut self) -> Option<PathPiece<'a>> {
        self.next_piece()
    }
}

impl std::iter::FusedIterator for PathPieces<'_> {}

/// The captures of a route path, in order (the [`PathPiece::Capture`] pieces of
/// [`path_pieces`]).
///
/// ```
/// use auth_grammar::captures;
///
/// let names: Vec<&str> = captures("/users/{user_id}/files/{*rest}").map(|c| c.name).collect();
/// assert_eq!(names, ["user_id", "rest"]);
/// assert_eq!(captures("/{{literal}}/img-{id}").count(), 1);
/// assert_eq!(captures("/health").count(), 0);
/// ```
pub fn captures(path: &str) -> impl Iterator<Item = Capture<'_>> {
    path_pieces(path).filter_map(|piece| match piece {
        PathPiece::Capture(capture) => Some(capture),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(name: &str) -> PathPiece<'_> {
        PathPiece::Capture(Capture {
            name,
            wildcard: false,
        })
    }

    fn wildcard(name: &str) -> PathPiece<'_> {
        PathPiece::Capture(Capture {
            name,
            wildcard: true,
        })
    }

    fn pieces(path: &str) -> Vec<PathPiece<'_>> {
        path_pieces(path).collect()
    }

    #[test]
    fn literals_and_captures() {
        use PathPiece::Literal;
        assert_eq!(pieces(""), []);
        assert_eq!(pieces("/"), [Literal("/")]);
        assert_eq!(pieces("/health"), [Literal("/health")]);
        assert_eq!(
            pieces("/a/{x}/b/{y}"),
            [Literal("/a/"), capture("x"), Literal("/b/"), capture("y")]
        );
        assert_eq!(pieces("/img-{id}"), [Literal("/img-"), capture("id")]);
        assert_eq!(pieces("/f/x{*rest}"), [Literal("/f/x"), wildcard("rest")]);
        assert_eq!(pieces("{id}"), [capture("id")]);
        assert_eq!(pieces("/a/{}"), [Literal("/a/"), capture("")]);
        assert_eq!(pieces("/a/{*}"), [Literal("/a/"), wildcard("")]);
        assert_eq!(
            pieces("/{id}.png"),
            [Literal("/"), capture("id"), Literal(".png")]
        );
        assert_eq!(pieces("/é/{ñ}"), [Literal("/é/"), capture("ñ")]);
    }

    #[test]
    fn doubled_braces_are_literal() {
        use PathPiece::Literal;
        assert_eq!(
            pieces("/{{x}}"),
            [Literal("/"), Literal("{"), Literal("x"), Literal("}")]
        );
        assert_eq!(
            pieces("/a{{b}}c"),
            [
                Literal("/a"),
                Literal("{"),
                Literal("b"),
                Literal("}"),
                Literal("c")
            ]
        );
        // A doubled brace, then a capture: `{{` + `{id}`.
        assert_eq!(
            pieces("/{{{id}"),
            [Literal("/"), Literal("{"), capture("id")]
        );
        // A capture, then a doubled brace.
        assert_eq!(
            pieces("/{id}}}"),
            [Literal("/"), capture("id"), Literal("}")]
        );
        assert_eq!(
            pieces("/{{*rest}}"),
            [Literal("/"), Literal("{"), Literal("*rest"), Literal("}")]
        );
    }

    #[test]
    fn unbalanced_braces() {
        use PathPiece::{Literal, Unbalanced};
        assert_eq!(pieces("/a}"), [Literal("/a"), Unbalanced('}')]);
        assert_eq!(
            pieces("/{id"),
            [Literal("/"), Unbalanced('{'), Literal("id")]
        );
        assert_eq!(
            pieces("/{a/b}"),
            [
                Literal("/"),
                Unbalanced('{'),
                Literal("a/b"),
                Unbalanced('}')
            ]
        );
        assert_eq!(
            pieces("/{x{y}}"),
            [
                Literal("/"),
                Unbalanced('{'),
                Literal("x"),
                capture("y"),
                Unbalanced('}')
            ]
        );
        assert_eq!(pieces("{"), [Unbalanced('{')]);
        assert_eq!(pieces("}"), [Unbalanced('}')]);
        assert_eq!(pieces("{{{"), [Literal("{"), Unbalanced('{')]);
    }

    #[test]
    fn pieces_cover_the_path() {
        // Joined back (doubled braces doubled again, captures in their braces), the pieces are
        // the path.
        for path in [
            "/",
            "/a/{x}/b/{*y}",
            "/{{x}}/{id}",
            "/{{{id}",
            "/a}}{{b",
            "/{a/b}",
            "{{}}}{",
            "/x{}/{*}",
        ] {
            let mut joined = String::new();
            for piece in path_pieces(path) {
                match piece {
                    PathPiece::Literal(t) if t == "{" || t == "}" => {
                        joined.push_str(t);
                        joined.push_str(t);
                    }
                    PathPiece::Literal(t) => joined.push_str(t),
                    PathPiece::Capture(c) => {
                        joined.push('{');
                        if c.wildcard {
                            joined.push('*');
                        }
                        joined.push_str(c.name);
                        joined.push('}');
                    }
                    PathPiece::Unbalanced(c) => joined.push(c),
                }
            }
            assert_eq!(joined, path);
        }
    }

    #[test]
    fn capture_names() {
        let names = |p| captures(p).map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names("/a/{id}/b/{*rest}"), ["id", "rest"]);
        assert_eq!(names("/{{x}}/img-{id}"), ["id"]);
        assert!(names("/reports").is_empty());
        assert!(names("/{{id}}").is_empty());
        assert_eq!(
            captures("/f/{*rest}").collect::<Vec<_>>(),
            [Capture {
                name: "rest",
                wildcard: true
            }]
        );
    }
}
