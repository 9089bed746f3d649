//! Parsing the arguments of `#[alter::handler(…)]`.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token, parse_quote};

/// The arguments of `#[alter::handler]`.
pub(crate) struct HandlerArgs {
    /// Whether a request without a bearer token runs the handler with no user.
    pub(crate) optional: bool,
    /// The path of the `alter` crate, `::alter` unless `crate = "…"` names another.
    pub(crate) krate: Path,
}

impl Default for HandlerArgs {
    fn default() -> Self {
        Self {
            optional: false,
            krate: parse_quote!(::alter),
        }
    }
}

impl HandlerArgs {
    /// Parses `tokens`, pushing every problem to `errors` and keeping what was valid.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Vec<syn::Error>) -> Self {
        let mut args = Self::default();
        let parser = |input: ParseStream<'_>| parse_list(input, &mut args, errors);
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
    }
}

fn parse_list(
    input: ParseStream<'_>,
    args: &mut HandlerArgs,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        // `crate` is a keyword, so the key is read with `parse_any`.
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse::<Expr>()?)
        } else {
            None
        };

        let name = key.to_string();
        if seen.contains(&name) {
            errors.push(syn::Error::new(
                key.span(),
                format!("duplicate argument `{name}`"),
            ));
        }
        match name.as_str() {
            // optional
            "optional" => match value {
                None => args.optional = true,
                Some(value) => errors.push(syn::Error::new_spanned(
                    value,
                    "`optional` takes no value; write `#[alter::handler(optional)]`",
                )),
            },
            // crate = "my_alter"
            "crate" => match crate_path(&key, value) {
                Ok(path) => args.krate = path,
                Err(error) => errors.push(error),
            },
            _ => errors.push(syn::Error::new(
                key.span(),
                format!("unknown argument `{name}`; expected one of `optional`, `crate`"),
            )),
        }
        seen.push(name);

        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// Reads the path in `crate = "…"`.
pub(crate) fn crate_path(key: &Ident, value: Option<Expr>) -> syn::Result<Path> {
    let expected = "expected a string literal with the crate's path, e.g. `crate = \"my_alter\"`";
    match value {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(path),
            ..
        })) => parse_path(&path),
        Some(other) => Err(syn::Error::new_spanned(other, expected)),
        None => Err(syn::Error::new(key.span(), expected)),
    }
}

fn parse_path(literal: &LitStr) -> syn::Result<Path> {
    literal.parse::<Path>().map_err(|_| {
        syn::Error::new(
            literal.span(),
            format!(
                "`{}` is not a path; name the crate, e.g. `crate = \"my_alter\"`",
                literal.value()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse(tokens: TokenStream) -> (HandlerArgs, Vec<String>) {
        let mut errors = Vec::new();
        let args = HandlerArgs::parse(tokens, &mut errors);
        (args, errors.iter().map(ToString::to_string).collect())
    }

    fn path_string(path: &Path) -> String {
        quote!(#path).to_string()
    }

    #[test]
    fn empty_gives_defaults() {
        let (args, errors) = parse(quote!());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!args.optional);
        assert_eq!(path_string(&args.krate), ":: alter");
    }

    #[test]
    fn optional_flag() {
        let (args, errors) = parse(quote!(optional));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(args.optional);
    }

    #[test]
    fn crate_path_and_trailing_comma() {
        let (args, errors) = parse(quote!(crate = "my_alter", optional,));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(args.optional);
        assert_eq!(path_string(&args.krate), "my_alter");
    }

    #[test]
    fn unknown_argument_lists_the_known_ones() {
        let (_, errors) = parse(quote!(requried));
        assert_eq!(
            errors,
            ["unknown argument `requried`; expected one of `optional`, `crate`"]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let (args, errors) = parse(quote!(optional = true, crate = my_alter, optional, user));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("`optional` takes no value"));
        assert!(errors[1].starts_with("expected a string literal"));
        assert!(errors[2].starts_with("duplicate argument `optional`"));
        assert!(errors[3].starts_with("unknown argument `user`"));
        assert!(args.optional);
    }

    #[test]
    fn crate_value_must_be_a_path() {
        let (_, errors) = parse(quote!(crate = "not a path"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("is not a path"), "{errors:?}");
    }

    #[test]
    fn missing_comma_is_a_syntax_error() {
        let (_, errors) = parse(quote!(optional optional));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("expected `,`"), "{errors:?}");
    }
}
