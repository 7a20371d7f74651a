//! The JSON Schema of lbd's config (`docs/lb.schema.json`, `lbd schema`): generated from the
//! config types (field docs become descriptions, serde's defaults and unknown-field refusal
//! carry over), then given what the types alone cannot say: the names each string field
//! takes and the numeric ranges validation enforces. Validation proper stays in
//! [`Config::validate`] (it also checks what a schema cannot: duplicates, families, table
//! budgets); the schema is for editors and for people reading what is allowed.

use serde_json::{Value, json};

use super::{Config, MAX_WEIGHT, Raw};
use crate::{Forwarding, Named, SchedFlag, Scheduler, TunCsum, TunType};

/// The schema as JSON.
pub fn schema() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(Config<Raw>)).expect("a schema is JSON");
    v["$id"] = json!("https://lb.invalid/lb.schema.json");
    v["title"] = json!("lb config (lbd --config, lbctl apply -f)");
    let mut set = |pointer: &str, extra: Value| {
        let Some(node) = v.pointer_mut(pointer) else {
            panic!("schema has no {pointer}: the config types changed; update schema.rs");
        };
        let (Some(node), Value::Object(extra)) = (node.as_object_mut(), extra) else {
            panic!("{pointer} is not an object");
        };
        node.extend(extra);
    };
    let svc = "/$defs/ServiceConfig/properties";
    let real = "/$defs/RealServerConfig/properties";
    set(
        &format!("{svc}/scheduler"),
        json!({ "enum": Scheduler::names() }),
    );
    set(&format!("{svc}/port"), json!({ "minimum": 1 }));
    set(
        &format!("{svc}/persistent"),
        json!({ "minimum": 1, "maximum": 2_678_400 }),
    );
    set(
        &format!("{svc}/persistent_netmask"),
        json!({ "maximum": 128 }),
    );
    set(
        &format!("{svc}/mh_table_size"),
        json!({ "minimum": 7, "maximum": 1_048_573 }),
    );
    set(
        &format!("{svc}/sched_flags/items"),
        json!({ "enum": SchedFlag::names() }),
    );
    set(&format!("{real}/port"), json!({ "minimum": 1 }));
    set(&format!("{real}/weight"), json!({ "maximum": MAX_WEIGHT }));
    set(
        &format!("{real}/forwarding"),
        json!({ "enum": Forwarding::names() }),
    );
    set(&format!("{real}/tun_port"), json!({ "minimum": 1 }));
    set(
        "/properties/conn_table_size",
        json!({ "minimum": 1024, "maximum": 1u32 << 26 }),
    );
    set(
        "/properties/conn_table_size_v6",
        json!({ "minimum": 1024, "maximum": 1u32 << 26 }),
    );
    set(
        "/properties/conn_reuse_mode",
        json!({ "minimum": 0, "maximum": 3 }),
    );
    let ifname = json!({ "minLength": 1, "maxLength": 15, "pattern": "^[^/\\s]+$" });
    set("/properties/interface", ifname.clone());
    // Given, it is a name (null would leave no interface at all).
    set("/properties/interface", json!({ "type": "string" }));
    set("/properties/interfaces/items", ifname);
    set(
        "/properties/interfaces",
        json!({ "minItems": 1, "maxItems": super::MAX_INTERFACES, "uniqueItems": true }),
    );
    for t in ["tcp", "tcpfin", "udp"] {
        set(
            &format!("/$defs/Timeouts/properties/{t}"),
            json!({ "minimum": 1, "maximum": 31_536_000 }),
        );
    }
    // Optional strings: the names they take, or null.
    let names = |v: &[&str]| {
        let mut all: Vec<Value> = v.iter().map(|s| json!(s)).collect();
        all.push(Value::Null);
        json!({ "enum": all })
    };
    set(&format!("{real}/tun_type"), names(&TunType::names()));
    set(&format!("{real}/tun_csum"), names(&TunCsum::names()));
    // `interface` is the one-element shorthand of `interfaces`: exactly one is given.
    v["oneOf"] = json!([{ "required": ["interface"] }, { "required": ["interfaces"] }]);
    v
}

/// The schema as the text shipped in `docs/lb.schema.json`.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("JSON");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped schema is the generated one (regenerate with
    /// `LB_UPDATE_DOCS=1 cargo test -p lb-model schema`).
    #[test]
    fn shipped_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lb.schema.json");
        let text = schema_text();
        if std::env::var_os("LB_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "{} is out of date: run LB_UPDATE_DOCS=1 cargo test -p lb-model schema",
            path.display()
        );
    }

    #[test]
    fn schema_says_what_is_allowed() {
        let s = schema();
        assert_eq!(s.get("required"), None);
        assert_eq!(
            s["oneOf"],
            json!([{ "required": ["interface"] }, { "required": ["interfaces"] }])
        );
        assert_eq!(
            s["properties"]["interfaces"]["items"]["maxLength"],
            json!(15)
        );
        assert_eq!(s["additionalProperties"], json!(false));
        let svc = &s["$defs"]["ServiceConfig"];
        assert_eq!(svc["additionalProperties"], json!(false));
        assert_eq!(svc["properties"]["scheduler"]["default"], json!("wlc"));
        assert_eq!(svc["properties"]["scheduler"]["enum"][0], json!("rr"));
        let real = &s["$defs"]["RealServerConfig"]["properties"];
        assert_eq!(real["weight"]["default"], json!(1));
        assert_eq!(real["weight"]["maximum"], json!(2_147_483_647));
        assert_eq!(real["forwarding"]["default"], json!("dr"));
        assert!(
            real["forwarding"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "fields carry their doc comments"
        );
    }
}
