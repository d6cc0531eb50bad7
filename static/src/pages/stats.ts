// A container's resource use, charted as it arrives (about once a second) over the last two
// minutes, with the latest figures in words beside the charts for people who cannot see them.

import uPlot from "uplot";
import { api } from "../api";
import { startStream } from "../components/stream";
import { el } from "../dom";
import { errorText, t } from "../i18n";
import type { PageContext } from "../page";
import type { ContainerView as Container } from "../generated/api";

/** Seconds of history the charts keep. */
const WINDOW_S = 120;
const MIB = 1024 * 1024;

export async function statsPage(app: HTMLElement, { arg: id, onLeave }: PageContext) {
  const container = await api<Container>("GET", `/containers/${id}`);
  const times: number[] = [];
  const cpu: number[] = [];
  const memory: number[] = [];
  const received: number[] = [];
  const sent: number[] = [];
  let previous: { at: number; rx: number; tx: number } | null = null;

  const figure = (key: Parameters<typeof t>[0]) => {
    const value = el("dd", {}, "–");
    return { value, row: [el("dt", {}, t(key)), value] };
  };
  const cpuNow = figure("cpu");
  const memoryNow = figure("memory");
  const pidsNow = figure("processes");
  const netNow = figure("network");
  const summary = el(
    "dl",
    { className: "figures", role: "status", "aria-label": t("latestFigures") },
    ...cpuNow.row,
    ...memoryNow.row,
    ...pidsNow.row,
    ...netNow.row,
  );
  const problem = el("div");
  const panels = el("div", { className: "charts" });

  const width = () => Math.max(280, Math.min(panels.clientWidth || 600, 1100));
  const chart = (title: string, series: uPlot.Series[], data: number[][]) => {
    const holder = el("figure", { className: "chart", "aria-label": title }, el("figcaption", {}, title));
    panels.append(holder);
    return new uPlot(
      {
        width: width(),
        height: 160,
        series: [{}, ...series],
        axes: [{}, { size: 60 }],
        scales: { x: { time: true } },
        legend: { show: series.length > 1 },
      },
      [times, ...data] as uPlot.AlignedData,
      holder,
    );
  };

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, t("statsOf", { name: container.name })),
    problem,
    summary,
    panels,
  );
  const charts = [
    chart(t("cpuPercent"), [{ label: "CPU %", stroke: "#2b6cb0", fill: "#2b6cb022" }], [cpu]),
    chart(t("memoryMib"), [{ label: "MiB", stroke: "#2f855a", fill: "#2f855a22" }], [memory]),
    chart(
      t("networkKibs"),
      [
        { label: t("received"), stroke: "#b7791f" },
        { label: t("sent"), stroke: "#805ad5" },
      ],
      [received, sent],
    ),
  ];
  const data = (): uPlot.AlignedData[] => [
    [times, cpu],
    [times, memory],
    [times, received, sent],
  ];
  const observer = new ResizeObserver(() => charts.forEach((c) => c.setSize({ width: width(), height: 160 })));
  observer.observe(panels);

  const stream = await startStream(
    {
      onMessage: (message) => {
        if (message.type === "stats") {
          const now = Date.now() / 1000;
          // Network counters only grow: the rate is the change since the last sample.
          const span = previous ? now - previous.at : 0;
          const rx = previous && span > 0 ? (message.net_rx_bytes - previous.rx) / 1024 / span : 0;
          const tx = previous && span > 0 ? (message.net_tx_bytes - previous.tx) / 1024 / span : 0;
          previous = { at: now, rx: message.net_rx_bytes, tx: message.net_tx_bytes };
          times.push(now);
          cpu.push(message.cpu_percent);
          memory.push(message.memory_bytes / MIB);
          received.push(Math.max(0, rx));
          sent.push(Math.max(0, tx));
          while (times.length && times[0] < now - WINDOW_S) {
            for (const series of [times, cpu, memory, received, sent]) series.shift();
          }
          const sets = data();
          charts.forEach((c, i) => c.setData(sets[i]));
          cpuNow.value.textContent = `${message.cpu_percent.toFixed(1)} %`;
          memoryNow.value.textContent = message.memory_limit
            ? t("ofLimit", { used: (message.memory_bytes / MIB).toFixed(1), limit: (message.memory_limit / MIB).toFixed(0) })
            : `${(message.memory_bytes / MIB).toFixed(1)} MiB`;
          pidsNow.value.textContent = String(message.pids);
          netNow.value.textContent = `↓ ${rx.toFixed(1)} KiB/s · ↑ ${tx.toFixed(1)} KiB/s`;
        }
      },
      onEnd: () => problem.replaceChildren(el("p", { role: "status" }, t("notRunning"))),
      onError: (code, message) =>
        problem.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(code, message))),
    },
    (stream) => ({ type: "stats", stream, container: container.id }),
  );
  onLeave(() => {
    observer.disconnect();
    stream.cancel();
    charts.forEach((c) => c.destroy());
  });
}
