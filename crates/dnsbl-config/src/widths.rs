//! The width check of register netblocks: a provider netblock wider than a [`RangeLimit`]
//! (`0.0.0.0/0` typed by mistake) is rejected before anything is stored.
//!
//! Allow-list entries are not checked, because a wide allow-list entry can only list less.

use std::path::Path;

use dnsbl_core::RangeLimit;

use crate::{ConfigError, REGISTER_FILE, Register, ZonesDir};

impl ZonesDir {
    /// Checks every provider netblock in register.toml against `limit`.
    pub fn check_range_widths(&self, limit: &RangeLimit) -> Result<(), ConfigError> {
        check_register(&self.register, &self.root.join(REGISTER_FILE), limit)
    }
}

/// Checks every provider netblock of `register` against `limit`; `path` names the file in
/// the error.
pub fn check_register(
    register: &Register,
    path: &Path,
    limit: &RangeLimit,
) -> Result<(), ConfigError> {
    for provider in &register.providers {
        for netblock in &provider.netblocks {
            if !limit.allows(netblock) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    entry: format!("provider {:?}", provider.name),
                    message: format!("netblock {netblock}: {}", limit.message(netblock)),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register;

    #[test]
    fn wide_netblock_names_provider() {
        let text = "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"t\"\n\
                    [[provider]]\nname = \"P\"\ncategory = \"bad\"\n\
                    netblocks = [\"192.0.2.0/24\", \"0.0.0.0/0\"]\n";
        let path = Path::new("zones/register.toml");
        let parsed = register::parse(text, path, &[]).unwrap();
        let error = check_register(&parsed, path, &RangeLimit::DEFAULT)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "zones/register.toml: provider \"P\": netblock 0.0.0.0/0: range is wider"
            ),
            "{error}"
        );
        check_register(&parsed, path, &RangeLimit::NONE).unwrap();
    }

    #[test]
    fn wide_mapped_part_names_netblock() {
        let path = Path::new("zones/register.toml");
        // The error shows the parsed netblock, and Rust writes ::ffff:0:0 as ::ffff:0.0.0.0.
        for (netblock, shown) in [("::/16", "::/16"), ("::ffff:0:0/96", "::ffff:0.0.0.0/96")] {
            let text = format!(
                "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"t\"\n\
                 [[provider]]\nname = \"P\"\ncategory = \"bad\"\nnetblocks = [\"{netblock}\"]\n"
            );
            let parsed = register::parse(&text, path, &[]).unwrap();
            let error = check_register(&parsed, path, &RangeLimit::DEFAULT)
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                format!(
                    "zones/register.toml: provider \"P\": netblock {shown}: its \
                     ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/0, wider than the \
                     maximum IPv4 size /6; pass --allow-wide-ranges or a smaller \
                     --max-prefix-v4 if it is real"
                )
            );
            check_register(&parsed, path, &RangeLimit::NONE).unwrap();
        }
    }
}
