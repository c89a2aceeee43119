// The Grafana dashboard the chart ships (files/grafana-dashboard.json, metrics.grafanaDashboard):
// described here panel by panel, laid out and turned into Grafana's JSON by `npm run generate`.
// Every expression is checked by promtool and against the metrics the code exports
// (test/integration/chart/dashboard.test.ts).

interface Panel {
  title: string;
  description: string;
  unit: string;
  /** PromQL and the legend of each series. */
  targets: [expr: string, legend: string][];
}

interface Row {
  title: string;
  panels: Panel[];
}

const RATE = "$__rate_interval";
/** The labels naming a series' RunnerDeployment (listener series carry them too: one listener per RunnerDeployment). */
const BY_RD = "runner_deployment_namespace, runner_deployment";
const RD_LEGEND = "{{runner_deployment_namespace}}/{{runner_deployment}}";
/** The q-quantile of a histogram kept apart by the labels `by` (comma-separated; none: over everything). */
const quantile = (q: number, metric: string, by = "") =>
  `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ""}le) (rate(${metric}_bucket[${RATE}])))`;

export const DASHBOARD_ROWS: Row[] = [
  {
    title: "Demand (listeners)",
    panels: [
      {
        title: "Waiting jobs",
        description: "Jobs waiting in Forgejo for each listener's labels, at its last poll.",
        unit: "short",
        targets: [[`sum by (${BY_RD}) (forgejo_arc_listener_waiting_jobs)`, RD_LEGEND]],
      },
      {
        title: "Jobs held back by maxRunners",
        description: "Waiting jobs a listener does not turn into ActRunners because its RunnerDeployment has maxRunners active.",
        unit: "short",
        targets: [[`sum by (${BY_RD}) (forgejo_arc_listener_jobs_over_capacity)`, RD_LEGEND]],
      },
      {
        title: "ActRunners created",
        description: "ActRunners the listeners create per second, one per waiting job.",
        unit: "ops",
        targets: [[`sum by (${BY_RD}) (rate(forgejo_arc_listener_actrunners_created_total[${RATE}]))`, RD_LEGEND]],
      },
      {
        title: "Poll errors by kind",
        description:
          "Failed polls per second (rate_limited, unreachable, unauthorized, ...); the RunnerDeployment's status.lastPollError says why.",
        unit: "ops",
        targets: [[`sum by (kind) (rate(forgejo_arc_listener_poll_errors_total[${RATE}]))`, "{{kind}}"]],
      },
      {
        title: "Poll duration (p95)",
        description: "How long one poll of Forgejo takes, version check and ActRunner creation included.",
        unit: "s",
        targets: [[quantile(0.95, "forgejo_arc_listener_poll_duration_seconds", BY_RD), RD_LEGEND]],
      },
    ],
  },
  {
    title: "Runners (controller)",
    panels: [
      {
        title: "ActRunners by phase",
        description: "ActRunners that exist, by phase (every controller replica counts its cache; the maximum is shown).",
        unit: "short",
        targets: [["max by (phase) (sum by (namespace, pod, phase) (forgejo_arc_actrunners))", "{{phase}}"]],
      },
      {
        title: "Active ActRunners by RunnerDeployment",
        description: "Pending and Running ActRunners of each RunnerDeployment: what counts against its maxRunners.",
        unit: "short",
        targets: [[`max by (${BY_RD}) (sum by (namespace, pod, ${BY_RD}) (forgejo_arc_actrunners{phase=~"Pending|Running"}))`, RD_LEGEND]],
      },
      {
        title: "Oldest ActRunner without a Job",
        description:
          "Age of each RunnerDeployment's oldest unfinished ActRunner that has no Kubernetes Job yet: a registration that keeps failing or a runner Secret or Job the API server refuses (status.reason RegistrationFailed or FailedCreate). Nothing times these out; ForgejoArcRunnersWithoutJob alerts at 10 minutes.",
        unit: "s",
        targets: [[`max by (${BY_RD}) (forgejo_arc_actrunners_without_job_oldest_seconds)`, RD_LEGEND]],
      },
      {
        title: "Finished ActRunners by reason",
        description:
          "ActRunners that reached Succeeded or Failed in each interval, by phase and reason (Completed, RunnerFailed, OOMKilled, PodDeleted, PickupTimeout, JobVanished, JobDeleted, RunnerSecretDeleted, DuplicateJob, ...).",
        unit: "short",
        targets: [[`sum by (phase, reason) (increase(forgejo_arc_actrunners_finished_total[${RATE}]))`, "{{phase}} {{reason}}"]],
      },
      {
        title: "Queued → Job, queued → running",
        description:
          "From the listener seeing the job waiting (the ActRunner's creation) to its Kubernetes Job, and to its runner pod running.",
        unit: "s",
        targets: [
          [quantile(0.5, "forgejo_arc_queue_to_job_seconds"), "to Job p50"],
          [quantile(0.95, "forgejo_arc_queue_to_job_seconds"), "to Job p95"],
          [quantile(0.5, "forgejo_arc_queue_to_running_seconds"), "to running p50"],
          [quantile(0.95, "forgejo_arc_queue_to_running_seconds"), "to running p95"],
        ],
      },
      {
        title: "Runner run time",
        description: "From the runner pod starting to the ActRunner finishing, by final phase.",
        unit: "s",
        targets: [
          [quantile(0.5, "forgejo_arc_runner_run_duration_seconds", "phase"), "{{phase}} p50"],
          [quantile(0.95, "forgejo_arc_runner_run_duration_seconds", "phase"), "{{phase}} p95"],
        ],
      },
      {
        title: "Forgejo runners left behind",
        description: "Runners a finalizer gave up deleting (alert on any), and those the orphan sweep deleted later; sweeps by result.",
        unit: "short",
        targets: [
          [`sum(increase(forgejo_arc_runner_cleanups_abandoned_total[${RATE}]))`, "cleanup abandoned"],
          [`sum(increase(forgejo_arc_orphan_runners_deleted_total[${RATE}]))`, "deleted by the sweep"],
          [`sum by (result) (increase(forgejo_arc_orphan_sweeps_total[${RATE}]))`, "sweeps {{result}}"],
        ],
      },
    ],
  },
  {
    title: "Controller and Forgejo API",
    panels: [
      {
        title: "Reconciles by result",
        description: "Reconciles per second of each reconciler, success or error.",
        unit: "ops",
        targets: [
          [`sum by (controller, result) (rate(forgejo_arc_reconcile_duration_seconds_count[${RATE}]))`, "{{controller}} {{result}}"],
        ],
      },
      {
        title: "Reconcile duration (p95)",
        description: "How long one reconcile takes, Forgejo and API server calls included.",
        unit: "s",
        targets: [[quantile(0.95, "forgejo_arc_reconcile_duration_seconds", "controller"), "{{controller}}"]],
      },
      {
        title: "Forgejo requests by outcome",
        description:
          "HTTP attempts against Forgejo per second, of the controller and the listeners, by operation and outcome (status code or error kind).",
        unit: "ops",
        targets: [[`sum by (operation, outcome) (rate(forgejo_arc_forgejo_requests_total[${RATE}]))`, "{{operation}} {{outcome}}"]],
      },
      {
        title: "Forgejo request duration (p95)",
        description: "How long Forgejo takes to answer, by operation.",
        unit: "s",
        targets: [[quantile(0.95, "forgejo_arc_forgejo_request_duration_seconds", "operation"), "{{operation}}"]],
      },
      {
        title: "Admission webhook latency (p99)",
        description: "How long the controller's webhooks take to answer the API server, by path.",
        unit: "s",
        targets: [[quantile(0.99, "forgejo_arc_webhook_request_duration_seconds", "path"), "{{path}}"]],
      },
      {
        title: "Resident memory",
        description: "Resident set of each controller and listener process.",
        unit: "bytes",
        targets: [["sum by (namespace, pod) (forgejo_arc_process_resident_memory_bytes)", "{{namespace}}/{{pod}}"]],
      },
    ],
  },
];

