// Workspace templates, for teachers and admins: the list, and one form to make a template or
// change one (its image, limits, network, the command that runs each kind of file, and the
// starter files, edited in an editor). Only a template's maker or an admin may change or delete
// it; the server says so when someone else tries.

import { api, ApiFailure } from "../api";
import { actionButton, confirmButton } from "../components/buttons";
import { field } from "../components/form";
import { Problem } from "../components/problem";
import { actionsCell, table } from "../components/table";
import { FilesEditor } from "../components/files-editor";
import { el } from "../dom";
import type { ImageView, Template, TemplateSpec, User } from "../generated/api";
import { t } from "../i18n";
import { formatRunCommands, parseRunCommands } from "../lib/run-commands";
import type { PageContext } from "../page";

/** A template's limits in a few words. */
function limitsOf(spec: TemplateSpec): string {
  const parts = [];
  if (spec.memory_mb) parts.push(`${spec.memory_mb} MiB`);
  if (spec.cpus) parts.push(`${spec.cpus} CPU`);
  if (spec.pids) parts.push(t("pidsLimitShort", { n: spec.pids }));
  parts.push(spec.network === "bridge" ? t("withNetwork") : t("noNetwork"));
  return parts.join(" · ");
}

export async function templatesPage(app: HTMLElement, { onLeave }: PageContext) {
  const [me, images] = await Promise.all([
    api<User>("GET", "/me"),
    api<ImageView[]>("GET", "/images").catch(() => [] as ImageView[]),
  ]);
  const problem = new Problem();
  const list = el("div");
  const form = new TemplateForm(images, problem, () => refresh());
  const refresh = async () => {
    try {
      const templates = await api<Template[]>("GET", "/templates");
      list.replaceChildren(templateTable(templates, me, form, problem, refresh));
    } catch (error) {
      problem.show(error);
    }
  };
  app.replaceChildren(el("h1", {}, t("templates")), problem.node, list, form.node);
  await refresh();
  onLeave(() => form.destroy());
}

function templateTable(
  templates: Template[],
  me: User,
  form: TemplateForm,
  problem: Problem,
  refresh: () => Promise<void>,
) {
  if (templates.length === 0) return el("p", {}, t("noTemplates"));
  const rows = templates.map((template) => {
    const mine = template.created_by === me.id || me.role === "admin";
    const remove = async () => {
      const path = `/templates/${encodeURIComponent(template.id)}`;
      await problem.guard(async () => {
        try {
          await api("DELETE", path);
        } catch (error) {
          // Workspaces use it: deleting it then only hides it, which the teacher must say.
          if (!(error instanceof ApiFailure && error.code === "conflict")) throw error;
          if (!confirm(t("templateInUse", { name: template.name }))) return;
          await api("DELETE", `${path}?force=true`);
        }
        await refresh();
      });
    };
    const actions = mine
      ? [
          actionButton(t("editTemplate", { name: template.name }), t("edit"), () => form.edit(template)),
          confirmButton(`${t("remove")} ${template.name}`, t("remove"), t("confirmRemoveTemplate", { name: template.name }), remove),
        ]
      : [];
    return [
      template.name,
      template.image,
      limitsOf(template),
      template.created_by === me.id ? t("you") : (template.created_by ?? "–"),
      actionsCell(...actions),
    ];
  });
  return table(t("templates"), [t("name"), t("image"), t("limits"), t("madeBy"), t("actions")], rows);
}

/** The form that makes a template, or changes the one being edited. */
class TemplateForm {
  readonly node: HTMLFormElement;
  private editing: Template | null = null;
  private readonly heading = el("h2", {}, t("newTemplate"));
  private readonly name = field("tpl-name", t("name"), { required: true, placeholder: "Python 3" });
  private readonly image = field("tpl-image", t("image"), { required: true, list: "tpl-images" });
  private readonly description = field("tpl-description", t("description"));
  private readonly memory = field("tpl-memory", t("memoryLimit"), { type: "number", min: 16, step: 16 });
  private readonly cpus = field("tpl-cpus", t("cpusLimit"), { type: "number", min: 0.1, step: 0.1 });
  private readonly pids = field("tpl-pids", t("pidsLimit"), { type: "number", min: 16, step: 1 });
  private readonly idle = field("tpl-idle", t("idleMinutes"), { type: "number", min: 1, step: 1 });
  private readonly network = el(
    "select",
    { id: "tpl-network" },
    el("option", { value: "none" }, t("noNetworkOption")),
    el("option", { value: "bridge" }, t("bridgeNetwork")),
  );
  private readonly run = el("textarea", { id: "tpl-run", rows: 3, placeholder: ".py: python3 {file}\n.sh: sh {file}" });
  private readonly files = new FilesEditor("tpl", {
    files: t("starterFiles"),
    newFile: t("newStarterFile"),
    add: t("addFile"),
    remove: t("removeStarterFile"),
    text: t("starterText"),
    none: t("noStarterFiles"),
  });

