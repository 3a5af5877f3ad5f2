//! `minify-loader IN OUT`: minifies a loader script (plain JavaScript:
//! `widget.js`, which every host page downloads, and `widget-frame.js`, its
//! second half, fetched once a panel is needed) from its readable source into
//! the build. Run by `scripts/build-widget.sh` after Trunk, once per file; the
//! browser tests and the size budgets then run against its output.
//!
//! minify-js 0.5.6 (Trunk's own JavaScript minifier) rewrites string
//! literals as template literals and gets escape sequences in them wrong
//! (`'\n'` comes out as a backslash and an `n`), so the loader's source
//! keeps backslashes out of string literals; this tool refuses a source that
//! has one. Regular expression literals are not affected.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: minify-loader IN.js OUT.js");
        return ExitCode::from(2);
    };
    match minify(input, output) {
        Ok((before, after)) => {
            println!("minify-loader: {input} ({before} bytes) -> {output} ({after} bytes)");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("minify-loader: {error}");
            ExitCode::FAILURE
        }
    }
}

fn minify(input: &str, output: &str) -> Result<(usize, usize), String> {
    let source = std::fs::read(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    if let Some(line) = escape_in_string(&source) {
        return Err(format!(
            "{input}:{line}: a backslash escape in a string literal, which the minifier mangles"
        ));
    }
    let session = minify_js::Session::new();
    let mut minified = Vec::with_capacity(source.len());
    minify_js::minify(
        &session,
        minify_js::TopLevelMode::Global,
        &source,
        &mut minified,
    )
    .map_err(|e| format!("cannot minify {input}: {e:?}"))?;
    std::fs::write(output, &minified).map_err(|e| format!("cannot write {output}: {e}"))?;
    Ok((source.len(), minified.len()))
}

/// The line of the first string literal (quoted with `'` or `"`) holding a
/// backslash, if any. Comments and regular expression literals are skipped
/// well enough for the loader's plain style: a `/` after one of `(,=:[!&|?{};`
/// or a line start opens a regular expression.
fn escape_in_string(source: &[u8]) -> Option<usize> {
    let mut line = 1;
    let mut i = 0;
    let mut previous = b'\n';
    while i < source.len() {
        let c = source[i];
        match c {
            b'\n' => line += 1,
            b'/' if source.get(i + 1) == Some(&b'/') => {
                while i < source.len() && source[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if source.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < source.len() && !(source[i] == b'*' && source[i + 1] == b'/') {
                    line += usize::from(source[i] == b'\n');
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'/' if b"(,=:[!&|?{};\n".contains(&previous) => {
                i += 1;
                while i < source.len() && source[i] != b'/' && source[i] != b'\n' {
                    i += if source[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' | b'"' => {
                i += 1;
                while i < source.len() && source[i] != c && source[i] != b'\n' {
                    if source[i] == b'\\' {
                        return Some(line);
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() || c == b'\n' {
            previous = c;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::escape_in_string;

    #[test]
    fn finds_escapes_in_strings_but_not_in_regexes_or_comments() {
        assert_eq!(
            escape_in_string(b"a.join('');\nif (/^\\.[\\w-]+$/.test(s)) {}"),
            None
        );
        assert_eq!(escape_in_string(b"// it's a 'x\\n' comment\nx = 1;"), None);
        assert_eq!(escape_in_string(b"x = 1;\ny = 'a\\nb';"), Some(2));
        assert_eq!(escape_in_string(b"/* 'a\\n' */ y = \"\\t\";"), Some(1));
    }
}
