//! Reads the declarative files in `zones/`: `zones.toml` (the served zones) and
//! `register.toml` (categories, operators, providers and allow-list entries).
//!
//! Parsing is strict: unknown keys are rejected, and every error names the file and the
//! entry or line it comes from, so an operator can fix the file without guessing.

mod acl;
mod register;
mod templates;
mod widths;
mod zones;

use std::path::{Path, PathBuf};

pub use acl::{AclEntry, parse_prefix};
pub use register::{AllowEntry, AllowTarget, Delisting, OperatorEntry, ProviderEntry, Register};
pub use templates::lookup_url_missing;
pub use widths::check_register;
pub use zones::{ZoneEntry, ZonesFile};

/// File name of the zone definitions inside the zones directory.
pub const ZONES_FILE: &str = "zones.toml";
/// File name of the register inside the zones directory.
pub const REGISTER_FILE: &str = "register.toml";
/// Folder of bundled routing data inside the zones directory, ingested on first start.
pub const DATA_DIR: &str = "data";

/// Errors from reading the zones directory.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {entry}: {message}")]
    Invalid {
        path: PathBuf,
        entry: String,
        message: String,
    },
}

/// The zones directory, fully read and checked.
#[derive(Clone, Debug)]
pub struct ZonesDir {
    pub root: PathBuf,
    pub zones: Vec<dnsbl_core::ZoneSpec>,
    pub register: Register,
}

impl ZonesDir {
    /// Reads and validates `zones.toml` and `register.toml` under `root`.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let zones_text = read(&root.join(ZONES_FILE))?;
        let register_text = read(&root.join(REGISTER_FILE))?;
        Self::from_texts(root, &zones_text, &register_text)
    }

    /// Parses and validates the contents of `zones.toml` and `register.toml`; `root` names
    /// the files in errors.
    pub fn from_texts(
        root: &Path,
        zones_text: &str,
        register_text: &str,
    ) -> Result<Self, ConfigError> {
        let zones_path = root.join(ZONES_FILE);
        let zones = zones::parse(zones_text, &zones_path)?;
        let register_path = root.join(REGISTER_FILE);
        let register = register::parse(register_text, &register_path, &zones)?;
        for zone in &zones {
            for category in zone.categories.iter().flatten() {
                if !register.categories.iter().any(|c| &c.name == category) {
                    return Err(ConfigError::Invalid {
                        path: zones_path.clone(),
                        entry: format!("zone {:?}", zone.name),
                        message: format!(
                            "category {category:?} is not defined in {}",
                            register_path.display()
                        ),
                    });
                }
            }
        }
        templates::check(&zones, &register, &zones_path, &register_path)?;
        Ok(ZonesDir {
            root: root.to_path_buf(),
            zones,
            register,
        })
    }

    /// The bundled routing data files (`data/*.csv`), sorted by name.
    pub fn bundled_data(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let dir = self.root.join(DATA_DIR);
        let entries = std::fs::read_dir(&dir).map_err(|error| ConfigError::Read {
            path: dir.clone(),
            error,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| ConfigError::Read {
                path: dir.clone(),
                error,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "csv") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

/// The texts of `zones.toml` and `register.toml`, read but not parsed yet, so that a
/// caller can compare them with what it applied before and skip parsing a large register.
#[derive(Clone, Debug)]
pub struct ZonesTexts {
    pub root: PathBuf,
    pub zones: String,
    pub register: String,
}

impl ZonesTexts {
    /// Reads both files under `root`.
    pub fn read(root: &Path) -> Result<Self, ConfigError> {
        Ok(ZonesTexts {
            root: root.to_path_buf(),
            zones: read(&root.join(ZONES_FILE))?,
            register: read(&root.join(REGISTER_FILE))?,
        })
    }

    /// Parses and validates both files, as [`ZonesDir::load`] does.
    pub fn parse(&self) -> Result<ZonesDir, ConfigError> {
        ZonesDir::from_texts(&self.root, &self.zones, &self.register)
    }

    /// Parses `zones.toml` alone. The categories it names are not checked against
    /// `register.toml`, so use it only for files that [`parse`](Self::parse) accepted
    /// before.
    pub fn parse_zones(&self) -> Result<Vec<dnsbl_core::ZoneSpec>, ConfigError> {
        zones::parse(&self.zones, &self.root.join(ZONES_FILE))
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// Turns a TOML error into a message with the line and column where it happened.
fn toml_error(text: &str, path: &Path, error: toml::de::Error) -> ConfigError {
    let location = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}: ")
    });
    ConfigError::Parse {
        path: path.to_path_buf(),
        message: format!("{}{}", location.unwrap_or_default(), error.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_zones_dir_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
        let dir = ZonesDir::load(&root).expect("the repository's zones/ is valid");
        let names: Vec<&str> = dir.zones.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["bl.example", "dbl.example"]);
        assert!(
            dir.register
                .providers
                .iter()
                .any(|p| p.name == "SoftLayer Technologies Inc." && p.asns == [36351])
        );
        assert!(!dir.bundled_data().unwrap().is_empty());
    }
}
