// Images on a host: a fuzzy filter (the server ranks the matches), pull with a progress bar per
// layer, build from a pasted Dockerfile or an uploaded context with the log live, load and
// import tars with upload progress, export, tag and remove.

import { api, download, myRole, upload } from "../api";
import { actionButton, confirmButton } from "../components/buttons";
import { alertBox } from "../components/problem";
import { startStream, type StreamHandle } from "../components/stream";
import { actionsCell, table } from "../components/table";
import { el } from "../dom";
import { errorText, t } from "../i18n";
import { splitRef } from "../lib/refs";
import type { PageContext } from "../page";
import type { HostStatus as Host, ImageView as Image, RegistryView as Registry } from "../generated/api";

const MIB = 1024 * 1024;
const shortId = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);

export async function imagesPage(app: HTMLElement, { onLeave }: PageContext) {
  const role = await myRole();
  const staff = role !== "student";
  // Only teachers and admins see the hosts; everyone else works on `local`.
  const hosts = staff ? await api<Host[]>("GET", "/hosts").catch(() => [] as Host[]) : [];
  const registries = await api<Registry[]>("GET", "/registries").catch(() => [] as Registry[]);
  const problem = el("div");
  const list = el("div");
  const streams = new Set<StreamHandle>(); // live pulls and builds, cancelled when the page is left

  const hostPicker = el(
    "select",
    { id: "image-host" },
    ...(hosts.length ? hosts : [{ name: "local" } as Host]).map((h) => el("option", { value: h.name }, h.name)),
  );
  const onHost = () => `host=${encodeURIComponent(hostPicker.value)}`;
  const filter = el("input", { id: "image-filter", type: "search", placeholder: "busybx" });

  const refresh = async () => {
    try {
      const q = filter.value.trim();
      const images = await api<Image[]>("GET", `/images?${onHost()}${q ? `&q=${encodeURIComponent(q)}` : ""}`);
      list.replaceChildren(imageTable(images, context));
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  filter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(refresh, 150);
  });
  hostPicker.addEventListener("change", refresh);

  /** Runs `work`, shows its failure in words, and lists the images again. */
  const acting = async (work: () => Promise<unknown>) => {
    problem.replaceChildren();
    try {
      await work();
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
    await refresh();
  };

  const context: ImagesPage = { staff, hostPicker, onHost, problem, refresh, acting, streams };
  const sections: HTMLElement[] = [pullForm(context, registries)];
  if (staff) sections.push(buildForm(context), tarForms(context));

  app.replaceChildren(
    el("h1", {}, t("images")),
    el(
      "div",
      { className: "toolbar" },
      el("label", { htmlFor: "image-filter" }, t("filter")),
      filter,
      el("label", { htmlFor: "image-host" }, t("host")),
      hostPicker,
    ),
    problem,
    list,
    ...sections,
  );
  await refresh();
  onLeave(() => streams.forEach((stream) => stream.cancel()));
}

/** What loading (`loaded`) or importing (`tag`) a tar answers. */
type TarAnswer = { loaded?: string[]; tag?: string };

/** What the parts of the images page share. */
type ImagesPage = {
  staff: boolean;
  hostPicker: HTMLSelectElement;
  /** The query naming the chosen host. */
  onHost: () => string;
  problem: HTMLElement;
  refresh: () => Promise<void>;
  /** Runs `work`, shows its failure in words, and lists the images again. */
  acting: (work: () => Promise<unknown>) => Promise<void>;
  /** Live pulls and builds, cancelled when the page is left. */
  streams: Set<StreamHandle>;
};

function imageTable(images: Image[], page: ImagesPage) {
  const { staff, onHost, acting } = page;
  if (images.length === 0) return el("p", {}, t("noImages"));
  const actions = (image: Image, name: string) => [
    actionButton(t("tagImage", { name }), t("tag"), () => {
      const answer = prompt(t("newTag", { name }), splitRef(name)[0]);
      if (!answer?.trim()) return;
      const [repo, tag] = splitRef(answer.trim());
      acting(() => api("POST", `/images/${encodeURIComponent(image.id)}/tag?${onHost()}`, { repo, tag }));
    }),
    actionButton(t("exportImage", { name }), t("export"), () =>
      acting(() => download(`/images/${encodeURIComponent(name)}/export?${onHost()}`, `${name.replace(/[/:]/g, "_")}.tar`)),
    ),
    confirmButton(`${t("remove")} ${name}`, t("remove"), t("confirmRemoveImage", { name }), () =>
      acting(() => api("DELETE", `/images/${encodeURIComponent(name)}?${onHost()}`)),
    ),
  ];
  const rows = images.map((image) => {
    const name = image.tags[0] ?? shortId(image.id);
    return [
      image.tags.length ? image.tags.join(", ") : `<${t("untagged")}>`,
      shortId(image.id),
      `${(image.size / MIB).toFixed(1)} MiB`,
      new Date(image.created * 1000).toLocaleDateString(),
      // The engine says -1 when it did not count.
      image.containers >= 0 ? String(image.containers) : "–",
      actionsCell(...(staff ? actions(image, name) : [])),
    ];
  });
  const headers = [t("tags"), "ID", t("size"), t("createdOn"), t("containers"), t("actions")];
  return table(t("images"), headers, rows);
}

/** A pull's progress: a bar per layer, and the other statuses in words. */
class PullProgress {
  readonly status = el("p", { role: "status", "aria-label": t("pullStatus") });
  readonly layers = el("div", { className: "layers" });
  private bars = new Map<string, { bar: HTMLProgressElement; status: HTMLElement }>();

  reset() {
    this.layers.replaceChildren();
    this.bars.clear();
    this.status.textContent = t("pulling");
  }

  show(id: string | undefined, status: string, current?: number, total?: number) {
    // Layers are named by a short digest; other ids (the tag being pulled) are status.
    if (id === undefined || !/^[0-9a-f]{12}$/.test(id)) {
      this.status.textContent = id ? `${id}: ${status}` : status;
      return;
    }
    let layer = this.bars.get(id);
    if (!layer) {
      layer = { bar: el("progress", { max: 1, value: 0, "aria-label": t("layer", { id }) }), status: el("span", {}) };
      this.bars.set(id, layer);
      this.layers.append(el("div", { className: "layer" }, el("code", {}, id), layer.bar, layer.status));
    }
    if (total) {
      layer.bar.max = total;
      layer.bar.value = current ?? 0;
    } else if (/complete|already exists/i.test(status)) {
      layer.bar.max = 1;
      layer.bar.value = 1;
    }
    layer.status.textContent = status;
  }
}

/** Pull, with a progress bar per layer. */
function pullForm(page: ImagesPage, registries: Registry[]) {
  const { hostPicker, problem, refresh, streams } = page;
  const image = el("input", { id: "pull-image", required: true, placeholder: "python:3.12-slim" });
  const registry = el(
    "select",
    { id: "pull-registry" },
    el("option", { value: "" }, t("byImageName")),
    ...registries.map((r) => el("option", { value: r.id }, `${r.name} (${r.server})`)),
  );
  const progress = new PullProgress();
  const pull = async () => {
    progress.reset();
    const failed = (text: string) => {
      streams.delete(handle);
      progress.status.textContent = "";
      problem.replaceChildren(el("p", { className: "error", role: "alert" }, text));
    };
    const handle: StreamHandle = await startStream(
      {
        onMessage: (message) => {
          if (message.type === "progress" && "status" in message) {
            progress.show(message.id, message.status ?? "", message.current, message.total);
          }
        },
        onEnd: () => {
          streams.delete(handle);
          progress.status.textContent = t("pulled", { image: image.value.trim() });
          refresh();
        },
        onError: (code, message) => failed(pullFailure({ code, message })),
        onLost: () => failed(t("stoppedByDrop")),
      },
      (stream) => ({
        type: "pull",
        stream,
        image: image.value.trim(),
        host: hostPicker.value,
        ...(registry.value ? { registry: registry.value } : {}),
      }),
    );
    streams.add(handle);
  };
  return el(
    "form",
    {
      className: "card inline",
      "aria-label": t("pull"),
      onsubmit: (event: Event) => {
        event.preventDefault();
        pull();
      },
    },
    el("h2", {}, t("pull")),
    el("label", { htmlFor: "pull-image" }, t("image")),
    image,
    el("label", { htmlFor: "pull-registry" }, t("registry")),
    registry,
    el("button", { type: "submit" }, t("pull")),
    progress.status,
    progress.layers,
  );
}

/** Build from a pasted Dockerfile or an uploaded context, the log live. */
function buildForm(page: ImagesPage) {
  const { hostPicker, problem, refresh, streams } = page;
  const tag = el("input", { id: "build-tag", required: true, placeholder: "lab/python:1" });
  const dockerfile = el("textarea", { id: "build-dockerfile", rows: 6, placeholder: "FROM python:3.12-slim\nRUN pip install numpy" });
  const context = el("input", { id: "build-context", type: "file", accept: ".tar,application/x-tar" });
  const progress = el("progress", { max: 1, value: 0, "aria-label": t("uploadProgress"), hidden: true });
  // Shown once a build starts: an empty black box says nothing.
  const log = el("pre", { className: "output", role: "log", "aria-label": t("buildLog"), hidden: true });
  return el(
    "form",
    {
      className: "card inline",
      "aria-label": t("build"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        problem.replaceChildren();
        log.textContent = "";
        log.hidden = false;
        const file = context.files?.[0];
        const body = file ?? new Blob([dockerfile.value], { type: "text/plain" });
        if (!file && !dockerfile.value.trim()) {
          problem.replaceChildren(el("p", { className: "error", role: "alert" }, t("needDockerfile")));
          return;
        }
        try {
          progress.hidden = false;
          const made = await upload<{ context: string }>("POST", "/builds/contexts", body, (sent, total) => {
            progress.max = total;
            progress.value = sent;
          });
          const line = (text: string) => (log.textContent += text.endsWith("\n") ? text : `${text}\n`);
          const handle: StreamHandle = await startStream(
            {
              onMessage: (message) => {
                if (message.type === "progress" && "log" in message) line(message.log);
              },
              onEnd: () => {
                streams.delete(handle);
                line(`\n${t("built", { tag: tag.value.trim() })}`);
                refresh();
              },
              onError: (code, message) => {
                streams.delete(handle);
                line(`\n${errorText(code, message)}`);
              },
              onLost: () => {
                streams.delete(handle);
                line(`\n${t("stoppedByDrop")}`);
              },
            },
            (stream) => ({ type: "build", stream, context: made.context, tag: tag.value.trim(), host: hostPicker.value }),
          );
          streams.add(handle);
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("h2", {}, t("build")),
    el("label", { htmlFor: "build-tag" }, t("tag")),
    tag,
    el("label", { htmlFor: "build-dockerfile" }, t("dockerfile")),
    dockerfile,
    el("label", { htmlFor: "build-context" }, t("orContext")),
    context,
    el("button", { type: "submit" }, t("build")),
    progress,
    log,
  );
}

/** Load a `docker save` tar, or import a root filesystem, with upload progress. */
function tarForms(page: ImagesPage) {
  const { onHost, problem, acting } = page;
  const file = el("input", { id: "tar-file", type: "file", accept: ".tar,application/x-tar", required: true });
  const repo = el("input", { id: "import-repo", placeholder: "lab/rootfs" });
  const progress = el("progress", { max: 1, value: 0, "aria-label": t("uploadProgress"), hidden: true });
  const status = el("p", { role: "status", "aria-label": t("tarStatus") });
  const send = (path: string, done: (answer: TarAnswer) => string) =>
    acting(async () => {
      const chosen = file.files?.[0];
      if (!chosen) throw new Error(t("chooseFile"));
      status.textContent = "";
      progress.hidden = false;
      const answer = await upload<TarAnswer>("POST", path, chosen, (sent, total) => {
        progress.max = total;
        progress.value = sent;
      });
      status.textContent = done(answer);
    });
  return el(
    "form",
    { className: "card inline", "aria-label": t("loadOrImport"), onsubmit: (e: Event) => e.preventDefault() },
    el("h2", {}, t("loadOrImport")),
    el("label", { htmlFor: "tar-file" }, t("tarFile")),
    file,
    el("label", { htmlFor: "import-repo" }, t("importAs")),
    repo,
    el(
      "div",
      { className: "buttons" },
      el(
        "button",
        {
          type: "button",
          onclick: () => send(`/images/load?${onHost()}`, (a) => t("loaded", { images: (a.loaded ?? []).join(", ") })),
        },
        t("load"),
      ),
      el(
        "button",
        {
          type: "button",
          onclick: () => {
            const [name, tag] = splitRef(repo.value.trim());
            if (!name) return problem.replaceChildren(el("p", { className: "error", role: "alert" }, t("needRepo")));
            const query = `repo=${encodeURIComponent(name)}${tag ? `&tag=${encodeURIComponent(tag)}` : ""}`;
            send(`/images/import?${query}&${onHost()}`, (a) => t("imported", { tag: a.tag ?? "" }));
          },
        },
        t("import"),
      ),
    ),
    progress,
    status,
  );
}

/** Why a pull failed; the engine's words for a missing login ("no basic auth credentials",
 * "unauthorized", "denied") get a hint of what to do. */
function pullFailure(message: { code: string; message: string }): string {
  const text = errorText(message.code, message.message);
  return /auth|denied/i.test(message.message) ? `${text} ${t("pullNeedsLogin")}` : text;
}
