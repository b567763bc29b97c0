//! The OpenAPI contract, checked on every answer the HTTP tests receive: `client.rs` hands each
//! one to `check`, which panics (failing that test) when the answer is not what
//! `build/web/api/openapi.json` (built from `web/openapi.mjs` by `scripts/build-web`) documents:
//! an undocumented path, method or status, a missing required header, a header or JSON body
//! that does not match its schema, or a content type the document does not list.

use crate::client::Reply;
use serde_json::{Map, Value};
use std::sync::OnceLock;

const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/build/web/api/openapi.json");

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(DOCUMENT).unwrap_or_else(|e| {
            panic!("{DOCUMENT}: {e} (scripts/build-web writes it; make test runs it)")
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DOCUMENT}: {e}"))
    })
}

/// Panics when the answer to `method target` breaks the document.
pub fn check(method: &str, target: &str, reply: &Reply) {
    let (status, body) = (reply.status, &reply.body);
    if let Err(problem) = conformance(method, target, status, &reply.headers, body) {
        panic!(
            "{method} {target} answered {status}, which breaks the OpenAPI document: {problem}\n\
             body: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
}

fn conformance(
    method: &str,
    target: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), String> {
    let path = target.split('?').next().unwrap_or(target);
    // Test hooks and wrangler's /__scheduled are not part of the API; OPTIONS (the `Allow`
    // answer and CORS preflights) is protocol, described in the README, not an operation.
    if !path.starts_with("/api/") || method == "OPTIONS" {
        return Ok(());
    }
    let doc = document();
    let Some((template, item)) = find_path(doc, path) else {
        // Unknown paths are not listed; all the document promises about them is a 404.
        return match status {
            404 => Ok(()),
            _ => Err("no path of the document matches".into()),
        };
    };
    let Some(operation) = item.get(method.to_ascii_lowercase()) else {
        return match status {
            405 => Ok(()),
            _ => Err(format!("{template} documents no {method}")),
        };
    };
    let responses = &operation["responses"];
    let response = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
        .map(|r| resolve(doc, r))
        .ok_or_else(|| format!("status {status} is not documented for {method} {template}"))?;

    if let Some(documented) = response.get("headers").and_then(Value::as_object) {
        for (name, spec) in documented {
            let spec = resolve(doc, spec);
            match header(headers, name) {
                None if spec.get("required") == Some(&Value::Bool(true)) => {
                    return Err(format!("required header {name} is missing"))
                }
                None => {}
                Some(value) => {
                    if let Some(schema) = spec.get("schema") {
                        validate(doc, schema, &Value::String(value.to_owned()), name)
                            .map_err(|e| format!("header {e}"))?;
                    }
                }
            }
        }
    }

    match response.get("content").and_then(Value::as_object) {
        None if body.is_empty() => Ok(()),
        None => Err("a body where the document has none".into()),
        Some(content) => {
            let content_type = header(headers, "content-type")
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
                .ok_or("no content-type")?;
            let media = content
                .get(&content_type)
                .ok_or_else(|| format!("content-type {content_type} is not documented"))?;
            if content_type != "application/json" {
                return Ok(());
            }
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
            match media.get("schema") {
                Some(schema) => validate(doc, schema, &value, "body"),
                None => Ok(()),
            }
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The path item whose template matches `path` segment by segment (`{param}` matches any one
/// non-empty segment; literal segments win over parameters).
fn find_path<'a>(doc: &'a Value, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = doc["paths"].as_object()?;
    paths
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str(), item))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, template, item)| (template, item))
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => doc
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => value,
    }
}

/// Keywords that only describe, never constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "examples",
    "default",
    "title",
    "writeOnly",
    "readOnly",
    "contentMediaType",
];

