//! Reading the config: from its files, or the bundled quickstart. `validate`, the first start and
//! every reload read it here, so they agree on what is valid.

use std::net::SocketAddr;
use std::path::PathBuf;

use headroom_spec::Config;
use sha2::{Digest, Sha256};

/// The bundled quickstart config, used when no `--config` is given.
pub const QUICKSTART: &str = include_str!("../../../examples/quickstart.yaml");

/// Where the running config came from, so a reload reads the same place.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The quickstart config compiled into the binary; its probes watch headroom at `listen`.
    Embedded {
        listen: SocketAddr,
    },
    Paths(Vec<PathBuf>),
}

impl ConfigSource {
    /// The quickstart config for a server on the default address.
    pub fn embedded() -> Self {
        ConfigSource::Embedded {
            listen: SocketAddr::from(([127, 0, 0, 1], 7979)),
        }
    }
}

/// Reads the config from its source: problems come back one `FILE:LINE:COL: message` per line.
pub fn load_config(source: &ConfigSource) -> Result<(Config, String), Vec<String>> {
    load_config_text(source).map(|l| (l.config, l.version))
}

/// A loaded config, its version and the text it was loaded from.
pub struct Loaded {
    pub config: Config,
    pub version: String,
    /// Every file's text, in load order, as YAML documents of one stream.
    pub text: String,
}

/// As [`load_config`], keeping the text (`/api/v2/status` shows it).
pub fn load_config_text(source: &ConfigSource) -> Result<Loaded, Vec<String>> {
    let lines =
        |ps: Vec<headroom_spec::Problem>| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let sources = match source {
        ConfigSource::Embedded { listen } => vec![(
            "quickstart.yaml".to_string(),
            QUICKSTART.replace("127.0.0.1:7979", &listen.to_string()),
        )],
        ConfigSource::Paths(paths) => headroom_spec::read_paths(paths).map_err(lines)?,
    };
    // The version is the hash of exactly what was loaded: names and texts, read once.
    let mut hash = Sha256::new();
    for (name, text) in &sources {
        hash.update(name.as_bytes());
        hash.update(text.as_bytes());
    }
    let version = hex::encode(hash.finalize());
    let config = headroom_spec::load_sources(&sources).map_err(lines)?;
    for w in &config.warnings {
        tracing::warn!(warning = %w, "config");
    }
    let text = sources
        .iter()
        .map(|(name, text)| format!("# {name}\n{text}"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    Ok(Loaded {
        config,
        version,
        text,
    })
}
