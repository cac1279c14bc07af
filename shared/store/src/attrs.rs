//! Small helpers between DynamoDB attribute values and Rust values.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

// Attributes every item has, whatever its family (each family names its own beside it).
/// The partition key.
pub(crate) const PK: &str = "pk";
/// The sort key.
pub(crate) const SK: &str = "sk";
/// The item's family (`run`, `file`, `test`, ...), for people reading the table.
pub(crate) const KIND: &str = "kind";
/// The project (run, file, test, project and token items).
pub(crate) const PROJECT: &str = "project";
/// The run key (run, file, test and lookup items).
pub(crate) const RUN_KEY: &str = "run_key";
/// When the item's run (or project, token) was created, epoch milliseconds.
pub(crate) const CREATED_MS: &str = "created_ms";
/// When DynamoDB's TTL may delete the item, epoch seconds.
pub(crate) const EXPIRES_AT: &str = "expires_at";

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn get_u64(item: &Item, name: &str) -> u64 {
    get_n(item, name).map_or(0, |v| u64::try_from(v).unwrap_or(0))
}

pub(crate) fn get_bool(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

/// The strings of a list attribute (none when it is absent).
pub(crate) fn get_strings(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

pub(crate) fn get_map<'a>(item: &'a Item, name: &str) -> Option<&'a Item> {
    item.get(name).and_then(|v| v.as_m().ok())
}

/// Approximate stored size of an item, by DynamoDB's rule: attribute names plus values (numbers
/// counted as their text, which over-estimates). Used to keep items under the 400 KB limit.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub(crate) fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().map(String::len).sum(),
        _ => 0,
    }
}

/// An attribute value as JSON, for dumps and tests.
pub fn to_json(v: &AttributeValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map_or_else(|_| Value::String(n.clone()), Value::from),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        AttributeValue::Ss(l) => Value::from(l.clone()),
        other => Value::String(format!("{other:?}")),
    }
}

/// Builds the placeholders of an expression. Every attribute name goes through `#n` names
/// (DynamoDB reserves hundreds of words: `name`, `size`, `state`, `status`, `project`, ...)
/// and every value through `:v` values.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        if let Some((k, _)) = self.names.iter().find(|(_, v)| *v == attribute) {
            return k.clone();
        }
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// `#a = :v`
    pub(crate) fn set(&mut self, attribute: &str, value: AttributeValue) -> String {
        format!("{} = {}", self.name(attribute), self.value(value))
    }

    /// `#a = if_not_exists(#a, :v)`
    pub(crate) fn set_once(&mut self, attribute: &str, value: AttributeValue) -> String {
        let name = self.name(attribute);
        format!("{name} = if_not_exists({name}, {})", self.value(value))
    }

    /// `#a :v`, for an ADD clause.
    pub(crate) fn add(&mut self, attribute: &str, value: AttributeValue) -> String {
        format!("{} {}", self.name(attribute), self.value(value))
    }
}