/// The JSON Schema (2020-12) subset the document uses. An unknown keyword panics, so the
/// document cannot grow a rule that this check silently ignores.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    let Some(rules) = schema.as_object() else {
        return Ok(());
    };
    let fail = |what: String| Err(format!("{at}: {what} (got {value})"));
    for (keyword, rule) in rules {
        match keyword.as_str() {
            "$ref" => validate(doc, schema, value, at)?,
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type rule {rule}"),
                };
                if !types.iter().any(|t| has_type(value, t)) {
                    return fail(format!("expected type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|list| list.contains(value)) {
                    return fail(format!("not one of {rule}"));
                }
            }
            "const" => {
                if rule != value {
                    return fail(format!("expected {rule}"));
                }
            }
            "properties" => {
                if let (Some(props), Some(object)) = (rule.as_object(), value.as_object()) {
                    for (name, sub) in props {
                        if let Some(v) = object.get(name) {
                            validate(doc, sub, v, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            return fail(format!("missing property {name}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known: Map<String, Value> = rules
                        .get("properties")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    for (name, v) in object.iter().filter(|(n, _)| !known.contains_key(*n)) {
                        match rule {
                            Value::Bool(false) => {
                                return fail(format!("unexpected property {name}"))
                            }
                            Value::Bool(true) => {}
                            sub => validate(doc, sub, v, &format!("{at}.{name}"))?,
                        }
                    }
                }
            }
            "minProperties" => {
                if value
                    .as_object()
                    .is_some_and(|o| (o.len() as u64) < rule.as_u64().unwrap_or(0))
                {
                    return fail(format!("fewer than {rule} properties"));
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(doc, rule, item, &format!("{at}[{i}]"))?;
                }
            }
            "minItems" | "maxItems" => {
                if let Some(list) = value.as_array() {
                    let n = rule.as_u64().unwrap_or(0) as usize;
                    if (keyword == "minItems" && list.len() < n)
                        || (keyword == "maxItems" && list.len() > n)
                    {
                        return fail(format!("{keyword} {n}"));
                    }
                }
            }
            "uniqueItems" => {
                if let (Some(list), Some(true)) = (value.as_array(), rule.as_bool()) {
                    if list.iter().enumerate().any(|(i, a)| list[..i].contains(a)) {
                        return fail("items are not unique".into());
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(limit)) = (value.as_f64(), rule.as_f64()) {
                    if (keyword == "minimum" && n < limit) || (keyword == "maximum" && n > limit) {
                        return fail(format!("{keyword} {limit}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let Some(s) = value.as_str() {
                    let n = rule.as_u64().unwrap_or(0) as usize;
                    let len = s.chars().count();
                    if (keyword == "minLength" && len < n) || (keyword == "maxLength" && len > n) {
                        return fail(format!("{keyword} {n}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str() {
                    let pattern = rule.as_str().unwrap_or_default();
                    let re = regex_lite::Regex::new(pattern)
                        .unwrap_or_else(|e| panic!("bad pattern {pattern}: {e}"));
                    if !re.is_match(s) {
                        return fail(format!("does not match {pattern}"));
                    }
                }
            }
            "format" => {
                if let Some(s) = value.as_str() {
                    let ok = match rule.as_str() {
                        Some("uuid") => uuid::Uuid::try_parse(s).is_ok(),
                        Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                        other => panic!("unknown format {other:?}"),
                    };
                    if !ok {
                        return fail(format!("not a {rule}"));
                    }
                }
            }
            "oneOf" => {
                let matches = rule
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|sub| validate(doc, sub, value, at).is_ok())
                    .count();
                if matches != 1 {
                    return fail(format!("matches {matches} of oneOf, not exactly 1"));
                }
            }
            k if ANNOTATIONS.contains(&k) => {}
            other => panic!("contract.rs does not know the schema keyword {other}"),
        }
    }
    Ok(())
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        other => panic!("unknown type {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_headers() -> Vec<(String, String)> {
        vec![("content-type".into(), "application/json".into())]
    }

    #[test]
    fn a_documented_answer_conforms() {
        let body = json!({"status": "ok", "version": "0.1.0"}).to_string();
        assert!(conformance("GET", "/api/health", 200, &json_headers(), body.as_bytes()).is_ok());
        assert!(conformance("GET", "/api/health/", 200, &json_headers(), body.as_bytes()).is_ok());
    }

    #[test]
    fn an_extra_property_a_missing_one_or_a_wrong_type_is_refused() {
        for body in [
            json!({"status": "ok", "version": "0.1.0", "secret": 1}),
            json!({"status": "ok"}),
            json!({"status": "ok", "version": 1}),
        ] {
            let bytes = body.to_string();
            assert!(
                conformance("GET", "/api/health", 200, &json_headers(), bytes.as_bytes()).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn an_undocumented_status_or_a_missing_required_header_is_refused() {
        let detail = json!({"detail": "x", "request_id": "8f1c2d3e4a5b6c7d-LHR"}).to_string();
        assert!(conformance(
            "GET",
            "/api/health",
            418,
            &json_headers(),
            detail.as_bytes()
        )
        .is_err());
        // 429 must say when to retry.
        assert!(conformance(
            "POST",
            "/api/token/",
            429,
            &json_headers(),
            detail.as_bytes()
        )
        .is_err());
        let mut with_retry = json_headers();
        with_retry.push(("Retry-After".into(), "840".into()));
        assert!(conformance("POST", "/api/token/", 429, &with_retry, detail.as_bytes()).is_ok());
    }

    #[test]
    fn unknown_paths_may_only_be_404_and_undocumented_methods_only_405() {
        let detail = json!({"detail": "Not found."}).to_string();
        assert!(conformance(
            "GET",
            "/api/nothing",
            404,
            &json_headers(),
            detail.as_bytes()
        )
        .is_ok());
        assert!(conformance(
            "GET",
            "/api/nothing",
            200,
            &json_headers(),
            detail.as_bytes()
        )
        .is_err());
        assert!(conformance(
            "PUT",
            "/api/pictures",
            405,
            &json_headers(),
            detail.as_bytes()
        )
        .is_ok());
        assert!(conformance(
            "PUT",
            "/api/pictures",
            200,
            &json_headers(),
            detail.as_bytes()
        )
        .is_err());
    }

    #[test]
    fn field_errors_are_lists_of_strings() {
        let good = json!({"name": ["This field is required."], "request_id": "r1"}).to_string();
        let bad = json!({"name": "This field is required.", "request_id": "r1"}).to_string();
        assert!(conformance(
            "POST",
            "/api/pictures",
            400,
            &json_headers(),
            good.as_bytes()
        )
        .is_ok());
        assert!(conformance(
            "POST",
            "/api/pictures",
            400,
            &json_headers(),
            bad.as_bytes()
        )
        .is_err());
        let without_id = json!({"name": ["This field is required."]}).to_string();
        assert!(conformance(
            "POST",
            "/api/pictures",
            400,
            &json_headers(),
            without_id.as_bytes()
        )
        .is_err());
    }
}
