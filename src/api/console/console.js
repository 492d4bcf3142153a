// tickler operator console: plain DOM, no framework. It talks to the same REST API as everyone else;
// the browser sends the HTTP Basic credentials it logged in with on every same-origin request.
"use strict";

const $ = (selector) => document.querySelector(selector);
const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const local = (iso) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—";
const esc = (text) =>
  String(text ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
const path = (userId, name) => `/v1/users/${encodeURIComponent(userId)}/triggers/${encodeURIComponent(name)}`;

async function api(method, url, body) {
  const res = await fetch(url, {
    method,
    // The header proves the request comes from this page, not a cross-site form (the server checks it).
    headers: {
      "x-requested-with": "tickler-console",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ? `${json.error.message}` : `HTTP ${res.status}`);
  return json;
}

// ---- triggers table -------------------------------------------------------------------------------
let triggers = [];

async function loadTriggers() {
  const user = $("#filter-user").value.trim();
  const url = user ? `/v1/triggers?user_id=${encodeURIComponent(user)}&limit=500` : "/v1/triggers?limit=500";
  try {
    triggers = (await api("GET", url)).items;
    renderTriggers();
  } catch (error) {
    $("#create-error").textContent = `Could not load triggers: ${error.message}`;
  }
}

function written(t) {
  if (t.cron) return `cron ${t.cron}`;
  if (t.every) return `every ${t.every}`;
  if (t.delay) return `delay ${t.delay}`;
  return `at ${t.at}`;
}

function renderTriggers() {
  const body = $("#triggers tbody");
  body.innerHTML = triggers
    .map(
      (t) => `<tr data-id="${esc(t.id)}">
        <td>${esc(t.user_id)}</td>
        <td class="name">${esc(t.name)}</td>
        <td>${esc(t.kind)}</td>
        <td>${esc(t.summary)}<span class="written">${esc(written(t))}</span></td>
        <td class="next">${esc(local(t.next_fire_at))}</td>
        <td><span class="status status-${esc(t.last_status)}">${esc(t.last_status ?? "—")}</span></td>
        <td class="fires">${t.fire_count}</td>
        <td class="actions">
          ${t.state === "paused" ? `<button data-act="resume">Resume</button>` : `<button data-act="pause" ${t.state === "completed" ? "disabled" : ""}>Pause</button>`}
          <button data-act="run">Run now</button>
          <button data-act="runs">Runs</button>
          <button data-act="cancel">Cancel</button>
        </td>
      </tr>`,
    )
    .join("");
  $("#empty").hidden = triggers.length > 0;
}

$("#triggers").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  const trigger = triggers.find((t) => t.id === button.closest("tr").dataset.id);
  if (!trigger) return;
  const base = path(trigger.user_id, trigger.name);
  try {
    if (button.dataset.act === "runs") return openDrawer(trigger);
    if (button.dataset.act === "cancel" && !confirm(`Cancel ${trigger.id}?`)) return;
    if (button.dataset.act === "cancel") await api("DELETE", base);
    else await api("POST", `${base}/${button.dataset.act}`);
    if (button.dataset.act === "run") openDrawer(trigger);
    await loadTriggers();
  } catch (error) {
    $("#create-error").textContent = error.message;
  }
});

// ---- create with live preview ---------------------------------------------------------------------
$("#new-timezone").value = viewerZone;
let previewTimer = null;

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 250);
}

async function preview() {
  const when = $("#new-when").value.trim();
  const out = $("#preview");
  if (!when) {
    out.textContent = "";
    return;
  }
  try {
    const result = await api("POST", "/v1/preview", {
      when,
      timezone: $("#new-timezone").value.trim() || null,
      count: 3,
    });
    out.innerHTML = `<span class="kind">${esc(result.kind)}</span>, next: <ul>${result.next.map((t) => `<li>${esc(local(t))}</li>`).join("")}</ul>`;
    out.classList.remove("error");
  } catch (error) {
    out.textContent = error.message;
    out.classList.add("error");
  }
}

$("#new-when").addEventListener("input", schedulePreview);
$("#new-timezone").addEventListener("input", schedulePreview);

$("#create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#create-error").textContent = "";
  try {
    await api("PUT", path(form.get("user_id"), form.get("name")), {
      prompt: form.get("prompt"),
      when: form.get("when"),
      timezone: form.get("timezone") || null,
    });
    $("#new-name").value = "";
    $("#new-prompt").value = "";
    await loadTriggers();
  } catch (error) {
    $("#create-error").textContent = error.message;
  }
});

// ---- run history drawer, live from /v1/events ---------------------------------------------------------
let drawerTrigger = null;
let runs = new Map();
let events = null;

function renderRuns() {
  const items = [...runs.values()].sort((a, b) => (a.scheduled_at < b.scheduled_at ? 1 : -1));
  $("#runs").innerHTML =
    items
      .map(
        (r) => `<li data-run="${esc(r.run_id)}">
        <span class="status status-${esc(r.status)}">${esc(r.status)}</span>
        ${r.manual ? "<em>manual</em>" : ""}${r.catchup ? "<em>catch-up</em>" : ""}
        <div class="meta">scheduled ${esc(local(r.scheduled_at))} · attempts ${r.attempts}${r.http_status ? ` · HTTP ${r.http_status}` : ""}${r.duration_ms !== null ? ` · ${r.duration_ms} ms` : ""}</div>
        ${r.children ? `<div class="meta">fan-out: ${r.children.succeeded} of ${r.children.total} contexts succeeded${r.children.failed ? `, ${r.children.failed} failed` : ""}${r.children.pending ? `, ${r.children.pending} pending` : ""}</div>` : ""}
        ${r.error ? `<div class="meta">${esc(r.error)}</div>` : ""}
      </li>`,
      )
      .join("") || `<li class="muted">No runs yet.</li>`;
}

