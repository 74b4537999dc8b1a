//! Reads the stored register into memory, so that the sync of register.toml can compare
//! every entry with a few queries instead of a few per entry.

use std::collections::{BTreeSet, HashMap};

use sqlx::{Row, SqliteConnection};

use crate::StoreError;

/// The writer of a row: the sync of register.toml or the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    File,
    Api,
}

impl Source {
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "file" => Ok(Source::File),
            "api" => Ok(Source::Api),
            other => Err(StoreError::InvalidData(format!(
                "row source {other:?}, expected \"file\" or \"api\""
            ))),
        }
    }
}

/// A delisting date and reason.
pub(crate) type Delisted = Option<(String, String)>;

pub(crate) struct StoredCategory {
    pub id: i64,
    pub code: String,
    pub txt: String,
    pub source: Source,
}

pub(crate) struct StoredOperator {
    pub id: i64,
    pub note: Option<String>,
    pub delisted: Delisted,
    pub source: Source,
    pub aliases: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProviderFields {
    pub category: String,
    pub operator: Option<String>,
    pub note: Option<String>,
    pub listed_since: Option<String>,
    pub delisted: Delisted,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProviderChildren {
    pub domains: BTreeSet<String>,
    pub asns: BTreeSet<u32>,
    /// Canonical netblock text, as [`dnsbl_core::AddrRange`] displays it.
    pub netblocks: BTreeSet<String>,
}

pub(crate) struct StoredProvider {
    pub id: i64,
    pub source: Source,
    pub fields: ProviderFields,
    pub children: ProviderChildren,
}

/// A file-sourced allow entry, keyed by value and zone.
pub(crate) struct StoredAllow {
    pub id: i64,
    pub reason: String,
    /// Whether the entry is an address range (else a domain).
    pub is_range: bool,
}

pub(crate) struct StoredRegister {
    pub categories: HashMap<String, StoredCategory>,
    pub operators: HashMap<String, StoredOperator>,
    pub providers: HashMap<String, StoredProvider>,
    pub allow: HashMap<(String, Option<String>), StoredAllow>,
}

fn children_of<'a>(
    providers: &'a mut HashMap<String, StoredProvider>,
    names: &HashMap<i64, String>,
    id: i64,
) -> Option<&'a mut ProviderChildren> {
    let name = names.get(&id)?;
    providers
        .get_mut(name)
        .map(|provider| &mut provider.children)
}

fn delisted(at: Option<String>, reason: Option<String>) -> Delisted {
    at.map(|at| (at, reason.unwrap_or_default()))
}

pub(crate) async fn read_register(
    conn: &mut SqliteConnection,
) -> Result<StoredRegister, StoreError> {
    let mut categories = HashMap::new();
    for row in sqlx::query("SELECT id, name, code, txt, source FROM categories")
        .fetch_all(&mut *conn)
        .await?
    {
        let source: &str = row.try_get("source")?;
        categories.insert(
            row.try_get("name")?,
            StoredCategory {
                id: row.try_get("id")?,
                code: row.try_get("code")?,
                txt: row.try_get("txt")?,
                source: Source::parse(source)?,
            },
        );
    }

    let mut operators = HashMap::new();
    let mut operator_names = HashMap::new();
    for row in
        sqlx::query("SELECT id, name, note, delisted_at, delist_reason, source FROM operators")
            .fetch_all(&mut *conn)
            .await?
    {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        operator_names.insert(id, name.clone());
        let source: &str = row.try_get("source")?;
        operators.insert(
            name,
            StoredOperator {
                id,
                note: row.try_get("note")?,
                delisted: delisted(row.try_get("delisted_at")?, row.try_get("delist_reason")?),
                source: Source::parse(source)?,
                aliases: BTreeSet::new(),
            },
        );
    }
    for row in sqlx::query("SELECT operator_id, alias FROM operator_aliases")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = row.try_get("operator_id")?;
        if let Some(operator) = operator_names.get(&id).and_then(|n| operators.get_mut(n)) {
            operator.aliases.insert(row.try_get("alias")?);
        }
    }

    let mut providers = HashMap::new();
    let mut provider_names = HashMap::new();
    let provider_rows = sqlx::query(
        "SELECT p.id, p.name, c.name AS category, o.name AS operator, p.note, p.listed_since,
                p.delisted_at, p.delist_reason, p.source
         FROM providers p
         JOIN categories c ON c.id = p.category_id
         LEFT JOIN operators o ON o.id = p.operator_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in provider_rows {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        provider_names.insert(id, name.clone());
        let source: &str = row.try_get("source")?;
        let fields = ProviderFields {
            category: row.try_get("category")?,
            operator: row.try_get("operator")?,
            note: row.try_get("note")?,
            listed_since: row.try_get("listed_since")?,
            delisted: delisted(row.try_get("delisted_at")?, row.try_get("delist_reason")?),
        };
        providers.insert(
            name,
            StoredProvider {
                id,
                source: Source::parse(source)?,
                fields,
                children: ProviderChildren::default(),
            },
        );
    }
    for row in sqlx::query("SELECT provider_id, domain FROM provider_domains")
        .fetch_all(&mut *conn)
        .await?
    {
        if let Some(children) =
            children_of(&mut providers, &provider_names, row.try_get("provider_id")?)
        {
            children.domains.insert(row.try_get("domain")?);
        }
    }
    for row in sqlx::query("SELECT provider_id, asn FROM provider_asns")
        .fetch_all(&mut *conn)
        .await?
    {
        if let Some(children) =
            children_of(&mut providers, &provider_names, row.try_get("provider_id")?)
        {
            children.asns.insert(row.try_get("asn")?);
        }
    }
    for row in sqlx::query("SELECT provider_id, netblock FROM provider_netblocks")
        .fetch_all(&mut *conn)
        .await?
    {
        if let Some(children) =
            children_of(&mut providers, &provider_names, row.try_get("provider_id")?)
        {
            children.netblocks.insert(row.try_get("netblock")?);
        }
    }

    let mut allow = HashMap::new();
    for row in
        sqlx::query("SELECT id, value, zone, reason, kind FROM allow_entries WHERE source = 'file'")
            .fetch_all(&mut *conn)
            .await?
    {
        allow.insert(
            (row.try_get("value")?, row.try_get("zone")?),
            StoredAllow {
                id: row.try_get("id")?,
                reason: row.try_get("reason")?,
                is_range: row.try_get::<&str, _>("kind")? == "range",
            },
        );
    }

    Ok(StoredRegister {
        categories,
        operators,
        providers,
        allow,
    })
}
