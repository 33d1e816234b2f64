//! A validator of OCSF events against the schema's own source files, as vendored in
//! `testdata/ocsf-schema-1.1.0/` (see its PROVENANCE.md): a class's attributes are its
//! own, those of the classes it `extends` and of the files it `$include`s (profiles'
//! attributes count only where the event declares the profile in
//! `metadata.profiles`); an object's likewise; an attribute's type, whether it is an
//! array and its enum come from `dictionary.json` unless the class or object says
//! otherwise. Nothing here lists what a Detection Finding needs: it is read from the
//! schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The vendored schema's files, indexed.
pub struct Schema {
    root: PathBuf,
    /// Event classes by name (`detection_finding`), their files' JSON.
    classes: BTreeMap<String, Value>,
    /// Objects by name (`network_endpoint`).
    objects: BTreeMap<String, Value>,
    /// The dictionary's attributes.
    dictionary: Map<String, Value>,
    /// The dictionary's types by name (`port_t`, with its base type and range).
    types: Map<String, Value>,
    categories: Map<String, Value>,
}

/// The attributes whose values the schema's compiler makes (see `validate_event`).
const COMPILED: [&str; 3] = ["category_uid", "class_uid", "type_uid"];

/// One attribute as a class or object has it: the dictionary's definition with the
/// class's or object's fields over it, and the profile that brings it, if any.
#[derive(Clone, Debug)]
pub struct Attr {
    pub def: Map<String, Value>,
    pub profile: Option<String>,
}

impl Attr {
    fn requirement(&self) -> &str {
        self.def
            .get("requirement")
            .and_then(Value::as_str)
            .unwrap_or("optional")
    }
}

/// A class's or an object's attributes and constraints.
pub struct Shape {
    pub attrs: BTreeMap<String, Attr>,
    pub constraints: Map<String, Value>,
    /// The file's JSON (its caption, uid, category).
    pub file: Value,
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (is it vendored?)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every JSON file under `dir`, by its `name`.
fn by_name(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let v = read(&p);
                let name = v["name"].as_str().unwrap().to_string();
                out.insert(name, v);
            }
        }
    }
    out
}

/// `over`'s fields over `base`'s.
fn overlay(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        base.insert(k.clone(), v.clone());
    }
}