async function openDrawer(trigger) {
  drawerTrigger = trigger;
  runs = new Map();
  $("#drawer-title").textContent = `Runs of ${trigger.id}`;
  // Never show the previous trigger's runs under this one's title while the page loads.
  $("#runs").innerHTML = `<li class="muted">Loading…</li>`;
  $("#drawer").hidden = false;
  const page = await api("GET", `${path(trigger.user_id, trigger.name)}/runs?limit=100`);
  if (drawerTrigger !== trigger) return; // closed or switched to another trigger meanwhile
  // A run pushed over /v1/events while the page loaded may be newer or older than the page's copy.
  for (const run of page.items) {
    const pushed = runs.get(run.run_id);
    if (!pushed || progress(run) >= progress(pushed)) runs.set(run.run_id, run);
  }
  renderRuns();
}

/** How far a run has got: attempt by attempt, each running, then retrying or an outcome. */
function progress(run) {
  return run.attempts * 3 + (run.status === "running" ? 0 : run.status === "retrying" ? 1 : 2);
}

$("#drawer-close").addEventListener("click", () => {
  $("#drawer").hidden = true;
  drawerTrigger = null;
  $("#runs").innerHTML = "";
});

let reloadTimer = null;
function connectEvents() {
  events = new EventSource("/v1/events");
  events.addEventListener("open", () => ($("#drawer-live").textContent = "live"));
  events.addEventListener("error", () => ($("#drawer-live").textContent = "reconnecting…"));
  events.addEventListener("run", (message) => {
    const run = JSON.parse(message.data);
    // A fan-out's children are summarised on their parent's line, not listed one by one.
    if (drawerTrigger && run.trigger_id === drawerTrigger.id && !run.parent_run_id) {
      runs.set(run.run_id, run);
      renderRuns();
    }
    // Next fire, last status and counts change with runs: refresh the table, at most twice a second.
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadTriggers, 500);
  });
  // An agent's circuit opened or closed.
  events.addEventListener("agent", loadAgents);
}

// ---- agents: flow control and circuits ---------------------------------------------------------------
async function loadAgents() {
  try {
    const { agents } = await api("GET", "/v1/agents");
    $("#agents tbody").innerHTML = agents
      .map((a) => {
        const limits = [
          a.max_in_flight === null ? "" : `max_in_flight ${a.max_in_flight}`,
          a.rate === null ? "" : `rate ${a.rate.requests}/${a.rate.per_ms / 1000}s`,
        ]
          .filter(Boolean)
          .join(", ");
        const circuit = a.paused_until ? "paused" : a.circuit ? a.circuit.state : "—";
        const why = a.paused_until
          ? `until ${local(a.paused_until)}: ${a.paused_reason ?? ""}`
          : a.circuit && a.circuit.state !== "closed"
            ? `${a.circuit.reason ?? ""} (since ${local(a.circuit.since)}, next probe ${local(a.circuit.next_probe_at)})`
            : "";
        return `<tr><td class="name">${esc(a.name)}</td><td>${esc(limits || "none")}</td>
          <td><span class="status status-circuit-${esc(circuit)}">${esc(circuit)}</span></td>
          <td>${a.in_flight}</td><td>${a.waiting}</td><td>${esc(why)}</td></tr>`;
      })
      .join("");
  } catch (error) {
    $("#agents tbody").innerHTML =
      `<tr><td colspan="6">Could not load agents: ${esc(error.message)}</td></tr>`;
  }
}

// ---- bulk operations: a dry run first, then the change once confirmed --------------------------------
async function bulk(path, body, what) {
  const user = $("#filter-user").value.trim();
  const filter = { ...(user ? { user_id: user } : {}), ...body };
  try {
    const dry = await api("POST", path, { ...filter, dry_run: true });
    const count = dry.changed ?? dry.runs;
    if (count === 0) {
      $("#bulk-result").textContent = `Nothing to ${what.toLowerCase()}.`;
      return;
    }
    if (
      !confirm(
        `${what} ${count} ${path.includes("redrive") ? "failed runs" : "triggers"}${user ? ` of ${user}` : ""}?`,
      )
    )
      return;
    const done = await api("POST", path, filter);
    $("#bulk-result").textContent = `${what}: ${done.changed ?? done.runs} done.`;
    loadTriggers();
  } catch (error) {
    $("#bulk-result").textContent = `Could not ${what.toLowerCase()}: ${error.message}`;
  }
}
$("#bulk-pause").addEventListener("click", () => bulk("/v1/triggers/pause", {}, "Pause"));
$("#bulk-resume").addEventListener("click", () => bulk("/v1/triggers/resume", {}, "Resume"));
$("#bulk-redrive").addEventListener("click", () =>
  bulk("/v1/runs/redrive", { since: new Date(Date.now() - 24 * 3600 * 1000).toISOString() }, "Re-drive"),
);

$("#refresh").addEventListener("click", loadTriggers);
$("#filter-user").addEventListener("change", loadTriggers);
loadTriggers();
loadAgents();
setInterval(loadAgents, 5000);
connectEvents();
