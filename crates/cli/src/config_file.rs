//! The `--config` file as entries: each `key = value` of a TOML file with its table, its line and
//! its TOML type. Knows nothing about the flags: [`crate::config_layers`] checks the entries.

use std::path::Path;
use toml_edit::{Document, Item, Value};

/// One `key = value` of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The `[table]` it is in; `None` at the top level.
    pub table: Option<String>,
    /// The key (a dotted key is kept whole, `a.b`, and is never a flag).
    pub key: String,
    /// The value.
    pub value: FileValue,
    /// Line of the key, from 1.
    pub line: usize,
}

/// A value as TOML typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum FileValue {
    Int(i64),
    Bool(bool),
    Str(String),
    /// Any other TOML type (float, date, array, table), by name.
    Other(&'static str),
}

impl FileValue {
    /// TOML's name for the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FileValue::Int(_) => "an integer",
            FileValue::Bool(_) => "a boolean",
            FileValue::Str(_) => "a string",
            FileValue::Other(name) => name,
        }
    }
}

/// Reads and parses `path`. The error names the file (and the line, for a TOML syntax error).
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    parse(path, &text)
}

/// Parses `text` (the contents of `path`, named in errors).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, String> {
    let doc = Document::parse(text).map_err(|e| {
        let at = e.span().map(|s| format!(", line {}", line_of(text, s.start))).unwrap_or_default();
        format!("config file {}{at}: not valid TOML: {}", path.display(), e.message().trim())
    })?;
    let mut entries = Vec::new();
    for (key, item) in doc.as_table().iter() {
        let line = doc.as_table().key(key).and_then(|k| k.span()).map_or(0, |s| line_of(text, s.start));
        match item {
            Item::Table(table) => {
                for (inner, value) in table.iter() {
                    let line =
                        table.key(inner).and_then(|k| k.span()).map_or(line, |s| line_of(text, s.start));
                    entries.push(Entry {
                        table: Some(key.to_string()),
                        key: inner.to_string(),
                        value: value_of(value),
                        line,
                    });
                }
            }
            other => entries.push(Entry { table: None, key: key.to_string(), value: value_of(other), line }),
        }
    }
    Ok(entries)
}

fn value_of(item: &Item) -> FileValue {
    match item {
        Item::Value(Value::Integer(i)) => FileValue::Int(*i.value()),
        Item::Value(Value::Boolean(b)) => FileValue::Bool(*b.value()),
        Item::Value(Value::String(s)) => FileValue::Str(s.value().clone()),
        Item::Value(Value::Float(_)) => FileValue::Other("a float"),
        Item::Value(Value::Datetime(_)) => FileValue::Other("a date"),
        Item::Value(Value::Array(_)) | Item::ArrayOfTables(_) => FileValue::Other("an array"),
        Item::Value(Value::InlineTable(_)) | Item::Table(_) => FileValue::Other("a table"),
        Item::None => FileValue::Other("nothing"),
    }
}

/// The line (from 1) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}