impl Schema {
    pub fn load(root: &Path) -> Schema {
        let dict = read(&root.join("dictionary.json"));
        let types = dict["types"]["attributes"].as_object().unwrap().clone();
        Schema {
            root: root.to_path_buf(),
            classes: by_name(&root.join("events")),
            objects: by_name(&root.join("objects")),
            dictionary: dict["attributes"].as_object().unwrap().clone(),
            types,
            categories: read(&root.join("categories.json"))["attributes"]
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    /// The attributes of a class or object file, resolving `extends` and `$include`.
    fn shape_of(&self, file: &Value, index: &BTreeMap<String, Value>) -> Shape {
        let mut shape = match file.get("extends").and_then(Value::as_str) {
            Some(parent) => {
                let p = index
                    .get(parent)
                    .unwrap_or_else(|| panic!("{parent} is not vendored"));
                self.shape_of(p, index)
            }
            None => Shape {
                attrs: BTreeMap::new(),
                constraints: Map::new(),
                file: Value::Null,
            },
        };
        let own = file["attributes"].as_object().cloned().unwrap_or_default();
        let includes = own.get("$include").and_then(Value::as_array);
        for inc in includes.into_iter().flatten() {
            let path = inc.as_str().unwrap();
            let f = read(&self.root.join(path));
            let profile = path
                .starts_with("profiles/")
                .then(|| f["name"].as_str().unwrap().to_string());
            self.add_attrs(&mut shape, f["attributes"].as_object().unwrap(), &profile);
        }
        self.add_attrs(&mut shape, &own, &None);
        if let Some(c) = file.get("constraints").and_then(Value::as_object) {
            shape.constraints = c.clone();
        }
        shape.file = file.clone();
        shape
    }

    fn add_attrs(&self, shape: &mut Shape, attrs: &Map<String, Value>, profile: &Option<String>) {
        for (name, def) in attrs {
            if name == "$include" {
                continue;
            }
            let def = def.as_object().unwrap();
            let a = shape.attrs.entry(name.clone()).or_insert_with(|| Attr {
                def: self
                    .dictionary
                    .get(name)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name} is not in the dictionary")),
                profile: profile.clone(),
            });
            overlay(&mut a.def, def);
            if profile.is_none() {
                // The class's own word on an included attribute: it is the class's.
                a.profile = a.profile.take().filter(|_| def.is_empty());
            }
        }
    }

    pub fn class(&self, name: &str) -> Shape {
        let f = self
            .classes
            .get(name)
            .unwrap_or_else(|| panic!("class {name} is not vendored"));
        self.shape_of(f, &self.classes)
    }

    pub fn object(&self, name: &str) -> Shape {
        let f = self
            .objects
            .get(name)
            .unwrap_or_else(|| panic!("object {name} is not vendored"));
        self.shape_of(f, &self.objects)
    }

    /// The category's uid and caption.
    pub fn category(&self, name: &str) -> (u64, String) {
        let c = &self.categories[name];
        (
            c["uid"].as_u64().unwrap(),
            c["caption"].as_str().unwrap().to_string(),
        )
    }

    /// What is wrong with `event` as an event of `class`, one line each (empty when it
    /// conforms).
    pub fn validate_event(&self, class: &str, event: &Value) -> Vec<String> {
        let profiles: BTreeSet<String> = event["metadata"]["profiles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let shape = self.class(class);
        let mut errors = Vec::new();
        self.validate(&shape, event, class, &profiles, &mut errors);
        // The class's numbers and names, as the schema makes them.
        let category = shape.file["category"].as_str().unwrap();
        let (cat_uid, cat_caption) = self.category(category);
        let class_uid = cat_uid * 1000 + shape.file["uid"].as_u64().unwrap();
        let caption = shape.file["caption"].as_str().unwrap();
        let activity = event["activity_id"].as_u64().unwrap_or(u64::MAX);
        let activity_caption = shape.attrs["activity_id"].def["enum"][activity.to_string()]
            ["caption"]
            .as_str()
            .unwrap_or("?");
        for (attr, want) in [
            ("category_uid", Value::from(cat_uid)),
            ("category_name", Value::from(cat_caption)),
            ("class_uid", Value::from(class_uid)),
            ("class_name", Value::from(caption)),
            ("type_uid", Value::from(class_uid * 100 + activity)),
            (
                "type_name",
                Value::from(format!("{caption}: {activity_caption}")),
            ),
        ] {
            if event.get(attr).is_some_and(|v| v != &want) {
                errors.push(format!("{class}.{attr} is {}, not {want}", event[attr]));
            }
        }
        errors
    }

    fn validate(
        &self,
        shape: &Shape,
        value: &Value,
        path: &str,
        profiles: &BTreeSet<String>,
        errors: &mut Vec<String>,
    ) {
        let Some(obj) = value.as_object() else {
            errors.push(format!("{path} is not an object"));
            return;
        };
        let applies = |a: &Attr| a.profile.as_ref().is_none_or(|p| profiles.contains(p));
        for (name, a) in &shape.attrs {
            let present = obj.get(name).is_some_and(|v| !v.is_null());
            if a.requirement() == "required" && applies(a) && !present {
                errors.push(format!("{path}.{name} is required"));
            }
        }
        for (kind, list) in &shape.constraints {
            let names: Vec<&str> = list
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let n = names
                .iter()
                .filter(|n| obj.get(**n).is_some_and(|v| !v.is_null()))
                .count();
            let ok = match kind.as_str() {
                "at_least_one" => n >= 1,
                "just_one" => n == 1,
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: {kind} of {names:?}"));
            }
        }
        for (name, v) in obj {
            let Some(a) = shape.attrs.get(name).filter(|a| applies(a)) else {
                errors.push(format!("{path}.{name} is not an attribute here"));
                continue;
            };
            if v.is_null() {
                continue;
            }
            let at = format!("{path}.{name}");
            let mut a = a.clone();
            if COMPILED.contains(&name.as_str()) {
                // Their enums in the source files are placeholders; the schema's
                // compiler makes them from the category's and class's uids, as
                // `validate_event` does.
                a.def.remove("enum");
            }
            let a = &a;
            if a.def.get("is_array").and_then(Value::as_bool) == Some(true) {
                match v.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.check_value(a, item, &format!("{at}[{i}]"), profiles, errors);
                        }
                    }
                    None => errors.push(format!("{at} is not an array")),
                }
            } else {
                self.check_value(a, v, &at, profiles, errors);
            }
            // A caption beside an enum's id (`severity` beside `severity_id`).
            if let (Some(id), Some(e)) = (name.strip_suffix("_id"), a.def.get("enum")) {
                for sibling in [id.to_string(), format!("{id}_name")] {
                    if let Some(text) = obj.get(&sibling).and_then(Value::as_str) {
                        let want = e[v.to_string()]["caption"].as_str();
                        if want.is_some_and(|w| w != text) {
                            errors.push(format!(
                                "{path}.{sibling} is {text:?}, but {name} {v} is {want:?}"
                            ));
                        }
                    }
                }
            }
        }
    }

    fn check_value(
        &self,
        a: &Attr,
        v: &Value,
        at: &str,
        profiles: &BTreeSet<String>,
        errors: &mut Vec<String>,
    ) {
        let ty = a.def["type"].as_str().unwrap();
        match self.types.get(ty) {
            Some(t) => {
                let base = t["type"].as_str().unwrap_or(ty);
                let ok = match (ty, base) {
                    ("json_t", _) => true,
                    (_, "integer_t" | "long_t") | ("integer_t" | "long_t", _) => {
                        v.is_i64() || v.is_u64()
                    }
                    ("float_t", _) | (_, "float_t") => v.is_number(),
                    ("boolean_t", _) | (_, "boolean_t") => v.is_boolean(),
                    _ => v.is_string(),
                };
                if !ok {
                    errors.push(format!("{at} is {v}, not a {ty}"));
                }
                if let Some([lo, hi]) = t["range"].as_array().map(|r| [&r[0], &r[1]]) {
                    let (lo, hi) = (lo.as_i64().unwrap(), hi.as_i64().unwrap());
                    if v.as_i64().is_some_and(|n| n < lo || n > hi) {
                        errors.push(format!("{at} is {v}, out of {ty}'s range"));
                    }
                }
                if let Some(e) = a.def.get("enum").and_then(Value::as_object) {
                    if !e.contains_key(&v.to_string()) {
                        errors.push(format!("{at} is {v}, not one of {:?}", e.keys()));
                    }
                }
            }
            None => {
                let shape = self.object(ty);
                self.validate(&shape, v, at, profiles, errors);
            }
        }
    }
}
