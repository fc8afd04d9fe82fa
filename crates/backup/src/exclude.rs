//! Exclude rules: glob patterns, `--exclude-caches`, `--one-file-system`.

use std::path::Path;

/// The signature a `CACHEDIR.TAG` file starts with (<https://bford.info/cachedir/>).
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// What to leave out of a backup.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    /// Patterns: `*` matches within a path component, `**` across components, `?` one character.
    /// A pattern without `/` matches any component's name; with `/` it matches the whole path
    /// (a leading `/` anchors it at the root, otherwise it may match a path's tail).
    pub patterns: Vec<String>,
    /// Skip directories holding a valid `CACHEDIR.TAG`.
    pub caches: bool,
    /// Do not cross into other file systems.
    pub one_file_system: bool,
}

impl Excludes {
    /// Checks patterns for mistakes (empty ones).
    pub fn check(&self) -> crate::Result<()> {
        if let Some(i) = self.patterns.iter().position(|p| p.trim().is_empty()) {
            return Err(crate::Error::Invalid(format!(
                "--exclude #{}: empty pattern",
                i + 1
            )));
        }
        Ok(())
    }

    /// Whether `path` is excluded by a pattern.
    pub fn matches(&self, path: &Path) -> bool {
        let text = path.to_string_lossy().replace('\\', "/");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        self.patterns.iter().any(|p| {
            if p.contains('/') {
                let pattern = p.trim_end_matches('/');
                if pattern.starts_with('/') {
                    glob(pattern.as_bytes(), text.as_bytes())
                } else {
                    glob(format!("**/{pattern}").as_bytes(), text.as_bytes())
                }
            } else {
                glob(p.as_bytes(), name.as_bytes())
            }
        })
    }

    /// Whether `dir` is a cache directory to skip.
    pub fn is_cache(&self, dir: &Path) -> bool {
        if !self.caches {
            return false;
        }
        let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
        std::fs::File::open(dir.join("CACHEDIR.TAG"))
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| head == CACHEDIR_SIGNATURE)
    }
}

/// Glob match: `**` any sequence, `*` any sequence without `/`, `?` one byte other than `/`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = rest[1..].strip_prefix(b"/").unwrap_or(&rest[1..]);
            (0..=text.len()).any(|i| glob(rest, &text[i..]))
        }
        Some((b'*', rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || text[i - 1] != b'/')
            .any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => text.first().is_some_and(|&c| c != b'/') && glob(rest, &text[1..]),
        Some((&c, rest)) => text.first() == Some(&c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn patterns_match_names_and_paths() {
        let ex = Excludes {
            patterns: vec![
                "*.tmp".into(),
                "/srv/data/cache/**".into(),
                "logs/*.log".into(),
            ],
            ..Excludes::default()
        };
        assert!(ex.matches(Path::new("/srv/data/a.tmp")));
        assert!(!ex.matches(Path::new("/srv/data/a.tmpx")));
        assert!(ex.matches(Path::new("/srv/data/cache/x/y")));
        assert!(!ex.matches(Path::new("/srv/data/cachex/y")));
        assert!(ex.matches(Path::new("/var/app/logs/today.log")));
        assert!(!ex.matches(Path::new("/var/app/logs/old/today.log")));
        assert!(glob(b"a?c", b"abc") && !glob(b"a?c", b"a/c"));
    }
}
