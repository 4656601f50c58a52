//! Storage backends for spawned nodes (the conformance suite's `--backend`): kezd is judged on
//! the embedded SQLite default and on PostgreSQL alike, one backend per node, so a mixed pair
//! proves that the two stores federate and answer the same way. Each PostgreSQL node gets a
//! database of its own, created before it starts and dropped after the run. Creating it is
//! the testnet's work, which starts the nodes, so the suite itself needs no database client.

use sqlx::{Connection, PgConnection};

/// Where one spawned node keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: SQLite in the node's data directory.
    Sqlite,
    /// A database created for the node on this PostgreSQL server (the URL names any database
    /// the suite may connect to in order to create and drop its own).
    Postgres {
        /// An administrative connection URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
        admin_url: String,
    },
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            None if text == "sqlite" => Ok(Backend::Sqlite),
            Some(("postgres", url)) if url.starts_with("postgres://") => Ok(Backend::Postgres {
                admin_url: url.to_owned(),
            }),
            _ => Err(format!(
                "{text:?}: expected `sqlite` or `postgres=postgres://…`"
            )),
        }
    }
}

/// A database the suite created, to drop when the run ends.
#[derive(Debug)]
pub struct CreatedDatabase {
    admin_url: String,
    name: String,
}

impl Backend {
    /// The TOML the node needs for this backend, creating its database first. `tag` makes the
    /// database name unique to this run and node.
    pub async fn prepare(&self, tag: &str) -> Result<(String, Option<CreatedDatabase>), String> {
        match self {
            Backend::Sqlite => Ok((String::new(), None)),
            Backend::Postgres { admin_url } => {
                let name = format!("kez_conformance_{tag}");
                let mut admin = PgConnection::connect(admin_url)
                    .await
                    .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
                // The name is built here from a fixed prefix and numbers: safe to interpolate.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| format!("creating database {name}: {e}"))?;
                let url = database_url(admin_url, &name)?;
                let created = CreatedDatabase {
                    admin_url: admin_url.clone(),
                    name,
                };
                Ok((format!("database_url = {url:?}\n"), Some(created)))
            }
        }
    }
}

impl CreatedDatabase {
    /// Drops the database (its node has stopped).
    pub async fn drop_now(self) -> Result<(), String> {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.admin_url))?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .map(drop)
            .map_err(|e| format!("dropping database {}: {e}", self.name))
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> Result<String, String> {
    let rest = admin_url
        .strip_prefix("postgres://")
        .ok_or_else(|| format!("{admin_url:?} is not a postgres:// URL"))?;
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    Ok(match query {
        Some(q) => format!("postgres://{authority}/{name}?{q}"),
        None => format!("postgres://{authority}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rewrites() {
        assert_eq!("sqlite".parse::<Backend>(), Ok(Backend::Sqlite));
        assert!("postgres=http://x".parse::<Backend>().is_err());
        assert!("mysql".parse::<Backend>().is_err());
        assert_eq!(
            database_url("postgres://u@h:5432/postgres?sslmode=disable", "d").as_deref(),
            Ok("postgres://u@h:5432/d?sslmode=disable")
        );
        assert_eq!(
            database_url("postgres://u@h", "d").as_deref(),
            Ok("postgres://u@h/d")
        );
    }
}