  constructor(
    images: ImageView[],
    private readonly problem: Problem,
    private readonly saved: () => Promise<void>,
  ) {
    const names = el("datalist", { id: "tpl-images" }, ...images.flatMap((i) => i.tags).map((tag) => el("option", { value: tag })));
    const cancel = actionButton(t("cancel"), t("cancel"), () => this.reset());
    this.node = el(
      "form",
      {
        className: "card inline",
        "aria-label": t("templateForm"),
        onsubmit: (event: Event) => {
          event.preventDefault();
          this.save();
        },
      },
      this.heading,
      ...this.name.nodes,
      ...this.image.nodes,
      names,
      ...this.description.nodes,
      ...this.memory.nodes,
      ...this.cpus.nodes,
      ...this.pids.nodes,
      el("label", { htmlFor: "tpl-network" }, t("network")),
      this.network,
      ...this.idle.nodes,
      el("label", { htmlFor: "tpl-run" }, t("runCommands")),
      this.run,
      ...this.files.nodes,
      el("div", { className: "buttons" }, el("button", { type: "submit" }, t("saveTemplate")), cancel),
    );
    this.reset();
  }

  /** Fills the form with `template`, to change it. */
  edit(template: Template) {
    this.editing = template;
    this.heading.textContent = t("editTemplate", { name: template.name });
    this.name.input.value = template.name;
    this.image.input.value = template.image;
    this.description.input.value = template.description ?? "";
    this.memory.input.value = template.memory_mb ? String(template.memory_mb) : "";
    this.cpus.input.value = template.cpus ? String(template.cpus) : "";
    this.pids.input.value = template.pids ? String(template.pids) : "";
    this.idle.input.value = template.idle_timeout_s ? String(Math.round(template.idle_timeout_s / 60)) : "";
    this.network.value = template.network;
    this.run.value = formatRunCommands(template.run);
    this.files.set(template.files);
    this.node.scrollIntoView();
    this.name.input.focus();
  }

  /** An empty form, for a new template. */
  reset() {
    this.editing = null;
    this.heading.textContent = t("newTemplate");
    for (const input of [this.name, this.image, this.description, this.memory, this.cpus, this.pids, this.idle]) {
      input.input.value = "";
    }
    this.network.value = "none";
    this.run.value = "";
    this.files.set({});
  }

  private async save() {
    const parsed = parseRunCommands(this.run.value);
    if ("bad" in parsed) return this.problem.show(new Error(t("badRunLine", { line: parsed.bad })));
    const number = (input: HTMLInputElement) => (input.value ? Number(input.value) : null);
    const minutes = number(this.idle.input);
    const spec = {
      name: this.name.input.value.trim(),
      image: this.image.input.value.trim(),
      description: this.description.input.value.trim() || null,
      memory_mb: number(this.memory.input),
      cpus: number(this.cpus.input),
      pids: number(this.pids.input),
      network: this.network.value,
      idle_timeout_s: minutes === null ? null : minutes * 60,
      run: parsed.run,
      files: this.files.value(),
    };
    const editing = this.editing;
    const done = await this.problem.guard(() =>
      editing
        ? api("PATCH", `/templates/${encodeURIComponent(editing.id)}`, spec)
        : api("POST", "/templates", spec),
    );
    if (!done) return;
    this.problem.note(t("templateSaved", { name: spec.name }));
    this.reset();
    await this.saved();
  }

  destroy() {
    this.files.destroy();
  }
}