/** Every PromQL expression of the dashboard. */
export function dashboardExpressions(): string[] {
  return DASHBOARD_ROWS.flatMap((row) => row.panels.flatMap((panel) => panel.targets.map(([expr]) => expr)));
}

const PANEL_WIDTH = 8;
const PANEL_HEIGHT = 8;
const GRID_WIDTH = 24;

/** The dashboard as Grafana imports it (schemaVersion 39), its data source chosen when imported or shown. */
export function grafanaDashboard(): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: "${datasource}" };
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of DASHBOARD_ROWS) {
    panels.push({ id: id++, type: "row", title: row.title, collapsed: false, gridPos: { h: 1, w: GRID_WIDTH, x: 0, y }, panels: [] });
    y += 1;
    row.panels.forEach((panel, index) => {
      const perLine = GRID_WIDTH / PANEL_WIDTH;
      panels.push({
        id: id++,
        type: "timeseries",
        title: panel.title,
        description: panel.description,
        datasource,
        gridPos: { h: PANEL_HEIGHT, w: PANEL_WIDTH, x: (index % perLine) * PANEL_WIDTH, y: y + Math.floor(index / perLine) * PANEL_HEIGHT },
        fieldConfig: { defaults: { unit: panel.unit, min: 0 }, overrides: [] },
        options: { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } },
        targets: panel.targets.map(([expr, legendFormat], target) => ({
          datasource,
          expr,
          legendFormat,
          refId: String.fromCharCode(65 + target),
        })),
      });
    });
    y += Math.ceil(row.panels.length / (GRID_WIDTH / PANEL_WIDTH)) * PANEL_HEIGHT;
  }
  return {
    title: "forgejo-arc",
    uid: "forgejo-arc",
    description: "Generated from scripts/generate/dashboard.ts by `npm run generate`; do not edit, change that file and regenerate.",
    tags: ["forgejo-arc", "forgejo", "ci"],
    editable: true,
    schemaVersion: 39,
    time: { from: "now-6h", to: "now" },
    refresh: "1m",
    templating: {
      list: [{ name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: {}, hide: 0 }],
    },
    annotations: { list: [] },
    panels,
  };
}
