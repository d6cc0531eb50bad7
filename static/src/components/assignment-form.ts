// A teacher's form for a new assignment of a course: its title, template, Markdown
// instructions, due time, starter files, and a check (a shell line run on each submission)
// with hidden files students never see.

import { api } from "../api";
import { el } from "../dom";
import type { AssignmentView, Template } from "../generated/api";
import { t } from "../i18n";
import { FilesEditor } from "./files-editor";
import { field } from "./form";
import type { Problem } from "./problem";

export class AssignmentForm {
  readonly node: HTMLFormElement;
  private readonly title = field("asg-title", t("title"), { required: true });
  private readonly template: HTMLSelectElement;
  private readonly instructions = el("textarea", { id: "asg-instructions", rows: 5, placeholder: t("instructionsHint") });
  private readonly due = field("asg-due", t("dueTime"), { type: "datetime-local" });
  private readonly acceptLate = el("input", { id: "asg-late", type: "checkbox", checked: true });
  private readonly command = field("asg-check", t("checkCommand"), { placeholder: "python3 test_main.py" });
  private readonly showStudents = el("input", { id: "asg-show", type: "checkbox", checked: true });
  private readonly starter = new FilesEditor("asg", {
    files: t("starterFiles"),
    newFile: t("newStarterFile"),
    add: t("addStarterFile"),
    remove: t("removeStarterFile"),
    text: t("starterText"),
    none: t("noStarterFiles"),
  });
  private readonly hidden = new FilesEditor("asg-hidden", {
    files: t("hiddenFiles"),
    newFile: t("newHiddenFile"),
    add: t("addHiddenFile"),
    remove: t("removeHiddenFile"),
    text: t("hiddenText"),
    none: t("noHiddenFiles"),
  });

  constructor(
    private readonly course: string,
    templates: Template[],
    private readonly problem: Problem,
    private readonly made: (made: AssignmentView) => Promise<void>,
  ) {
    this.template = el(
      "select",
      { id: "asg-template", required: true },
      ...templates.map((template) => el("option", { value: template.id }, template.name)),
    );
    const checkbox = (input: HTMLInputElement, label: string) =>
      el("label", { className: "check-row" }, input, ` ${label}`);
    this.node = el(
      "form",
      {
        className: "card inline",
        "aria-label": t("newAssignment"),
        onsubmit: (event: Event) => {
          event.preventDefault();
          this.save();
        },
      },
      el("h2", {}, t("newAssignment")),
      ...this.title.nodes,
      el("label", { htmlFor: "asg-template" }, t("template")),
      this.template,
      el("label", { htmlFor: "asg-instructions" }, t("instructions")),
      this.instructions,
      ...this.due.nodes,
      checkbox(this.acceptLate, t("acceptLate")),
      ...this.starter.nodes,
      ...this.command.nodes,
      checkbox(this.showStudents, t("showCheckToStudents")),
      ...this.hidden.nodes,
      el("div", { className: "buttons" }, el("button", { type: "submit" }, t("handOut"))),
    );
  }

  private async save() {
    const line = this.command.input.value.trim();
    const due = this.due.input.value ? new Date(this.due.input.value).toISOString() : null;
    const body = {
      title: this.title.input.value.trim(),
      template: this.template.value,
      instructions: this.instructions.value,
      due_at: due,
      accept_late: this.acceptLate.checked,
      files: this.starter.value(),
      // A shell line, as a teacher writes it in a terminal.
      check: line ? { command: ["sh", "-c", line], files: this.hidden.value(), show_students: this.showStudents.checked } : null,
    };
    let made: AssignmentView | undefined;
    const done = await this.problem.guard(async () => {
      made = await api<AssignmentView>("POST", `/courses/${encodeURIComponent(this.course)}/assignments`, body);
    });
    if (!done || !made) return;
    this.problem.note(t("assignmentHandedOut", { title: made.title }));
    this.title.input.value = "";
    this.instructions.value = "";
    this.command.input.value = "";
    this.starter.set({});
    this.hidden.set({});
    await this.made(made);
  }

  destroy() {
    this.starter.destroy();
    this.hidden.destroy();
  }
}
