// The server-metrics panel: polls GET /metrics (Prometheus's text format,
// from the OpenTelemetry Prometheus exporter) once a second and shows this
// instance's @sse instruments. Sums over attributes (close reasons, …).

const $ = (id) => document.getElementById(id)

/** The panel's cells, by the Prometheus name of what they show. */
const CELLS = {
  'metric-open': 'sse_streams_open',
  'metric-opened': 'sse_streams_opened_total',
  'metric-frames': 'sse_frames_written_total',
  'metric-bytes': 'sse_bytes_written_total',
  'metric-queued': 'sse_queue_bytes',
  'metric-replayed': 'sse_replay_events_total',
  'metric-gaps': 'sse_replay_gaps_total',
  'metric-slow': 'sse_slow_client_actions_total',
}

/** Every sample of a Prometheus text exposition, summed by metric name. */
export function parseMetrics(text) {
  const sums = {}
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? ([-+\d.eE]+|NaN)/.exec(line)
    if (match === null) continue
    sums[match[1]] = (sums[match[1]] ?? 0) + Number(match[2])
  }
  return sums
}

function format(name, value) {
  if (value === undefined) return '0'
  if (name.includes('bytes') && value >= 1024) {
    return value >= 1048576
      ? `${(value / 1048576).toFixed(1)} MiB`
      : `${(value / 1024).toFixed(1)} KiB`
  }
  return String(Math.round(value))
}

/** Polls /metrics and fills the panel; `window.demo.metrics` holds the last sums. */
export function startMetricsPanel(state) {
  const poll = async () => {
    try {
      const response = await fetch('/metrics')
      const sums = parseMetrics(await response.text())
      state.metrics = sums
      for (const [id, name] of Object.entries(CELLS)) $(id).textContent = format(name, sums[name])
    } catch {
      // The server is restarting: the next poll tells.
    }
  }
  poll()
  setInterval(poll, 1000)
}
