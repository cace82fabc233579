// Dashboard: draws the charts from the JSON the server embeds, and refreshes the live block
// when the team's websocket says something changed. Every chart's numbers are also a table,
// and the live block polls on its own (hx-trigger="every 15s"), so the page works without this.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // -- the custom period's date inputs show only when "Custom" is chosen -------------------------
  function wirePeriod() {
    const select = document.getElementById("f-period");
    const dates = document.querySelector(".custom-dates");
    if (!select || !dates) return;
    select.addEventListener("change", () => {
      if (select.value === "custom") dates.removeAttribute("data-hidden");
      else dates.setAttribute("data-hidden", "");
    });
  }

  // -- live updates ---------------------------------------------------------------------------
  // runs.consumers.TeamConsumer sends a frame on connect and after every change of the team:
  // any frame means "re-fetch the live block" (at most once a second however many arrive). The
  // first frame of the page is skipped (the page was just rendered); after a reconnect it is not,
  // since changes may have been missed meanwhile.
  function connectTeamSocket() {
    const live = document.getElementById("live");
    if (!live || !window.WebSocket) return;
    const team = live.dataset.team;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let delay = 1000;
    let timer = null;
    let fresh = true;
    function changed() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (window.htmx) window.htmx.trigger(document.body, "team-changed");
      }, 1000);
    }
    function open() {
      const socket = new WebSocket(`${scheme}://${location.host}/ws/teams/${team}/`);
      socket.addEventListener("open", () => { delay = 1000; });
      socket.addEventListener("message", () => {
        if (fresh) fresh = false;
        else changed();
      });
      socket.addEventListener("close", () => {
        fresh = false;
        // Polling keeps the page live meanwhile; back off up to a minute between attempts.
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 60000);
      });
    }
    open();
  }

  // -- charts -----------------------------------------------------------------------------------
  const css = getComputedStyle(document.documentElement);
  const FALLBACK = ["#2557d6", "#36a3a4", "#d08b1c", "#8b5cc7", "#c9507a", "#5d8f3a", "#6b7280"];

  function colour(value, i) {
    if (value && value.startsWith("var(")) {
      const resolved = css.getPropertyValue(value.slice(4, -1)).trim();
      if (resolved) return resolved;
    }
    return value || FALLBACK[i % FALLBACK.length];
  }

  function span(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 172800) return `${(s / 3600).toFixed(1)}h`;
    return `${(s / 86400).toFixed(1)}d`;
  }

  const FORMAT = {
    int: (v) => Number(v).toLocaleString(),
    hours: (v) => span(v),
    seconds: (v) => span(v),
    usd: (v) => `$${Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 })}`,
    tokens: (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${Math.round(v / 1e3)}k` : `${v}`),
  };

  function day(value) {
    const d = new Date(typeof value === "number" ? value : `${value}T00:00:00Z`);
    return d.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
  }

  function axisFor(unit) {
    const format = FORMAT[unit] || FORMAT.int;
    return { beginAtZero: true, ticks: { callback: (v) => format(v) } };
  }

  function barOrLine(spec) {
    const format = FORMAT[spec.unit] || FORMAT.int;
    return {
      type: spec.type,
      data: {
        labels: spec.xkind === "date" ? spec.x.map(day) : spec.x,
        datasets: spec.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          backgroundColor: colour(s.color, i),
          borderColor: colour(s.color, i),
          borderWidth: spec.type === "line" ? 2 : 0,
          pointRadius: spec.type === "line" ? 0 : undefined,
          fill: false,
          tension: 0.2,
        })),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: spec.series.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(c.parsed.y)}` } },
        },
        scales: { x: { stacked: spec.stacked, grid: { display: false } }, y: { ...axisFor(spec.unit), stacked: spec.stacked } },
      },
    };
  }

  function scatter(spec) {
    const points = spec.x.map((x, i) => ({ x, y: spec.series[0].data[i] }));
    const datasets = [{
      type: "scatter",
      label: spec.series[0].label,
      data: points,
      pointRadius: 2,
      backgroundColor: colour("var(--st-review)", 0) + "88",
    }];
    if (spec.line) {
      datasets.push({
        type: "line",
        label: spec.line.label,
        data: spec.line.x.map((x, i) => ({ x, y: spec.line.data[i] })),
        borderColor: colour("var(--st-done)", 1),
        borderWidth: 2,
        pointRadius: 0,
        spanGaps: true,
      });
    }
    return {
      type: "scatter",
      data: { datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: (c) => `${day(c.parsed.x)}: ${span(c.parsed.y)}` } },
        },
        scales: {
          x: { type: "linear", ticks: { callback: (v) => day(v), maxTicksLimit: 8 } },
          y: { type: "logarithmic", ticks: { callback: (v) => span(v), maxTicksLimit: 8 } },
        },
      },
    };
  }

  function drawCharts() {
    const data = document.getElementById("dashboard-charts");
    if (!data || !window.Chart) return;
    for (const spec of JSON.parse(data.textContent)) {
      const canvas = document.getElementById(spec.id);
      if (!canvas) continue;
      new window.Chart(canvas, spec.type === "scatter" ? scatter(spec) : barOrLine(spec));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    wirePeriod();
    drawCharts();
    connectTeamSocket();
  });
})();
