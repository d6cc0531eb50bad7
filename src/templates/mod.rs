//! Workspace templates: what a workspace is made from (an image, limits, a network, the command
//! that runs each kind of file, starter files). Teachers and admins manage them; everyone lists
//! them. Handlers are in `routes::templates`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::ContainerLimits;
use crate::db::{self, Db};
use crate::docker::images::ImageRef;
use crate::docker::policy::Resources;
use crate::error::ApiError;
use crate::names::DisplayName;
use crate::users::User;

/// The longest a template may let a background job run: 30 days.
const MAX_JOB_S: u64 = 30 * 86_400;

/// A template as given and as shown.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    pub image: String,
    pub description: Option<String>,
    pub memory_mb: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
    /// NVIDIA GPUs to give each workspace.
    pub gpus: Option<u32>,
    #[serde(default)]
    pub network: Network,
    pub idle_timeout_s: Option<u64>,
    /// The longest a background job (`detach: true`) of its workspaces runs, in seconds; a day
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub job_max_s: Option<u64>,
    /// How a file is run, by extension: `{".py": ["python3", "{file}"]}`.
    #[serde(default)]
    pub run: BTreeMap<String, Vec<String>>,
    /// Starter files copied into a new workspace: path (relative to /workspace) to text.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// A workspace's network.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Loopback only (the default).
    #[default]
    None,
    /// The engine's bridge: out to the internet as the host allows.
    Bridge,
}

impl Network {
    pub fn as_str(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Bridge => "bridge",
        }
    }

    /// As the database keeps it; anything else is read as no network.
    fn from_stored(text: &str) -> Network {
        match text {
            "bridge" => Network::Bridge,
            _ => Network::None,
        }
    }
}

/// A stored template.
#[derive(Debug, Clone, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Template {
    pub id: String,
    #[serde(flatten)]
    pub spec: TemplateSpec,
    /// The account that made it; only it and admins may change or delete it, since a template's
    /// commands run in every workspace made from it.
    pub created_by: Option<String>,
}

impl Template {
    /// Refuses anyone but the template's creator and admins.
    fn require_changeable_by(&self, user: &User) -> Result<(), ApiError> {
        user.require_staff("manage templates")?;
        if user.is_admin() || self.created_by.as_deref() == Some(user.id.as_str()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "template {} is another teacher's: only they and admins may change it",
                self.spec.name
            )))
        }
    }

    /// The command that runs `file` (relative to /workspace), by its extension.
    pub fn command_for(&self, file: &str) -> Result<Vec<String>, ApiError> {
        let extension = file
            .rsplit('/')
            .next()
            .and_then(|name| name.rfind('.').map(|dot| &name[dot..]))
            .unwrap_or("");
        let command = self.spec.run.get(extension).ok_or_else(|| {
            let known: Vec<&str> = self.spec.run.keys().map(String::as_str).collect();
            ApiError::bad_request(format!(
                "template {} has no command for {:?} files; it runs {}",
                self.spec.name,
                extension,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        Ok(command
            .iter()
            .map(|arg| arg.replace("{file}", file))
            .collect())
    }
}

impl TemplateSpec {
    /// The resources its workspaces get, within the container limits.
    pub fn resources(&self, limits: &ContainerLimits) -> Result<Resources, ApiError> {
        Resources::parse(self.memory_mb, self.cpus, self.pids, "pids", limits)
    }

    /// Checks the spec against the container limits; the reason when it does not fit.
    pub fn check(&self, limits: &ContainerLimits) -> Result<(), ApiError> {
        DisplayName::parse(&self.name)?;
        ImageRef::parse(&self.image)?;
        self.resources(limits)?;
        if self
            .job_max_s
            .is_some_and(|s| !(1..=MAX_JOB_S).contains(&s))
        {
            return Err(ApiError::bad_request(format!(
                "job_max_s must be between 1 and {MAX_JOB_S} seconds (30 days)"
            )));
        }
        if self.gpus.is_some_and(|g| g > 16) {
            return Err(ApiError::bad_request("gpus must be at most 16"));
        }
        for (extension, command) in &self.run {
            if !extension.starts_with('.') || command.is_empty() {
                return Err(ApiError::bad_request(
                    "run maps extensions like \".py\" to a command such as [\"python3\", \"{file}\"]",
                ));
            }
        }
        for path in self.files.keys() {
            crate::workspace_path::WorkspacePath::parse(path)?;
        }
        Ok(())
    }
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(&e))
}

fn from_row(row: db::templates::TemplateRow) -> Result<Template, ApiError> {
    Ok(Template {
        id: row.id,
        spec: TemplateSpec {
            name: row.name,
            image: row.image,
            description: row.description,
            memory_mb: row.memory_mb.map(|m| m as u64),
            cpus: row.cpus,
            pids: row.pids,
            gpus: row.gpus.map(|g| g as u32),
            network: Network::from_stored(&row.network),
            idle_timeout_s: row.idle_timeout_s.map(|s| s as u64),
            job_max_s: row.job_max_s.map(|s| s as u64),
            run: from_json(&row.run)?,
            files: from_json(&row.files)?,
        },
        created_by: row.created_by,
    })
}

fn to_row(
    id: &str,
    spec: &TemplateSpec,
    created_by: Option<String>,
) -> Result<db::templates::TemplateRow, ApiError> {
    Ok(db::templates::TemplateRow {
        id: id.to_string(),
        name: spec.name.clone(),
        image: spec.image.clone(),
        description: spec.description.clone(),
        memory_mb: spec.memory_mb.map(|m| m as i64),
        cpus: spec.cpus,
        pids: spec.pids,
        gpus: spec.gpus.map(i64::from),
        network: spec.network.as_str().to_string(),
        idle_timeout_s: spec.idle_timeout_s.map(|s| s as i64),
        job_max_s: spec.job_max_s.map(|s| s as i64),
        run: to_json(&spec.run)?,
        files: to_json(&spec.files)?,
        created_by,
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal(&e))
}

/// Saves a template under `id` (its creator is kept when it exists); a taken name is a
/// `conflict`.
async fn store(
    db: &Db,
    id: &str,
    spec: &TemplateSpec,
    created_by: Option<String>,
) -> Result<(), ApiError> {
    db::templates::upsert(db, &to_row(id, spec, created_by)?, crate::clock::now_s())
        .await
        .map_err(db::conflict_on_unique(format!(
            "a template named {} exists",
            spec.name
        )))
}

pub async fn list(db: &Db) -> Result<Vec<Template>, ApiError> {
    db::templates::all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// A template derived from `base`: its image with more Dockerfile `lines` (one line each),
/// named `name`, with the rest of its settings. Returns the new template's spec, whose image
/// (`berth-templates/<name>:<time>`) is still to be built, and the Dockerfile that builds it.
pub fn derived(
    base: &Template,
    name: &str,
    lines: &[String],
    limits: &ContainerLimits,
) -> Result<(TemplateSpec, String), ApiError> {
    if lines.iter().any(|line| line.contains('\n')) {
        return Err(ApiError::bad_request(
            "each of lines is one Dockerfile line",
        ));
    }
    let mut spec = base.spec.clone();
    spec.name = name.to_string();
    spec.description = Some(format!("{} with: {}", base.spec.name, lines.join("; ")));
    // An image name may hold only these; a template's name may also hold spaces and capitals.
    let repo: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    spec.image = format!("berth-templates/{repo}:{}", crate::clock::now_s());
    spec.check(limits)?;
    let dockerfile = format!("FROM {}\n{}\n", base.spec.image, lines.join("\n"));
    Ok((spec, dockerfile))
}

/// The template with this id or name.
pub async fn find(db: &Db, id_or_name: &str) -> Result<Template, ApiError> {
    let row = db::templates::find(db, id_or_name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no such template: {id_or_name}")))?;
    from_row(row)
}

/// Stores a new template (teachers and admins).
pub async fn create(
    db: &Db,
    user: &User,
    spec: TemplateSpec,
    limits: &ContainerLimits,
) -> Result<Template, ApiError> {
    user.require_staff("manage templates")?;
    spec.check(limits)?;
    let id = uuid::Uuid::new_v4().to_string();
    store(db, &id, &spec, Some(user.id.clone())).await?;
    tracing::info!(template = %id, name = %spec.name, "template created");
    Ok(Template {
        id,
        spec,
        created_by: Some(user.id.clone()),
    })
}

/// Changes a template: the fields given replace the stored ones. Existing workspaces keep
/// their container until they are made again.
pub async fn update(
    db: &Db,
    user: &User,
    id: &str,
    patch: serde_json::Value,
    limits: &ContainerLimits,
) -> Result<Template, ApiError> {
    let current = find(db, id).await?;
    current.require_changeable_by(user)?;
    let mut merged = serde_json::to_value(&current.spec).map_err(|e| ApiError::internal(&e))?;
    let serde_json::Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "send an object of the fields to change",
        ));
    };
    for (key, value) in patch {
        merged[key] = value;
    }
    let spec: TemplateSpec =
        serde_json::from_value(merged).map_err(|e| ApiError::bad_request(e.to_string()))?;
    spec.check(limits)?;
    store(db, &current.id, &spec, current.created_by.clone()).await?;
    Ok(Template {
        id: current.id,
        spec,
        created_by: current.created_by,
    })
}

/// Deletes a template (teachers and admins). One that workspaces use is refused unless
/// `force`; then it is hidden from the list and from new workspaces, and the workspaces made
/// from it keep working with their files.
pub async fn delete(db: &Db, user: &User, id: &str, force: bool) -> Result<Template, ApiError> {
    let template = find(db, id).await?;
    template.require_changeable_by(user)?;
    let using = db::workspaces::count_using_template(db, &template.id).await?;
    if using > 0 && !force {
        return Err(ApiError::conflict(format!(
            "{using} workspace(s) use template {}; delete them first, or pass force=true",
            template.spec.name
        )));
    }
    db::templates::delete(db, &template.id).await?;
    Ok(template)
}
